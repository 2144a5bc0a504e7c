"""The version of this syncjobs (``syncjobs.__version__``)."""

__version__ = "0.1.0"
