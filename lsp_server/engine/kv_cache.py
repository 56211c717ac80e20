"""Per-file KV states: the tokens a file's prompt last evaluated and the matching KV cells.

Why llama.cpp's per-sequence state API (llama_state_seq_get/set_data) and not
Llama.save_state/load_state: save_state also copies the logits buffer, n_batch x n_vocab
floats (512 MiB for Gemma's 262k vocabulary), which made a file switch slower than
re-evaluating the prompt; the sequence API copies only the KV cells. We never need the saved
logits: the engine always re-evaluates at least the prompt's last token.

States live in an LRU bounded in bytes (cachetools). An evicted or closed file's state can be
persisted under the user cache directory, with a msgspec header saying which model and
context size it belongs to; a file that does not match or does not parse is ignored.
"""

from __future__ import annotations

import array
import ctypes
import hashlib
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import cachetools
import msgspec

log = logging.getLogger("sokuji.kv")
MAGIC = b"SOKUJIKV"
STATE_VERSION = 2  # 2: contexts with flash attention (its V cells are laid out differently)


@dataclass(frozen=True)
class FileState:
    tokens: array.array  # 'i' token ids the KV cells hold, in order
    data: bytes | ctypes.Array  # llama_state_seq_get_data output (the buffer it wrote, or bytes from disk)

    @property
    def nbytes(self) -> int:
        return len(self.data) + self.tokens.itemsize * len(self.tokens)


class Header(msgspec.Struct, frozen=True):
    version: int
    model: str  # model fingerprint
    n_ctx: int
    n_tokens: int
    data_bytes: int


@dataclass
class CacheStats:
    hits: int = 0  # a request found its file's state (memory or disk)
    misses: int = 0
    evictions: int = 0
    disk_hits: int = 0
    disk_errors: int = 0


class _LRU(cachetools.LRUCache):
    """cachetools' LRU, telling its owner which states it evicts."""

    def __init__(self, maxsize: int, on_evict):
        super().__init__(maxsize, getsizeof=lambda s: s.nbytes)
        self._on_evict = on_evict

    def popitem(self):
        key, value = super().popitem()
        self._on_evict(key, value)
        return key, value


def default_budget_bytes() -> int:
    """A tenth of the RAM free now, between 64 MiB and 2 GiB."""
    try:
        free = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        free = 4 << 30
    return max(64 << 20, min(2 << 30, free // 10))


def model_fingerprint(path: str) -> str:
    """Cheap identity of a model file: size plus the first and last MiB."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        digest.update(str(size).encode())
        digest.update(fh.read(1 << 20))
        fh.seek(max(0, size - (1 << 20)))
        digest.update(fh.read(1 << 20))
    return digest.hexdigest()[:32]


@dataclass
class KVStates:
    budget_bytes: int
    fingerprint: str
    n_ctx: int
    persist_dir: Path | None = None  # None: states do not survive a restart
    stats: CacheStats = field(default_factory=CacheStats)

    def __post_init__(self) -> None:
        self._lru = _LRU(self.budget_bytes, self._evicted)
        self._disk_failing = False  # a failed write was reported; quiet until one succeeds
        self._unreadable: set[Path] = set()

    @property
    def bytes_held(self) -> int:
        return self._lru.currsize

    def __len__(self) -> int:
        return len(self._lru)

    def put(self, key: str, state: FileState) -> None:
        if state.nbytes > self.budget_bytes:  # larger than the whole budget: keep on disk only
            self._persist(key, state)
            return
        self._lru[key] = state

    def take(self, key: str) -> FileState | None:
        """Remove and return the file's state, from memory or disk (a hit or a miss).
        It is about to live in the context; the engine puts it back when it switches away."""
        state = self._lru.pop(key, None) or self._load(key)
        if state is None:
            self.stats.misses += 1
        else:
            self.stats.hits += 1
        return state

    def drop(self, key: str) -> None:
        """Forget a stale state (the file changed outside the editor, or the model changed)."""
        self._lru.pop(key, None)
        if self.persist_dir is not None:
            self._path(key).unlink(missing_ok=True)

    def persist_all(self) -> None:
        for key, state in list(self._lru.items()):
            self._persist(key, state)

    # -- disk ----------------------------------------------------------------------------

    def _evicted(self, key: str, state: FileState) -> None:
        self.stats.evictions += 1
        self._persist(key, state)

    def _path(self, key: str) -> Path:
        assert self.persist_dir is not None
        return self.persist_dir / self.fingerprint / f"{hashlib.sha256(key.encode()).hexdigest()[:40]}.kv"

    def _persist(self, key: str, state: FileState) -> None:
        if self.persist_dir is None:
            return
        path = self._path(key)
        header = msgspec.msgpack.encode(
            Header(STATE_VERSION, self.fingerprint, self.n_ctx, len(state.tokens), len(state.data))
        )
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(tmp, "wb") as fh:
                fh.write(MAGIC + len(header).to_bytes(4, "little") + header)
                fh.write(state.tokens.tobytes())
                fh.write(state.data)
            os.replace(tmp, path)  # atomic: a reader never sees half a file
        except OSError as exc:
            self.stats.disk_errors += 1
            if not self._disk_failing:  # a full disk fails every write: say so once
                log.warning("cannot save KV states under %s (%s); completions go on, and a state that "
                            "could not be saved is rebuilt when its file is next used", self.persist_dir, exc.strerror or exc)
            self._disk_failing = True
            try:
                tmp.unlink(missing_ok=True)
            except OSError:
                pass
            return
        if self._disk_failing:
            self._disk_failing = False
            log.info("KV states are saved under %s again", self.persist_dir)

    def _load(self, key: str) -> FileState | None:
        if self.persist_dir is None:
            return None
        path = self._path(key)
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            if path not in self._unreadable:  # asked again at every switch to this file: say it once
                self._unreadable.add(path)
                log.warning("cannot read KV state %s (%s); the file's prompt is evaluated afresh", path, exc.strerror or exc)
            return None
        try:
            if raw[:8] != MAGIC:
                raise ValueError("not a sokuji KV state file")
            size = int.from_bytes(raw[8:12], "little")
            header = msgspec.msgpack.decode(raw[12 : 12 + size], type=Header)
            if (header.version, header.model, header.n_ctx) != (STATE_VERSION, self.fingerprint, self.n_ctx):
                raise ValueError("made for another model or context size")
            start = 12 + size
            tokens = array.array("i")
            tokens.frombytes(raw[start : start + 4 * header.n_tokens])
            data = raw[start + 4 * header.n_tokens :]
            if len(tokens) != header.n_tokens or len(data) != header.data_bytes:
                raise ValueError("truncated")
        except (ValueError, msgspec.DecodeError) as exc:
            self.stats.disk_errors += 1
            log.warning("ignoring KV state %s: %s; removed it", path, exc)
            try:
                path.unlink()  # our own cache file, and useless: it is not read again
            except OSError:
                pass
            return None
        self.stats.disk_hits += 1
        return FileState(tokens, data)
