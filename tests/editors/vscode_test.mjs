// Driven by tests/editors/test_editors.py: the real VS Code workbench (code-server) in headless
// Debian chromium, with the packaged sokuji extension: type in a file, wait for sokuji's
// ghost text, accept it with Tab, save, then "sokuji: Show Stats" (what sokuji counted of the
// suggestion accepted); then next edits (vscode_next_edit.mjs). Prints a JSON line with what
// happened.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { nextEdits } from "./vscode_next_edit.mjs";
const require = createRequire(process.env.SOKUJI_TOOLS + "/package.json");
const { chromium } = require("playwright-core");

const url = process.env.SOKUJI_CODE_SERVER_URL;
const shot = process.env.SOKUJI_SCREENSHOT;
const result = { ok: false };
const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"],
});
try {
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  // the workbench's errors that name sokuji (e.g. an item's command not found)
  result.consoleErrors = [];
  page.on("console", (message) => {
    if (message.type() === "error" && /sokuji/i.test(message.text())) result.consoleErrors.push(message.text());
  });
  await page.goto(`${url}/?folder=${encodeURIComponent(process.env.SOKUJI_WORKSPACE)}`);
  await page.waitForSelector(".monaco-workbench", { timeout: 180000 });
  await page.waitForTimeout(3000);
  // open the file with Quick Open
  await page.keyboard.press("Control+P");
  await page.waitForTimeout(500);
  await page.keyboard.type("fib.py");
  await page.waitForTimeout(1000);
  await page.keyboard.press("Enter");
  await page.waitForSelector(".monaco-editor .view-lines", { timeout: 60000 });
  await page.click(".monaco-editor .view-lines");
  // the extension shows "sokuji" in the status bar once its language client has started:
  // typing before that would ask no provider
  await page.waitForSelector('.statusbar-item:has-text("sokuji")', { timeout: 180000 });
  await page.waitForFunction(() => [...document.querySelectorAll(".statusbar-item")]
    .some((el) => el.textContent.includes("sokuji") && !el.querySelector(".codicon-sync")), null, { timeout: 180000 });
  // go to the end of the last line (the empty body line), then type, as a user does
  await page.keyboard.press("Control+End");
  await page.keyboard.type("return", { delay: 50 });
  // sokuji's ghost text: VS Code renders inline suggestions as ghost-text decorations (it asks
  // as the user types; Alt+\ asks again if the model was still loading)
  const selector = ".ghost-text-decoration, .ghost-text";
  let ghost = await page.waitForSelector(selector, { timeout: 60000 }).catch(() => null);
  for (let i = 0; !ghost && i < 4; i++) {
    await page.keyboard.press("Backspace");  // an edit asks the inline providers again
    await page.keyboard.type("n", { delay: 50 });
    ghost = await page.waitForSelector(selector, { timeout: 30000 }).catch(() => null);
  }
  if (!ghost) throw new Error("no ghost text");
  result.ghost = (await ghost.innerText()).trim();
  await page.screenshot({ path: shot });
  await page.keyboard.press("Tab");
  await page.waitForTimeout(500);
  await page.keyboard.press("Control+S");
  await page.waitForTimeout(1500);
  result.status = await page.locator("#status\\.extensionMessage, .statusbar-item").allInnerTexts().catch(() => []);
  // "sokuji: Show Stats" from the command palette: sokuji.stats, its acceptance counts in a
  // notification (and, whole, in the extension's trace)
  await page.keyboard.press("Control+Shift+P");
  await page.waitForTimeout(500);
  await page.keyboard.type("sokuji: Show Stats");
  await page.waitForTimeout(1000);
  await page.keyboard.press("Enter");
  const toast = await page.waitForSelector('.notification-toast:has-text("suggestions accepted")', { timeout: 30000 })
    .catch(() => null);
  result.statsMessage = toast ? (await toast.innerText()).trim() : null;
  const log = process.env.SOKUJI_VSCODE_LOG ? readFileSync(process.env.SOKUJI_VSCODE_LOG, "utf8").split("\n") : [];
  const stats = log.filter((line) => / stats \{/.test(line)).pop();
  result.acceptance = stats ? JSON.parse(stats.slice(stats.indexOf("{"))).acceptance : null;
  // the server's commands the extension ran (through the language client's middleware)
  result.commands = log.map((line) => line.match(/ executeCommand (\S+)/)?.[1]).filter(Boolean);
  await nextEdits(page, result);
  result.ok = true;
} catch (error) {
  result.error = String(error && error.stack || error);
  try { const pages = browser.contexts()[0]?.pages(); if (pages?.length) await pages[0].screenshot({ path: shot }); } catch {}
} finally {
  await browser.close();
}
console.log(JSON.stringify(result));
