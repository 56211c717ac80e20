-- Driven by tests/editors/test_editors.py: headless Neovim 0.8+ with the README's snippets, a real
-- `sokuji serve` (SOKUJI_FAULTS="hold:token@1": the first request stays in flight until it is
-- cancelled) and the embedded model. Keys are typed (nvim_feedkeys) and the main loop runs
-- between steps (a coroutine resumed by timers), as for a user. Writes $SOKUJI_RESULT (JSON).
local h = dofile(debug.getinfo(1, "S").source:sub(2):match("(.*/)") .. "nvim_helpers.lua")
local result, finish, wait, type_keys, ghost, line = h.result, h.finish, h.wait, h.type_keys, h.ghost, h.line
result.steps = {}
local logged = h.logged

local function main()
  vim.opt.runtimepath:prepend(os.getenv("SOKUJI_NVIM_RUNTIME"))
  dofile(os.getenv("SOKUJI_SNIPPET")) -- the README's snippet
  -- then as a user changes settings; a generous time budget: what the model writes must not
  -- depend on how busy the machine is
  require("sokuji").setup({ settings = { timeBudgetMs = 60000, kvCachePersist = false, lineStartConfidence = 0 } })
  local sokuji, g = require("sokuji"), require("sokuji.ghost")
  local dir = os.getenv("SOKUJI_WORKSPACE")
  local function open(name)
    vim.cmd("edit " .. dir .. "/" .. name)
    vim.bo.filetype = "python"
    local b = vim.api.nvim_get_current_buf()
    wait(function() return #vim.lsp.get_clients({ bufnr = b }) > 0 end, 60000, "sokuji to attach " .. name)
    return b
  end
  -- sokuji.stats' acceptance counts, and the signals the module sent by then
  local function acceptance(b)
    local client, answer = vim.lsp.get_clients({ bufnr = b, name = "sokuji" })[1], nil
    result.encoding = client.offset_encoding
    client:request("workspace/executeCommand", { command = "sokuji.stats", arguments = {} }, function(err, stats)
      answer = err and { error = tostring(err) } or stats
    end, b)
    wait(function() return answer ~= nil end, 60000, "sokuji.stats")
    assert(answer.acceptance, vim.inspect(answer))
    return vim.tbl_extend("error", answer.acceptance, { sent = vim.deepcopy(g.sent) })
  end
  result.acceptance = {}
  local bufnr = open("hold.py")
  result.status_loading = sokuji.status()

  -- 1. typing asks; the request is held in the server: the editor keeps taking keys, and a
  --    move out of insert mode cancels it ($/cancelRequest: the server's decode stops)
  vim.api.nvim_win_set_cursor(0, { 3, 0 })
  type_keys("Ax")
  wait(function() return logged("holding at 'token'") end, 60000, "the request to be held")
  type_keys(" = 1")
  wait(function() return line(bufnr, 2) == "        x = 1" end, 10000, "typing while a request is in flight")
  result.typed_while_held = line(bufnr, 2)
  wait(function() return logged("stop=cancelled") or logged("cancelled before decoding") end, 60000, "the cancel")
  result.cancelled = g.cancelled
  type_keys("<Esc>")
  wait(function() return vim.api.nvim_get_mode().mode == "n" end, 5000, "normal mode")

  result.acceptance.before = acceptance(bufnr)

  -- 2. ghost text at the cursor, drawn with an extmark; accept a word, a line, the rest
  bufnr = open("point.py")
  vim.api.nvim_win_set_cursor(0, { 3, 0 })
  type_keys("Aself.")
  wait(function() return ghost(bufnr) ~= nil end, 180000, "ghost text")
  local shown = ghost(bufnr)
  result.ghost = shown
  result.ghost_matches_item = shown.text == g.current(bufnr)
  local before = line(bufnr, 2)
  type_keys("<M-Right>")
  wait(function() return line(bufnr, 2) ~= before end, 10000, "accept word")
  result.after_word = line(bufnr, 2)
  result.rest_after_word = ghost(bufnr) and ghost(bufnr).text
  result.cursor_after_word = vim.api.nvim_win_get_cursor(0)
  if result.rest_after_word then
    local lines = vim.api.nvim_buf_line_count(bufnr)
    local snapshot = table.concat(vim.api.nvim_buf_get_lines(bufnr, 0, -1, false), "\n")
    type_keys("<M-Down>")
    wait(function() return table.concat(vim.api.nvim_buf_get_lines(bufnr, 0, -1, false), "\n") ~= snapshot end, 10000, "accept line")
    result.after_line = table.concat(vim.api.nvim_buf_get_lines(bufnr, 2, -1, false), "\n")
    result.rest_after_line = ghost(bufnr) and ghost(bufnr).text
    if result.rest_after_line then
      type_keys("<M-l>")
      wait(function() return ghost(bufnr) == nil end, 10000, "accept the rest")
    end
    result.lines_added = vim.api.nvim_buf_line_count(bufnr) - lines
  end
  result.after_all = table.concat(vim.api.nvim_buf_get_lines(bufnr, 2, -1, false), "\n")
  type_keys("<Esc>")
  wait(function() return vim.api.nvim_get_mode().mode == "n" end, 5000, "normal mode")
  result.acceptance.point = acceptance(bufnr)

  -- 3. cycling: "next" asks for several suggestions and shows the 2nd; "previous" goes back;
  --    dismiss clears; then accept all
  local main_buf = open("main.py")
  local last = vim.api.nvim_buf_line_count(main_buf)
  vim.api.nvim_win_set_cursor(0, { last, 0 })
  type_keys("Am")
  wait(function() return ghost(main_buf) ~= nil end, 180000, "ghost text in main.py")
  result.first = ghost(main_buf).text
  type_keys("<M-]>")
  wait(function() return ghost(main_buf) ~= nil and ghost(main_buf).text ~= result.first end, 300000, "the 2nd suggestion")
  result.second = ghost(main_buf).text
  result.items = vim.deepcopy(g.state[main_buf].items)
  type_keys("<M-[>")
  wait(function() return ghost(main_buf) ~= nil and ghost(main_buf).text == result.first end, 10000, "back to the 1st")
  local text_before = table.concat(vim.api.nvim_buf_get_lines(main_buf, 0, -1, false), "\n")
  type_keys("<C-]>")
  wait(function() return ghost(main_buf) == nil end, 10000, "dismiss")
  result.unchanged_by_dismiss = table.concat(vim.api.nvim_buf_get_lines(main_buf, 0, -1, false), "\n") == text_before
  result.mode_after_dismiss = vim.api.nvim_get_mode().mode
  type_keys("<BS>m")
  wait(function() return ghost(main_buf) ~= nil end, 180000, "ghost text again")
  local all = ghost(main_buf).text
  type_keys("<M-l>")
  wait(function() return ghost(main_buf) == nil end, 10000, "accept all")
  result.accepted_all = all
  result.last_line = vim.api.nvim_buf_get_lines(main_buf, last - 1, -1, false)
  result.status = sokuji.status()
  result.skipped = g.skipped
  type_keys("<Esc>")
  wait(function() return vim.api.nvim_get_mode().mode == "n" end, 5000, "normal mode")
  result.acceptance.main = acceptance(main_buf)

  -- 4. a word of a suggestion accepted, then typed over: sokuji counts it partly accepted
  --    (settled by that edit, or the request it makes), the word's characters accepted
  local part_buf = open("partial.py")
  vim.api.nvim_win_set_cursor(0, { 3, 0 })
  type_keys("Aself.")
  wait(function() return ghost(part_buf) ~= nil end, 180000, "ghost text in partial.py")
  result.partial_ghost = ghost(part_buf).text
  local shown_at = acceptance(part_buf) -- earlier answers while typing are settled by now
  type_keys("<M-Right>")
  wait(function() return line(part_buf, 2) ~= "        self." end, 10000, "accept a word")
  result.partial_word = line(part_buf, 2):sub(#"        self." + 1)
  local rest = ghost(part_buf) and ghost(part_buf).text or ""
  type_keys((rest:sub(1, 1) == "Z" and "Q" or "Z") .. "<Esc>") -- not the suggestion's next character
  wait(function() return vim.api.nvim_get_mode().mode == "n" end, 5000, "normal mode")
  local function settled(a) return a.partlyAccepted + a.typedOver + a.movedAway end
  wait(function()
    result.acceptance.partial = acceptance(part_buf)
    return settled(result.acceptance.partial) > settled(shown_at)
  end, 60000, "the partly accepted suggestion to be settled")
  finish(true)
end

h.run(main)
