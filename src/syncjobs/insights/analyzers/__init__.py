"""The analyzers: the :class:`Analyzer` protocol, the offline ``keyword`` one and any
OpenAI-compatible endpoint.

Both built-in analyzers are safe to call from several threads at once.
:func:`build_analyzer` picks one from the settings.
"""

from __future__ import annotations

from ..._http import parse_retry_after
from .build import build_analyzer
from .common import item_channels, item_tags
from .keyword import MATURE_WORDS, KeywordAnalyzer
from .openai import OpenAICompatibleAnalyzer, system_prompt, user_prompt
from .protocol import Analyzer

__all__ = [
    "MATURE_WORDS",
    "Analyzer",
    "KeywordAnalyzer",
    "OpenAICompatibleAnalyzer",
    "build_analyzer",
    "item_channels",
    "item_tags",
    "parse_retry_after",
    "system_prompt",
    "user_prompt",
]
