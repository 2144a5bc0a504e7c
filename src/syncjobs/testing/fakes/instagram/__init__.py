"""The Instagram Graph API fake: ``account`` holds the data, ``api`` answers the requests."""

from syncjobs.testing.fakes.instagram.account import graph_time
from syncjobs.testing.fakes.instagram.api import API_VERSION, FakeInstagram

__all__ = ["API_VERSION", "FakeInstagram", "graph_time"]
