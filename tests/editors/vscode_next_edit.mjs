// Next edits in the real VS Code workbench (code-server), driven by vscode_test.mjs after its
// ghost-text part, with the user's keybindings.json (Tab bound to sokuji.nextEdit.jumpOrApply):
// - prec.py, ghost text on: a rename typed at the def shows the next edit and ghost text at the
//   cursor together; Tab takes the ghost text (ghost text wins);
// - "sokuji: Toggle Completions" (off: no ghost text from here on), then shapes.py: `width`
//   renamed at the def, the proposal drawn at line 2 (`width` struck, `size` after it); Alt+N
//   jumps, Alt+N applies, the next one (line 3) shows; Tab jumps and applies it; saved;
//   `height` renamed, its proposal dismissed with Escape; saved;
// - long.py (80 lines): the proposal at line 80 is off screen: "↓ next edit: line 80" in the
//   status bar and on the last visible line; Alt+N jumps there; a new edit clears it; Tab with
//   nothing shown indents; saved; then "sokuji: Show Stats" (nextEdits).
// What is drawn is read from the DOM (the struck text, the `after` text of sokuji's
// decorations) and from the extension's trace (SOKUJI_VSCODE_LOG).
import { readFileSync, statSync } from "node:fs";

const LOG = process.env.SOKUJI_VSCODE_LOG;
const WS = process.env.SOKUJI_WORKSPACE;
const lines = () => readFileSync(LOG, "utf8").split("\n").slice(0, -1); // whole lines

/** The first trace line after line `from` matching `pattern` (waits for it). */
async function traced(page, pattern, from, timeout = 60000) {
  for (const end = Date.now() + timeout; Date.now() < end; await page.waitForTimeout(100)) {
    const found = lines().slice(from).find((line) => pattern.test(line));
    if (found) return found;
  }
  throw new Error(`no trace line ${pattern} after line ${from}: ${lines().slice(from).join("\n")}`);
}

/** sokuji's decorations in the editor: the struck text and each `after` text, with their line numbers (1-based). */
function drawn(page) {
  return page.evaluate(() => {
    const lineOf = (el) => {
      const top = el.closest(".view-line")?.style.top;
      const margin = [...document.querySelectorAll(".part.editor .margin-view-overlays > div")].find((d) => d.style.top === top);
      return Number(margin?.querySelector(".line-numbers")?.textContent);
    };
    const struck = [], after = [];
    for (const el of document.querySelectorAll(".part.editor .view-line span[class*='ced-']")) {
      if (getComputedStyle(el).textDecorationLine.includes("line-through")) struck.push({ line: lineOf(el), text: el.textContent });
      const content = getComputedStyle(el, "::after").content;
      if (content && content !== "none" && content !== "normal") after.push({ line: lineOf(el), text: JSON.parse(content) });
    }
    return { struck, after };
  });
}

async function statusTexts(page) {
  return page.locator(".statusbar-item").allInnerTexts().catch(() => []);
}

/** The cursor as the status bar says it, [line, column] (1-based), once it is `expected` (or after 10 s). */
async function cursor(page, expected) {
  const say = `Ln ${expected[0]}, Col ${expected[1]}`;
  await page.waitForFunction((say) => [...document.querySelectorAll(".statusbar-item")].some((el) => el.textContent.includes(say)),
    say, { timeout: 10000 }).catch(() => null);
  const m = (await statusTexts(page)).map((t) => t.match(/Ln (\d+), Col (\d+)/)).find(Boolean);
  return m ? [Number(m[1]), Number(m[2])] : null;
}

async function palette(page, title) {
  await page.keyboard.press("Control+Shift+P");
  await page.waitForTimeout(500);
  await page.keyboard.type(title);
  await page.waitForTimeout(1000);
  await page.keyboard.press("Enter");
}

async function open(page, name, text) {
  await page.keyboard.press("Control+P");
  await page.waitForTimeout(500);
  await page.keyboard.type(name);
  await page.waitForTimeout(1000);
  await page.keyboard.press("Enter");
  await page.waitForFunction(([name, text]) => document.querySelector(".part.editor .tab.active")?.textContent.includes(name)
    && document.querySelector(".part.editor .view-lines")?.textContent.replace(/\u00a0/g, " ").includes(text),
  [name, text], { timeout: 30000 });
}

/** Select the word at column `column` (0-based) of line 1 and type `text` over it, key by key. */
async function retype(page, column, text) {
  await page.keyboard.press("Control+Home");
  for (let i = 0; i < column; i++) await page.keyboard.press("ArrowRight");
  await page.keyboard.press("Control+Shift+ArrowRight");
  await page.keyboard.type(text, { delay: 80 });
}

/** Ctrl+S, then the file as saved (once it was written: the buffer is always dirty here). */
async function save(page, name) {
  const written = () => statSync(`${WS}/${name}`).mtimeMs;
  const before = written();
  await page.keyboard.press("Control+S");
  for (const end = Date.now() + 10000; written() === before && Date.now() < end; await page.waitForTimeout(100));
  await page.waitForTimeout(300);
  return readFileSync(`${WS}/${name}`, "utf8");
}

/** Both shown, one key (Tab): the ghost text is taken, the next edit left alone. */
async function precedence(page, r) {
  await open(page, "prec.py", "def area(width");
  const from = lines().length;
  await retype(page, "def area(".length, "size");
  await traced(page, /nextEdit shown 1:12-1:17 "size"/, from);
  const ghost = await page.waitForSelector(".part.editor .ghost-text-decoration, .part.editor .ghost-text", { timeout: 60000 })
    .catch(() => null);
  r.precedence = { ghost: ghost ? (await ghost.innerText()).trim() : null, drawn: await drawn(page) };
  if (!ghost) return;
  const before = lines().length;
  await page.keyboard.press("Tab");
  await page.waitForTimeout(1000);
  r.precedence.saved = await save(page, "prec.py");
  r.precedence.nextEditKeys = lines().slice(before).filter((l) => / nextEdit (jump|applied)/.test(l));
}

/** The series: Alt+N jump, Alt+N apply, the next shown; Tab (the user's key) jump, apply. */
async function series(page, r) {
  await open(page, "shapes.py", "def area(width");
  let from = lines().length;
  await retype(page, "def area(".length, "size");
  await traced(page, /nextEdit shown 1:12-1:17 "size"/, from);
  r.first = await drawn(page);
  from = lines().length;
  await page.keyboard.press("Alt+N");
  await traced(page, /nextEdit jump 1:12/, from);
  r.cursorAfterJump = await cursor(page, [2, 13]);
  await page.keyboard.press("Alt+N");
  await traced(page, /nextEdit applied 1:12-1:17 "size"/, from);
  await traced(page, /nextEdit shown 2:10-2:15 "size"/, from);
  r.second = await drawn(page);
  from = lines().length;
  await page.keyboard.press("Tab");
  await traced(page, /nextEdit jump 2:10/, from);
  r.cursorAfterSecondJump = await cursor(page, [3, 11]);
  await page.keyboard.press("Tab");
  await traced(page, /nextEdit applied 2:10-2:15 "size"/, from);
  r.afterSeries = (await traced(page, /nextEdit answer v\d+: \d+ of/, from)).replace(/^.* nextEdit /, "");
  r.renamed = await save(page, "shapes.py");
}

/** A 2nd rename's proposal, dismissed with Escape: nothing drawn, the buffer unchanged. */
async function dismissal(page, r) {
  let from = lines().length;
  await retype(page, "def area(size, ".length, "h");
  await traced(page, /nextEdit shown 1:19-1:25 "h"/, from);
  r.third = await drawn(page);
  from = lines().length;
  await page.keyboard.press("Escape");
  await traced(page, /nextEdit cleared \(dismiss\)/, from);
  r.afterDismiss = { drawn: await drawn(page), saved: await save(page, "shapes.py") };
  r.afterDismiss.traced = lines().slice(from).filter((l) => / nextEdit /.test(l)).map((l) => l.replace(/^.* nextEdit /, ""));
}

/** Off screen: the marker with the line number; jump; back to the top; a new edit clears it; Tab with nothing shown. */
async function offScreen(page, r) {
  await open(page, "long.py", "def scale(factor)");
  let from = lines().length;
  await retype(page, "def scale(".length, "k");
  await traced(page, /nextEdit shown 79:11-79:17 "k"/, from);
  await traced(page, /nextEdit marker "↓ next edit: line 80"/, from);
  r.far = { drawn: await drawn(page), status: (await statusTexts(page)).filter((t) => t.includes("next edit")) };
  from = lines().length;
  await page.keyboard.press("Alt+N");
  await traced(page, /nextEdit jump 79:11/, from);
  await page.waitForFunction(() => ![...document.querySelectorAll(".statusbar-item")].some((el) => el.textContent.includes("next edit")),
    null, { timeout: 10000 });
  r.atFar = { cursor: await cursor(page, [80, 12]), drawn: await drawn(page) };
  await page.keyboard.press("Control+Home");
  await page.waitForFunction(() => [...document.querySelectorAll(".statusbar-item")].some((el) => el.textContent.includes("next edit")),
    null, { timeout: 10000 });
  r.back = { drawn: await drawn(page), status: (await statusTexts(page)).filter((t) => t.includes("next edit")) };
  from = lines().length;
  await page.keyboard.press("End");
  await page.keyboard.type(" # note", { delay: 50 });
  await traced(page, /nextEdit cleared \(edit\)/, from);
  r.clearedByEdit = { answer: (await traced(page, /nextEdit answer v\d+: \d+ of/, from)).replace(/^.* nextEdit /, "") };
  r.clearedByEdit.drawn = await drawn(page);
  r.clearedByEdit.status = (await statusTexts(page)).filter((t) => t.includes("next edit"));
  await page.keyboard.press("Tab"); // nothing shown: what Tab does without sokuji
  r.long = await save(page, "long.py");
}

export async function nextEdits(page, result) {
  const r = (result.nextEdit = {});
  await precedence(page, r);
  const from = lines().length;
  await palette(page, "sokuji: Toggle Completions");
  await page.waitForSelector('.notification-toast:has-text("completions off")', { timeout: 30000 });
  await series(page, r);
  await dismissal(page, r);
  await offScreen(page, r);
  await palette(page, "sokuji: Show Stats");
  const stats = await traced(page, / stats \{/, from);
  r.stats = JSON.parse(stats.slice(stats.indexOf("{"))).nextEdits;
  r.keys = lines().filter((l) => / nextEdit (jump|applied|cleared \(dismiss\))/.test(l)).length;
}
