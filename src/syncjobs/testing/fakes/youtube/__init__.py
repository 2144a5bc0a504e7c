"""The YouTube Data API v3 fake: ``channel`` holds the data, ``api`` answers the requests."""

from syncjobs.testing.fakes.youtube.api import FakeYouTube

__all__ = ["FakeYouTube"]
