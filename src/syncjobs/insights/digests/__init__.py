"""Digests: which owners get one, one claim per owner and period, and what to tell them."""
