"""The engines' lifecycle on the event loop: loading (the completions' engine on the engine
thread, then fixes' and next edits' engines of their own on the loader thread, reported as progress), their
health (a remote engine down, then back; the engine thread dying), the exit, and `run`:
every engine job's outcome, the same for completions and fixes."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, NamedTuple

from .config import Settings
from .engine.base import EngineError, EngineUnavailable
from .engine.devices import gpu_warning
from .engine.worker import LatestWins, Worker, WorkerDied
from .loading import ModelOff
from .session import EngineSession
from .structs import CancelledError, CancelToken
from .client import Notices
from .pause import Background

log = logging.getLogger("sokuji")
ENGINE_STOP = 30.0  # seconds the engine thread gets to stop at exit (a model load cannot be cut short)
# The features that may have an engine of their own, loaded after the completions one: (name
# in messages, what is off without it, its setting). LatestWins key of its load: "load:<role>"
# (a newer load or the exit cancels it).
ROLES = {"fixes": ("fixes", "Fixes that need a model", "fixes"),
         "nextEdit": ("next edits", "Next-edit proposals from a model", "nextEditModel")}
EXPECTED = (EngineError, OSError, ValueError)  # load failures worth a message, not a traceback


class Outcome(NamedTuple):
    """An engine job's result, or why there is none."""

    value: Any = None
    failure: str | None = None  # None: the job ran; its value may still be None (no engine)
    unexpected: Exception | None = None  # a bug or llama.cpp's own error, logged with its traceback


class Engines:
    def __init__(self, session: EngineSession, notices: Notices, settings: Callable[[], Settings]) -> None:
        self.session = session
        self.notices = notices
        self._settings = settings  # the current settings, read when needed
        self.worker = Worker(on_death=self._thread_died)
        # A fixes' engine of its own is loaded here, after the completions one, which serves
        # meanwhile; it is then handed to the engine thread, which alone uses it.
        self.loader = Worker()
        self.latest = LatestWins()
        self.ready = asyncio.Event()  # the completions' engine loaded (or failed to)
        self.fix_ready = asyncio.Event()  # the fixes' engine loaded (or failed to); with `ready` when shared
        self.next_edit_ready = asyncio.Event()  # the same for next edits' (`nextEditModel`)
        self.error: str | None = None  # why the completions' engine did not load
        self._generation = 0  # one per start(): a fixes' engine of an older one is dropped
        self._loop: asyncio.AbstractEventLoop | None = None
        self.background = Background()
        self._yields = CancelToken()  # the background job's (run_background): any request's job cancels it

    # -- loading --------------------------------------------------------------------------

    def start(self, settings: Settings) -> None:
        """Load the engines the settings name. An earlier load still running is not
        cancelled: the worker runs loads in order, so later requests see the newest engine."""
        self._loop = asyncio.get_running_loop()
        self.ready.clear()
        self.fix_ready.clear()
        self.next_edit_ready.clear()
        self._generation += 1
        self.background.spawn(self._load(settings, self._generation))

    async def _load(self, settings: Settings, generation: int) -> None:
        own = {"fixes": not settings.fixes_share_engine(), "nextEdit": settings.next_edit_model is not None}
        loads = {role: self.latest.begin(f"load:{role}") for role in own}  # an older load's own engines are not wanted now
        client = self.notices.client
        token = await client.begin_progress("sokuji: loading model")
        message = await self._load_completions(settings, generation)
        for role, wanted in own.items():
            if wanted:
                client.report_progress(token, f"{message}; loading the model for {ROLES[role][0]}", 50)
                message += await self._load_own(role, settings, generation, loads[role])
            elif generation == self._generation:
                self._ready_of(role).set()
            self.latest.end(f"load:{role}", loads[role])
        client.end_progress(token, message)

    def _ready_of(self, role: str) -> asyncio.Event:
        return self.fix_ready if role == "fixes" else self.next_edit_ready

    async def _load_completions(self, settings: Settings, generation: int) -> str:
        """The completions' engine, on the engine thread. Returns the progress message."""
        try:
            self.error = None
            info = await self.worker.run(self.session.swap, settings, generation)
            if warning := gpu_warning(settings.gpu_layers, info.gpu_offload):
                self.notices.client.show("warning", warning)
            return f"{info.name} ({info.architecture}, FIM: {info.fim or 'none, prefix-only'})"
        except ModelOff as exc:  # the supervisor told the user already
            self.error = str(exc)
            return "off"
        except Exception as exc:  # EngineError, or anything llama.cpp raises: report, keep serving
            if not isinstance(exc, EXPECTED):
                log.exception("model load failed")
            self.error = str(exc)
            self.notices.client.show("error", f"sokuji: cannot load the model: {exc}. Completions are off until "
                                     "the `sokuji.model` setting points at a readable GGUF file.")
            return "failed"
        finally:
            self.ready.set()

    async def _load_own(self, role: str, settings: Settings, generation: int, cancel: CancelToken) -> str:
        """The own engine of `role` (ROLES): loaded on the loader thread, then handed to the
        engine thread. A failure is reported once per load; completions go on. Returns the
        progress message's tail."""
        engine, error, off = None, None, False
        name, what, setting = ROLES[role]
        try:
            engine = await self.loader.run(self.session.load_own, role, settings, cancel)
        except Exception as exc:  # EngineError, NotPulled, llama.cpp's own
            if not isinstance(exc, EXPECTED):
                log.exception("loading the model for %s failed", name)
            error, off = str(exc), isinstance(exc, ModelOff)
        if engine is None and error is None:
            if cancel.cancelled:
                return ""  # a newer load (or the exit) came first
            self._ready_of(role).set()  # next edits share the completions engine (EngineSession.swap)
            return f"; {name}: the same model"
        try:
            if not await self.worker.run(self.session.adopt, role, engine, error, generation):
                return ""
        except WorkerDied:  # shut down meanwhile: close() closes what was loaded
            return ""
        self._ready_of(role).set()
        if off:
            return f"; {name}: off"
        if error is not None:
            self.notices.client.show("error", f"sokuji: cannot load the model for {name}: {error}. {what} are off "
                                     f"until the `sokuji.{setting}` settings name one that loads; completions go on.")
            return f"; {name}: failed"
        return f"; {name}: {engine.info.name}"

    def fix_error(self) -> str | None:
        """Why fixes have no engine, or None."""
        return self.error if self._settings().fixes_share_engine() else self.session.fix_error

    # -- jobs and their outcomes ------------------------------------------------------------

    async def run(self, key: str, job: Callable[..., Any], *args: Any, fixes: bool = False) -> Outcome:
        """Run `job(*args, cancel)` on the engine thread once the feature's engine is loaded.
        A newer job under the same `key` (a document) cancels this one (latest wins), and so
        does the request's own cancellation: decoding stops, not just the reply."""
        token = self.latest.begin(key)
        self.yield_background()
        try:
            await (self.fix_ready if fixes else self.ready).wait()
            value = await self.worker.run(job, *args, token)
        except asyncio.CancelledError:
            token.cancel()  # $/cancelRequest or shutdown
            raise
        except CancelledError:
            return Outcome(failure="cancelled")
        except EngineUnavailable as exc:
            self.engine_failed(exc, fixes)
            return Outcome(failure="the engine is unavailable")
        except WorkerDied:  # reported by _thread_died
            return Outcome(failure="the engine thread stopped; try again")
        except Exception as exc:
            log.exception("%s failed for %s", "a fix" if fixes else "a completion", key)
            return Outcome(failure=f"error: {exc}", unexpected=exc)
        finally:
            self.latest.end(key, token)
        self.engine_ok(fixes)
        return Outcome(value)

    async def run_background(self, job: Callable[..., Any], *args: Any) -> Outcome:
        """`job(*args, cancel)` on the engine thread when no request needs it: a request's job
        cancels it (at its next token) and goes first; failure "yielded" then, and the caller
        may run it again after. Only one at a time is meant to run."""
        self._yields.cancel()  # one at a time: a newer one goes first
        token = self._yields = CancelToken()
        try:
            await self.ready.wait()
            token.check()
            return Outcome(await self.worker.run(job, *args, token))
        except CancelledError:
            return Outcome(failure="yielded")
        except (EngineUnavailable, WorkerDied) as exc:
            return Outcome(failure=str(exc))
        except Exception as exc:
            log.exception("background work failed")
            return Outcome(failure=f"error: {exc}", unexpected=exc)

    def yield_background(self) -> None:
        self._yields.cancel()

    async def call(self, job: Callable[..., Any], *args: Any) -> Any:
        """A job that is not a request (reading definitions, forgetting a file's states),
        after the ones queued before it."""
        return await self.worker.run(job, *args)

    # -- health ---------------------------------------------------------------------------

    def _remote(self, fixes: bool) -> str | None:
        """The remote engine a feature runs on ("openai at URL"), None for the in-process one."""
        settings = self._settings().fixes_engine() if fixes else self._settings()
        return None if settings.engine == "local" else f"{settings.engine} at {settings.url}"

    def engine_failed(self, exc: Exception, fixes: bool = False) -> None:
        """A remote engine is down or timing out: say so once per engine, not once per
        keystroke, with the features that wait for it."""
        log.info("engine unavailable: %s", exc)
        engine = self._remote(fixes) or str(exc)
        waiting = "Completions and fixes" if self._remote(not fixes) == engine else "Fixes" if fixes else "Completions"
        self.notices.report(f"engine {engine}", f"sokuji: {exc}. {waiting} resume by themselves when it answers again.")

    def engine_ok(self, fixes: bool = False) -> None:
        """A request the feature's remote engine answered: if it was reported down, it is back."""
        engine = self._remote(fixes)
        if engine is not None:
            url = (self._settings().fixes_engine() if fixes else self._settings()).url
            self.notices.recovered(f"engine {engine}", f"sokuji: the engine at {url} answers again.")

    def _thread_died(self, exc: BaseException) -> None:
        """On the dying engine thread: the session empties its engines; the user is told once."""
        self.session.after_death()
        if self._loop is not None:
            self._loop.call_soon_threadsafe(
                self.notices.report, "worker",
                f"sokuji: the engine thread stopped ({exc}); a new one took over. The request it was serving got an empty answer.",
            )

    # -- the exit -------------------------------------------------------------------------

    async def shutdown(self) -> None:
        """LSP shutdown: in-flight decoding stops now, not at its time budget; the warm KV
        states are kept for the next start (kvCachePersist); no job runs after this."""
        self.latest.cancel_all()
        self.yield_background()
        try:
            await asyncio.wait_for(self.worker.run(self.session.persist), 30)
        except Exception:
            log.exception("could not persist KV states")
        self.worker.shutdown()
        self.loader.shutdown()

    def close(self, timeout: float = ENGINE_STOP) -> bool:
        """Main thread, once the event loop has ended (exit, or stdin closed): the request the
        engine thread serves is cancelled, the thread stops, and the engines are closed here,
        before the interpreter tears down (see engine/lifetime.py). False when the thread (or
        the loader's, inside a fixes' model load) did not stop in time: an engine is then
        still in use and left open."""
        self.latest.cancel_all()  # and a fixes' engine's load held or not begun
        self.yield_background()
        if not self.worker.stop(timeout) or not self.loader.stop(timeout):
            return False
        self.session.close()
        log.info("engine closed")
        return True
