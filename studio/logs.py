"""Structured logging: one JSON object per line, to a rotating file in the user log dir."""

import json
import logging
import logging.handlers
import sys
import time
from pathlib import Path

LOG_FILE_NAME = "studio.log"


class JsonFormatter(logging.Formatter):
    """`{"ts", "level", "logger", "msg", ...extra}`; `extra={"event": ...}` gives a stable key."""

    _standard = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": round(record.created, 3),
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in self._standard and not key.startswith("_"):
                entry[key] = (
                    value if isinstance(value, str | int | float | bool | None) else repr(value)
                )
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def setup_logging(log_dir: Path, level: int = logging.INFO, to_stderr: bool = False) -> Path:
    log_dir.mkdir(parents=True, exist_ok=True)
    path = log_dir / LOG_FILE_NAME
    handler = logging.handlers.RotatingFileHandler(
        path, maxBytes=2_000_000, backupCount=5, encoding="utf-8"
    )
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.setLevel(level)
    for old in [h for h in root.handlers if getattr(h, "_harmonie", False)]:
        root.removeHandler(old)
        old.close()
    handler._harmonie = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per health poll is noise
    if to_stderr:
        stream = logging.StreamHandler(sys.stderr)
        stream.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        stream._harmonie = True  # type: ignore[attr-defined]
        root.addHandler(stream)
    return path


def event(logger: logging.Logger, name: str, **fields: object) -> None:
    """Log a named event that tools and tests can find: {"event": name, ...fields}."""
    logger.info(name, extra={"event": name, **fields})
