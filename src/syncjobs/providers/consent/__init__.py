"""Connect flows of the built-in providers: consent URL, callback errors, code exchange.

``consent_flow(name)`` returns the flow of a built-in provider (YouTube and Gmail through
google-auth-oauthlib, Instagram and TikTok over httpx); see :mod:`.base` for what a flow does.
"""

from __future__ import annotations

import importlib

from ...errors import ConfigurationError
from .base import ConsentFlow, Grant

__all__ = ["ConsentFlow", "Grant", "consent_flow"]

_FLOWS: dict[str, tuple[str, str]] = {
    "youtube": (".google", "YouTubeConsent"),
    "gmail": (".google", "GmailConsent"),
    "instagram": (".instagram", "InstagramConsent"),
    "tiktok": (".tiktok", "TikTokConsent"),
}


def consent_flow(name: str) -> ConsentFlow:
    """The connect flow of built-in provider ``name``; ConfigurationError for any other."""
    where = _FLOWS.get(name)
    if where is None:
        raise ConfigurationError(f"no connect flow for provider {name!r}")
    module_name, class_name = where
    try:
        module = importlib.import_module(module_name, __name__)
    except ImportError as exc:
        raise ConfigurationError(
            f"the {name} connect flow needs a missing package ({exc.name}); "
            "install syncjobs[google] for youtube and gmail"
        ) from exc
    flow: ConsentFlow = getattr(module, class_name)()
    return flow
