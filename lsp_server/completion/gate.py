"""The confidence gates: what is worth showing, from the model's own token probabilities.

- While a line is typed (mid-line), decoding stops once the line's probability (the product
  of its tokens' probabilities) falls under `minConfidence`, and shows what came before
  (engine/confidence.py does it inside the decode loop).
- At a line start (nothing typed on the line but its indentation) the first line is judged
  whole, once written: shown when its probability is at least `lineStartConfidence`, else
  hidden. A line cut short there was rarely worth taking (benchmarks/gate_fit.py).

Both thresholds default to values calibrated per language on real code (Python's standard
library, npm's JavaScript: benchmarks/gate_data.py collects, gate_fit.py chooses, on files
apart from those the typing benchmark scores). A number in the settings applies to every
language; 0 shows everything.
"""

from __future__ import annotations

import math

from ..config import Settings

# Chosen by benchmarks/gate_fit.py on the train files (see benchmarks/RESULTS.md, issue 27).
MID_LINE = {"python": 0.3, "javascript": 0.4}
LINE_START = {"python": 0.05, "javascript": 0.1}
OTHER_MID_LINE = 0.3  # languages without data of their own: the values both languages' data admit
OTHER_LINE_START = 0.1


def mid_line(settings: Settings, language: str | None) -> float:
    """The mid-line gate's minimum line probability for this language."""
    if settings.min_confidence is not None:
        return settings.min_confidence
    return MID_LINE.get(language or "", OTHER_MID_LINE)


def line_start_minimum(settings: Settings, language: str | None) -> float:
    if settings.line_start_confidence is not None:
        return settings.line_start_confidence
    return LINE_START.get(language or "", OTHER_LINE_START)


def measures(settings: Settings) -> bool:
    """Whether a line start's gate reads token probabilities (off: every line is shown)."""
    return settings.line_start_confidence != 0


def line_probability(tokens: tuple[tuple[int, float], ...] | list, text: str) -> float | None:
    """The probability of a written line: the product over its tokens, leaving out those
    that only write its indentation (`tokens`: (end offset in `text`, probability)). None
    when nothing was measured."""
    lead = len(text) - len(text.lstrip())
    probs = [p for end, p in tokens if end > lead] or [p for _, p in tokens]
    if not probs:
        return None
    return math.exp(sum(math.log(max(p, 1e-12)) for p in probs))


def line_start(tokens, text: str, language: str | None, settings: Settings) -> str:
    """`text` (a line start's suggestion; its first line is what `tokens` measured) when
    its first line is likely enough, else ''."""
    minimum = line_start_minimum(settings, language)
    if minimum <= 0:
        return text
    probability = line_probability(tokens, text)
    return text if probability is None or probability >= minimum else ""


def keeps_line(tokens, line: str, language: str | None, settings: Settings) -> bool:
    """Whether a block's next line (written after its first) passes the line-start gate."""
    return bool(line_start(tokens, line, language, settings))
