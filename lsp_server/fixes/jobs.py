"""What the engine thread runs for fixes, on the session it owns (session.py): a model
rewrite of the region a plan chose, checked like every fix (plan.py)."""

from __future__ import annotations

from ..config import Settings
from ..session import EngineSession
from ..structs import CancelToken, GenParams
from .plan import Fix, Target, propose_fix


def fix(session: EngineSession, target: Target, settings: Settings, cancel: CancelToken) -> Fix | None:
    engine = session.fix_engine
    if engine is None:
        return None
    params = GenParams(max_tokens=settings.fix_max_tokens, time_budget_ms=settings.fix_time_budget_ms)
    found = propose_fix(engine, target, params, cancel, settings.fix_prompt_lookup)
    gens = found.generations
    outcome = f"offered ({found.method})" if found.edits else f"refused ({found.reason})"
    session.log(f"fix {target.snap.uri}:{found.region[0] + 1}-{found.region[1] + 1}: {outcome}, tries={len(gens)}, "
                f"generated={sum(g.generated_tokens for g in gens)}, {sum(g.seconds for g in gens) * 1000:.0f} ms")
    return found
