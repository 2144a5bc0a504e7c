"""The Gmail API v1 fake: ``mailbox`` holds the data, ``search`` filters it, ``batch`` answers
multipart batches, ``api`` answers the requests."""

from syncjobs.testing.fakes.gmail.api import FakeGmail

__all__ = ["FakeGmail"]
