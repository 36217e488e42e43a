"""Logging for `serve` and `worker`: lines for people, or one JSON object per line (setting
`log_format`) for log collectors, through python-json-logger. One dictConfig serves both the
CLI and uvicorn, so the server's own lines and paperroute's come out in the same form."""

from __future__ import annotations

import logging
import logging.config
from typing import Any

from paperroute.config import Settings

_TEXT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def log_config(settings: Settings, level: str = "INFO") -> dict[str, Any]:
    """A logging.config dictConfig for the chosen format (uvicorn takes it as `log_config`)."""
    if settings.log_format == "json":
        formatter = {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        }
    else:
        formatter = {"format": _TEXT}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"default": formatter},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "default",
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"handlers": ["stderr"], "level": level.upper()},
        # uvicorn's loggers carry no handlers of their own here: they reach the root's.
        "loggers": {name: {"level": level.upper()} for name in ("uvicorn", "uvicorn.error")},
    }


def configure_logging(settings: Settings, level: str = "INFO") -> None:
    """Set up this process's logging (warnings from libraries go through it too)."""
    logging.config.dictConfig(log_config(settings, level))
    logging.captureWarnings(True)
    quiet_progress_bars(settings)


def quiet_progress_bars(settings: Settings) -> None:
    """With JSON logs, no progress bars on stderr (each process: uvicorn's workers too)."""
    if settings.log_format == "json":
        # transformers draws a "Loading weights" bar, which would break one object per line;
        # it follows huggingface_hub's switch, read when transformers is imported.
        from huggingface_hub.utils import disable_progress_bars

        disable_progress_bars()
