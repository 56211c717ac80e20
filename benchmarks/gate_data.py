"""Data for the confidence gates: what the model suggests at line starts and mid-line on real
code, with each token's probability, so any gate can be tried offline on the same answers.

    .venv/bin/python benchmarks/gate_data.py [--split train|test|both] [--starts 8] [--typed 3] [--out DIR]

Cases come from real files: Python's standard library and npm's own JavaScript. The *train*
files are the ones the gates are calibrated on (benchmarks/gate_fit.py); the *test* files are
the typing benchmark's (benchmarks/typing_quality.py), scored apart. For each picked line of
code inside a function:
  - a line start: the line emptied to its indentation, as when Enter was pressed at the end
    of the line above; the model writes the first line of a block there;
  - `--typed` positions inside the line (after 1/4, 1/2 and 3/4 of it typed): the model
    finishes the line (token healing on).
Each is run in-process on the embedded model, the prompt built as the server builds it, the
gate off but every token's probability measured. One JSON line per case goes to
DIR/gate_<split>.jsonl: the language, the kind (line start / word / boundary), the real rest
of the line, the raw text, its first line's tokens (end offset, probability) and the node
kind the tree expects there.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import sysconfig
import time
from pathlib import Path

from lsp_server.completion.pipeline import finish, make_prompt
from lsp_server.config import Settings
from lsp_server.context.languages import new_parser
from lsp_server.context.syntax import error_counter
from lsp_server.documents import UTF32, Document
from lsp_server.engine.embedded import embedded_model_path
from lsp_server.engine.model import Model
from lsp_server.structs import CancelToken, GenParams

STDLIB = Path(sysconfig.get_paths()["stdlib"])
NPM = Path("/usr/lib/node_modules/npm/lib")
# The test split is the typing benchmark's files; the train split is disjoint from it.
TEST = [(STDLIB / f, "python") for f in ("textwrap.py", "csv.py", "fractions.py", "shlex.py", "pprint.py", "statistics.py")]
TEST += [(NPM / f, "javascript") for f in ("npm.js", "commands/config.js", "commands/install.js", "commands/ls.js")]
TRAIN = [(STDLIB / f, "python") for f in ("difflib.py", "ftplib.py", "gettext.py", "imaplib.py", "ipaddress.py",
                                           "mailbox.py", "optparse.py", "smtplib.py", "tarfile.py", "calendar.py",
                                           "configparser.py", "argparse.py")]
TRAIN += [(NPM / f, "javascript") for f in ("commands/publish.js", "commands/audit.js", "commands/outdated.js",
                                             "commands/exec.js", "commands/pack.js", "commands/search.js",
                                             "commands/token.js", "commands/owner.js", "commands/profile.js",
                                             "commands/view.js", "commands/version.js", "commands/dist-tag.js",
                                             "utils/error-message.js", "utils/display.js", "cli/entry.js")]
FUNCTIONS = {"function_definition", "function_declaration", "method_definition", "arrow_function",
             "function_expression", "function"}
SKIP = {"comment", "string", "string_content", "template_string", "line_comment", "block_comment"}
WORD = re.compile(r"[A-Za-z0-9_]")


def files(split: str) -> list[tuple[Path, str]]:
    chosen = {"train": TRAIN, "test": TEST, "both": TRAIN + TEST}[split]
    return [(p, lang) for p, lang in chosen if p.is_file()]


def picks(path: Path, language: str, count: int, rng: random.Random) -> list[int]:
    """Rows of code lines inside a function, after a code line, 4-70 characters, ASCII, not
    inside a comment or string: where Enter at the end of the line above starts them."""
    tree, lines, offsets = parsed(path, language)
    rows = []
    for row in range(1, len(lines)):
        raw, above = lines[row], lines[row - 1]
        body = raw.strip()
        if not (4 <= len(body) <= 70) or not raw.isascii() or not above.strip() or body.startswith(("#", "//", "*", "/*")):
            continue
        start = offsets[row] + len(raw) - len(raw.lstrip())
        node = tree.root_node.descendant_for_byte_range(start, start + len(body))
        kinds = [n.type for n in ancestors(node)]
        if any(k in SKIP for k in kinds) or not any(k in FUNCTIONS for k in kinds):
            continue
        rows.append(row)
    return sorted(rng.sample(rows, min(count, len(rows))))


def parsed(path: Path, language: str):
    """The file's tree, its lines, and the offset where each line starts."""
    text = path.read_text()
    lines = text.split("\n")
    offsets = [0]
    for ln in lines:
        offsets.append(offsets[-1] + len(ln) + 1)
    return new_parser(language).parse(text.encode()), lines, offsets


def ancestors(node):
    while node is not None:
        yield node
        node = node.parent


def expected_kind(doc: Document, line: int, col: int) -> str:
    """The named node around the cursor (what the tree expects a statement in)."""
    cursor = doc.cursor(line, col)
    node = doc.tree.root_node.named_descendant_for_byte_range(cursor.byte, cursor.byte) if doc.tree else None
    return node.type if node is not None else ""


def run_case(model: Model, settings: Settings, path: Path, language: str, lines: list[str], row: int,
             typed: int, kind: str) -> dict:
    raw = lines[row]
    indent = raw[: len(raw) - len(raw.lstrip())]
    body = raw.strip()
    text = "\n".join(lines[:row] + [indent + body[:typed]] + lines[row + 1:])
    doc = Document(path.as_uri(), language, 1, text, UTF32)
    col = len(indent) + typed
    snap, cursor = doc.snapshot(), doc.cursor(row, col)
    prompt = make_prompt(model, snap, cursor, settings)
    params = GenParams(settings.max_tokens, 60_000, 0.0, settings.token_healing, 0.0, probabilities=True)
    t0 = time.perf_counter()
    gen = model.complete(prompt, params, CancelToken(), stop=lambda t: t.find("\n") if "\n" in t else None,
                         key=path.as_uri())
    first = gen.text.split("\n", 1)[0]
    shown = finish(first, prompt, error_counter(snap, cursor)) if first.strip() else ""
    return {"file": path.name, "row": row, "language": language, "kind": kind, "typed": body[:typed],
            "rest": body[typed:], "raw": gen.text, "shown": shown, "tokens": gen.line_tokens,
            "node": expected_kind(doc, row, col), "above": lines[row - 1].rstrip()[-40:],
            "seconds": time.perf_counter() - t0}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--split", default="both", choices=("train", "test", "both"))
    ap.add_argument("--starts", type=int, default=8, help="line starts per file")
    ap.add_argument("--typed", type=int, default=3, help="positions inside each line")
    ap.add_argument("--out", default="/tmp")
    args = ap.parse_args()
    settings = Settings()
    model = Model(embedded_model_path(), context_size=settings.context_size, kv_persist_dir=None)
    splits = ("train", "test") if args.split == "both" else (args.split,)
    for split in splits:
        out = Path(args.out) / f"gate_{split}.jsonl"
        rng = random.Random(27)
        with out.open("w") as fh:
            for path, language in files(split):
                lines = path.read_text().split("\n")
                for row in picks(path, language, args.starts, rng):
                    body = lines[row].strip()
                    cases = [(0, "line start")]
                    for k in range(1, args.typed + 1):
                        typed = round(len(body) * k / (args.typed + 1))
                        cases.append((typed, "word" if WORD.match(body[typed - 1]) else "boundary"))
                    for typed, kind in cases:
                        fh.write(json.dumps(run_case(model, settings, path, language, lines, row, typed, kind)) + "\n")
                    fh.flush()
                print(f"  {split}: {path.name} done", file=sys.stderr)
        print(f"wrote {out}", file=sys.stderr)
    model.close()


if __name__ == "__main__":
    main()
