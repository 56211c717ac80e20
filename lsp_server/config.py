"""User settings (section `sokuji`), decoded once per change with msgspec.

Every field has a default. A bad value never stops the server: it is reported by name
with the value used instead, and the default takes its place.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

# The keys that choose and load an engine: what `fixes` may set apart from completions.
ENGINE_KEYS = ("model", "engine", "url", "api_key_env", "timeout_ms", "gpu_layers", "context_size")
# The keys whose change reloads the engines: those, the KV cache's, the fixes' and the next edits' own engines.
RELOAD_KEYS = (*ENGINE_KEYS, "kv_cache", "kv_cache_mb", "kv_cache_persist", "fixes", "next_edit_model")


class FixesEngine(msgspec.Struct, rename="camel", frozen=True, forbid_unknown_fields=True):
    """Setting `fixes`: the engine fixes (code actions) use. A key left out is the
    completions engine's, so {"model": "qwen2.5-coder-7b"} changes the model only."""

    model: str | None = None
    engine: Literal["local", "llama-server", "openai"] | None = None
    url: str | None = None
    api_key_env: str | None = None
    timeout_ms: int | None = None
    gpu_layers: int | None = None
    context_size: int | None = None


class Settings(msgspec.Struct, rename="camel", frozen=True, forbid_unknown_fields=False):
    model: str | None = None  # GGUF path, catalog name or REPO/FILE (pulled); None = the embedded default model
    gpu_layers: int | None = None  # layers offloaded to the GPU; None = all when there is a GPU, -1 = all, 0 = none
    context_size: int = 4096  # llama.cpp context window, in tokens
    max_tokens: int = 64  # most tokens generated per completion
    context_budget: int = 1536  # prompt tokens: definitions, imports and the window around the cursor
    time_budget_ms: int = 3000  # stop decoding after this long, keep what we have
    temperature: float = 0.0  # 0 = greedy (repeatable)
    token_healing: bool = True  # complete the word the cursor is in, not a word after it
    min_confidence: float | None = None  # mid-line: hide what the model is less sure of (line probability); None = calibrated per language, 0 = show everything
    line_start_confidence: float | None = None  # at a line start: the first line's least probability; None = per language, 0 = show every line
    first_line_first: bool = True  # a block: return its first line at once, write the rest in the background
    prefetch: bool = True  # after an accept, prepare the next suggestion where the user goes next
    recent_edits: bool = True  # the user's recent edits (as diffs) in the prompt, under a share of contextBudget
    kv_cache: Literal["perFile", "shared", "off"] = "perFile"  # KV state per file / one shared / none
    kv_cache_mb: int = 0  # memory for per-file KV states; 0 = a tenth of free RAM (64 MiB..2 GiB)
    kv_cache_persist: bool = True  # keep per-file KV states on disk across restarts
    engine: Literal["local", "llama-server", "openai"] = "local"  # where generation runs
    url: str = ""  # the engine's base URL, e.g. http://gpu-box:8080 (llama-server) or .../v1 (openai)
    api_key_env: str = ""  # name of the environment variable holding the engine's API key
    timeout_ms: int = 30000  # an engine request that takes longer fails (one message, then retried)
    diagnostics: bool = True  # publish tree-sitter syntax errors
    fix_time_budget_ms: int = 15000  # a fix (code action) may take this long per try
    fix_max_tokens: int = 512  # most tokens a fix's rewrite generates (a region of up to 40 lines)
    fix_prompt_lookup: bool = True  # draft fix tokens from the code being fixed (speculative)
    fixes: FixesEngine | None = None  # another model or engine for fixes; None = the completions one
    next_edit_model: str | None = None  # a next-edit model (catalog name, REPO/FILE pulled, GGUF path); None = no model proposals

    def fixes_engine(self) -> Settings:
        """The settings the fixes' engine loads with: these, with `fixes`' own keys over them."""
        if self.fixes is None:
            return self
        own = {key: value for key in ENGINE_KEYS if (value := getattr(self.fixes, key)) is not None}
        return msgspec.structs.replace(self, fixes=None, **own)

    def next_edit_engine(self) -> Settings:
        """The settings the next edits' engine loads with: these, with `nextEditModel` as the model."""
        return msgspec.structs.replace(self, fixes=None, model=self.next_edit_model)

    def fixes_share_engine(self) -> bool:
        """Whether fixes run on the completions engine (no second engine to load)."""
        other = self.fixes_engine()
        return all(getattr(self, key) == getattr(other, key) for key in ENGINE_KEYS)


_LIMITS: dict[str, tuple[float, float]] = {
    "gpuLayers": (-1, 10_000),
    "contextSize": (256, 1_048_576),
    "maxTokens": (1, 4096),
    "contextBudget": (64, 1_048_576),
    "timeBudgetMs": (50, 600_000),
    "temperature": (0.0, 5.0),
    "minConfidence": (0.0, 1.0),
    "lineStartConfidence": (0.0, 1.0),
    "kvCacheMb": (0, 1_048_576),
    "fixTimeBudgetMs": (50, 600_000),
    "fixMaxTokens": (16, 8192),
    "timeoutMs": (100, 600_000),
}


def decode_settings(raw: Any) -> tuple[Settings, list[str]]:
    """Decode user settings field by field. Returns the settings and one message per bad key."""
    defaults = Settings()
    if raw is None:
        return defaults, []
    if not isinstance(raw, dict):
        return defaults, [f"sokuji settings must be an object, got {type(raw).__name__}; using defaults"]
    good, errors = _decode_fields(raw, Settings, "")
    if good.get("fixes") is not None:  # the same checks, key by key, for the fixes' engine
        if not isinstance(good["fixes"], dict):
            errors.append(f"sokuji: 'fixes' must be an object such as {{\"model\": \"qwen2.5-coder-7b\"}}, got "
                          f"{type(good['fixes']).__name__}; fixes use the completions engine")
            del good["fixes"]
        else:
            own, more = _decode_fields(good["fixes"], FixesEngine, "fixes.")
            good["fixes"] = own or None
            errors += more
    return msgspec.convert(good, Settings), errors


def _decode_fields(raw: dict, struct: type[msgspec.Struct], prefix: str) -> tuple[dict[str, Any], list[str]]:
    """The keys of `raw` that are fields of `struct` with a valid value, and one message per
    other key. `fixes.` keys fall back to the completions engine's value."""
    good: dict[str, Any] = {}
    errors: list[str] = []
    fields = {f.encode_name: f for f in msgspec.structs.fields(struct)}
    for key, value in raw.items():
        field = fields.get(key)
        name = prefix + str(key)
        fallback = "the completions engine's" if prefix else repr(field.default if field else None)
        if field is None:
            errors.append(f"sokuji: unknown setting '{name}' ignored")
            continue
        if key == "fixes" and not prefix:
            good[key] = value  # checked by the caller, key by key
            continue
        try:
            msgspec.convert({key: value}, struct)
        except msgspec.ValidationError as exc:
            errors.append(f"sokuji: bad value for '{name}' ({exc}); using {fallback}")
            continue
        low_high = _LIMITS.get(key)
        if low_high and value is not None and not (low_high[0] <= value <= low_high[1]):
            errors.append(f"sokuji: '{name}' = {value!r} is outside {low_high[0]}..{low_high[1]}; using {fallback}")
            continue
        good[key] = value
    return good, errors
