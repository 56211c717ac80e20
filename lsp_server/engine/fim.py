"""Fill-in-the-middle templates, detected from the model's own vocabulary.

Detection asks the loaded vocabulary whether a family's special tokens exist (never the
file name). Prompts are assembled as token ids: the user's code is tokenized with special
tokens off and the FIM markers are spliced in by id, so code that happens to contain
"<|fim_prefix|>" cannot inject control tokens (llama.cpp's /infill does the same).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

# text of a special token -> its id, or None when the vocabulary has no such special token
TokenLookup = Callable[[str], "int | None"]


@dataclass(frozen=True)
class Family:
    name: str
    prefix: tuple[str, ...]  # candidate spellings, first found wins
    suffix: tuple[str, ...]
    middle: tuple[str, ...] = ()
    suffix_first: bool = False  # SPM order: [SUFFIX] s [PREFIX] p  (Codestral)
    requires: tuple[str, ...] = ()  # tokens that tell apart families sharing FIM spellings
    file_sep: tuple[str, ...] = ()
    repo_name: tuple[str, ...] = ()


# Order matters: families sharing spellings come most specific first.
FAMILIES: tuple[Family, ...] = (
    Family("qwen2.5-coder", ("<|fim_prefix|>",), ("<|fim_suffix|>",), ("<|fim_middle|>",),
           requires=("<|fim_pad|>",), file_sep=("<|file_sep|>",), repo_name=("<|repo_name|>",)),
    Family("codegemma", ("<|fim_prefix|>",), ("<|fim_suffix|>",), ("<|fim_middle|>",),
           requires=("<|file_separator|>",), file_sep=("<|file_separator|>",)),
    Family("starcoder", ("<fim_prefix>", "<fim-prefix>"), ("<fim_suffix>", "<fim-suffix>"),
           ("<fim_middle>", "<fim-middle>"), file_sep=("<file_sep>",), repo_name=("<reponame>", "<repo_name>")),
    Family("codellama", ("▁<PRE>", "<PRE>"), ("▁<SUF>", "<SUF>"), ("▁<MID>", "<MID>")),
    Family("deepseek-coder", ("<｜fim▁begin｜>",), ("<｜fim▁hole｜>",), ("<｜fim▁end｜>",)),
    Family("codestral", ("[PREFIX]",), ("[SUFFIX]",), ("[MIDDLE]",), suffix_first=True),
    Family("fim", ("<|fim_prefix|>",), ("<|fim_suffix|>",), ("<|fim_middle|>",)),
)


@dataclass(frozen=True)
class FimTemplate:
    family: str
    prefix_id: int
    suffix_id: int
    middle_id: int | None
    suffix_first: bool
    file_sep_id: int | None = None
    repo_name_id: int | None = None


def _first(lookup: TokenLookup, spellings: Sequence[str]) -> int | None:
    for text in spellings:
        token = lookup(text)
        if token is not None:
            return token
    return None


def detect(lookup: TokenLookup) -> FimTemplate | None:
    """The FIM template the vocabulary supports, or None (prefix-only prompts)."""
    for fam in FAMILIES:
        if any(lookup(t) is None for t in fam.requires):
            continue
        pre, suf = _first(lookup, fam.prefix), _first(lookup, fam.suffix)
        mid = _first(lookup, fam.middle)
        if pre is None or suf is None or (mid is None and not fam.suffix_first):
            continue
        return FimTemplate(
            family=fam.name,
            prefix_id=pre,
            suffix_id=suf,
            middle_id=None if fam.suffix_first else mid,
            suffix_first=fam.suffix_first,
            file_sep_id=_first(lookup, fam.file_sep),
            repo_name_id=_first(lookup, fam.repo_name),
        )
    return None


def layout(template: FimTemplate | None, prefix: list[int], suffix: list[int]) -> list[int]:
    """Token ids of a completion prompt; the file prefix comes first where the format allows,
    so consecutive keystrokes share the longest possible cached token prefix."""
    if template is None:
        return list(prefix)
    if template.suffix_first:
        return [template.suffix_id, *suffix, template.prefix_id, *prefix]
    return [template.prefix_id, *prefix, template.suffix_id, *suffix, template.middle_id]
