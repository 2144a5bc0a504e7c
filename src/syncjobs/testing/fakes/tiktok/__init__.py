"""The TikTok Display API v2 fake: ``creator`` holds the data, ``api`` answers the requests."""

from syncjobs.testing.fakes.tiktok.api import FakeTikTok

__all__ = ["FakeTikTok"]
