"""The VS Code manifest against the settings table: every default is written once, in
lsp_server/config.py (`Settings`), and editors/vscode/package.json must agree with it.

The extension sends the server every `sokuji.*` value VS Code has, its manifest defaults
included, except its own keys (CLIENT_ONLY in src/extension.ts): a default that differs
from Settings' would silently replace it. A setting whose default is None may be left out
of the manifest (nothing is sent, the server uses None) or declared with the default null
(sent as null, decoded as None); both mean "not set"."""

from __future__ import annotations

import json
import re
import typing
from pathlib import Path

import msgspec

from lsp_server.config import _LIMITS, FixesEngine, Settings

ROOT = Path(__file__).resolve().parents[2]
VSCODE = ROOT / "editors" / "vscode"
JSON_TYPES = {
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "object": lambda v: isinstance(v, dict),
    "null": lambda v: v is None,
}


def _client_only() -> set[str]:
    """The extension's own keys, as src/extension.ts lists them (never sent to the server)."""
    source = (VSCODE / "src" / "extension.ts").read_text(encoding="utf-8")
    listed = re.search(r"const CLIENT_ONLY = new Set\(\[([^\]]*)\]\)", source)
    assert listed is not None, "CLIENT_ONLY not found in src/extension.ts"
    return set(re.findall(r'"([^"]+)"', listed.group(1)))


def _server_properties() -> dict[str, dict]:
    """The manifest's `sokuji.*` properties the server receives, by setting name."""
    manifest = json.loads((VSCODE / "package.json").read_text(encoding="utf-8"))
    properties = manifest["contributes"]["configuration"]["properties"]
    client_only = _client_only()
    out = {}
    for key, prop in properties.items():
        assert key.startswith("sokuji."), f"{key}: not a sokuji setting"
        name = key.removeprefix("sokuji.")
        if name not in client_only:
            out[name] = prop
    return out


def _fields(struct: type[msgspec.Struct]) -> dict[str, msgspec.structs.FieldInfo]:
    return {f.encode_name: f for f in msgspec.structs.fields(struct)}


def _default(field: msgspec.structs.FieldInfo) -> object:
    """The field's default as JSON has it."""
    value = field.default_factory() if field.default is msgspec.NODEFAULT else field.default
    return msgspec.to_builtins(value)


def _same(a: object, b: object) -> bool:
    """Equal JSON values: `true` is not 1, 0 is 0.0."""
    return a == b and isinstance(a, bool) == isinstance(b, bool)


def _literal_values(annotation: object) -> list | None:
    """The values a Literal field (or an optional one) admits, in order; None if not one."""
    for arg in (annotation, *typing.get_args(annotation)):
        if typing.get_origin(arg) is typing.Literal:
            return list(typing.get_args(arg))
    return None


def test_every_setting_the_manifest_exposes_exists():
    settings = _fields(Settings)
    exposed = _server_properties()
    unknown = sorted(set(exposed) - set(settings))
    assert not unknown, f"package.json contributes settings the server does not have: {unknown}"
    nested = set(exposed["fixes"].get("properties", {})) if "fixes" in exposed else set()
    assert nested <= set(_fields(FixesEngine)), f"unknown `fixes` keys: {sorted(nested - set(_fields(FixesEngine)))}"
    assert not _client_only() & set(settings), "a key the extension keeps to itself is a server setting"


def test_manifest_defaults_are_the_settings_defaults():
    settings = _fields(Settings)
    wrong = []
    for name, prop in _server_properties().items():
        if name not in settings:
            continue  # reported by test_every_setting_the_manifest_exposes_exists
        expected = _default(settings[name])
        if "default" not in prop:  # VS Code would send its type's own default (0, "", false)
            wrong.append(f"sokuji.{name}: no default, Settings has {expected!r}")
        elif not _same(prop["default"], expected):
            wrong.append(f"sokuji.{name}: default {prop['default']!r}, Settings has {expected!r}")
    assert not wrong, "\n".join(wrong)


def test_manifest_types_and_choices_admit_what_settings_do():
    settings = _fields(Settings)
    hints = typing.get_type_hints(Settings)
    for name, prop in _server_properties().items():
        if name not in settings:
            continue
        declared = prop["type"] if isinstance(prop["type"], list) else [prop["type"]]
        default = _default(settings[name])
        assert any(JSON_TYPES[t](default) for t in declared), f"sokuji.{name}: type {declared} rejects {default!r}"
        choices = _literal_values(hints[settings[name].name])
        if choices is not None or "enum" in prop:
            assert prop.get("enum") == choices, f"sokuji.{name}: enum {prop.get('enum')} but Settings allows {choices}"
        low, high = _LIMITS.get(name, (None, None))
        if "minimum" in prop or "maximum" in prop:
            assert (prop.get("minimum"), prop.get("maximum")) == (low, high), f"sokuji.{name}: range differs from config's"
    fixes = _server_properties().get("fixes", {}).get("properties", {})
    fixes_hints = typing.get_type_hints(FixesEngine)
    for name, prop in fixes.items():
        if name not in _fields(FixesEngine):
            continue
        choices = _literal_values(fixes_hints[_fields(FixesEngine)[name].name])
        if choices is not None or "enum" in prop:
            assert prop.get("enum") == choices, f"sokuji.fixes.{name}: enum {prop.get('enum')} but FixesEngine allows {choices}"
