// sokuji for VS Code: starts `sokuji serve`, shows its inline completions as ghost text and
// its code actions ("Fix with sokuji: ..."). A status-bar item shows the server's state and
// the last completion's latency; clicking it shows the server's stats. Next edits: nextEdit.ts.
import * as fs from "fs";
import * as path from "path";
import * as vscode from "vscode";
import {
  DidChangeConfigurationNotification,
  LanguageClient,
  LanguageClientOptions,
  ServerOptions,
} from "vscode-languageclient/node";
import { registerNextEdits } from "./nextEdit";

const LANGUAGES = [
  "python", "javascript", "javascriptreact", "typescript", "typescriptreact", "rust", "go", "c", "cpp",
  "java", "ruby", "shellscript", "lua",
];
const SELECTOR = LANGUAGES.map((language) => ({ language }));
// settings of the extension itself, not of the server
const CLIENT_ONLY = new Set(["serverPath", "enable", "trace", "nextEdit.enabled", "nextEdit.delayMs"]);
// a key of the configuration's top level (`nextEdit` holds nextEdit.enabled) that is the extension's own
const clientOnly = (key: string) => CLIENT_ONLY.has(key) || [...CLIENT_ONLY].some((own) => own.startsWith(`${key}.`));

let client: LanguageClient | undefined;
let status: vscode.StatusBarItem;
let output: vscode.LogOutputChannel;
let completionsOn = true;

// SOKUJI_VSCODE_LOG=file: a trace of what the extension does (for tests and bug reports)
function trace(message: string): void {
  const file = process.env.SOKUJI_VSCODE_LOG;
  if (file) {
    fs.appendFileSync(file, `${new Date().toISOString()} ${message}\n`);
  }
}

function onPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? "").split(path.delimiter)) {
    const candidate = path.join(dir, name);
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

async function serverCommand(): Promise<{ command: string; args: string[] } | undefined> {
  const configured = vscode.workspace.getConfiguration("sokuji").get<string>("serverPath");
  if (configured) {
    return { command: configured, args: ["serve"] };
  }
  const found = onPath("sokuji");
  if (found) {
    return { command: found, args: ["serve"] };
  }
  // the Python extension's active environment, if sokuji is installed there
  const python = vscode.extensions.getExtension("ms-python.python");
  if (python) {
    const api = python.isActive ? python.exports : await python.activate();
    const env = api?.environments?.getActiveEnvironmentPath?.();
    const interpreter = env?.path;
    if (interpreter) {
      return { command: interpreter, args: ["-m", "lsp_server", "serve"] };
    }
  }
  return undefined;
}

/** The server's settings: every `sokuji.*` key but the extension's own. */
function serverSettings(): Record<string, unknown> {
  const config = vscode.workspace.getConfiguration("sokuji");
  const settings: Record<string, unknown> = {};
  for (const key of Object.keys(config)) {
    const value = config.get(key);
    if (!clientOnly(key) && typeof value !== "function" && value !== undefined) {
      settings[key] = value;
    }
  }
  return settings;
}

/** The client's documents (next edits too: Toggle Completions is about ghost text). */
function serves(document: vscode.TextDocument): boolean {
  return vscode.languages.match(SELECTOR, document) > 0 && vscode.workspace.getConfiguration("sokuji", document).get<boolean>("enable", true);
}

function enabledFor(document: vscode.TextDocument): boolean {
  return completionsOn && vscode.workspace.getConfiguration("sokuji", document).get<boolean>("enable", true);
}

function show(text: string, tooltip: string): void {
  status.text = text;
  status.tooltip = tooltip;
  status.show();
}

function showReady(latencyMs?: number): void {
  const state = completionsOn ? "" : " (off)";
  const latency = latencyMs === undefined ? "" : ` ${latencyMs} ms`;
  show(`$(sparkle) sokuji${latency}${state}`, "sokuji: ready. Click for stats.");
}

async function start(context: vscode.ExtensionContext): Promise<void> {
  const command = await serverCommand();
  if (!command) {
    show("$(error) sokuji", "sokuji: server not found");
    vscode.window.showErrorMessage(
      "sokuji: cannot find the server. Set `sokuji.serverPath` to the `sokuji` executable (e.g. /path/to/sokuji/.venv/bin/sokuji)."
    );
    return;
  }
  const serverOptions: ServerOptions = { run: command, debug: command };
  const clientOptions: LanguageClientOptions = {
    documentSelector: SELECTOR,
    initializationOptions: serverSettings(),
    outputChannel: output,
    middleware: {
      provideInlineCompletionItems: async (document, position, ctx, token, next) => {
        if (!enabledFor(document)) {
          return null;
        }
        const started = Date.now();
        trace(`inline asked at ${position.line}:${position.character}`);
        const result = await next(document, position, ctx, token);
        trace(`inline ${position.line}:${position.character} -> ${JSON.stringify(result)?.slice(0, 200)} cancelled=${token.isCancellationRequested}`);
        if (!token.isCancellationRequested) {
          showReady(Date.now() - started);
        }
        return result;
      },
      provideCompletionItem: async (document, position, ctx, token, next) =>
        enabledFor(document) ? next(document, position, ctx, token) : null,
      provideCodeActions: async (document, range, ctx, token, next) =>
        enabledFor(document) ? next(document, range, ctx, token) : null,
      // the server's commands, registered in VS Code by the language client and sent as
      // workspace/executeCommand: among them `sokuji.accepted`, the command of each first
      // inline item, which VS Code runs when the whole suggestion is accepted (Tab). A word
      // or a line accepted (Ctrl+Right) runs none: sokuji infers it from the edit.
      executeCommand: async (command, args, next) => {
        trace(`executeCommand ${command} ${JSON.stringify(args)}`);
        return next(command, args);
      },
    },
  };
  client = new LanguageClient("sokuji", "sokuji", serverOptions, clientOptions);
  trace(`starting ${command.command} ${command.args.join(" ")}`);
  show("$(sync~spin) sokuji", "sokuji: starting, loading the model");
  try {
    await client.start();
    trace(`started; server capabilities ${JSON.stringify(client.initializeResult?.capabilities)}`);
    await waitForModel();
  } catch (error) {
    show("$(error) sokuji", `sokuji: the server failed to start: ${error}`);
    throw error;
  }
  context.subscriptions.push(
    vscode.workspace.onDidChangeConfiguration((event) => {
      if (event.affectsConfiguration("sokuji") && client) {
        client.sendNotification(DidChangeConfigurationNotification.type, { settings: { sokuji: serverSettings() } });
      }
    })
  );
}

/** The model loads in the background after the server starts: show it until it is ready. */
async function waitForModel(): Promise<void> {
  show("$(sync~spin) sokuji: loading model", "sokuji: loading the model");
  for (;;) {
    const stats = (await client?.sendRequest("workspace/executeCommand", { command: "sokuji.stats", arguments: [] })) as
      | Record<string, unknown>
      | undefined;
    if (!stats || stats.modelError) {
      show("$(error) sokuji", `sokuji: ${stats?.modelError ?? "the server is not running"}`);
      return;
    }
    if (stats.modelReady) {
      showReady();
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

async function showStats(): Promise<void> {
  if (!client) {
    vscode.window.showWarningMessage("sokuji: the server is not running");
    return;
  }
  const stats = await client.sendRequest("workspace/executeCommand", { command: "sokuji.stats", arguments: [] });
  trace(`stats ${JSON.stringify(stats)}`);
  output.appendLine(`sokuji stats: ${JSON.stringify(stats, null, 2)}`);
  output.show(true);
  const s = stats as Record<string, unknown>;
  const a = s.acceptance as Record<string, unknown> | undefined;
  const taken = a
    ? `; suggestions accepted: ${a.accepted} whole, ${a.partlyAccepted} in part (${a.charsAccepted} characters)`
    : "";
  vscode.window.showInformationMessage(
    `sokuji: ${s.requestsServed} requests, p50 ${s.latencyP50Ms} ms, p95 ${s.latencyP95Ms} ms, ` +
      `${s.promptTokensReused} prompt tokens reused / ${s.promptTokensEvaluated} evaluated${taken}`
  );
}

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  output = vscode.window.createOutputChannel("sokuji", { log: true });
  status = vscode.window.createStatusBarItem(vscode.StatusBarAlignment.Right, 100);
  status.command = "sokuji.showStats";
  context.subscriptions.push(
    output,
    status,
    vscode.commands.registerCommand("sokuji.showStats", showStats),
    vscode.commands.registerCommand("sokuji.restartServer", async () => {
      if (client) {
        show("$(sync~spin) sokuji", "sokuji: restarting");
        await client.restart();
        await waitForModel();
      } else {
        await start(context);
      }
    }),
    vscode.commands.registerCommand("sokuji.toggleCompletions", () => {
      completionsOn = !completionsOn;
      showReady();
      vscode.window.showInformationMessage(`sokuji: completions ${completionsOn ? "on" : "off"}`);
    })
  );
  registerNextEdits(context, { client: () => client, serves, trace });
  await start(context);
}

export async function deactivate(): Promise<void> {
  await client?.stop();
}
