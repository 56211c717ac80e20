"""series.carried on literal buffers: once one served proposal is what changed its buffer, the
others are carried onto the new version, moved past it; otherwise nothing is."""

from lsp_server.nextedit.proposal import Proposal
from lsp_server.nextedit.series import Served, carried
from lsp_server.structs import Snapshot

A, B = "file:///a.py", "file:///b.py"
TEXT = "x = width\ny = width + 1\nz = width\n"


def snap(uri: str, version: int, text: str) -> Snapshot:
    return Snapshot(uri, version, text, "python", "python", None)


def at(text: str, nth: int, word: str = "width") -> int:
    found = -1
    for _ in range(nth + 1):
        found = text.index(word, found + 1)
    return found


PROPOSALS = tuple(Proposal(A, 5, at(TEXT, n), at(TEXT, n) + 5, "w", "rename") for n in range(3))


def test_the_others_are_carried_past_the_applied_one():
    served = Served(PROPOSALS + (Proposal(B, 2, 0, 1, "q", "signature"),), {A: TEXT, B: "p\n"})
    now = PROPOSALS[1].apply(TEXT)
    rest = carried(served, {A: snap(A, 6, now), B: snap(B, 2, "p\n")})
    assert [(p.uri, p.version) for p in rest] == [(A, 6), (A, 6), (B, 2)]
    after = rest[0].apply(rest[1].apply(now))  # the one after the applied one moved by its length change
    assert after == TEXT.replace("width", "w")


def test_nothing_is_carried_when_the_change_is_no_proposal_or_the_version_is_the_same():
    served = Served(PROPOSALS, {A: TEXT})
    assert carried(served, {A: snap(A, 6, "# " + TEXT)}) == []
    assert carried(served, {A: snap(A, 5, TEXT)}) == []
    assert carried(served, {}) == []


def test_a_proposal_of_a_file_changed_since_is_not_carried():
    served = Served(PROPOSALS + (Proposal(B, 2, 0, 1, "q", "signature"),), {A: TEXT, B: "p\n"})
    rest = carried(served, {A: snap(A, 6, PROPOSALS[0].apply(TEXT)), B: snap(B, 3, "pp\n")})
    assert [p.uri for p in rest] == [A, A]
