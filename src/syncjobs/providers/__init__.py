"""Provider adapters and their registry.

``get_provider(name)`` returns the factory of a built-in adapter ("youtube", "gmail",
"instagram", "tiktok") or of a third-party one registered under the entry-point group
``syncjobs.providers``. Adapters are imported lazily, on first use.

Every built-in factory takes the same keyword-only arguments::

    factory(tokens=TokenSet, save_tokens=callable, config=ProviderConfig,
            transport=None, lock=None, page_size=None, clock=None) -> Provider
"""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points
from typing import Any

from ..errors import ConfigurationError
from .types import Item, KnownItems, Page, Provider, ProviderConfig, ProviderFactory, TokenSet

__all__ = [
    "DEFAULT_AUTH_URLS",
    "DEFAULT_BASE_URLS",
    "DEFAULT_EXCHANGE_URLS",
    "DEFAULT_TOKEN_URLS",
    "ENTRY_POINT_GROUP",
    "GMAIL_BATCH_URL",
    "SYNC_SCOPES",
    "GmailProvider",
    "InstagramProvider",
    "Item",
    "KnownItems",
    "Page",
    "Provider",
    "ProviderConfig",
    "ProviderFactory",
    "TikTokProvider",
    "TokenSet",
    "YouTubeProvider",
    "get_provider",
    "provider_names",
]

#: The entry-point group third-party providers register under.
ENTRY_POINT_GROUP = "syncjobs.providers"

#: The real API roots (``ProviderConfig.base_url`` overrides them).
DEFAULT_BASE_URLS: dict[str, str] = {
    "youtube": "https://www.googleapis.com/youtube/v3",
    "gmail": "https://gmail.googleapis.com/gmail/v1/users/me",
    "instagram": "https://graph.instagram.com/v21.0",
    "tiktok": "https://open.tiktokapis.com",
}
#: The real token endpoints (``ProviderConfig.token_url`` overrides them).
DEFAULT_TOKEN_URLS: dict[str, str] = {
    "google": "https://oauth2.googleapis.com/token",
    "youtube": "https://oauth2.googleapis.com/token",
    "gmail": "https://oauth2.googleapis.com/token",
    "instagram": "https://graph.instagram.com/refresh_access_token",
    "tiktok": "https://open.tiktokapis.com/v2/oauth/token/",
}
#: The real consent pages owners are sent to (``ProviderConfig.auth_url`` overrides them).
DEFAULT_AUTH_URLS: dict[str, str] = {
    "youtube": "https://accounts.google.com/o/oauth2/v2/auth",
    "gmail": "https://accounts.google.com/o/oauth2/v2/auth",
    "instagram": "https://www.instagram.com/oauth/authorize",
    "tiktok": "https://www.tiktok.com/v2/auth/authorize/",
}
#: Where an authorisation code is exchanged when that is not the token endpoint.
DEFAULT_EXCHANGE_URLS: dict[str, str] = {
    "instagram": "https://api.instagram.com/oauth/access_token",
}
#: The scopes the built-in sync of each provider needs (what a connect flow asks for).
SYNC_SCOPES: dict[str, tuple[str, ...]] = {
    "youtube": ("https://www.googleapis.com/auth/youtube.readonly",),
    "gmail": ("https://www.googleapis.com/auth/gmail.readonly",),
    "instagram": ("instagram_business_basic", "instagram_business_manage_insights"),
    "tiktok": ("user.info.basic", "video.list"),
}
#: Gmail's batch endpoint (derived from ``base_url`` when that is overridden).
GMAIL_BATCH_URL = "https://gmail.googleapis.com/batch/gmail/v1"

_BUILTINS: dict[str, tuple[str, str]] = {
    "youtube": ("syncjobs.providers.youtube", "YouTubeProvider"),
    "gmail": ("syncjobs.providers.gmail", "GmailProvider"),
    "instagram": ("syncjobs.providers.instagram", "InstagramProvider"),
    "tiktok": ("syncjobs.providers.tiktok", "TikTokProvider"),
}
_CLASSES = {class_name: name for name, (_, class_name) in _BUILTINS.items()}


def _plugins() -> dict[str, Any]:
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def provider_names() -> list[str]:
    """Return the names of every available provider, built-in and plug-in, sorted."""
    return sorted(set(_BUILTINS) | set(_plugins()))


def get_provider(name: str) -> ProviderFactory:
    """Return the factory of provider ``name``.

    Raises:
        ConfigurationError: when no provider has that name, or it cannot be loaded.
    """
    if name in _BUILTINS:
        module_name, class_name = _BUILTINS[name]
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            raise ConfigurationError(
                f"provider {name!r} needs a missing package ({exc.name}); "
                "install syncjobs[google] for youtube and gmail"
            ) from exc
        factory: ProviderFactory = getattr(module, class_name)
        return factory
    plugin = _plugins().get(name)
    if plugin is None:
        known = ", ".join(provider_names())
        raise ConfigurationError(f"unknown provider {name!r}; known providers: {known}")
    try:
        loaded: ProviderFactory = plugin.load()
    except Exception as exc:
        raise ConfigurationError(f"provider {name!r} failed to load: {exc}") from exc
    return loaded


def __getattr__(attr: str) -> Any:
    """Import the built-in adapter classes lazily (google-auth only when Google is used)."""
    if attr in _CLASSES:
        return get_provider(_CLASSES[attr])
    raise AttributeError(f"module {__name__!r} has no attribute {attr!r}")
