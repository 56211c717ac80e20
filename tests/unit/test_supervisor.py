"""The supervisor's pure parts: the restart policy (modes, step-down, back-off), the replay
copy of each buffer (the same text the server holds after the same edits) and the framing."""

import io

import pytest

from lsp_server.documents import Document
from lsp_server.supervisor.framing import frame, read_message
from lsp_server.supervisor.policy import WINDOW, Caps, Policy
from lsp_server.supervisor.replay import Replay


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


GPU, CPU_ONLY, AMX_GUARDED = Caps(gpu=True, plain=False), Caps(gpu=False, plain=False), Caps(gpu=False, plain=True)


def test_one_crash_restarts_as_before_at_once():
    policy = Policy(clock=Clock())
    decision = policy.crashed(in_model=True, caps=GPU)
    assert (decision.mode, decision.delay, decision.stepped) == ("normal", 0.0, False)


def test_a_second_crash_in_the_model_steps_down_one_mode_at_a_time_on_a_gpu_build():
    clock = Clock()
    policy = Policy(clock=clock)
    modes = []
    for _ in range(8):
        clock.now += 5
        modes.append(policy.crashed(in_model=True, caps=GPU).mode)
    assert modes == ["normal", "plainBuffers", "plainBuffers", "cpu", "cpu", "noModel", "noModel", "noModel"]


def test_a_cpu_only_build_skips_the_cpu_step_and_a_guarded_one_the_plain_step():
    clock = Clock()
    cpu_only = Policy(clock=clock)
    assert [cpu_only.crashed(True, CPU_ONLY).mode for _ in range(4)] == ["normal", "plainBuffers", "plainBuffers", "noModel"]
    guarded = Policy(clock=clock)  # the AMX guard loaded plain already: plainBuffers would change nothing
    assert [guarded.crashed(True, AMX_GUARDED).mode for _ in range(2)] == ["normal", "noModel"]


def test_crashes_outside_the_model_never_step_down_but_back_off():
    clock = Clock()
    policy = Policy(clock=clock)
    delays = []
    for _ in range(10):
        decision = policy.crashed(in_model=False, caps=GPU)
        assert decision.mode == "normal" and not decision.stepped
        delays.append(decision.delay)
    assert delays[0] == 0.0 and delays == sorted(delays) and delays[-1] == 30.0


def test_crashes_further_apart_than_the_window_do_not_add_up():
    clock = Clock()
    policy = Policy(clock=clock)
    for _ in range(5):
        decision = policy.crashed(in_model=True, caps=GPU)
        assert (decision.mode, decision.delay) == ("normal", 0.0)
        clock.now += WINDOW + 1


def test_a_crash_elsewhere_between_two_in_the_model_still_steps_down():
    clock = Clock()
    policy = Policy(clock=clock)
    policy.crashed(True, GPU)
    policy.crashed(False, GPU)
    assert policy.crashed(True, GPU).mode == "plainBuffers"


LINES = ['x = "😀漢字" + y\r\n', "def f():\n", "    return 1\r", "\n", "tail"]


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16", "utf-32"])
def test_the_replay_copy_follows_edits_as_the_server_does(encoding):
    """Range edits in each position encoding, across CRLF, lone CR and astral characters,
    applied to the replay copy and to a Document: the same text."""
    text = "".join(LINES)
    replay = Replay(encoding=encoding)
    replay.client_notification("textDocument/didOpen", {"textDocument": {
        "uri": "file:///a.py", "languageId": "python", "version": 1, "text": text}})
    doc = Document("file:///a.py", "python", 1, text, encoding)
    edits = [((0, 7), (0, 9), "Z"), ((0, 0), (0, 0), "# head\n"), ((2, 4), (3, 2), ""), ((9, 0), (9, 0), "!"),
             ((3, 5), (1, 0), "mid"), ((0, 99), (0, 99), " end")]
    for version, (start, end, new) in enumerate(edits, 2):
        replay.client_notification("textDocument/didChange", {
            "textDocument": {"uri": "file:///a.py", "version": version},
            "contentChanges": [{"range": {"start": {"line": start[0], "character": start[1]},
                                          "end": {"line": end[0], "character": end[1]}}, "text": new}]})
        doc.apply_change(new, start, end)
        assert replay.docs["file:///a.py"].text == doc.text
    assert replay.docs["file:///a.py"].version == len(edits) + 1


def test_the_replay_rebuilds_initialize_configuration_folders_and_open_buffers():
    replay = Replay()
    replay.initialize = {"capabilities": {}, "workspaceFolders": [{"uri": "file:///a", "name": "a"}]}
    assert replay.client_notification("initialized", {})
    assert replay.client_notification("workspace/didChangeConfiguration", {"settings": {"sokuji": {"maxTokens": 9}}})
    assert replay.client_notification("workspace/didChangeWorkspaceFolders", {"event": {
        "added": [{"uri": "file:///b", "name": "b"}], "removed": [{"uri": "file:///a", "name": "a"}]}})
    replay.client_notification("textDocument/didOpen", {"textDocument": {"uri": "file:///b/x.py", "languageId": "python",
                                                                        "version": 3, "text": "x = 1\n"}})
    replay.client_notification("textDocument/didChange", {"textDocument": {"uri": "file:///b/x.py", "version": 4},
                                                          "contentChanges": [{"text": "y = 2\n"}]})
    replay.client_notification("textDocument/didOpen", {"textDocument": {"uri": "file:///b/gone.py", "languageId": "python",
                                                                        "version": 1, "text": ""}})
    replay.client_notification("textDocument/didClose", {"textDocument": {"uri": "file:///b/gone.py"}})
    assert not replay.client_notification("textDocument/hover", {})
    methods = [(m.get("id"), m["method"]) for m in replay.messages("r1")]
    assert methods == [("r1", "initialize"), (None, "initialized"), (None, "workspace/didChangeConfiguration"),
                       (None, "textDocument/didOpen")]
    init, *_, opened = replay.messages("r1")
    assert init["params"]["workspaceFolders"] == [{"uri": "file:///b", "name": "b"}]
    assert opened["params"]["textDocument"] == {"uri": "file:///b/x.py", "languageId": "python", "version": 4, "text": "y = 2\n"}


def test_a_malformed_change_is_left_to_the_server():
    replay = Replay()
    replay.client_notification("textDocument/didOpen", {"textDocument": {"uri": "u", "languageId": "", "version": 1, "text": "a"}})
    assert not replay.client_notification("textDocument/didChange", {"textDocument": {"uri": "u"}, "contentChanges": [{"range": 5}]})
    assert replay.docs["u"].text == "a"


def test_framing_reads_what_it_writes_and_stops_at_a_cut_message():
    stream = io.BytesIO(frame(b'{"a":1}') + b"Content-Type: x\r\n" + frame(b"{}")[:-1])
    assert read_message(stream) == b'{"a":1}'
    assert read_message(stream) is None  # cut short
    assert read_message(io.BytesIO(b"")) is None
