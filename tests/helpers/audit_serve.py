"""`sokuji serve` with a CPython audit hook installed before `lsp_server` is imported.

    SOKUJI_AUDIT_LOG=/tmp/audit.jsonl python tests/helpers/audit_serve.py serve [--model PATH]

Every audited event that touches the file system, the network or other processes is written
as one JSON line, with the process id, to the file named by SOKUJI_AUDIT_LOG.
tests/robustness/test_privacy.py reads it back. `serve` is the supervisor, which starts the
server as its child: that child runs through this wrapper too, so both are audited.

The hook must not recurse: the log file is opened with os.open before the hook is installed
and written with os.write (neither raises an audit event once open), json is imported
beforehand, and a per-thread flag drops any event raised while an event is being written.
"""

from __future__ import annotations

import json
import os
import sys
import threading

LOG_ENV = "SOKUJI_AUDIT_LOG"

# Event name prefixes recorded (https://docs.python.org/3/library/audit_events.html).
RECORDED = (
    "open",  # builtins.open, io.open, os.open, io.open_code (imports): (path, mode, flags)
    "os.listdir", "os.scandir", "os.chdir",
    # changes to the file system
    "os.mkdir", "os.rename", "os.remove", "os.rmdir", "os.truncate", "os.symlink", "os.link",
    "os.chmod", "os.chown", "os.utime", "shutil.",
    # the network
    "socket.", "urllib.", "http.client.", "ftplib.", "smtplib.", "poplib.", "imaplib.",
    "nntplib.", "telnetlib.", "webbrowser.",
    # other processes
    "subprocess.", "os.system", "os.exec", "os.spawn", "os.posix_spawn", "os.fork", "os.forkpty",
    "os.kill", "os.killpg", "pty.",
    # native code loaded at run time (informative)
    "ctypes.dlopen", "mmap.",
)


def _value(arg):
    """A JSON-friendly form of one audit argument (never raises)."""
    if arg is None or isinstance(arg, (bool, int, float, str)):
        return arg
    if isinstance(arg, bytes):
        return arg.decode("utf-8", "surrogateescape")
    if isinstance(arg, os.PathLike):
        try:
            path = os.fspath(arg)
            return path.decode("utf-8", "surrogateescape") if isinstance(path, bytes) else path
        except Exception:
            return "<path>"
    if isinstance(arg, (tuple, list)):
        return [_value(a) for a in arg]
    # a socket object: its family tells AF_UNIX from AF_INET/AF_INET6 (may be uninitialised)
    family = None
    sockets = sys.modules.get("_socket")  # loaded whenever a socket exists; never imported here
    if sockets is not None and isinstance(arg, sockets.socket):
        try:
            family = int(arg.family)
        except Exception:
            pass
    return {"type": type(arg).__name__, "family": family}


def _absolute(path):
    if isinstance(path, str) and path and not os.path.isabs(path):
        return os.path.join(os.getcwd(), path)  # os.getcwd raises no audit event
    return path


def install(log_path: str) -> None:
    fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    busy = threading.local()

    def hook(event: str, args: tuple) -> None:
        if not event.startswith(RECORDED) or getattr(busy, "on", False):
            return
        busy.on = True
        try:
            values = [_value(a) for a in args]
            if event in ("open", "os.listdir", "os.scandir", "os.mkdir", "os.remove", "os.rmdir", "os.truncate"):
                values[0:1] = [_absolute(values[0]) if values else None]
            elif event == "os.rename" and len(values) >= 2:
                values[0:2] = [_absolute(values[0]), _absolute(values[1])]
            line = json.dumps({"event": event, "args": values, "thread": threading.current_thread().name,
                               "pid": os.getpid()})
            os.write(fd, line.encode("utf-8", "surrogateescape") + b"\n")
        except Exception:
            pass  # an audit record lost is better than a server that fails
        finally:
            busy.on = False

    sys.addaudithook(hook)


if __name__ == "__main__":
    install(os.environ[LOG_ENV])
    from lsp_server import supervisor
    from lsp_server.__main__ import main  # imported only now: everything it does is audited

    argv = supervisor.child_argv
    supervisor.child_argv = lambda model: [sys.executable, os.path.abspath(__file__), *argv(model)[3:]]
    sys.exit(main(sys.argv[1:]))
