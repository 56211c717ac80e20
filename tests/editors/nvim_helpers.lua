-- Shared by the headless Neovim tests that tests/editors/test_editors.py drives: the result
-- written to $SOKUJI_RESULT (JSON), waiting while the main loop runs (the test's main is a
-- coroutine resumed by timers, so Neovim handles events as for a user), typing keys, the
-- server's log lines, and sokuji's ghost text read back from its extmarks.
local M = {}
M.result = { version = tostring(vim.version().major) .. "." .. tostring(vim.version().minor) }
M.logs = {} -- what the server logged (window/logMessage)
vim.lsp.handlers["window/logMessage"] = function(_, params) M.logs[#M.logs + 1] = params.message end
local co

function M.finish(ok, err)
  M.result.ok = ok
  M.result.error = err
  M.result.logs = M.logs
  local f = io.open(os.getenv("SOKUJI_RESULT"), "w")
  f:write(vim.fn.json_encode(M.result))
  f:close()
  vim.cmd(ok and "qall!" or "cquit 3")
end

function M.wait(cond, ms, what)
  local deadline = vim.loop.now() + ms
  while not cond() do
    assert(vim.loop.now() < deadline, "timed out waiting for " .. what)
    vim.defer_fn(function() assert(coroutine.resume(co)) end, 20)
    coroutine.yield()
  end
end

function M.type_keys(keys)
  vim.api.nvim_feedkeys(vim.api.nvim_replace_termcodes(keys, true, false, true), "t", false)
end

function M.logged(pattern)
  for _, m in ipairs(M.logs) do
    if m:find(pattern) then return true end
  end
  return false
end

local ns = vim.api.nvim_create_namespace("sokuji_ghost")
-- the ghost text as drawn: the extmark's inline/eol text, then its virtual lines; nil when none
function M.ghost(bufnr)
  local marks = vim.api.nvim_buf_get_extmarks(bufnr, ns, 0, -1, { details = true })
  if #marks == 0 then return nil end
  local d = marks[1][4]
  local text = d.virt_text and d.virt_text[1][1] or ""
  for _, l in ipairs(d.virt_lines or {}) do text = text .. "\n" .. l[1][1] end
  return { text = text, row = marks[1][2], col = marks[1][3], pos = d.virt_text_pos, marks = #marks }
end

function M.line(bufnr, row) return vim.api.nvim_buf_get_lines(bufnr, row, row + 1, false)[1] end

-- run `main` as the coroutine `wait` yields from; an error ends the test with its traceback
function M.run(main)
  co = coroutine.create(function()
    local ok, err = xpcall(main, debug.traceback)
    if not ok then M.finish(false, err) end
  end)
  vim.defer_fn(function() assert(coroutine.resume(co)) end, 0)
end

-- NES only (nvim_next_edit_test.lua): sokuji's next edit as drawn, read back from its extmarks:
-- the highlighted range it replaces, its new text (inline/eol text, then virtual lines), the
-- off-screen marker; nil when nothing is drawn
local ne_ns = vim.api.nvim_create_namespace("sokuji_next_edit")
function M.next_edit(bufnr)
  local marks = vim.api.nvim_buf_get_extmarks(bufnr, ne_ns, 0, -1, { details = true })
  if #marks == 0 then return nil end
  local drawn = { marks = #marks }
  for _, m in ipairs(marks) do
    local row, col, d = m[2], m[3], m[4]
    if d.virt_text_pos == "right_align" then
      drawn.marker = { row = row, text = d.virt_text[1][1], hl = d.virt_text[1][2] }
    elseif d.end_row then
      drawn.range = { row, col, d.end_row, d.end_col }
      drawn.range_hl = d.hl_group
    else
      local text = d.virt_text and d.virt_text[1][1] or ""
      for _, l in ipairs(d.virt_lines or {}) do text = text .. "\n" .. l[1][1] end
      drawn.text, drawn.at, drawn.pos = text, { row, col }, d.virt_text_pos
      drawn.text_hl = d.virt_text and d.virt_text[1][2]
    end
  end
  return drawn
end

-- let the main loop run for `ms` (nothing is expected to happen meanwhile)
function M.sleep(ms)
  local deadline = vim.loop.now() + ms
  M.wait(function() return vim.loop.now() >= deadline end, ms + 1000, "a pause")
end

-- executeCommand sokuji.stats through the buffer's sokuji client
function M.stats(bufnr)
  local client, answer = vim.lsp.get_clients({ bufnr = bufnr, name = "sokuji" })[1], nil
  client:request("workspace/executeCommand", { command = "sokuji.stats", arguments = {} }, function(err, stats)
    answer = err and { error = tostring(err) } or stats
  end, bufnr)
  M.wait(function() return answer ~= nil end, 60000, "sokuji.stats")
  return answer
end

return M
