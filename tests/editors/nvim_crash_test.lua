-- Driven by tests/editors/test_editors.py: headless Neovim (0.7 and 0.11) with the README's snippet
-- and a real `sokuji serve` whose server segfaults at the model's 2nd decode step
-- (SOKUJI_FAULTS="crash:decode@2"), in the first completion. The supervisor answers that request,
-- tells the user, restarts the server and replays the editor's state: the client must go on as
-- if nothing had happened but the message. Writes what happened to $SOKUJI_RESULT (JSON).
local h = dofile(debug.getinfo(1, "S").source:sub(2):match("(.*/)") .. "nvim_helpers.lua")
local result, wait = h.result, h.wait
local new_api = vim.fn.has("nvim-0.11") == 1 -- client:request() instead of client.request()

-- what the user is shown: window/showMessage, and vim.notify (where Neovim says "Client sokuji
-- quit with exit code ..." when a server dies)
result.shown, result.notes = {}, {}
local show = vim.lsp.handlers["window/showMessage"]
vim.lsp.handlers["window/showMessage"] = function(err, params, ctx, config)
  table.insert(result.shown, params.message)
  return show(err, params, ctx, config)
end
local notify = vim.notify
vim.notify = function(msg, level, opts)
  table.insert(result.notes, { msg = msg, level = level })
  return notify(msg, level, opts)
end

local function sokuji_client(bufnr)
  local list = vim.lsp.get_clients and vim.lsp.get_clients({ bufnr = bufnr })
    or vim.tbl_values(vim.lsp.buf_get_clients(bufnr))
  return list[1]
end

-- present and running (0.7's is_stopped takes no self: the colon's argument is ignored there)
local function running(id)
  local client = vim.lsp.get_client_by_id(id)
  return client ~= nil and not client:is_stopped()
end

-- a request through the client, the main loop running until its answer: { err, result }
local function request(client, bufnr, method, params)
  local answer
  local function handler(err, res) answer = { err = err, result = res } end
  if new_api then
    client:request(method, params, handler, bufnr)
  else
    client.request(method, params, handler, bufnr)
  end
  -- a client whose server died unanswered would wait forever: fail at once instead
  wait(function() return answer ~= nil or not running(client.id) end, 300000, method)
  return assert(answer, "the client stopped waiting for " .. method)
end

local function items(answer)
  local r = answer.result
  return type(r) == "table" and (r.items or r) or {}
end

local function text(bufnr) return table.concat(vim.api.nvim_buf_get_lines(bufnr, 0, -1, false), "\n") end

local function main()
  vim.opt.runtimepath:prepend(os.getenv("SOKUJI_NVIM_RUNTIME"))
  dofile(os.getenv("SOKUJI_SNIPPET")) -- the README's snippet, as a user pastes it
  -- a generous time budget: the model must answer however busy the machine is
  require("sokuji").setup({ settings = { timeBudgetMs = 60000, kvCachePersist = false, lineStartConfidence = 0 } })
  vim.cmd("edit " .. vim.fn.fnameescape(os.getenv("SOKUJI_WORKSPACE") .. "/fib.py"))
  vim.bo.filetype = "python" -- -u NONE: no filetype detection
  local bufnr = vim.api.nvim_get_current_buf()
  wait(function() return sokuji_client(bufnr) ~= nil end, 60000, "sokuji to attach")
  local client = sokuji_client(bufnr)
  result.client_before = client.id
  local uri = vim.uri_from_bufnr(bufnr)

  -- an edit (normal mode: no ghost-text request), then the completion the server dies in
  vim.api.nvim_buf_set_lines(bufnr, 0, 0, false, { "# edited before the crash" })
  local crashed = request(client, bufnr, "textDocument/completion", { textDocument = { uri = uri }, position = { line = 4, character = 4 } })
  result.in_flight = { err = crashed.err, items = #items(crashed), answered = crashed.result ~= nil }
  wait(function() return #result.shown > 0 end, 30000, "the crash message")

  -- after it: another edit, the text the new server sees, a completion from its model
  vim.api.nvim_buf_set_lines(bufnr, 1, 1, false, { "# and after it" })
  local ctx = request(client, bufnr, "workspace/executeCommand", { command = "sokuji.context", arguments = { uri, 5, 4 } })
  result.prompt = ctx.result and ctx.result.prompt
  local again = request(client, bufnr, "textDocument/completion", { textDocument = { uri = uri }, position = { line = 5, character = 4 } })
  local item = items(again)[1]
  result.completion = item and item.textEdit and item.textEdit.newText
  if result.completion then
    vim.lsp.util.apply_text_edits({ item.textEdit }, bufnr, "utf-16")
  end
  result.after_completion = text(bufnr)
  local stats = request(client, bufnr, "workspace/executeCommand", { command = "sokuji.stats", arguments = {} })
  result.crashes = stats.result and stats.result.crashes

  -- the same client all along, still running
  local now = sokuji_client(bufnr)
  result.client_after = now and now.id
  result.running = running(client.id)
  result.status = require("sokuji").status() -- fed by the new server's progress and stats
  h.finish(true)
end

h.run(main)
