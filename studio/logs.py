"""Structured logging: one JSON object per line, to a rotating file in the user log dir."""

import faulthandler
import json
import logging
import logging.handlers
import os
import sys
import time
from pathlib import Path

LOG_FILE_NAME = "studio.log"
CRASH_FILE_NAME = "crash.log"

_crash_file = None  # kept open for the life of the process: faulthandler writes to its fd


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
    enable_crash_dumps(log_dir)
    return path


def enable_crash_dumps(log_dir: Path) -> Path:
    """A fatal error (a C extension's crash, an abort) leaves every thread's stack in crash.log.

    Logging cannot run at that point; faulthandler writes straight to the file descriptor.
    """
    global _crash_file
    path = log_dir / CRASH_FILE_NAME
    if _crash_file is None or _crash_file.closed or Path(_crash_file.name) != path:
        mode = "a" if not path.exists() or path.stat().st_size < 1_000_000 else "w"
        _crash_file = open(path, mode, encoding="utf-8")  # noqa: SIM115 (lives as long as we do)
    _crash_file.write(
        f"--- pid {os.getpid()} started {time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime())}Z\n"
    )
    _crash_file.flush()
    faulthandler.enable(file=_crash_file, all_threads=True)
    return path


def arm_hang_dump(seconds: float) -> bool:
    """Unless re-armed (or disarmed) within `seconds`, every thread's stack goes to crash.log.

    faulthandler's own thread writes it, so the dump comes even while a stalled thread holds
    the GIL. False when crash dumps are not enabled in this process."""
    if _crash_file is None or _crash_file.closed:
        return False
    faulthandler.dump_traceback_later(seconds, repeat=False, file=_crash_file)
    return True


def disarm_hang_dump() -> None:
    faulthandler.cancel_dump_traceback_later()


def event(logger: logging.Logger, name: str, **fields: object) -> None:
    """Log a named event that tools and tests can find: {"event": name, ...fields}."""
    logger.info(name, extra={"event": name, **fields})
