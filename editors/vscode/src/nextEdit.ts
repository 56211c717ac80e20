// Next edits: after an edit pauses, ask sokuji for the edits it implies
// (`textDocument/copilotInlineEdit`) and draw the nearest one where it goes. VS Code's own
// next-edit UI is proposed API, so it is drawn with decorations: the text it replaces struck
// through on a diff-removed background, the new text after it (its first line and "…" when
// it has several; the whole of it in the hover), a mark in the overview ruler and, when its
// line is off screen, "↓ next edit: line N" on the window's edge line and in the status bar.
// `sokuji.nextEdit.jumpOrApply` moves the cursor there, pressed there it applies it, runs its
// command and shows the next; `sokuji.nextEdit.dismiss` clears it until the next edit.
// Keys (package.json: alt+n, escape) only while a proposal is drawn (sokuji.nextEditVisible)
// and no ghost text is (!inlineSuggestionVisible): GHOST TEXT WINS, it is at the cursor, what
// the user is typing. A key bound to both in keybindings.json (Tab, the README's block) acts
// on the ghost text when it is shown, else on the next edit, and with neither no binding of
// ours matches: the key does what it did. A user's keybindings always win over these.
import * as vscode from "vscode";
import type { LanguageClient } from "vscode-languageclient/node";

const INLINE_EDIT = "textDocument/copilotInlineEdit";
// the context key of the keybindings: true while a proposal is drawn
const VISIBLE = "sokuji.nextEditVisible";

interface Position {
  line: number;
  character: number;
}

interface Item {
  text: string;
  range: { start: Position; end: Position };
  textDocument: { uri: string; version: number };
  command?: { title: string; command: string; arguments?: unknown[] };
  rule?: string;
}

/** What the extension lends this module. */
export interface Host {
  client(): LanguageClient | undefined;
  /** a document of the client's languages, sokuji enabled for it */
  serves(document: vscode.TextDocument): boolean;
  trace(message: string): void;
}

interface Shown {
  editor: vscode.TextEditor;
  item: Item;
  range: vscode.Range;
  version: number;
}

let host: Host;
let shown: Shown | undefined;
let asking: vscode.CancellationTokenSource | undefined;
let timer: ReturnType<typeof setTimeout> | undefined;
let applying = false; // our own edit (an apply) is not the user's: it clears nothing
let visible = false;
let replaced: vscode.TextEditorDecorationType;
let edge: vscode.TextEditorDecorationType;
let marker: vscode.StatusBarItem;
let edgeAt: string | undefined; // the marker drawn: its text and line
const NEW_TEXT = { backgroundColor: new vscode.ThemeColor("diffEditor.insertedTextBackground"), margin: "0 0 0 0.3em" };
const EDGE = { color: new vscode.ThemeColor("editorCodeLens.foreground"), margin: "0 0 0 2em", fontStyle: "italic" };

function settings(document?: vscode.TextDocument): { enabled: boolean; delayMs: number } {
  const config = vscode.workspace.getConfiguration("sokuji.nextEdit", document);
  return { enabled: config.get<boolean>("enabled", true), delayMs: config.get<number>("delayMs", 400) };
}

function where(range: vscode.Range): string {
  const { start, end } = range;
  return `${start.line}:${start.character}-${end.line}:${end.character}`;
}

function setVisible(value: boolean): void {
  if (value !== visible) {
    visible = value;
    void vscode.commands.executeCommand("setContext", VISIBLE, value);
  }
}

/** Nothing drawn, nothing asked: after an edit, a dismiss, an apply, another editor. */
function clear(reason: string): void {
  if (timer) {
    clearTimeout(timer);
    timer = undefined;
  }
  asking?.cancel(); // the language client sends $/cancelRequest
  asking = undefined;
  if (shown) {
    host.trace(`nextEdit cleared (${reason})`);
    shown.editor.setDecorations(replaced, []);
    shown.editor.setDecorations(edge, []);
    shown = undefined;
  }
  edgeAt = undefined;
  marker.hide();
  setVisible(false);
}

/** An edit of the user's: in an editor on screen; not our apply (it asks again itself), not an
 * output channel written (sokuji's log among them), not only the dirty state changed. */
function byUser(event: vscode.TextDocumentChangeEvent): boolean {
  const { document } = event;
  return !applying && event.contentChanges.length > 0 && document.uri.scheme !== "output" &&
    vscode.window.visibleTextEditors.some((editor) => editor.document === document);
}

function onChange(event: vscode.TextDocumentChangeEvent): void {
  if (!byUser(event)) {
    return;
  }
  clear("edit"); // an edit anywhere makes what is shown stale
  const editor = vscode.window.activeTextEditor;
  if (!editor || editor.document !== event.document || !host.serves(event.document)) {
    return;
  }
  const { enabled, delayMs } = settings(event.document);
  if (enabled) {
    timer = setTimeout(() => void ask(editor), delayMs);
  }
}

/** Ask for the proposals at the cursor, asynchronously; a newer edit cancels it. */
async function ask(editor: vscode.TextEditor): Promise<void> {
  const client = host.client();
  if (!client || editor.document.isClosed) {
    return;
  }
  clear("ask");
  const document = editor.document;
  const version = document.version;
  const source = new vscode.CancellationTokenSource();
  asking = source;
  const c2p = client.code2ProtocolConverter;
  const params = { textDocument: c2p.asVersionedTextDocumentIdentifier(document), position: c2p.asPosition(editor.selection.active) };
  host.trace(`nextEdit ask ${params.position.line}:${params.position.character} v${version}`);
  let answer: { edits?: Item[] } | null;
  const token = source.token;
  try {
    answer = await client.sendRequest(INLINE_EDIT, params, token);
  } catch (error) {
    host.trace(`nextEdit ask v${version} ${token.isCancellationRequested ? "cancelled" : `failed: ${error}`}`);
    return;
  } finally {
    source.dispose();
  }
  if (asking !== source || document.version !== version || vscode.window.activeTextEditor?.document !== document) {
    host.trace(`nextEdit answer for v${version} dropped (changed since)`);
    return;
  }
  asking = undefined;
  // a proposal of another version is stale; the first is the nearest
  const items = (answer?.edits ?? []).filter(
    (item) => item.textDocument?.uri === params.textDocument.uri && item.textDocument.version === version
  );
  host.trace(`nextEdit answer v${version}: ${items.length} of ${answer?.edits?.length ?? 0}`);
  if (items.length > 0) {
    show(editor, items[0], client.protocol2CodeConverter.asRange(items[0].range));
  }
}

/** The new text after the range: its first line, "…" when it has more. */
function label(text: string): string {
  const lines = text.split(/\r?\n/);
  return lines.length > 1 ? `${lines[0]} …` : lines[0];
}

function show(editor: vscode.TextEditor, item: Item, range: vscode.Range): void {
  shown = { editor, item, range, version: editor.document.version };
  const hover = new vscode.MarkdownString(`sokuji: next edit (${item.rule ?? "?"})`);
  hover.appendCodeblock(item.text, editor.document.languageId);
  // the instance's own `after` (its text and style together: VS Code draws one ::after per class)
  const after = label(item.text) ? { after: { ...NEW_TEXT, contentText: label(item.text) } } : undefined;
  editor.setDecorations(replaced, [{ range, hoverMessage: hover, renderOptions: after }]);
  host.trace(`nextEdit shown ${where(range)} ${JSON.stringify(item.text)} rule=${item.rule}`);
  setVisible(true);
  drawEdge();
}

/** Off screen: "↓ next edit: line N" on the last (or "↑" the first) visible line and in the status bar. */
function drawEdge(): void {
  if (!shown) {
    return;
  }
  const { editor, range } = shown;
  const ranges = editor.visibleRanges;
  const line = range.start.line;
  if (ranges.length === 0 || ranges.some((r) => r.start.line <= line && line <= r.end.line)) {
    edgeAt = undefined;
    editor.setDecorations(edge, []);
    marker.hide();
    return;
  }
  const below = line > ranges[ranges.length - 1].end.line;
  const text = `${below ? "↓" : "↑"} next edit: line ${line + 1}`;
  const at = below ? ranges[ranges.length - 1].end.line : ranges[0].start.line;
  if (edgeAt === `${text}@${at}`) {
    return; // scrolled, the edge line the same
  }
  edgeAt = `${text}@${at}`;
  const end = editor.document.lineAt(at).range.end;
  const after = { ...EDGE, contentText: text };
  editor.setDecorations(edge, [{ range: new vscode.Range(end, end), renderOptions: { after } }]);
  marker.text = text;
  marker.show();
  host.trace(`nextEdit marker "${text}" at line ${at}`);
}

/** Jump to the proposal; pressed at it (the cursor in its range), apply it. */
async function jumpOrApply(): Promise<void> {
  const s = shown;
  const editor = vscode.window.activeTextEditor;
  if (!s || !editor || editor.document !== s.editor.document) {
    return;
  }
  if (editor.document.version !== s.version) {
    clear("stale"); // not ours to apply any more: the edit that made it stale asks again
    return;
  }
  const cursor = editor.selection.active;
  if (!editor.selection.isEmpty || !s.range.contains(cursor)) {
    editor.selection = new vscode.Selection(s.range.start, s.range.start);
    editor.revealRange(s.range, vscode.TextEditorRevealType.InCenterIfOutsideViewport);
    host.trace(`nextEdit jump ${s.range.start.line}:${s.range.start.character}`);
    return;
  }
  await apply(editor, s);
}

/** Replace the range with the text, run the item's command, ask again at once (the series goes on). */
async function apply(editor: vscode.TextEditor, s: Shown): Promise<void> {
  clear("apply");
  applying = true;
  let ok = false;
  try {
    ok = await editor.edit((builder) => builder.replace(s.range, s.item.text));
  } finally {
    applying = false;
  }
  host.trace(`nextEdit applied ${where(s.range)} ${JSON.stringify(s.item.text)} ok=${ok}`);
  const client = host.client();
  if (!ok || !client) {
    return;
  }
  if (s.item.command) {
    const { command, arguments: args } = s.item.command;
    try {
      await client.sendRequest("workspace/executeCommand", { command, arguments: args ?? [] });
      host.trace(`nextEdit command ${command} ${JSON.stringify(args ?? [])}`);
    } catch (error) {
      host.trace(`nextEdit command ${command} failed: ${error}`);
    }
  }
  await ask(editor);
}

function dismiss(): void {
  clear("dismiss"); // and it stays cleared until the next edit asks again
}

export function registerNextEdits(context: vscode.ExtensionContext, lent: Host): void {
  host = lent;
  const rulerColor = new vscode.ThemeColor("editorOverviewRuler.infoForeground");
  replaced = vscode.window.createTextEditorDecorationType({
    textDecoration: "line-through",
    backgroundColor: new vscode.ThemeColor("diffEditor.removedTextBackground"),
    overviewRulerColor: rulerColor,
    overviewRulerLane: vscode.OverviewRulerLane.Full,
  });
  edge = vscode.window.createTextEditorDecorationType({});
  marker = vscode.window.createStatusBarItem("sokuji.nextEdit", vscode.StatusBarAlignment.Right, 99);
  marker.name = "sokuji next edit";
  marker.command = "sokuji.nextEdit.jumpOrApply";
  marker.tooltip = "sokuji: go to the next edit";
  context.subscriptions.push(
    replaced,
    edge,
    marker,
    vscode.commands.registerCommand("sokuji.nextEdit.jumpOrApply", jumpOrApply),
    vscode.commands.registerCommand("sokuji.nextEdit.dismiss", dismiss),
    vscode.workspace.onDidChangeTextDocument(onChange),
    vscode.window.onDidChangeActiveTextEditor(() => clear("editor")),
    vscode.window.onDidChangeTextEditorVisibleRanges((event) => {
      if (shown && event.textEditor === shown.editor) {
        drawEdge();
      }
    }),
    { dispose: () => clear("disposed") }
  );
}
