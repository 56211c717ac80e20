"""What rebuilds a restarted server's state: the initialize params, the configuration, the
workspace folders and each open document's current text and version. Kept from the
client's messages as they pass; a restart sends them again as the editor first did."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..positions import UTF16, edit


@dataclass
class Doc:
    language: str
    version: int
    text: str


KEPT = frozenset({"initialized", "workspace/didChangeConfiguration", "workspace/didChangeWorkspaceFolders",
                  "textDocument/didOpen", "textDocument/didChange", "textDocument/didClose"})  # what a replay rebuilds


@dataclass
class Replay:
    initialize: dict[str, Any] | None = None  # the params of the client's initialize
    initialized: bool = False
    configuration: dict[str, Any] | None = None  # the last didChangeConfiguration's params
    folders: list[dict[str, Any]] | None = None  # workspace folders now, None: as in initialize
    encoding: str = UTF16  # the position encoding the server chose
    docs: dict[str, Doc] = field(default_factory=dict)

    def client_notification(self, method: str, params: Any) -> bool:
        """Keep what `method` (one of KEPT) changes. True when replaying covers it (it need not
        be queued for a server that is being restarted)."""
        if not isinstance(params, dict):
            params = {}
        if method == "initialized":
            self.initialized = True
        elif method == "workspace/didChangeConfiguration":
            self.configuration = params
        elif method == "workspace/didChangeWorkspaceFolders":
            self._folders(params.get("event") or {})
        elif method in _DOCUMENT:
            try:
                _DOCUMENT[method](self, params)
            except (KeyError, TypeError, ValueError, AttributeError):
                return False  # malformed: the server answers it as it would have
        else:
            return False
        return True

    def server_chose(self, capabilities: Any) -> None:
        """From the initialize response: the position encoding the server negotiated."""
        if isinstance(capabilities, dict) and isinstance(capabilities.get("positionEncoding"), str):
            self.encoding = capabilities["positionEncoding"]

    def _folders(self, event: dict[str, Any]) -> None:
        if self.folders is None:
            self.folders = list((self.initialize or {}).get("workspaceFolders") or [])
        gone = {f.get("uri") for f in event.get("removed") or []}
        self.folders = [f for f in self.folders if f.get("uri") not in gone] + list(event.get("added") or [])

    def _open(self, params: dict[str, Any]) -> None:
        item = params["textDocument"]
        self.docs[item["uri"]] = Doc(item.get("languageId", ""), item.get("version", 0), item["text"])

    def _change(self, params: dict[str, Any]) -> None:
        ident = params["textDocument"]
        doc = self.docs.get(ident["uri"])
        if doc is None:
            return
        for change in params.get("contentChanges") or []:
            r = change.get("range")
            if r is None:
                doc.text = change["text"]
            else:
                start, end = r["start"], r["end"]
                doc.text = edit(doc.text, change["text"], (start["line"], start["character"]),
                                (end["line"], end["character"]), self.encoding)
        doc.version = ident.get("version", doc.version)

    def _close(self, params: dict[str, Any]) -> None:
        self.docs.pop(params["textDocument"]["uri"], None)

    def messages(self, initialize_id: Any) -> list[dict[str, Any]]:
        """The messages that bring a new server to where the last one was. None when the
        client never initialized (nothing to rebuild)."""
        if self.initialize is None:
            return []
        params = dict(self.initialize)
        if self.folders is not None:
            params["workspaceFolders"] = self.folders
        out: list[dict[str, Any]] = [{"jsonrpc": "2.0", "id": initialize_id, "method": "initialize", "params": params}]
        if self.initialized:
            out.append(_note("initialized", {}))
        if self.configuration is not None:
            out.append(_note("workspace/didChangeConfiguration", self.configuration))
        for uri, doc in self.docs.items():
            out.append(_note("textDocument/didOpen", {"textDocument": {
                "uri": uri, "languageId": doc.language, "version": doc.version, "text": doc.text}}))
        return out


_DOCUMENT = {"textDocument/didOpen": Replay._open, "textDocument/didChange": Replay._change,
             "textDocument/didClose": Replay._close}


def _note(method: str, params: Any) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "method": method, "params": params}
