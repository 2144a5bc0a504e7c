"""Log output of worker processes: text, or one JSON object per line.

``SYNCJOBS_LOG_FORMAT=json`` makes ``dramatiq syncjobs.actors`` (and ``periodiq``) write every
log record as one JSON object per line: ``time``, ``level``, ``logger``, ``message``, and the
job fields of the tracking middleware's lines (``job_id``, ``job_type``, ``owner_id``,
``attempt``, ``duration``, ``outcome``, ``error_code``) as keys of their own. The logger names
are listed in docs/logging.md.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

from .settings import Settings

__all__ = ["JOB_FIELDS", "JsonFormatter", "apply_log_format"]

#: The fields a job's start and end lines carry (``extra=``), each a key of a JSON line.
JOB_FIELDS = ("job_id", "job_type", "owner_id", "attempt", "duration", "outcome", "error_code")


class JsonFormatter(logging.Formatter):
    """Format a record as one JSON object on one line, job fields as keys of their own."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as a JSON line (a traceback, if any, under ``exception``)."""
        data: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "process": record.process,
            "thread": record.threadName,
        }
        for field in JOB_FIELDS:
            value = record.__dict__.get(field)
            if value is not None:
                data[field] = value
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            data["exception"] = record.exc_text
        if record.stack_info:
            data["stack"] = self.formatStack(record.stack_info)
        return json.dumps(data, default=str, ensure_ascii=False)


def apply_log_format(settings: Settings) -> None:
    """Give the root logger's handlers the format ``settings.log_format`` names."""
    if settings.log_format != "json":
        return
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(level=logging.INFO)
    for handler in root.handlers:
        handler.setFormatter(JsonFormatter())
