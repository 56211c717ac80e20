"""Catalog names and per-feature engines in the real running server.

Models reach the cache through `sokuji pull` from tests/helpers/fake_hub.py, a local server that
answers as the Hugging Face hub does: a fake only because the hub cannot be reached from
here. The server itself must never ask it anything.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from lsprotocol import types

from lsp_server.models import BY_NAME

from ..helpers.e2e import capabilities, held, inline, open_doc, session, stats, wait_stat
from ..helpers.fake_hub import FakeHub
from .test_fixes_e2e import code_actions, resolve
from ..unit.test_models import hub_env, sokuji
from .test_remote_e2e import free_port, start_engine, stop_engine
from ..helpers.tiny_gguf import FAMILY_TOKENS, write_tiny_model

QWEN = BY_NAME["qwen2.5-coder-0.5b"]
CODE = "def total(values, factor):\n    result = sum(values)\n    return result * factor\n"
SELECTION = types.Range(start=types.Position(line=1, character=0), end=types.Position(line=2, character=0))


def resolving() -> types.ClientCapabilities:
    """VS Code's capabilities: inline completion, code actions resolved lazily."""
    caps = capabilities(inline=True)
    caps.text_document.code_action.resolve_support = types.ClientCodeActionResolveOptions(properties=["edit"])
    return caps


def pulled(tmp_path: Path, hub: FakeHub) -> dict[str, str]:
    """A Hugging Face cache holding a tiny qwen2.5-coder-vocabulary model as `qwen2.5-coder-0.5b`
    (pulled for real), and the environment that points at it."""
    data = write_tiny_model(tmp_path / "tiny.gguf", FAMILY_TOKENS["qwen2.5-coder"], name="tiny-qwen").read_bytes()
    hub.add(QWEN.repo, QWEN.file, data)
    env = hub_env(tmp_path, hub)
    run = sokuji(env, "pull", QWEN.name)
    assert run.returncode == 0, run.stderr
    hub.requests.clear()
    return env


async def messages_with(client, text: str, seconds: float = 60) -> list[str]:
    loop = asyncio.get_running_loop()
    start = loop.time()
    while loop.time() - start < seconds:
        found = [m.message for m in client.messages if text in m.message]
        if found:
            return found
        await asyncio.sleep(0.05)
    raise AssertionError(f"no message with {text!r}: {[m.message for m in client.messages]}")


async def test_serve_loads_a_pulled_name_from_the_cache_without_asking_the_hub(tmp_path):
    with FakeHub() as hub:
        env = pulled(tmp_path, hub)
        async with session(capabilities(inline=True), {"model": QWEN.name}, env=env) as client:
            ready = await wait_stat(client, "modelReady", bool, 120)
            assert ready is not None
            now = await stats(client)
            assert now["model"] == "tiny-qwen" and now["modelError"] is None
            assert now["fixModel"] == "tiny-qwen"  # fixes share it: no `fixes` setting
            uri = (tmp_path / "calc.py").as_uri()
            open_doc(client, uri, CODE)
            await inline(client, uri, 2, 4)  # answered by the tiny model (noise, but an answer)
            assert (await stats(client))["promptTokensEvaluated"] > 0
        assert hub.requests == []


async def test_serve_never_downloads_a_name_not_pulled(tmp_path):
    name = "qwen2.5-coder-1.5b"
    entry = BY_NAME[name]
    with FakeHub() as hub:
        hub.add(entry.repo, entry.file, b"GGUF")  # there for the taking, if the server tried
        env = hub_env(tmp_path, hub)
        async with session(capabilities(inline=True), {"model": name}, env=env) as client:
            error = await wait_stat(client, "modelError", bool, 120)
            assert error is not None
            uri = (tmp_path / "calc.py").as_uri()
            open_doc(client, uri, CODE)
            for _ in range(2):  # answered as for a missing model, and not reported again
                assert not (await inline(client, uri, 2, 4)).items
            (message,) = await messages_with(client, "cannot load the model")
            assert f"run `sokuji pull {name}`" in message and "never downloads" in message
            assert f"sokuji pull {name}" in (await stats(client))["modelError"]
        assert hub.requests == []


async def test_fixes_run_on_their_own_model_and_its_errors_are_its_own(tmp_path):
    """Completions from the embedded model, fixes from a pulled one: the fix is written by the
    fixes' model (its token counts move, the completions model's do not). Then a `fixes` with
    a bad key and a model not pulled: both reported by name, completions go on."""
    with FakeHub() as hub:
        env = pulled(tmp_path, hub)
        caps = capabilities(inline=True)
        caps.text_document.code_action.resolve_support = types.ClientCodeActionResolveOptions(properties=["edit"])
        async with session(caps, {"fixes": {"model": QWEN.name}}, env=env) as client:
            await wait_stat(client, "fixModelReady", bool, 120)
            before = await stats(client)
            assert before["fixModel"] == "tiny-qwen" and before["model"] != "tiny-qwen"
            assert before["fixModelError"] is None and before["fixPromptTokensEvaluated"] == 0
            uri = (tmp_path / "calc.py").as_uri()
            open_doc(client, uri, CODE)
            selection = types.Range(start=types.Position(line=1, character=0), end=types.Position(line=2, character=0))
            (action,) = await code_actions(client, uri, [], selection)
            assert action.title == "Rewrite selection with sokuji"
            await resolve(client, action)  # the tiny model's rewrite is noise: offered or refused, it ran
            after = await stats(client)
            assert after["fixPromptTokensEvaluated"] > 0
            assert after["promptTokensEvaluated"] == before["promptTokensEvaluated"]

            client.workspace_did_change_configuration(types.DidChangeConfigurationParams(
                settings={"sokuji": {"fixes": {"model": "starcoder2-3b", "engine": "vllm"}}}))
            (bad,) = await messages_with(client, "'fixes.engine'")
            assert "using the completions engine's" in bad
            (missing,) = await messages_with(client, "cannot load the model for fixes")
            assert "run `sokuji pull starcoder2-3b`" in missing and "completions go on" in missing
            now = await wait_stat(client, "fixModelError", bool, 120)
            assert now is not None
            final = await stats(client)
            assert final["modelReady"] and final["modelError"] is None and final["fixModel"] is None
            await inline(client, uri, 3, 0)  # the embedded model still completes
            assert (await stats(client))["promptTokensEvaluated"] > after["promptTokensEvaluated"]
        assert hub.requests == []


async def test_completions_are_served_while_the_fixes_model_loads(tmp_path):
    """The fixes' own model is held mid-load (SOKUJI_FAULTS "hold:load.fixes@1",
    lsp_server/faults.py: at any machine speed): completions are answered meanwhile by their
    own model. A rewrite, which needs the fixes' model, waits for it; a change of settings
    cancels the held load, the next one is not held, and the waiting rewrite runs on it."""
    with FakeHub() as hub:
        env = {**pulled(tmp_path, hub), "SOKUJI_FAULTS": "hold:load.fixes@1"}
        async with session(resolving(), {"fixes": {"model": QWEN.name}}, env=env) as client:
            await held(client, "load.fixes")
            now = await stats(client)
            assert now["modelReady"] and not now["fixModelReady"] and now["fixModel"] is None, now
            uri = (tmp_path / "calc.py").as_uri()
            open_doc(client, uri, CODE)
            await inline(client, uri, 2, 4)
            served = await stats(client)
            assert served["requestsServed"] == 1 and served["promptTokensEvaluated"] > 0
            assert not served["fixModelReady"]  # still held: the completion did not wait for it

            (action,) = await code_actions(client, uri, [], SELECTION)
            assert action.title == "Rewrite selection with sokuji"  # offered: its model is on its way
            rewrite = client.protocol.send_request_async(types.CODE_ACTION_RESOLVE, action)  # sent now, waits
            client.workspace_did_change_configuration(types.DidChangeConfigurationParams(
                settings={"sokuji": {"fixes": {"model": QWEN.name, "contextSize": 2048}}}))
            await asyncio.wait_for(rewrite, 120)  # offered or refused (the tiny model writes noise): it ran on the fixes' model
            after = await stats(client)
            assert after["fixModelReady"] and after["fixModel"] == "tiny-qwen" and after["fixPromptTokensEvaluated"] > 0
            released = [m.message for m in client.log_messages if "released at 'load.fixes'" in m.message]
            assert len(released) == 1
        assert hub.requests == []


def back_again(client) -> list[str]:
    return [m.message for m in client.messages if m.type == types.MessageType.Info and "answers again" in m.message]


async def test_each_engine_reports_its_own_outage_and_recovery(tmp_path):
    """Completions in-process, fixes on an OpenAI-style server (llama-cpp-python's, with the
    embedded model) that is down at first: its outage is reported once, by its URL, as the
    fixes' ("Fixes resume"); completions answered meanwhile do not announce it back; once it
    answers a fix, that is said once, by its URL."""
    url = f"http://127.0.0.1:{free_port()}/v1"
    options = {"fixes": {"engine": "openai", "url": url, "timeoutMs": 60_000}, "fixTimeBudgetMs": 2000}
    async with session(resolving(), options) as client:
        await wait_stat(client, "fixModelReady", bool, 120)
        uri = (tmp_path / "calc.py").as_uri()
        open_doc(client, uri, CODE)
        for _ in range(2):
            (action,) = await code_actions(client, uri, [], SELECTION)
            refused = await resolve(client, action)
            assert refused.edit is None and "the engine is unavailable" in refused.disabled.reason
            await inline(client, uri, 2, 4)  # the in-process model answers
        (down,) = [m.message for m in client.messages if m.type == types.MessageType.Error]
        assert url in down and "Fixes resume by themselves" in down, down
        assert not back_again(client)

        engine = start_engine(int(url.split(":")[2].split("/")[0]))
        try:
            for _ in range(2):
                (action,) = await code_actions(client, uri, [], SELECTION)
                await resolve(client, action)
                await inline(client, uri, 3, 0)
            (back,) = back_again(client)
            assert back == f"sokuji: the engine at {url} answers again."
        finally:
            stop_engine(engine)
