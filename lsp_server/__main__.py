"""Command line: `sokuji serve` (the language server), `sokuji complete`, `sokuji context`,
`sokuji doctor`, `sokuji models` (the catalog), `sokuji pull` (the one command that downloads)."""

from __future__ import annotations

import argparse
import logging
import os
import platform
import sys
import time
from pathlib import Path


def _serve(args: argparse.Namespace) -> int:
    logging.basicConfig(level=os.environ.get("SOKUJI_LOG_LEVEL", "WARNING"), stream=sys.stderr, format="sokuji %(levelname)s %(name)s: %(message)s")
    if args.no_supervisor:
        return _serve_here(args)
    from . import supervisor

    if args.tcp:
        host, _, port = args.tcp.rpartition(":")
        return supervisor.serve_tcp(host or "127.0.0.1", int(port), args.model)
    try:
        code = supervisor.serve_stdio(args.model)
    except KeyboardInterrupt:  # Ctrl-C in a terminal: the server (same process group) gets it too
        code = 130
    # The thread reading stdin may still block in it: the interpreter's own exit would wait
    # for its lock (a fatal error). Nothing else is left to close in the relay.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _serve_here(args: argparse.Namespace) -> int:
    """The language server itself, in this process (behind the supervisor, or on its own)."""
    from .protocol import create_server
    from .supervised import on_crash_write_stack

    on_crash_write_stack()
    server = create_server(args.model)
    try:
        if args.tcp:
            host, _, port = args.tcp.rpartition(":")
            server.start_tcp(host or "127.0.0.1", int(port))
        else:
            server.start_io()
    finally:  # exit, shutdown or stdin closed: the model is closed before the interpreter goes
        if not server.close_engine():
            # its thread is still inside llama.cpp: tearing the interpreter down would crash under it
            logging.getLogger("sokuji").error("the engine thread did not stop: exiting without closing the model")
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(0)
    return 0


def _complete(args: argparse.Namespace) -> int:
    from .completion.pipeline import complete
    from .loading import load_engine
    from .config import Settings
    from .context.symbols import SymbolSources
    from .context.workspace import index_folder
    from .documents import Document
    from .engine.devices import gpu_warning
    from .engine.base import EngineError
    from .structs import CancelToken

    path = Path(args.file)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        print(f"sokuji: cannot read {path}: {exc}", file=sys.stderr)
        return 2
    settings = Settings(
        max_tokens=args.max_tokens,
        time_budget_ms=args.time_budget_ms,
        gpu_layers=args.gpu_layers,
        context_size=args.context_size,
        kv_cache_persist=False,
        token_healing=not args.no_token_healing,
        min_confidence=args.min_confidence,
        line_start_confidence=args.line_start_confidence,
        first_line_first=False,  # no background here: the whole block at once
    )
    started = time.monotonic()
    try:
        model = load_engine(settings, args.model)
    except (EngineError, OSError, ValueError) as exc:
        print(f"sokuji: {exc}", file=sys.stderr)
        return 1
    load_s = time.monotonic() - started
    if warning := gpu_warning(settings.gpu_layers, model.info.gpu_offload):
        print(warning, file=sys.stderr)
    doc = Document(path.resolve().as_uri(), "", 0, text, "utf-32")  # --col counts characters
    cursor = doc.cursor(args.line - 1, args.col - 1)
    workspace = Path(args.workspace).resolve()
    symbols = SymbolSources(index_folder(workspace), {}, [workspace.as_uri()])
    result = complete(model, doc.snapshot(), cursor, settings, CancelToken(), symbols=symbols,
                      asked=args.line_start_confidence is None)
    gen = result.generation
    if result.hidden:
        print("(no suggestion: the model was less sure of it than the confidence gate asks; "
              "--min-confidence 0 / --line-start-confidence 0 show everything)")
    else:
        print(result.text if result.text else "(no suggestion)")
    print("---", file=sys.stderr)
    print(f"model: {model.info.name} ({model.info.path}), FIM: {model.info.fim or 'none (prefix-only)'}", file=sys.stderr)
    print(
        f"mode: {'multi-line' if result.multiline else 'single-line'}, stop: {gen.stop_reason}\n"
        f"prompt tokens: {gen.prompt_tokens} (evaluated {gen.evaluated_tokens}), generated tokens: {gen.generated_tokens}\n"
        f"model load: {load_s * 1000:.0f} ms, completion: {gen.seconds * 1000:.0f} ms"
        f" ({gen.generated_tokens / gen.seconds if gen.seconds else 0:.1f} tok/s generated)",
        file=sys.stderr,
    )
    model.close()  # before the interpreter tears down (engine/lifetime.py)
    return 0


def _context(args: argparse.Namespace) -> int:
    from .completion.pipeline import context_parts, make_prompt
    from .config import Settings
    from .context.recent import Recent
    from .edits.history import EditHistory
    from .context.symbols import SymbolSources
    from .context.workspace import index_folder
    from .documents import Document
    from .engine.base import EngineError
    from .engine.model import Model
    from .models import resolve

    path = Path(args.file).resolve()
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        print(f"sokuji: cannot read {path}: {exc}", file=sys.stderr)
        return 2
    settings = Settings(context_budget=args.budget, context_size=args.context_size, max_tokens=args.max_tokens)
    try:  # the tokenizer only: token counts come from the model's own vocabulary
        model = Model(resolve(args.model), vocab_only=True, context_size=args.context_size)
    except (EngineError, OSError, ValueError) as exc:
        print(f"sokuji: {exc}", file=sys.stderr)
        return 1
    workspace = Path(args.workspace).resolve()
    started = time.monotonic()
    index = index_folder(workspace)
    index_s = time.monotonic() - started
    doc = Document(path.as_uri(), "", 0, text, "utf-32")  # --col counts characters
    cursor = doc.cursor(args.line, args.col)
    history = EditHistory()
    for before in args.before or []:  # the recent edits: the file as it was, to the file as it is
        history.record_versions(path.as_uri(), Path(before).read_text(encoding="utf-8"), text, time.monotonic())
    prompt = make_prompt(model, doc.snapshot(), cursor, settings, SymbolSources(index, {}, [workspace.as_uri()]),
                         recent=Recent(history.recent(time.monotonic())))
    for part in context_parts(model, prompt):
        print(f"===== {part['label']}: {part['tokens']} tokens =====")
        print(part["text"])
    print(f"===== the prompt as the model sees it: {model.prompt_token_count(prompt)} tokens (budget {args.budget}) =====")
    print(model.render(prompt))
    print(
        f"--- model: {model.info.name}, FIM: {model.info.fim or 'none (prefix-only)'}; workspace {workspace}: "
        f"{index.file_count} files, {index.definition_count} definitions indexed in {index_s:.2f} s",
        file=sys.stderr,
    )
    model.close()
    return 0


def _stats(args: argparse.Namespace) -> int:
    from .acceptance import acceptance_file, read, table

    path = acceptance_file()
    found = read(path)
    if found is None:
        print(f"no acceptance counts yet ({path}: written when a server shuts down)")
        return 0
    print(f"what was taken of sokuji's suggestions, every session so far ({path}; counts only, no code):")
    print(table(found))
    return 0


def _doctor(args: argparse.Namespace) -> int:
    import llama_cpp

    from .context.languages import grammar_names, ts_language
    from .engine.devices import devices
    from .engine.base import EngineError
    from .engine.model import Model, gpu_offload_supported
    from .models import resolve

    print(f"python: {platform.python_version()} ({sys.executable})")
    print(f"llama-cpp-python: {llama_cpp.__version__}")
    print(f"llama.cpp build: {llama_cpp.llama_print_system_info().decode(errors='replace').strip()}")
    print(f"AMX: {_amx_line()}")
    gpu = gpu_offload_supported()
    print(f"GPU offload: {'available' if gpu else 'not in this build (CPU only)'}")
    for dev in devices():
        memory = f", {dev.free_bytes / 2**30:.1f} GiB free of {dev.total_bytes / 2**30:.1f} GiB" if dev.total_bytes else ""
        print(f"device: {dev.kind.upper()} {dev.name} ({dev.description}{memory})")
    ok = True
    for feature, spec in (("", args.model), ("fixes ", args.fixes_model)):
        if feature and not spec:
            print("fixes model: the completions model")
            continue
        try:
            model = Model(resolve(spec), vocab_only=True, context_size=256)
            info = model.info
            print(f"{feature}model:" + (f" {spec}" if spec and feature else ""))
            print(info.path)
            print(f"  size: {info.size_bytes / 2**20:.1f} MiB, architecture: {info.architecture}, name: {info.name}")
            print(f"  FIM template: {info.fim or 'none (prefix-only prompts)'}")
            model.close()
        except (EngineError, OSError, ValueError) as exc:
            ok = False
            print(f"{feature}model: ERROR {exc}")
    _print_pulled()
    _print_crashes()
    found = [name for name in grammar_names() if ts_language(name) is not None]
    missing = sorted(set(grammar_names()) - set(found))
    print(f"grammars: {', '.join(found)}" + (f" (missing: {', '.join(missing)})" if missing else ""))
    return 0 if ok and not missing else 1


def _amx_line() -> str:
    from .engine import amx

    if not amx.cpu_has_amx():
        return "not on this CPU"
    if amx.build_has_amx(amx.system_info()):
        return ("this CPU has it and this llama.cpp build has ggml's AMX path, which segfaults (llama.cpp#20824): "
                "models load without extra buffer types. `make setup` builds without it.")
    return "this CPU has it; this llama.cpp build leaves it out (no AMX_INT8 above), as `make setup` builds it"


def _print_crashes() -> None:
    """The supervisor's record: the server's last crashes and the mode each restart chose."""
    from .supervisor import crashlog

    found = crashlog.recent(5)
    print(f"server crashes ({crashlog.path()}):" + ("" if found else " none recorded"))
    for c in found:
        where = "inside the model" if c.get("inModel") else "outside the model"
        step = ", stepped down" if c.get("steppedDown") else ""
        print(f"  {c.get('time')} {c.get('signal')} {where}: restarted in mode {c.get('mode')}{step}")
    if found and found[-1].get("mode") != "normal":
        print("  a server restarted by the editor starts in mode normal again")


def _print_pulled() -> None:
    from huggingface_hub import constants

    from .models import label, pulled

    found = pulled()
    print(f"pulled models ({constants.HF_HUB_CACHE}):" + ("" if found else " none (`sokuji models` lists the catalog)"))
    for repo, file, path, size in found:
        print(f"  {label(repo, file)}  {size / 2**30:.2f} GiB  {path}")


def _models(args: argparse.Namespace) -> int:
    from .models import catalog_markdown, catalog_table

    if args.markdown:
        print(catalog_markdown())
        return 0
    print(catalog_table())
    print("\n* = downloaded. RAM/VRAM: the weights, the KV cache at the default context (4096 tokens) and "
          "llama.cpp's buffers.\n`sokuji pull NAME` downloads one; REPO/FILE names any GGUF file on the hub.")
    return 0


def _pull(args: argparse.Namespace) -> int:
    from .models import PullError, pull, settings_line

    try:
        path, info, entry = pull(args.spec)
    except PullError as exc:
        print(f"sokuji: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # huggingface_hub removes its partial file; nothing was linked into the cache
        print("sokuji: interrupted; nothing was kept. Run the same command again to download it.", file=sys.stderr)
        return 130
    print(f"{entry.name if entry else args.spec}: {path}")
    print(f"  {info.size_bytes / 2**30:.2f} GiB, architecture: {info.architecture}, FIM: {info.fim or 'none'}")
    if info.fim is None:
        print("  warning: no FIM tokens found: completions will see the code before the cursor only", file=sys.stderr)
    elif entry is not None and info.fim != entry.fim:
        print(f"  warning: the catalog expects FIM family {entry.fim}, the file has {info.fim}", file=sys.stderr)
    print(f"settings: {settings_line(args.spec, entry)}")
    return 0


def _context_parser(sub, defaults) -> None:
    ctx = sub.add_parser("context", help="print the prompt a completion at FILE:LINE:COL would use, part by part")
    ctx.add_argument("file")
    ctx.add_argument("--line", type=int, required=True, help="0-based line, as in LSP")
    ctx.add_argument("--col", type=int, required=True, help="0-based column, in characters")
    ctx.add_argument("--budget", type=int, default=defaults.context_budget, help="prompt tokens (the contextBudget setting)")
    ctx.add_argument("--workspace", default=".", help="folder whose definitions are indexed (default: the current one)")
    ctx.add_argument("--model", help="GGUF file whose tokenizer counts (default: the embedded model)")
    ctx.add_argument("--context-size", type=int, default=defaults.context_size)
    ctx.add_argument("--max-tokens", type=int, default=defaults.max_tokens)
    ctx.add_argument("--before", action="append", metavar="OLD_FILE", help="FILE before your recent edits: the edits show")
    ctx.set_defaults(func=_context)


def main(argv: list[str] | None = None) -> int:
    from .config import Settings

    defaults = Settings()  # the settings' defaults are the options' (written once, in config.py)
    parser = argparse.ArgumentParser(prog="sokuji", description="Code completions from a local GGUF model, over LSP.")
    sub = parser.add_subparsers(dest="command")

    serve = sub.add_parser("serve", help="run the language server (stdio by default)")
    serve.add_argument("--stdio", action="store_true", help="talk LSP over stdin/stdout (default)")
    serve.add_argument("--tcp", metavar="HOST:PORT", help="listen on a TCP socket instead of stdio")
    serve.add_argument("--model", help="GGUF file, catalog name or REPO/FILE (pulled) to use when the `model` setting is not given")
    serve.add_argument("--no-supervisor", action="store_true",
                       help="run the server in this process, without the relay that restarts it after a crash")
    serve.set_defaults(func=_serve)

    comp = sub.add_parser("complete", help="complete FILE at a position and print the suggestion and its timing")
    comp.add_argument("file")
    comp.add_argument("--line", type=int, required=True, help="1-based line")
    comp.add_argument("--col", type=int, required=True, help="1-based column, in characters")
    comp.add_argument("--model", help="GGUF file, catalog name or REPO/FILE (default: the embedded model)")
    comp.add_argument("--max-tokens", type=int, default=defaults.max_tokens)
    comp.add_argument("--time-budget-ms", type=int, default=defaults.time_budget_ms, help="stop generating after this long")
    comp.add_argument("--gpu-layers", type=int, default=defaults.gpu_layers, help="layers on the GPU (default: all when there is one)")
    comp.add_argument("--context-size", type=int, default=defaults.context_size)
    comp.add_argument("--workspace", default=".", help="folder whose definitions the prompt may show (default: the current one)")
    comp.add_argument("--no-token-healing", action="store_true", help="leave a partial word at the cursor as it is")
    comp.add_argument("--min-confidence", type=float, help="mid-line: hide what the model is less sure of (0 = show all)")
    comp.add_argument("--line-start-confidence", type=float, help="at a line start: hide a less likely line (a command "
                      "is an explicit ask: ungated unless given)")
    comp.set_defaults(func=_complete)

    _context_parser(sub, defaults)

    doctor = sub.add_parser("doctor", help="report the Python, llama.cpp build, GPU offload, model and grammars")
    doctor.add_argument("--model", help="GGUF file, catalog name or REPO/FILE to check (default: the embedded model)")
    doctor.add_argument("--fixes-model", help="the model fixes use, when not the completions one (the `fixes.model` setting)")
    doctor.set_defaults(func=_doctor)
    sub.add_parser("stats", help="what was taken of the suggestions (counted locally, no code)").set_defaults(func=_stats)

    models = sub.add_parser("models", help="the catalog of code models, downloaded ones marked")
    models.add_argument("--markdown", action="store_true", help="as the table in docs/models-and-gpu.md")
    models.set_defaults(func=_models)

    pull = sub.add_parser("pull", help="download a catalog model or REPO/FILE from Hugging Face, then check it")
    pull.add_argument("spec", metavar="NAME|REPO/FILE")
    pull.set_defaults(func=_pull)

    args = parser.parse_args(argv)
    if args.command is None:  # editors that run plain `sokuji` get the server
        args = parser.parse_args(["serve", *(argv or sys.argv[1:])])
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
