"""Tokens after an evaluated prompt, and the text they make: greedy decoding straight from
the logits (with prompt-lookup drafts for fixes), sampling through llama-cpp-python, and
the loop that turns either stream into a Generation, checking cancellation, the stop
rule, the confidence gate and the time budget after every token. Engine thread only."""

from __future__ import annotations

import codecs
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from .. import faults
from ..structs import CancelToken, GenParams
from . import healing
from .confidence import Confidence
from .evaluator import Evaluator

LOOKUP_TOKENS = 10  # tokens drafted per step by prompt lookup (fixes)
Stream = Iterator[tuple[int, float]]  # (token, its probability; 1.0 when not measured)


def probability(row, tok: int) -> float:
    """Softmax probability of `tok` in a row of logits."""
    import numpy as np

    top = float(row.max())
    return float(np.exp(float(row[tok]) - top) / np.exp(row - top, dtype=np.float64).sum())


def greedy(ev: Evaluator, prompt_rest: list[int], source: list[int] | None, cancel: CancelToken,
           healer: healing.Healer | None = None, probabilities: bool = False) -> Stream:
    """Greedy tokens after the prompt, whose `prompt_rest` is not evaluated yet (it goes in
    the first batch, logits at its last token only), straight from the logits
    (llama-cpp-python's sampler would build a candidate array over the whole vocabulary,
    262k for Gemma, at every token).

    With a `source`, several per model step where they copy it: llama-cpp-python's
    LlamaPromptLookupDecoding proposes the tokens that followed the last n-gram in
    `source`; one batch evaluates them, with logits at every position, and the prefix
    the model agrees with is kept (its KV cells too; the rest are dropped). Only this
    batch computes all-position logits: a context built with logits_all (what
    Llama(draft_model=...) does) would pay for them on every prompt token too. Not used
    for completions: on a CPU each extra position costs about a whole token (the output
    layer over the vocabulary dominates), so only long copies (fixes) gain.

    Each token comes with its probability (1.0 unless `probabilities`); while a `healer`
    constrains the choice, the best allowed token is taken, its probability among the
    allowed ones."""
    from llama_cpp.llama_speculative import LlamaPromptLookupDecoding

    llm = ev.llm
    propose = LlamaPromptLookupDecoding(max_ngram_size=3, num_pred_tokens=LOOKUP_TOKENS)
    out: list[int] = []
    pending = prompt_rest
    while True:
        cancel.check()
        guess = _drafts(propose, source, out, pending)
        n_past = llm.n_tokens
        guess = guess[: max(0, llm.n_ctx() - n_past - 1)]
        if guess:
            ev.keep(n_past)
        ev.decode([*pending, *guess], outputs_from=len(pending) - 1)
        logits = ev.logits(1 + len(guess))
        allowed = healer.allowed() if healer is not None else None
        if allowed is not None:  # healing: no drafts (they serve fixes only)
            row = logits[0][allowed]
            best_allowed = int(row.argmax())
            yield int(allowed[best_allowed]), probability(row, best_allowed) if probabilities else 1.0
            pending = [int(allowed[best_allowed])]
            continue
        best = logits.argmax(axis=1)
        agreed = 0
        while agreed < len(guess) and guess[agreed] == best[agreed]:
            agreed += 1
        if agreed < len(guess):  # pending and the agreed guesses stay in the cache
            ev.keep(n_past + len(pending) + agreed)
        else:
            llm.n_tokens = n_past + len(pending) + agreed
        out += pending[-1:]  # n-grams are looked up from the prompt's last token on
        for i, tok in enumerate([*guess[:agreed], int(best[agreed])]):
            yield tok, probability(logits[i], tok) if probabilities else 1.0
            out.append(tok)
        pending = [out.pop()]  # the model's own next token: evaluated in the next batch


def _drafts(propose, source: list[int] | None, out: list[int], pending: list[int]) -> list[int]:
    """The tokens prompt lookup guesses come next: none without a source; a fix starts by
    copying the start of its source."""
    import numpy as np

    if source is None:
        return []
    if not out:
        return source[:LOOKUP_TOKENS]
    return [int(t) for t in propose(np.array(source + out + pending, dtype=np.intc))]


def sample(llm, tokens: list[int], temperature: float, healer: healing.Healer | None, probabilities: bool) -> Stream:
    """Sampled tokens with their probabilities (before sampling's cut-offs; 1.0 unless
    `probabilities`), through llama-cpp-python's sampler; a healing constraint goes in as
    a logits processor."""
    import numpy as np

    seen: list[np.ndarray] = []

    def constrain(_ids, scores):
        allowed = healer.allowed() if healer is not None else None
        if allowed is not None:
            masked = np.full_like(scores, -np.inf)
            masked[allowed] = scores[allowed]
            scores = masked
        seen.append(scores)
        return scores

    for tok in llm.generate(tokens, temp=temperature, top_k=40, top_p=0.95, min_p=0.05,
                            repeat_penalty=1.0, logits_processor=[constrain]):
        scores = seen.pop()
        yield tok, probability(scores, tok) if probabilities else 1.0


@dataclass
class Written:
    text: str = ""
    generated: int = 0
    reason: str = "max_tokens"  # "eos" | "max_tokens" | "time" | "stop" | "cancelled" | "unsure"
    confidence: float | None = None  # the kept first line's probability, when the gate measured it
    line_tokens: list[tuple[int, float]] = field(default_factory=list)  # when measured: the first line's (end, probability)


def write(stream: Stream, piece: Callable[[int], bytes], is_end: Callable[[int], bool], params: GenParams,
          cancel: CancelToken, stop: Callable[[str], int | None], healer: healing.Healer | None) -> Written:
    """The text of `stream`'s tokens until the end of generation, a cancellation, `stop`'s
    cut, the confidence gate, max_tokens or the time budget, whichever comes first."""
    decoder = codecs.getincrementaldecoder("utf-8")("replace")
    out = Written()
    deadline = time.monotonic() + params.time_budget_ms / 1000
    sure = Confidence(params.min_confidence)
    measured = params.min_confidence > 0 or params.probabilities
    for tok, prob in stream:
        faults.point("token", cancel)  # where the tests hold a request in flight
        if (reason := _ends(tok, cancel, is_end)) is not None:
            out.reason = reason
            break
        out.generated += 1
        faults.point("decode")
        raw = piece(tok)
        if not sure.keeps(prob):  # the model is unsure from here on: show what it was sure of
            out.text, out.reason = sure.cut(out.text), "unsure"
            break
        first_line = "\n" not in out.text
        out.text += decoder.decode(healer.take(raw) if healer else raw)
        if measured and first_line:  # a token of the first line (the one ending it included)
            out.line_tokens.append((len(out.text), prob))
        sure.wrote(out.text)
        if (cut := stop(out.text)) is not None:
            out.text, out.reason = out.text[:cut], "stop"
            break
        if out.generated >= params.max_tokens:
            break
        if time.monotonic() > deadline:
            out.reason = "time"
            break
    if out.reason != "stop":
        out.text += decoder.decode(b"", final=True)
    out.confidence = sure.first_line if params.min_confidence > 0 else None
    return out


def _ends(tok: int, cancel: CancelToken, is_end: Callable[[int], bool]) -> str | None:
    if cancel.cancelled:
        return "cancelled"
    if is_end(tok):
        return "eos"
    return None
