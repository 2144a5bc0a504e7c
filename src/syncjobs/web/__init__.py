"""The operator's dashboard: an ASGI app a host mounts, or ``syncjobs dashboard`` serves.

``dashboard(authorize=...)`` builds it (``syncjobs.web.app``); see docs/dashboard.md. Pages
(``pages``, ``pages_ops``) render Jinja2 templates shipped in ``templates/``; actions
(``actions``) are CSRF-checked POSTs (``security``); ``sse`` streams a job's progress;
``standalone`` is the token-gated app the command serves.
"""

from .app import dashboard

__all__ = ["dashboard"]
