"""The one place that checks ``prometheus_client`` is installed."""

from __future__ import annotations

import importlib.util

from ..errors import ConfigurationError

__all__ = ["require_prometheus"]


def require_prometheus() -> None:
    """Raise ConfigurationError unless ``prometheus_client`` can be imported."""
    if importlib.util.find_spec("prometheus_client") is None:
        raise ConfigurationError(
            "syncjobs' metrics need prometheus-client: pip install 'syncjobs[metrics]'"
        )
