"""A backend started by another program ends when that program ends, however it ends.

The parent keeps the backend's standard input open and never writes to it. When the parent
exits (a clean quit, a crash, a kill -9), the kernel closes its end of the pipe and our read
returns end-of-file: the backend then shuts down as on SIGTERM, and exits hard if that clean
shutdown hangs. A pipe reaches EOF on every OS, unlike Linux's parent-death signal, which
also fires when the parent *thread* that started us ends.
"""

import os
import signal
import sys
import threading

EXIT_GRACE_S = 5.0  # a clean shutdown (uvicorn, the database) gets this long before a hard exit


def _wait_for_eof(fd: int, grace_s: float) -> None:
    try:
        while os.read(fd, 4096):
            pass  # the parent writes nothing; anything read is ignored
    except OSError:
        pass  # a broken pipe ends the lifeline just as EOF does
    print(
        "harmonie-backend: the program that started this backend is gone; stopping", file=sys.stderr
    )
    os.kill(os.getpid(), signal.SIGTERM)  # uvicorn's own handler: a clean shutdown
    threading.Event().wait(grace_s)
    print("harmonie-backend: the clean shutdown hung; exiting now", file=sys.stderr)
    os._exit(1)


def watch_parent_pipe(fd: int = 0, grace_s: float = EXIT_GRACE_S) -> threading.Thread:
    """End this process when `fd` (standard input by default) reaches end-of-file."""
    thread = threading.Thread(
        target=_wait_for_eof, args=(fd, grace_s), name="parent-lifeline", daemon=True
    )
    thread.start()
    return thread
