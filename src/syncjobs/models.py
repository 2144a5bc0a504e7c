"""The records syncjobs stores and returns, gathered from the parts that define them."""

from __future__ import annotations

from .connections.models import *  # noqa: F403
from .connections.models import __all__ as _connections
from .core.models import *  # noqa: F403
from .core.models import __all__ as _core
from .insights.models import *  # noqa: F403
from .insights.models import __all__ as _insights

__all__ = [*_core, *_connections, *_insights]
