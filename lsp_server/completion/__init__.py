"""Completions: the flow on the event loop (flow.py: debounce, the request's snapshot, the
answer) and the pipeline the engine thread runs (pipeline.py: the prompt, the engine, then
postprocess.py; alternatives.py for an explicit ask; results.py the cache of recent answers)."""
