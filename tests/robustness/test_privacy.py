"""Privacy and boundaries, proved on a real session with the real model.

The real server runs under tests/helpers/audit_serve.py, which installs a CPython audit hook
(`sys.addaudithook`) before `lsp_server` is imported and logs every file opened, folder
listed, file-system change, socket, network call and process start. A full session runs —
the workspace index, the watcher, inline completions, a fix (diagnostics, code action,
resolve), an edit, shutdown persisting the KV states — and then the log must show:

- no network: no socket other than local AF_UNIX ones (asyncio's self-pipe is a
  socketpair), no connect, bind, name lookup or send; no HTTP; no other process started;
- reads only from the workspace folder, the model file (and the Hugging Face cache entry it was found by), sokuji's cache dir and the program
  itself (Python, its packages, sokuji's own modules and grammars); never the files and
  folders outside the workspace that symlinks inside it point at;
- writes only under the cache dir ($XDG_CACHE_HOME/sokuji);
- the model, named by its catalog name (`qwen2.5-coder-0.5b`), is found in the Hugging Face
  cache and never downloaded: the hub it would be downloaded from gets no request.

No code model can be downloaded here, so the embedded model's file is put in the cache under
that catalog entry's repository and file, by huggingface_hub itself from tests/helpers/fake_hub.py (a
local server answering as the hub does: a fake only because the hub cannot be reached). What
is checked is how the name is resolved, not which weights answer.

What the hook cannot see is native code opening files itself (llama.cpp maps the model file
with mmap); /proc/<pid>/fd is checked too: every socket the process holds is a Unix one.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import socket
import sys
from collections import Counter
from pathlib import Path

from lsprotocol import types
from pytest_lsp.client import make_test_lsp_client

import lsp_server
from lsp_server.engine.embedded import embedded_model_path
from lsp_server.models import BY_NAME

from ..helpers.e2e import inline, insert, open_doc, stats, wait_stat
from ..helpers.fake_hub import FakeHub
from ..e2e.test_fixes_e2e import BROKEN, caps_versioned, code_actions, diagnostics_for, recorder, resolve

REPO = Path(__file__).resolve().parents[2]
WRAPPER = Path(__file__).resolve().parents[1] / "helpers" / "audit_serve.py"

APP = '''from pkg.helpers import scale
from secret_dir.secret import secret_token


def run(items):
    token = secret_token()
    scaled = scale(items, 3)
    total = 0
    for x in scaled:
        total += x
    
'''
HELPERS = "def scale(items, factor=2):\n    return [i * factor for i in items]\n"
SECRET = "def secret_token():\n    return 'hunter2-outside-the-workspace'\n"

NETWORK_CALLS = ("socket.connect", "socket.bind", "socket.getaddrinfo", "socket.gethostbyname",
                 "socket.gethostbyaddr", "socket.getnameinfo", "socket.getservbyname", "socket.getservbyport",
                 "socket.sendto", "socket.sendmsg")
PROCESSES = ("subprocess.", "os.system", "os.exec", "os.spawn", "os.posix_spawn", "os.fork", "os.forkpty", "pty.")
CHANGES = ("os.mkdir", "os.rename", "os.remove", "os.rmdir", "os.truncate", "os.symlink", "os.link",
           "os.chmod", "os.chown", "os.utime", "shutil.")
WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND


def build_tree(tmp: Path) -> dict[str, Path]:
    ws, outside, cache, hf = tmp / "ws", tmp / "outside", tmp / "xdg-cache", tmp / "hf-cache"
    (ws / "pkg").mkdir(parents=True)
    (ws / "ignored").mkdir()
    (outside / "nested").mkdir(parents=True)
    cache.mkdir()
    (ws / ".gitignore").write_text("ignored/\n*.log\n")
    (ws / "app.py").write_text(APP)
    (ws / "pkg" / "__init__.py").write_text("")
    (ws / "pkg" / "helpers.py").write_text(HELPERS)
    (ws / "ignored" / "skip.py").write_text("def ignored_by_gitignore():\n    pass\n")
    (ws / "notes.log").write_text("def not_indexed():\n    pass\n")
    (ws / "blob.py").write_bytes(b"def binary():\0\n" + bytes(range(256)))  # binary: never parsed
    (outside / "secret.py").write_text(SECRET)
    (outside / "nested" / "deeper.py").write_text("def deeper_secret():\n    pass\n")
    (ws / "secret_dir").symlink_to(outside, target_is_directory=True)  # a folder escaping the workspace
    (ws / "secret_link.py").symlink_to(outside / "secret.py")  # a file escaping it
    (outside / "shared.gitignore").write_text("*.secret\n")
    (ws / "pkg" / ".gitignore").symlink_to(outside / "shared.gitignore")  # ignore rules kept outside
    return {"ws": ws, "outside": outside, "cache": cache, "hf": hf, "log": tmp / "audit.jsonl"}


async def prompt_at(client, uri: str, line: int, character: int) -> str:
    result = await asyncio.wait_for(
        client.workspace_execute_command_async(
            types.ExecuteCommandParams(command="sokuji.context", arguments=[uri, line, character])
        ),
        60,
    )
    return result["prompt"]


async def indexed_files(client) -> int:
    """The file count of the index build's $/progress end, once it has ended."""
    for _ in range(1200):
        for reports in client.progress_reports.values():
            for r in reports:
                if isinstance(r, types.WorkDoneProgressEnd) and r.message and (m := re.match(r"(\d+) files, ", r.message)):
                    return int(m.group(1))
        await asyncio.sleep(0.05)
    raise AssertionError("the index build never ended")


def socket_fds(pid: int) -> dict[str, str]:
    """Each socket the process holds: inode -> 'unix' or 'inet' (or 'other')."""
    inodes = {}
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes[target[8:-1]] = "other"
    for table, kind in (("unix", "unix"), ("tcp", "inet"), ("tcp6", "inet"), ("udp", "inet"), ("udp6", "inet")):
        try:
            rows = Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            cols = row.split()
            inode = cols[6] if kind == "unix" else cols[9]
            if inode in inodes:
                inodes[inode] = kind
    return inodes


CATALOG_NAME = "qwen2.5-coder-0.5b"


def pulled_as_catalog_entry(hf_cache: Path, hub: FakeHub) -> str:
    """The embedded model's file in a Hugging Face cache as CATALOG_NAME's file, downloaded by
    huggingface_hub from the fake hub. Returns the file the name resolves to, real path."""
    from huggingface_hub import hf_hub_download

    entry = BY_NAME[CATALOG_NAME]
    hub.add(entry.repo, entry.file, Path(embedded_model_path()).read_bytes())
    path = hf_hub_download(entry.repo, entry.file, cache_dir=hf_cache, endpoint=hub.url)
    hub.requests.clear()
    return os.path.realpath(path)


async def run_session(paths: dict[str, Path], model: str, hub: FakeHub) -> dict:
    ws = paths["ws"]
    app_uri = (ws / "app.py").as_uri()
    env = {**os.environ, "XDG_CACHE_HOME": str(paths["cache"]), "SOKUJI_AUDIT_LOG": str(paths["log"]),
           "HF_HUB_CACHE": str(paths["hf"]), "HF_ENDPOINT": hub.url}
    options = {"model": model, "maxTokens": 8, "kvCachePersist": True, "timeBudgetMs": 20_000, "fixTimeBudgetMs": 10_000,
               "lineStartConfidence": 0}
    client = make_test_lsp_client()
    # cwd: the workspace, as editors start servers
    await client.start_io(sys.executable, str(WRAPPER), "serve", env=env, cwd=str(ws))
    server = client._server
    seen: dict = {}
    try:
        await asyncio.wait_for(
            client.initialize_session(
                types.InitializeParams(
                    capabilities=caps_versioned(),
                    initialization_options=options,
                    workspace_folders=[types.WorkspaceFolder(uri=ws.as_uri(), name="ws")],
                )
            ),
            60,
        )
        published = recorder(client)
        # the index: app.py, pkg/__init__.py, pkg/helpers.py; not ignored/, *.log, the binary
        # file or anything through the two symlinks
        seen["indexed"] = await indexed_files(client)

        open_doc(client, app_uri, APP)
        seen["prompt"] = await prompt_at(client, app_uri, 10, 4)
        seen["completion"] = (await inline(client, app_uri, 10, 4)).items
        # an edit, then a completion again (the KV state of app.py is reused)
        insert(client, app_uri, 2, 10, 4, "ret")
        await inline(client, app_uri, 10, 7)

        # the fix flow: a syntax error, its diagnostic, the code action, resolved by the model
        calc_uri = (ws / "calc.py").as_uri()
        open_doc(client, calc_uri, BROKEN)
        diags = await diagnostics_for(published, calc_uri, 1)
        (action,) = await code_actions(client, calc_uri, diags)
        seen["fix"] = await resolve(client, action)

        # the watcher: a file created on disk is indexed; new symlinks out of the workspace are not
        (ws / "pkg" / "fresh.py").write_text("def fresh_helper(x):\n    return x\n")
        await wait_stat(client, "indexFiles", lambda n: n == seen["indexed"] + 1, 10)
        # an open buffer whose file appears on disk as a symlink out of the workspace: the
        # server compares disk and buffer on a change, but must not read through the link
        open_doc(client, (ws / "late_link.py").as_uri(), "def late():\n    pass\n")
        (ws / "late_dir").symlink_to(paths["outside"], target_is_directory=True)
        (ws / "late_link.py").symlink_to(paths["outside"] / "nested" / "deeper.py")
        (paths["outside"] / "secret.py").write_text(SECRET + "\n# changed outside\n")
        await asyncio.sleep(1.0)  # the watcher reacts within ~30 ms
        seen["after_links"] = (await stats(client))["indexFiles"]
        seen["prompt_after"] = await prompt_at(client, app_uri, 10, 7)
        seen["sockets"] = socket_fds((await stats(client))["pid"])  # the server behind the supervisor

        await asyncio.wait_for(client.shutdown_session(), 60)  # persists the KV states
        seen["returncode"] = await asyncio.wait_for(server.wait(), 30)
    finally:
        if server.returncode is None:
            server.kill()
            await server.wait()
        await client.stop()
    return seen


def inside(path: str, roots: list[Path]) -> bool:
    return any(Path(path).is_relative_to(root) for root in roots)


def real(path) -> str:
    return os.path.realpath(path) if isinstance(path, str) else path


def is_write(event: dict) -> bool:
    _, mode, flags = (event["args"] + [None, None, None])[:3]
    if isinstance(mode, str):
        return any(c in mode for c in "wax+")
    return isinstance(flags, int) and bool(flags & WRITE_FLAGS)


async def test_a_full_session_reads_only_the_workspace_writes_only_the_cache_and_never_uses_the_network(tmp_path: Path):
    paths = build_tree(tmp_path)
    with FakeHub() as hub:
        model = pulled_as_catalog_entry(paths["hf"], hub)  # the server gets CATALOG_NAME as `model`
        seen = await run_session(paths, CATALOG_NAME, hub)
        assert hub.requests == [], hub.requests  # resolved from the cache: the hub was never asked

    # the session did what it should
    assert seen["returncode"] == 0
    assert seen["indexed"] == 3, seen["indexed"]
    assert seen["after_links"] == 4, seen["after_links"]  # fresh.py, not late_link.py or late_dir/
    assert seen["completion"], "no completion"
    assert seen["fix"].edit is not None, seen["fix"]
    assert "def scale(items, factor=2)" in seen["prompt"]  # from the index (pkg/helpers.py)
    for prompt in (seen["prompt"], seen["prompt_after"]):
        assert "hunter2" not in prompt and "def secret_token" not in prompt and "deeper_secret" not in prompt

    events = [json.loads(line) for line in paths["log"].read_text().splitlines()]
    assert events, "the audit hook recorded nothing"
    kinds = Counter(e["event"] for e in events)

    ws = Path(os.path.realpath(paths["ws"]))
    outside = Path(os.path.realpath(paths["outside"]))
    cache = Path(os.path.realpath(paths["cache"])) / "sokuji"  # cache_dir() under XDG_CACHE_HOME
    program = [
        Path(os.path.realpath(sys.prefix)),  # the virtual environment: site-packages (pygls, llama_cpp, tree-sitter grammars, ...)
        Path(os.path.realpath(sys.base_prefix)),  # the Python installation itself: the standard library
        Path(lsp_server.__file__).resolve().parent,  # sokuji's own modules (an editable install: the repository)
        REPO / "grammars",  # sokuji's tree-sitter queries (tags.scm, ...)
    ]
    hf_cache = Path(os.path.realpath(paths["hf"]))  # the name's refs/main, its snapshot folder, the file
    cpu = Path("/proc/cpuinfo")  # whether the CPU has AMX (lsp_server/engine/amx.py)
    readable = [ws, cache, hf_cache, cpu, *program]

    # -- the network ----------------------------------------------------------------------
    network = [e for e in events if e["event"].startswith(NETWORK_CALLS) or e["event"].startswith(
        ("urllib.", "http.client.", "ftplib.", "smtplib.", "poplib.", "imaplib.", "nntplib.", "telnetlib.", "webbrowser."))]
    assert not network, network
    # Sockets created: only AF_UNIX ones (asyncio's event loop makes a socketpair for its
    # self-pipe, local to the process; it is never connected anywhere).
    made = [e for e in events if e["event"] == "socket.__new__"]  # args: (socket, family, type, proto)
    families = [e["args"][1] for e in made]
    assert all(f == socket.AF_UNIX for f in families), made
    assert all(kind == "unix" for kind in seen["sockets"].values()), seen["sockets"]
    # One process started: by the supervisor (`sokuji serve`), the server itself (through the
    # audit wrapper); the server starts none
    started = [e for e in events if e["event"].startswith(PROCESSES)]
    assert [(e["event"], e["args"][1][1:4]) for e in started] == [
        ("subprocess.Popen", [str(WRAPPER), "serve", "--no-supervisor"])], started
    assert len({e["pid"] for e in events}) == 2, "the supervisor and its server"

    # -- reads ------------------------------------------------------------------------------
    opened = [e for e in events if e["event"] == "open"]
    problems = []
    for e in opened:
        path = e["args"][0]
        if isinstance(path, int):  # an already open descriptor (stdin/stdout, the editor's pipes)
            continue
        where = real(path)
        if where == model:
            continue
        if where == os.devnull:  # llama_cpp/_utils.py opens it ("w") at import, to silence llama.cpp
            continue
        if is_write(e):
            if not inside(where, [cache]):
                problems.append(("write outside the cache dir", path, e["args"][1:]))
        elif not inside(where, readable):
            problems.append(("read outside the allowed roots", path, e["args"][1:]))
    for e in events:
        if e["event"] in ("os.listdir", "os.scandir"):
            path = e["args"][0]
            if path is None:  # os.scandir() / os.listdir() of the current folder: the workspace
                path = str(paths["ws"])
            if not isinstance(path, int) and not inside(real(path), readable):
                problems.append(("listed outside the allowed roots", path, e["event"]))
        elif e["event"].startswith(CHANGES):
            for path in e["args"][:2] if e["event"] in ("os.rename", "os.symlink", "os.link") else e["args"][:1]:
                if isinstance(path, str) and not inside(real(path), [cache]):
                    problems.append(("changed outside the cache dir", path, e["event"]))
    assert not problems, "\n".join(map(str, problems))

    # the secrets behind the symlinks: neither opened nor listed, by any name
    touched = [e for e in events if e["event"] in ("open", "os.listdir", "os.scandir")
               and isinstance(e["args"][0], str) and inside(real(e["args"][0]), [outside])]
    assert not touched, touched
    assert not [e for e in opened if isinstance(e["args"][0], str) and "ignored/skip.py" in e["args"][0]]

    # the hook saw the work of every thread: the index (executor threads), the engine's
    native = [e["args"][0] for e in events if e["event"] == "ctypes.dlopen" and isinstance(e["args"][0], str)]
    assert all(inside(real(lib), program) for lib in native), native  # libllama.so from the venv
    read = {real(e["args"][0]) for e in opened if isinstance(e["args"][0], str) and not is_write(e)}
    assert {str(ws / "app.py"), str(ws / "pkg" / "helpers.py"), str(ws / "pkg" / "fresh.py"), model} <= read

    # the cache dir got the KV states, and only it was written to
    written = sorted({real(e["args"][0]) for e in opened if isinstance(e["args"][0], str) and is_write(e)} - {os.devnull})
    counts = cache / "acceptance.json"  # the acceptance counts (a temporary name, then renamed)
    assert written and all(Path(w).is_relative_to(cache / "kv") or Path(w).parent == counts.parent
                           and Path(w).name.startswith(".acceptance") for w in written), written
    assert "def " not in counts.read_text() and "ws" not in counts.read_text()  # counts only, no code or paths
    assert list((cache / "kv").glob("*/*.kv")), "no KV state was persisted"

    # a summary, shown with `pytest -s`
    reads = Counter()
    for e in opened:
        path = e["args"][0]
        if isinstance(path, int):
            reads["descriptor"] += 1
            continue
        where = real(path)
        root = next((str(r) for r in [Path(model), ws, cache, hf_cache, *program, Path(os.devnull)] if Path(where).is_relative_to(r)), "?")
        reads[("write " if is_write(e) else "read ") + root] += 1
    print("\naudit events by kind:", dict(sorted(kinds.items())))
    print("opens by root:", dict(sorted(reads.items())))
    print("socket families created:", Counter(families))
    print("files written:", [str(Path(w).relative_to(cache)) for w in written])
    print("allowed read roots:", [model, str(ws), str(cache), str(hf_cache), *map(str, program)])
