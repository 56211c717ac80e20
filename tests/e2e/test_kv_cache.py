"""Per-file KV states on the real embedded model: restore, eviction, persistence."""

from pathlib import Path

import pytest

from lsp_server.engine.embedded import embedded_model_path
from lsp_server.engine.model import Model
from lsp_server.results import ResultCache
from lsp_server.structs import CancelToken, GenParams, Prompt

PACKAGE = Path(__file__).resolve().parents[2] / "lsp_server"
SOURCES = ["documents.py", "protocol/server.py", "engine/model.py", "context/languages.py"]
PROMPTS = [Prompt(prefix=(PACKAGE / name).read_text()[:1500], suffix="", multiline=False) for name in SOURCES]
PARAMS = GenParams(max_tokens=12, time_budget_ms=60_000)


def run(model: Model, i: int):
    return model.complete(PROMPTS[i], PARAMS, CancelToken(), key=f"file:///f{i}.py")


@pytest.fixture(scope="module")
def cold_texts():
    """Each prompt evaluated from an empty context: the reference completions."""
    texts = []
    for i in range(len(PROMPTS)):
        model = Model(embedded_model_path(), context_size=2048, kv_mode="off")
        texts.append(run(model, i).text)
        model.close()
    return texts


def test_return_visit_restores_the_state_and_the_same_completion(cold_texts):
    model = Model(embedded_model_path(), context_size=2048, kv_mode="perFile")
    first = [run(model, i) for i in range(len(PROMPTS))]
    again = [run(model, i) for i in range(len(PROMPTS))]
    for i, (a, b) in enumerate(zip(first, again)):
        assert a.text == b.text == cold_texts[i]
        assert b.evaluated_tokens <= 2, b  # only the last prompt token is re-run
        assert a.evaluated_tokens > 100
    assert model.states.stats.hits == len(PROMPTS) and model.states.stats.evictions == 0
    model.close()


def test_shared_mode_loses_other_files_states():
    model = Model(embedded_model_path(), context_size=2048, kv_mode="shared")
    for i in range(len(PROMPTS)):
        run(model, i)
    assert run(model, 0).evaluated_tokens > 100  # only one context: the first file starts over
    model.close()


def test_tiny_budget_evicts_and_still_serves_correct_completions(cold_texts):
    model = Model(embedded_model_path(), context_size=2048, kv_mode="perFile", kv_budget_bytes=12 << 20)  # room for one ~8 MB state
    for _ in range(2):
        for i in range(len(PROMPTS)):
            assert run(model, i).text == cold_texts[i]
    assert model.states.stats.evictions > 0
    assert model.states.bytes_held <= 12 << 20
    model.close()


def test_states_survive_a_restart_and_a_corrupt_file_is_ignored(tmp_path, cold_texts):
    model = Model(embedded_model_path(), context_size=2048, kv_persist_dir=tmp_path)
    run(model, 0)
    run(model, 1)
    model.persist()
    model.close()
    files = sorted(tmp_path.rglob("*.kv"))
    assert len(files) == 2

    restarted = Model(embedded_model_path(), context_size=2048, kv_persist_dir=tmp_path)
    warm = run(restarted, 0)
    assert warm.text == cold_texts[0] and warm.evaluated_tokens <= 2
    assert restarted.states.stats.disk_hits == 1
    restarted.close()

    for f in files:  # garbage, then a truncated file
        f.write_bytes(b"SOKUJIKV\x05\x00\x00\x00garbage" if f == files[0] else f.read_bytes()[:1000])
    third = Model(embedded_model_path(), context_size=2048, kv_persist_dir=tmp_path)
    for i in (0, 1):
        result = run(third, i)
        assert result.text == cold_texts[i] and result.evaluated_tokens > 100
    assert third.states.stats.disk_errors == 2
    third.close()


def test_other_context_size_does_not_load_a_persisted_state(tmp_path):
    model = Model(embedded_model_path(), context_size=2048, kv_persist_dir=tmp_path)
    run(model, 0)
    model.persist()
    model.close()
    other = Model(embedded_model_path(), context_size=1024 + 1024 + 512, kv_persist_dir=tmp_path)
    assert run(other, 0).evaluated_tokens > 100
    assert other.states.stats.disk_errors == 1
    other.close()


def test_result_cache_serves_what_the_user_types_into_a_suggestion():
    cache = ResultCache()
    cache.put("def f(x):\n    ret", "\n", "urn x + 1")
    assert cache.get("def f(x):\n    ret", "\n") == "urn x + 1"  # the same request again
    assert cache.get("def f(x):\n    retur", "\n") == "n x + 1"  # typed "ur"
    assert cache.get("def f(x):\n    retux", "\n") is None  # typed something else
    assert cache.get("def f(x):\n    return x + 1", "\n") is None  # typed all of it
    assert cache.get("def f(x):\n    ret", "\nmore") is None  # another suffix
    assert (cache.hits, cache.misses) == (2, 3)
