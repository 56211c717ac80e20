"""Faults inside the server stay inside their request or feature, are reported once, and are
recovered from: llama.cpp raising mid-decode, the engine thread dying, the file watcher's
thread dying, the disk filling up while KV states are saved.

The first three cannot be caused from outside, so the server under test is started with
SOKUJI_FAULTS (lsp_server/faults.py), which raises at that point in the real code path.
The full disk is real: the state file being written is a link to /dev/full (ENOSPC).
"""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

import pytest
from lsprotocol import types

from lsp_server.engine.embedded import embedded_model_path
from lsp_server.engine.kv_cache import model_fingerprint

from ..helpers.e2e import capabilities, inline, open_doc, session, stats, wait_stat

FIB = "def fibonacci(n: int) -> int:\n    if n < 2:\n        return n\n    \n"
OPTIONS = {"maxTokens": 16}


def shown(client, level: types.MessageType, words: str) -> list[str]:
    return [m.message for m in client.messages if m.type == level and words in m.message]


def logged(client, words: str) -> list[str]:
    return [m.message for m in client.log_messages if words in m.message]


@pytest.fixture(scope="module")
def reference() -> str:
    """What the model writes at the end of FIB, from a server without faults."""

    async def run() -> str:
        async with session(capabilities(inline=True), OPTIONS) as client:
            open_doc(client, "file:///w/fib.py", FIB)
            result = await inline(client, "file:///w/fib.py", 3, 4)
            return result.items[0].insert_text

    text = asyncio.run(run())
    assert text.strip()
    return text


async def test_model_raising_mid_decode_fails_that_request_only(reference):
    # the 3rd generated token raises: the KV cells then hold a half-done evaluation
    async with session(capabilities(inline=True), OPTIONS, env={"SOKUJI_FAULTS": "decode@3"}) as client:
        uri = "file:///w/fib.py"
        open_doc(client, uri, FIB)
        assert not (await inline(client, uri, 3, 4)).items  # answered, empty
        again = await inline(client, uri, 3, 4)
        assert [i.insert_text for i in again.items] == [reference]  # the same as a clean start
        errors = shown(client, types.MessageType.Error, "a completion failed")
        assert len(errors) == 1 and "injected fault at 'decode'" in errors[0]
        assert logged(client, "completion failed for file:///w/fib.py")


async def test_engine_thread_dying_is_replaced_and_queued_requests_are_answered(reference):
    env = {"SOKUJI_FAULTS": "worker.complete@1"}
    async with session(capabilities(inline=True), OPTIONS, env=env) as client:
        open_doc(client, "file:///w/fib.py", FIB)
        open_doc(client, "file:///w/other.py", FIB)
        # both queued at once: the thread dies in the first; the second waits for a new thread
        first, second = await asyncio.gather(inline(client, "file:///w/fib.py", 3, 4), inline(client, "file:///w/other.py", 3, 4))
        assert not first.items
        assert [i.insert_text for i in second.items] == [reference]
        assert [i.insert_text for i in (await inline(client, "file:///w/fib.py", 3, 4)).items] == [reference]
        errors = shown(client, types.MessageType.Error, "engine thread stopped")
        assert len(errors) == 1 and "injected fault" in errors[0]
        assert (await stats(client))["requestsServed"] == 2


async def test_watcher_thread_dying_is_restarted_and_missed_changes_indexed(tmp_path: Path):
    (tmp_path / "a.py").write_text("def alpha():\n    pass\n")

    async def wait_files(client, n: int, seconds: float) -> float:
        return await wait_stat(client, "indexFiles", lambda files: files == n, seconds)

    env = {"SOKUJI_FAULTS": "watcher@1"}  # the watcher's first event kills its thread
    async with session(capabilities(inline=True), OPTIONS, root_uri=tmp_path.as_uri(), env=env) as client:
        await wait_files(client, 1, 60)
        # seen by the dying watcher only: a new file (two definitions), a deleted one
        (tmp_path / "b.py").write_text("def beta():\n    pass\n\n\ndef delta():\n    pass\n")
        (tmp_path / "a.py").unlink()
        await wait_stat(client, "indexDefinitions", lambda n: n == 2, 10)  # the restart's re-index
        assert (await stats(client))["indexFiles"] == 1  # a.py is gone from it too
        (tmp_path / "c.py").write_text("def gamma():\n    pass\n")
        elapsed = await wait_files(client, 2, 5)  # the new watcher reports by itself
        print(f"after the restart, a new file reached the index in {elapsed * 1000:.0f} ms")
        warnings = shown(client, types.MessageType.Warning, "file watcher stopped")
        assert len(warnings) == 1 and "injected fault" in warnings[0]


def _state_file(cache: Path, uri: str) -> Path:
    """Where the server keeps `uri`'s KV state (mirrors KVStates._path)."""
    return cache / "sokuji" / "kv" / model_fingerprint(embedded_model_path()) / f"{hashlib.sha256(uri.encode()).hexdigest()[:40]}.kv"


async def test_disk_full_while_saving_states_is_reported_once_and_recovered(tmp_path: Path):
    import sysconfig

    source = (Path(sysconfig.get_paths()["stdlib"]) / "textwrap.py").read_text().split("\n")
    text = "\n".join(source[:30]) + "\n"  # ~300 tokens: a state of several MB
    uris = [f"file:///w/f{i}.py" for i in range(3)]
    cache = tmp_path / "cache"
    # a budget of 1 MB holds no state: each one is saved to disk when its file is left
    options = {**OPTIONS, "kvCachePersist": True, "kvCacheMb": 1}
    async with session(capabilities(inline=True), options, env={"XDG_CACHE_HOME": str(cache)}) as client:
        pid = (await stats(client))["pid"]  # the server behind the supervisor
        full = []
        for uri in uris[:2]:  # the writes of f0's and f1's states land on /dev/full: ENOSPC
            tmp = _state_file(cache, uri).with_name(f"{_state_file(cache, uri).name}.{pid}.tmp")
            tmp.parent.mkdir(parents=True, exist_ok=True)
            tmp.symlink_to("/dev/full")
            full.append(tmp)
        texts = {uri: f"# part {i} of the wrapping module\n{text}" for i, uri in enumerate(uris)}  # three prompts
        for uri in uris:
            open_doc(client, uri, texts[uri])
        line = texts[uris[0]].count("\n")
        for uri in uris:  # leaving f0, then f1: two failed writes
            assert (await inline(client, uri, line, 0)) is not None
        assert not _state_file(cache, uris[0]).exists() and not _state_file(cache, uris[1]).exists()
        assert not any(p.is_symlink() for p in full)  # the half-written files are gone
        client.text_document_did_change(types.DidChangeTextDocumentParams(  # a new prompt: not a cached result
            text_document=types.VersionedTextDocumentIdentifier(uri=uris[0], version=2),
            content_changes=[types.TextDocumentContentChangeWholeDocument(text=texts[uris[0]] + "x = 1\n")]))
        await inline(client, uris[0], line + 1, 0)  # leaving f2: the disk takes writes again
        assert _state_file(cache, uris[2]).exists()
        await asyncio.sleep(0.2)
        assert len(logged(client, "cannot save KV states")) == 1  # two failures, one report
        assert "No space left on device" in logged(client, "cannot save KV states")[0]
        assert len(logged(client, "are saved under")) == 1
        s = await stats(client)
        assert s["kvMisses"] >= 3 and s["requestsServed"] == 4
    # the state saved after recovery is used by the next server
    async with session(capabilities(inline=True), options, env={"XDG_CACHE_HOME": str(cache)}) as client:
        open_doc(client, uris[2], texts[uris[2]])
        await inline(client, uris[2], line, 0)
        assert (await stats(client))["kvDiskHits"] == 1
