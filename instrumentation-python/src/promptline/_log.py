"""Nothing inside the instrumentation may reach the host app: failures are caught and logged on the
``promptline`` logger (the Python counterpart of OpenTelemetry JS's diag logger)."""

from __future__ import annotations

import logging
from typing import Callable, TypeVar

logger = logging.getLogger("promptline")
T = TypeVar("T")

DEFAULT_ENDPOINT = "http://127.0.0.1:4318"


def report_error(what: str, err: BaseException) -> None:
    try:
        logger.error("%s", what, exc_info=err)
    except Exception:  # a broken logger must not break the app either
        pass


def warn(message: str) -> None:
    try:
        logger.warning("%s", message)
    except Exception:
        pass


def debug(message: str) -> None:
    try:
        logger.debug("%s", message)
    except Exception:
        pass


def safely(what: str, fn: Callable[[], T], fallback: T) -> T:
    try:
        return fn()
    except Exception as err:
        report_error(what, err)
        return fallback


def trim_slash(url: str) -> str:
    return url.rstrip("/")
