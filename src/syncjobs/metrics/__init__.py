"""Prometheus metrics of the workers and the ledger."""
