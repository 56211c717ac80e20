"""Diagnostics and fixes: the flows on the event loop (diagnostics.py publishes syntax errors,
flow.py answers code actions) and the pure pipeline under them: syntax.py (the parser's
verdict on a text), problems.py (what is published), lexer.py, repairs.py (checked repairs
without a model) and plan.py (model rewrites, checked the same way)."""
