"""structlog set-up: JSON lines for machines, readable lines on a terminal.

Called once, by the CLI. Library loggers (kubernetes, apscheduler, uvicorn) go through the
same renderer, so a log pipeline never has to parse two formats. Run context is bound with
contextvars, so every line written during a run carries its experiment and run ids.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO

import structlog

from daemon.settings import LoggingSettings

_SHARED: list[Any] = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
    structlog.processors.StackInfoRenderer(),
]


def configure_logging(settings: LoggingSettings, stream: TextIO | None = None) -> None:
    out = stream if stream is not None else sys.stderr
    as_json = settings.format == "json" or (settings.format == "auto" and not out.isatty())
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if as_json
        else structlog.dev.ConsoleRenderer(colors=out.isatty())
    )
    level = getattr(logging, settings.level)
    structlog.configure(
        processors=[
            *_SHARED,
            structlog.stdlib.PositionalArgumentsFormatter(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.make_filtering_bound_logger(level),
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=_SHARED,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info if as_json else _identity,
            renderer,
        ],
    )
    handler = logging.StreamHandler(out)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Chatty libraries stay at WARNING unless we debug, and never below the chosen level.
    for name in ("kubernetes", "urllib3", "apscheduler", "uvicorn.access"):
        logging.getLogger(name).setLevel(
            level if level <= logging.DEBUG else max(level, logging.WARNING)
        )


def _identity(_: Any, __: str, event: Any) -> Any:
    return event


def get_logger(name: str) -> Any:
    return structlog.get_logger(name)


@contextmanager
def run_context(experiment: str, run_id: str) -> Iterator[None]:
    """Every log line inside carries `experiment` and `run_id`."""
    with structlog.contextvars.bound_contextvars(experiment=experiment, run_id=run_id):
        yield
