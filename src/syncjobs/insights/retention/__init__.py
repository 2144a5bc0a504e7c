"""Retention: deleting the extras' records once they are past their retention period."""
