"""Pick and configure the built-in analyzer the settings name."""

from __future__ import annotations

from typing import TYPE_CHECKING

import httpx

from ...errors import ConfigurationError
from .keyword import KeywordAnalyzer
from .openai import OpenAICompatibleAnalyzer
from .protocol import Analyzer

if TYPE_CHECKING:
    from ...settings import Settings

__all__ = ["build_analyzer"]


def build_analyzer(settings: Settings, transport: httpx.BaseTransport | None = None) -> Analyzer:
    """The analyzer ``settings.analyzer`` names, configured from the settings."""
    if settings.analyzer == "keyword":
        return KeywordAnalyzer()
    if settings.analyzer == "openai":
        openai = settings.openai
        api_key = openai.api_key.get_secret_value()
        if not api_key:
            raise ConfigurationError(
                "the openai analyzer needs an API key: set SYNCJOBS_OPENAI__API_KEY"
            )
        return OpenAICompatibleAnalyzer(
            openai.base_url,
            api_key,
            openai.model,
            timeout=openai.timeout,
            max_tokens=openai.max_tokens,
            transport=transport,
        )
    raise ConfigurationError(f"unknown analyzer {settings.analyzer!r}; one of keyword, openai")
