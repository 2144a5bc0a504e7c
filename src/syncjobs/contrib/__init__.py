"""Helpers for fitting syncjobs into a host application; the core never imports them.

- ``syncjobs.contrib.transactions``: submit a job only once the host's database transaction
  commits (``submit_after(transaction.on_commit, ...)`` in Django).
"""
