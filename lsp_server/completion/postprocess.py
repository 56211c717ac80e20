"""Pure text-in, text-out clean-up of raw model output.

Order matters: stop where the model left its block, drop what re-types the suffix, repair
brackets against the rest of the line, then discard what is not worth showing. A syntax
check (tree-sitter, passed in by the pipeline) picks the longest line-cut that parses no
worse than the file without the completion.
"""

from __future__ import annotations

from collections.abc import Callable

OPEN, CLOSE = "([{", ")]}"
PAIRS = dict(zip(CLOSE, OPEN))

# Top-level starts of a new definition, per language (Tabby's languages.toml is the model):
# once a multi-line completion begins one at the block's indentation, it has left its block.
STOP_STARTS: dict[str, tuple[str, ...]] = {
    "python": ("def ", "class ", "async def ", "if __name__", "@"),
    "javascript": ("function ", "class ", "export ", "const ", "let "),
    "typescript": ("function ", "class ", "export ", "interface ", "type "),
    "tsx": ("function ", "class ", "export ", "interface ", "type "),
    "go": ("func ", "type "),
    "rust": ("fn ", "pub fn ", "impl ", "struct ", "enum ", "mod "),
    "c": ("#include", "#define"),
    "cpp": ("#include", "#define", "namespace ", "template"),
    "java": ("public class ", "class ", "interface "),
    "ruby": ("def ", "class ", "module "),
    "lua": ("function ", "local function "),
    "bash": ("function ",),
}


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" \t"))


def stop_index(text: str, multiline: bool, block_indent: int, language: str | None = None) -> int | None:
    """Where decoding should stop, checked after every token: the end of the line in
    single-line mode; in multi-line mode the first complete line that dedents below the
    cursor's block, or that starts a new top-level definition at the block's own level."""
    if not multiline:
        cut = text.find("\n")
        return cut if cut >= 0 else None
    starts = STOP_STARTS.get(language or "", ())
    start = 0
    while (nl := text.find("\n", start)) >= 0:
        line_start = nl + 1
        rest = text[line_start:]
        if "\n" not in rest and not rest.strip():
            return None  # the next line has not shown its indentation yet
        line = rest.split("\n", 1)[0]
        if line.strip():
            if _indent(line) < block_indent:
                return nl
            if _indent(line) == block_indent == 0 and line.startswith(starts):
                return nl
        start = line_start
    return None


def cut_suffix_lines(text: str, suffix: str) -> str:
    """Cut where the completion starts re-typing the lines that follow the cursor."""
    after = [ln.strip() for ln in suffix.split("\n")[1:] if ln.strip()]
    if not after:
        return text
    lines = text.split("\n")
    for i in range(1, len(lines)):
        if lines[i].strip() and lines[i].strip() == after[0]:
            return "\n".join(lines[:i])
    return text


def trim_line_overlap(text: str, rest_of_line: str) -> str:
    """Drop the end of the completion that repeats the start of the rest of the cursor line
    (e.g. `a, b)` when `)` already follows the cursor)."""
    rest = rest_of_line.strip()
    if not rest:
        return text
    body = text.rstrip()
    for k in range(len(rest), 0, -1):
        piece = rest[:k]
        if body.endswith(piece) and (k == len(rest) or all(c in CLOSE + "\"'`;,:" for c in piece)):
            return body[: -k].rstrip() if k == len(rest) else body[:-k]
    return text


def balance(text: str, rest_of_line: str) -> str:
    """Remove closing brackets and quotes the rest of the line already provides."""
    stack: list[str] = []
    excess = 0
    for ch in text:
        if ch in OPEN:
            stack.append(ch)
        elif ch in CLOSE:
            if stack and stack[-1] == PAIRS[ch]:
                stack.pop()
            else:
                excess += 1
    rest = rest_of_line.lstrip()
    body = text.rstrip()
    while excess and body and body[-1] in CLOSE and rest.startswith(body[-1]):
        rest = rest[1:]
        body = body[:-1]
        excess -= 1
    for quote in "\"'":
        if body.count(quote) % 2 == 1 and rest.startswith(quote) and body.endswith(quote):
            body = body[:-1]
    return body if body != text.rstrip() else text


def repeats_neighbour(text: str, line_above: str, line_below: str) -> bool:
    """A one-line suggestion that equals the line above or below adds nothing."""
    first = text.strip()
    return "\n" not in first and first in (line_above.strip(), line_below.strip()) and bool(first)


def best_parse_cut(text: str, parse_errors: Callable[[str], int]) -> str:
    """The longest line-prefix of `text` whose insertion adds no syntax errors; the whole text
    when it parses; the text unchanged when no prefix parses better."""
    lines = text.split("\n")
    if len(lines) == 1:
        return text
    baseline = parse_errors("")
    if parse_errors(text) <= baseline:
        return text
    for n in range(len(lines) - 1, 0, -1):
        candidate = "\n".join(lines[:n])
        if candidate.strip() and parse_errors(candidate) <= baseline:
            return candidate
    return text


def finish(
    text: str,
    prefix: str,
    suffix: str,
    multiline: bool,
    block_indent: int,
    language: str | None = None,
    parse_errors: Callable[[str], int] | None = None,
) -> str:
    """All post-processing, in order; '' means no suggestion."""
    cut = stop_index(text, multiline, block_indent, language)
    if cut is not None:
        text = text[:cut]
    text = text.rstrip() if multiline else text.rstrip("\r\n ")
    rest_of_line = suffix.split("\n", 1)[0]
    text = cut_suffix_lines(text, suffix)
    if multiline and parse_errors is not None:
        text = best_parse_cut(text, parse_errors)
    last = text.rsplit("\n", 1)[-1]
    trimmed = trim_line_overlap(last, rest_of_line)
    text = text[: len(text) - len(last)] + balance(trimmed, rest_of_line)
    text = text.rstrip()
    if not text.strip():
        return ""
    line_above = prefix.rsplit("\n", 2)[-2] if prefix.count("\n") >= 1 else ""
    line_below = next((ln for ln in suffix.split("\n")[1:] if ln.strip()), "")
    if prefix.rsplit("\n", 1)[-1].strip() == "" and repeats_neighbour(text, line_above, line_below):
        return ""
    return text

