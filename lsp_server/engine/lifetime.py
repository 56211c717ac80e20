"""Every llama.cpp model is closed before the interpreter tears down.

A model or context freed after the CUDA runtime has gone (the C library's exit handlers run
after Python's) crashes the process at exit, and an editor reports a crashed server. So each
process closes its models itself, in order: `sokuji serve` once its event loop has ended
(exit, or stdin closed) and the engine thread has stopped, the CLI and the benchmarks when
they are done. A model still open when Python starts exiting is closed here, first thing,
with a line on stderr: the process forgot (the tests check that none does).
"""

from __future__ import annotations

import atexit
import sys
import weakref

_open: weakref.WeakSet = weakref.WeakSet()


def opened(model) -> None:
    _open.add(model)


def closed(model) -> None:
    _open.discard(model)


@atexit.register
def _close_what_is_left() -> None:
    for model in list(_open):
        print(f"sokuji: the model {model.info.path} was still open at exit; closed it now", file=sys.stderr)
        model.close()
