"""JSON-lines logging with trace correlation and secret redaction (seed 001 §13).

One object a line: ``ts, lvl, service, trace_id, req_id, msg`` plus any ``extra=``
fields. Anything that looks like a JWT, a bearer credential or a field named like a
secret is masked before it is written, so a careless log call cannot leak a token.

The access line of each request does not go through :mod:`logging`: :class:`AccessLog`
encodes it with orjson and writes lines in batches (same fields, same stream).
"""

from __future__ import annotations

import asyncio
import logging
import re
import sys
import time
from datetime import UTC, datetime
from typing import Any

import orjson

from access_common.context import current_request_id, current_trace

__all__ = [
    "ACCESS_LOGGER",
    "AccessLog",
    "JsonFormatter",
    "configure_logging",
    "logging_config",
    "redact",
    "redact_text",
]

ACCESS_LOGGER = "access.request"

_JWT = re.compile(r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*")
_BEARER = re.compile(r"(?i)(bearer\s+)[^\s\"',;]+")
_SECRET_QUERY = re.compile(r"(?i)((?:token|secret|signature|password|api_key|key)=)[^&\s\"']+")
_SECRET_KEYS = re.compile(
    r"(?i)(token|secret|password|passwd|authorization|signature|api[_-]?key|private|cookie|dsn)"
)
_MASK = "[REDACTED]"
_HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

_STD_ATTRS = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", (), None)).keys() | {"message", "asctime", "taskName"}
)


def redact_text(text: str) -> str:
    """Mask JWTs, bearer credentials and secret query parameters inside free text."""
    # Each pattern needs "eyJ", whitespace or "=": most texts (paths, messages) have none.
    if "eyJ" not in text and "=" not in text and " " not in text and text.isprintable():
        return text
    if "eyJ" in text:
        text = _JWT.sub(_MASK, text)
    text = _BEARER.sub(lambda m: m.group(1) + _MASK, text)
    return _SECRET_QUERY.sub(lambda m: m.group(1) + _MASK, text)


def redact(value: Any, key: str = "") -> Any:
    """Mask a value when its key names a secret; recurse into mappings and lists."""
    if key and _SECRET_KEYS.search(key):
        return _MASK
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {k: redact(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    return value


class JsonFormatter(logging.Formatter):
    """Render a record as one JSON object with the correlation ids of its task."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        """Serialize the record, its extras and any exception, redacted."""
        trace = current_trace()
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "lvl": record.levelname,
            "service": self.service,
            "trace_id": trace.trace_id if trace else "-",
            "req_id": current_request_id(),
            "logger": record.name,
            "msg": redact_text(record.getMessage()),
        }
        for key, value in record.__dict__.items():
            if key not in _STD_ATTRS and not key.startswith("_"):
                entry[key] = redact(value, key)
        if record.exc_info:
            entry["exc"] = redact_text(self.formatException(record.exc_info))
        return orjson.dumps(entry, default=str).decode()


def configure_logging(service: str, level: str = "info") -> None:
    """Send every logger's records to stdout as JSON lines at the given level."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True
    # The request middleware writes one access line itself, with ids and timings.
    logging.getLogger("uvicorn.access").disabled = True


def logging_config(service: str, level: str = "info") -> dict[str, Any]:
    """A dictConfig for uvicorn, applied in every worker process: JSON lines to stdout."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": JsonFormatter, "service": service}},
        "handlers": {
            # A name, not the stream object: the config is pickled for each worker process.
            "stdout": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "stream": "ext://sys.stdout",
            }
        },
        "root": {"handlers": ["stdout"], "level": level.upper()},
        "loggers": {
            "uvicorn": {"handlers": [], "propagate": True},
            "uvicorn.error": {"handlers": [], "propagate": True},
            # The request middleware writes one access line itself, with ids and timings.
            "uvicorn.access": {"handlers": [], "propagate": False, "level": "CRITICAL"},
        },
    }


class AccessLog:
    """The one access line per request, as JSON, written to stdout in batches.

    Through :mod:`logging` each line cost a LogRecord, a formatter pass and a write plus
    flush on the event loop: about a third of a small request's time. Here a line is one
    orjson encode appended to a buffer; the buffer is written before it would pass
    ``max_bytes`` (4096, PIPE_BUF: one write to a pipe is then atomic, so workers sharing
    stdout never interleave inside a line), ``max_delay`` seconds after its first line,
    and on shutdown (:meth:`flush`). Lines carry the fields :class:`JsonFormatter` writes
    and honour the level of the ``access.request`` logger (INFO; ``ACCESS_LOG_LEVEL=warning``
    turns them off).
    """

    def __init__(self, service: str, *, max_delay: float = 0.05, max_bytes: int = 4096) -> None:
        self.service = service
        self.max_delay = max_delay
        self.max_bytes = max_bytes
        self._logger = logging.getLogger(ACCESS_LOGGER)
        self._lines: list[bytes] = []
        self._size = 0
        self._timer: asyncio.TimerHandle | None = None
        self._second = -1
        self._second_text = ""

    def _timestamp(self) -> str:
        # datetime.isoformat costs ~4 µs; the second's text is reused, only ms change.
        now = time.time()
        second = int(now)
        if second != self._second:
            self._second = second
            self._second_text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        return f"{self._second_text}.{int((now - second) * 1000):03d}+00:00"

    def enabled(self) -> bool:
        """Whether access lines are wanted at the current log level."""
        return self._logger.isEnabledFor(logging.INFO)

    def write(self, trace_id: str, req_id: str, msg: str, **extra: str | int | float) -> None:
        """Queue one line; ``msg`` is redacted, ``extra`` holds plain values of the platform's."""
        self._queue(trace_id, req_id, redact_text(msg), extra)

    def request(
        self,
        trace_id: str,
        req_id: str,
        method: str,
        path: str,
        status: int,
        seconds: float,
        route: str,
    ) -> None:
        """Queue the access line of one request (``msg`` "METHOD /path status 1.2ms").

        Only the path (a token in a URL segment) or an invented method can carry a
        secret: they alone are redacted, each without a space, so the check is one scan
        rather than three regexes over the whole message.
        """
        if method not in _HTTP_METHODS:
            method = redact_text(method)
        milliseconds = seconds * 1000
        self._queue(
            trace_id,
            req_id,
            f"{method} {redact_text(path)} {status} {milliseconds:.1f}ms",
            {"route": route, "status": status, "duration_ms": round(milliseconds, 3)},
        )

    def _queue(
        self, trace_id: str, req_id: str, msg: str, extra: dict[str, str | int | float]
    ) -> None:
        line = orjson.dumps(
            {
                "ts": self._timestamp(),
                "lvl": "INFO",
                "service": self.service,
                "trace_id": trace_id,
                "req_id": req_id,
                "logger": ACCESS_LOGGER,
                "msg": msg,
                **extra,
            },
            option=orjson.OPT_APPEND_NEWLINE,
        )
        if self._size + len(line) > self.max_bytes:
            self.flush()
        self._lines.append(line)
        self._size += len(line)
        if self._timer is None:
            try:
                self._timer = asyncio.get_running_loop().call_later(self.max_delay, self.flush)
            except RuntimeError:  # no event loop: nothing would flush later
                self.flush()

    def flush(self) -> None:
        """Write every queued line now."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not self._lines:
            return
        data = b"".join(self._lines).decode()
        self._lines.clear()
        self._size = 0
        # Through the text stream the logging handler uses, so lines never interleave.
        sys.stdout.write(data)
        sys.stdout.flush()
