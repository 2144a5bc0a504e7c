"""Owners' preferences: blocked words and channels, viewer age, time zone, digests, webhook."""
