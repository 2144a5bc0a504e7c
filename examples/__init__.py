"""Runnable examples of a host application using syncjobs (see docs/examples.md)."""
