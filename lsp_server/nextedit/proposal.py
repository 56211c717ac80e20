"""What a next-edit rule or model proposes: one edit of one buffer's version."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Proposal:
    uri: str
    version: int  # the buffer's version the offsets are of; a proposal for a version gone is dropped
    start: int  # code-point offsets into that version's text: [start, end) becomes `text`
    end: int
    text: str
    rule: str  # "rename", "signature", "siblings", or "model" (see `source`)
    source: str = ""  # the model's name for "model"; what the rule followed otherwise (e.g. "foo -> bar")

    def apply(self, text: str) -> str:
        return text[: self.start] + self.text + text[self.end :]


def narrowed(p: Proposal, text: str) -> Proposal:
    """The same edit of `text` with what it leaves as it was trimmed off both ends: the range
    an editor marks is only what changes."""
    old = text[p.start : p.end]
    head = 0
    while head < min(len(old), len(p.text)) and old[head] == p.text[head]:
        head += 1
    tail = 0
    while tail < min(len(old), len(p.text)) - head and old[len(old) - 1 - tail] == p.text[len(p.text) - 1 - tail]:
        tail += 1
    return Proposal(p.uri, p.version, p.start + head, p.end - tail, p.text[head : len(p.text) - tail], p.rule, p.source)
