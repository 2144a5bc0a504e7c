"""The extras' job types: analysis, trust scores, usage rollups, notifications, clean-up."""

from . import analyze, cleanup, notify, trust, usage

__all__ = ["analyze", "cleanup", "notify", "trust", "usage"]
