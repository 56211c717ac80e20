"""Sweep's next-edit prompt and answer (pure: text in, pieces and proposals out).

The format is the one of sweepai/sweep-next-edit-1.5B (Apache-2.0), as its reference script
https://huggingface.co/sweepai/sweep-next-edit-1.5B/blob/main/run_model.py builds it
(`build_prompt`: a list of parts joined by "\\n"; stop strings "<|file_sep|>" and "</s>"),
the same as the training format in https://blog.sweep.dev/posts/oss-next-edit ("Our
format") and as Zed ports it (zed-industries/zed crates/edit_prediction/src/sweep_prompt.rs,
test `build_prompt_uses_run_model_ordering`):

    <|file_sep|>{path of a file}
    {its contents}
    <|file_sep|>{path of an edited file}.diff
    original:
    {the rows before the edit}
    updated:
    {the rows after it}
    <|file_sep|>original/{path}
    {the block around the cursor before the recent edits}
    <|file_sep|>current/{path}
    {the block now}
    <|file_sep|>updated/{path}

and the model writes the block as it should become, ended by <|file_sep|> (or its EOS).
The block is 21 rows: 10 above the cursor's, its own, 10 below (the blog's fixed window).
The 1.5B format has no cursor marker and no `:start:end` row numbers: those are
sweep-next-edit-v2-7B's (its inference.py); `cursor=True` puts a <|cursor|> in the current
block for such a model. Only <|file_sep|> (and <|cursor|>) are special tokens here: the
pieces say which text is a marker, so user code spelling one is never read as one.

What the sources leave open, and is assumed here: which files the first sections hold
(run_model.py takes them as given): the rows around the block of the file itself, then
any other files the caller passes; and which edits are shown: the newest few that
context/recent.py's relevance keeps (Zed shows the newest three), oldest first.
"""

from __future__ import annotations

import difflib
import os.path
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import unquote

from ..context.recent import choose, names
from ..edits.history import Hunk
from .proposal import Proposal

FILE_SEP = "<|file_sep|>"
CURSOR = "<|cursor|>"  # v2's marker; not in the 1.5B format
STOPS = (FILE_SEP, "</s>", "<|endoftext|>")  # run_model.py's stop strings, and Qwen's EOS as text
ROWS_AROUND = 10  # the block: this many rows above the cursor's row and below it
FILE_ROWS = 30  # the file's own section: this many rows more on each side of the block
MAX_DIFFS = 3
MAX_DIFF_CHARS = 4000

Piece = tuple[str, bool]  # (text, is a special token's spelling)
Pieces = tuple[Piece, ...]


@dataclass(frozen=True)
class Block:
    """Rows [first, last) of the file: `current` starts at code-point offset `start`;
    `original` is the same rows before the recent edits (hunks of this file undone)."""

    first: int
    last: int
    start: int
    current: str
    original: str

    @property
    def end(self) -> int:
        return self.start + len(self.current)


def block(text: str, cursor_offset: int, hunks: Iterable[Hunk], uri: str, around: int = ROWS_AROUND) -> Block:
    lines = text.split("\n")
    row = text.count("\n", 0, max(0, min(cursor_offset, len(text))))
    first, last = max(0, row - around), min(len(lines), row + around + 1)
    start = sum(len(line) + 1 for line in lines[:first])
    current = "\n".join(lines[first:last])
    return Block(first, last, start, current, "\n".join(_undone(lines, hunks, uri, first, last)))


def _undone(lines: list[str], hunks: Iterable[Hunk], uri: str, first: int, last: int) -> list[str]:
    """Rows [first, last) with this file's hunks that touch them undone (a hunk reaching out
    of the rows is undone whole). A hunk whose rows no longer hold its text is left out."""
    mine = sorted((h for h in hunks if h.uri == uri and h.open and tuple(lines[h.start : h.end]) == h.after),
                  key=lambda h: h.start)
    out, row = [], first
    for h in mine:
        if h.start < last and (h.end > first or h.start >= first):
            out += lines[row : max(row, h.start)] + list(h.before)
            row = max(row, h.end)
    return out + lines[row:last]


def labeler(uris: Iterable[str]) -> Callable[[str], str]:
    """Paths as the model is shown them: relative to the folder the files have in common."""
    folders = [u.rsplit("/", 1)[0] + "/" for u in uris]
    common = os.path.commonprefix(folders) if folders else ""
    common = common[: common.rfind("/") + 1]
    return lambda uri: unquote(uri[len(common) :] if common and uri.startswith(common) else uri.rsplit("/", 1)[-1])


def recent(hunks: Sequence[Hunk], uri: str, near: Iterable[str]) -> list[Hunk]:
    """The edits to show: the newest MAX_DIFFS of those context/recent.py finds relevant (all
    of this file's, another file's sharing a name with the block, the newest two), oldest
    first, under MAX_DIFF_CHARS."""
    wanted = {id(h) for h in choose(hunks, uri, (0, 0), names(near))}
    shown, used = [], 0
    for h in reversed(hunks):  # the history is least recent first
        if id(h) in wanted and len(shown) < MAX_DIFFS and used + h.size <= MAX_DIFF_CHARS:
            shown.append(h)
            used += h.size
    return shown[::-1]


def prompt(path: str, blk: Block, diffs: Iterable[tuple[str, Hunk]] = (), files: Iterable[tuple[str, str]] = (),
           cursor: int | None = None) -> Pieces:
    """The pieces of the prompt: `files` (path, text) first, then each (path, hunk) of `diffs`
    as original/updated rows, then the block before and now; it ends where the model writes
    the updated block. `cursor`: the cursor's offset in the block, marked with <|cursor|>
    (v2 models; None for the 1.5B)."""
    sections = [(p, text) for p, text in files]
    sections += [(f"{p}.diff", "original:\n" + "\n".join(h.before) + "\nupdated:\n" + "\n".join(h.after)) for p, h in diffs]
    sections.append((f"original/{path}", blk.original))
    out: list[Piece] = []
    for header, body in sections:
        out += [(FILE_SEP, True), (f"{header}\n{body}\n", False)]
    out += [(FILE_SEP, True), (f"current/{path}\n", False)]
    if cursor is None:
        out.append((blk.current + "\n", False))
    else:
        out += [(blk.current[:cursor], False), (CURSOR, True), (blk.current[cursor:] + "\n", False)]
    out += [(FILE_SEP, True), (f"updated/{path}", False)]
    merged: list[Piece] = []
    for text, special in out:  # text next to text is one piece: tokenized as the joined prompt is
        if merged and not special and not merged[-1][1]:
            merged[-1] = (merged[-1][0] + text, False)
        elif text:
            merged.append((text, special))
    return tuple(merged)


def file_section(text: str, blk: Block, rows: int = FILE_ROWS) -> str:
    """The file's own rows around the block, the block included."""
    lines = text.split("\n")
    return "\n".join(lines[max(0, blk.first - rows) : blk.last + rows])


def stop(text: str) -> int | None:
    """Where the updated block ends in the text written so far (a marker written as text)."""
    found = [i for i in (text.find(s) for s in STOPS) if i >= 0]
    return min(found) if found else None


def updated(output: str) -> str:
    """The updated block in the model's output: up to a stop, without the newline that
    follows the `updated/` header and the one before the next section."""
    cut = stop(output)
    text = (output if cut is None else output[:cut]).replace(CURSOR, "")
    text = text[1:] if text.startswith("\n") else text
    return text[:-1] if text.endswith("\n") else text


def _rows(text: str) -> list[str]:
    """Rows with their newline kept (the last one has none)."""
    parts = text.split("\n")
    return [p + "\n" for p in parts[:-1]] + [parts[-1]]


def _common(a: str, b: str) -> int:
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


def proposals(blk: Block, new: str, uri: str, version: int, source: str) -> list[Proposal]:
    """The updated block as the least edits of the current one: the rows that differ
    (difflib), each trimmed of what its old and new text share at both ends. None when
    nothing differs, or when the update is empty (a block wiped out is not a next edit)."""
    if "\r\n" in blk.current and "\r" not in new:
        new = new.replace("\n", "\r\n")
    if new == blk.current or not new.strip():
        return []
    old_rows, new_rows = _rows(blk.current), _rows(new)
    at = [0]
    for r in old_rows:
        at.append(at[-1] + len(r))
    spans = []  # (old rows [i1, i2), new rows [j1, j2)) that differ; a row replaced by one row on its own
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, old_rows, new_rows, autojunk=False).get_opcodes():
        if tag == "replace" and i2 - i1 == j2 - j1:
            spans += [(i, i + 1, j, j + 1) for i, j in zip(range(i1, i2), range(j1, j2))]
        elif tag != "equal":
            spans.append((i1, i2, j1, j2))
    out = []
    for i1, i2, j1, j2 in spans:
        a, b = "".join(old_rows[i1:i2]), "".join(new_rows[j1:j2])
        head = _common(a, b)
        tail = _common(a[head:][::-1], b[head:][::-1])
        start, end = blk.start + at[i1] + head, blk.start + at[i2] - tail
        out.append(Proposal(uri, version, start, end, b[head : len(b) - tail], "model", source))
    return out
