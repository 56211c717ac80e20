"""`sokuji.stats`: the server's counters, for tests, benchmarks and the editors' status."""

from __future__ import annotations

import os
import statistics
from typing import TYPE_CHECKING, Any

from .. import supervised
from ..engine import amx

if TYPE_CHECKING:
    from .server import SokujiServer


def stats(ls: SokujiServer) -> dict[str, Any]:
    engines, session, completions = ls.engines, ls.session, ls.completions
    engine, fix_engine = session.engine, session.fix_engine
    own, fixing = session.stats()
    lat = sorted(completions.latencies)
    pct = statistics.quantiles(lat, n=20, method="inclusive") if len(lat) >= 2 else lat * 19
    return {
        "pid": os.getpid(),  # the server's own process (`sokuji serve` is the supervisor in front of it)
        "modelReady": engines.ready.is_set() and engine is not None,
        "modelError": engines.error,
        "model": engine.info.name if engine is not None else None,
        "fixModel": fix_engine.info.name if fix_engine is not None else None,
        "fixModelReady": engines.fix_ready.is_set() and fix_engine is not None,
        "fixModelError": engines.fix_error(),
        "fixPromptTokensEvaluated": fixing.evaluated_tokens,
        "requestsServed": completions.served,
        "suggestionsHidden": completions.hidden,
        "blocksStarted": completions.blocks["started"],  # first lines returned with the block going on in the background
        "blocksWhole": completions.blocks["whole"],
        "blockAnswers": completions.blocks["answers"],  # requests answered from a block, no model call
        "blockWriting": completions.writing is not None,  # a block is being written in the background now
        "prefetches": completions.prefetches,  # suggestions made ahead after an accept
        "acceptance": completions.ledger.stats(),  # what the user took (acceptance.py): counts only
        "recentEdits": completions.history.stats(),  # the edit history's size and bounds (edits/history.py)
        "nextEdits": ls.next_edits.stats(),  # states computed, proposals per rule, accepted per rule
        "nextEditModel": session.next_edit_engine.info.name if session.next_edit_engine is not None else None,
        "nextEditModelError": session.next_edit_error,
        "requestsInFlight": len(ls.protocol._request_futures),  # this one included
        "promptTokensEvaluated": own.evaluated_tokens,
        "promptTokensReused": own.reused_tokens,
        "kvCache": ls.settings.kv_cache,
        "kvHits": own.kv_hits,
        "kvMisses": own.kv_misses,
        "kvEvictions": own.kv_evictions,
        "kvDiskHits": own.kv_disk_hits,
        "kvFiles": own.kv_files,
        "kvBytesHeld": own.kv_bytes_held,
        "kvBudgetBytes": own.kv_budget_bytes,
        "resultCacheHits": session.results.hits,
        "contextChoicesReused": session.choices.hits,
        "resultCacheMisses": session.results.misses,
        "fixesOffered": ls.fixes.offered,
        "fixesRefused": ls.fixes.refused,
        "indexFiles": ls.project.index.file_count,
        "indexDefinitions": ls.project.index.definition_count,
        "latencyP50Ms": round(pct[9] * 1000, 1) if pct else None,
        "latencyP95Ms": round(pct[18] * 1000, 1) if pct else None,
        "crashes": supervised.crashes(),  # before this server process (the supervisor restarted it)
        "engineMode": supervised.mode(),  # "normal", or the safer one repeated crashes stepped down to
        "plainBuffers": amx.plain(),  # models load without extra buffer types (AMX guard or step-down)
    }
