-- Driven by tests/editors/test_next_edit_nvim.py: headless Neovim 0.11 with the README's snippet,
-- a real `sokuji serve` and the embedded model; next edits (lua/sokuji/nextedit.lua) as a user
-- meets them. Keys are typed (nvim_feedkeys) and the main loop runs between steps (a coroutine
-- resumed by timers). Writes $SOKUJI_RESULT (JSON).
--   SOKUJI_CASE=defaults: a rename typed at a definition, key by key: its proposal drawn at the
--     next reference; <M-n> jumps there, again applies it, the next one shows and is applied;
--     sokuji.stats counts both; a 2nd rename's proposal dismissed with <M-N>; a proposal off
--     screen: the marker at the window's edge; a new edit elsewhere clears what is shown.
--   SOKUJI_CASE=keys: the user's keys (<Tab> shared with ghost text's accept): with nothing
--     shown <Tab> does what it did; with a next edit shown it jumps and applies; with ghost
--     text shown too, it takes the ghost text.
local h = dofile(debug.getinfo(1, "S").source:sub(2):match("(.*/)") .. "nvim_helpers.lua")
local result, finish, wait, type_keys, line, ne = h.result, h.finish, h.wait, h.type_keys, h.line, h.next_edit
-- the model kept cheap (ghost text asks it at each key); generous time: the machine is busy
local CHEAP = { maxTokens = 8, timeBudgetMs = 60000, kvCachePersist = false }

local dir = os.getenv("SOKUJI_WORKSPACE")
local function open(name)
  vim.cmd("edit " .. dir .. "/" .. name)
  vim.bo.filetype = "python" -- -u NONE: no filetype detection; FileType starts the client
  local b = vim.api.nvim_get_current_buf()
  wait(function() return #vim.lsp.get_clients({ bufnr = b, name = "sokuji" }) > 0 end, 60000, "sokuji to attach " .. name)
  return b
end

local function text(b) return table.concat(vim.api.nvim_buf_get_lines(b, 0, -1, false), "\n") end
local function tick(b) return vim.api.nvim_buf_get_changedtick(b) end
local function cursor() return vim.api.nvim_win_get_cursor(0) end
local function mode(m) wait(function() return vim.api.nvim_get_mode().mode == m end, 5000, "mode " .. m) end

-- the word under (row, col) replaced as a user does: `ciw`, then the new name key by key
local function rename(b, row, col, new, stay_in_insert)
  vim.api.nvim_win_set_cursor(0, { row, col })
  type_keys("ciw")
  mode("i")
  for ch in new:gmatch(".") do
    local before = tick(b)
    type_keys(ch)
    wait(function() return tick(b) ~= before end, 10000, "the key " .. ch)
  end
  if not stay_in_insert then
    type_keys("<Esc>")
    mode("n")
  end
end

-- a proposal drawn at 0-based `row` whose new text is `new`
local function proposal(b, row, new, what)
  local ok, err = pcall(wait, function()
    local d = ne(b)
    return d and d.at and d.at[1] == row and d.text == new
  end, 180000, what)
  if not ok then -- what was drawn and asked instead
    local s = require("sokuji.nextedit").state[b] or {}
    error(err .. ": " .. vim.inspect({ drawn = ne(b), text = text(b), tick = tick(b), asked = s.asked,
      dismissed = s.dismissed, in_flight = s.request ~= nil, shown = s.shown and s.shown.text }))
  end
  return ne(b)
end

local function maps(keys)
  local out = {}
  for _, lhs in ipairs(keys) do
    for _, m in ipairs({ "n", "i" }) do
      local map = vim.fn.maparg(lhs, m, false, true)
      out[m .. " " .. lhs] = map.desc or (map.rhs and ("rhs " .. map.rhs)) or vim.NIL
    end
  end
  return out
end

local function series(b, nes)
  local d = proposal(b, 1, "size", "the rename's proposal at line 2")
  result.first = d
  type_keys("<M-n>")
  wait(function() return cursor()[1] == 2 end, 10000, "the jump")
  result.cursor_after_jump = cursor()
  result.still_shown_after_jump = ne(b) ~= nil
  type_keys("<M-n>")
  wait(function() return line(b, 1) ~= "    total = width * height" end, 10000, "the apply")
  result.after_first_apply = line(b, 1)
  result.second = proposal(b, 2, "size", "the next proposal of the series")
  type_keys("<M-n>")
  wait(function() return cursor()[1] == 3 end, 10000, "the 2nd jump")
  result.cursor_after_second_jump = cursor()
  type_keys("<M-n>")
  wait(function() return line(b, 2) ~= "    print(width)" end, 10000, "the 2nd apply")
  result.renamed = text(b)
  -- asked again at once: answered, nothing left of the series
  wait(function() return nes.state[b].request == nil end, 60000, "the answer after the last apply")
  result.after_series = ne(b) or vim.NIL
  result.next_edits = h.stats(b).nextEdits
end

local function dismissed(b, nes)
  rename(b, 1, 15, "h") -- def area(size, |height):
  result.third = proposal(b, 1, "h", "the 2nd rename's proposal")
  local before = text(b)
  type_keys("<M-N>")
  wait(function() return ne(b) == nil end, 10000, "dismiss")
  h.sleep(3 * nes.options.debounce_ms) -- longer than the pause: it stays cleared
  result.after_dismiss = { drawn = ne(b) or vim.NIL, unchanged = text(b) == before, after = text(b) }
end

local function off_screen()
  local b = open("long.py")
  local last = vim.api.nvim_buf_line_count(b)
  rename(b, 1, 10, "k") -- def scale(|factor):
  wait(function() return ne(b) and ne(b).marker end, 180000, "the off-screen marker")
  result.far = { drawn = ne(b), top = vim.fn.line("w0"), bottom = vim.fn.line("w$"), last = last }
  type_keys("<M-n>") -- there: on screen, no marker
  wait(function() return cursor()[1] == last and ne(b) and not ne(b).marker end, 10000, "the jump down")
  result.at_far = { drawn = ne(b), top = vim.fn.line("w0"), cursor = cursor() }
  type_keys("gg") -- back up: the marker again
  wait(function() return ne(b) and ne(b).marker end, 10000, "the marker again")
  result.back = { drawn = ne(b), bottom = vim.fn.line("w$") }
  -- a new edit elsewhere: what is shown goes at once
  vim.api.nvim_win_set_cursor(0, { 2, 0 })
  local before = tick(b)
  type_keys("A  # note")
  wait(function() return tick(b) ~= before and ne(b) == nil end, 10000, "the edit to clear it")
  result.cleared_by_edit = { drawn = ne(b) or vim.NIL, line = line(b, 1) }
  type_keys("<Esc>")
  mode("n")
end

local function defaults_case()
  dofile(os.getenv("SOKUJI_SNIPPET")) -- the README's snippet
  require("sokuji").setup({ settings = CHEAP }) -- then as a user changes settings
  local nes = require("sokuji.nextedit")
  local b = open("shapes.py")
  result.maps = maps({ "<M-n>", "<M-N>" })
  rename(b, 1, 9, "size") -- def area(|width, height):
  series(b, nes)
  dismissed(b, nes)
  off_screen()
  result.skipped = nes.skipped
end

-- ghost text shown at the cursor: the model's if it wrote one, else one put in its state
-- as ghost.lua does (the point is which one the shared key acts on)
local function ghost_shown(b, g)
  local gs = g.state[b]
  wait(function() return not (gs.timer and gs.timer:is_active()) and gs.request == nil end, 180000, "ghost text's answer")
  result.model_ghost = g.current(b) ~= nil
  if not g.current(b) then
    local row, col = unpack(cursor())
    gs.items, gs.sources, gs.index = { "  # ghost" }, {}, 1
    gs.row, gs.col, gs.tick = row - 1, col, tick(b)
    g.render(b)
  end
  return g.current(b)
end

local function keys_case()
  local sokuji = require("sokuji")
  local setup = sokuji.setup
  sokuji.setup = function(opts) -- the cheap settings added to each of the snippet's calls
    opts = vim.deepcopy(opts or {})
    opts.settings = vim.tbl_extend("keep", opts.settings or {}, CHEAP)
    return setup(opts)
  end
  dofile(os.getenv("SOKUJI_SNIPPET")) -- the README's snippet, then the keys block
  local g = require("sokuji.ghost")
  local b = open("shapes.py")
  result.maps = maps({ "<Tab>", "<M-n>", "<M-N>", "<M-x>" })
  -- nothing shown: <Tab> as before (0.11's insert-mode <Tab>: a tab)
  vim.api.nvim_win_set_cursor(0, { 4, 0 })
  type_keys("A")
  mode("i")
  type_keys("<Tab>")
  wait(function() return line(b, 3) ~= "    return total" end, 10000, "the tab")
  result.plain_tab = line(b, 3)
  type_keys("<BS><Esc>")
  mode("n")
  -- a next edit and no ghost text: <Tab> jumps, then applies
  rename(b, 1, 9, "size", true)
  proposal(b, 1, "size", "the rename's proposal")
  if ghost_shown(b, g) then
    type_keys("<C-]>") -- ghost text's dismiss
    wait(function() return g.current(b) == nil end, 10000, "ghost text dismissed")
  end
  type_keys("<Tab>")
  wait(function() return cursor()[1] == 2 end, 10000, "<Tab>'s jump")
  result.tab_jump = cursor()
  type_keys("<Tab>")
  wait(function() return line(b, 1) ~= "    total = width * height" end, 10000, "<Tab>'s apply")
  result.tab_apply = line(b, 1)
  -- the next one and ghost text at the cursor: <Tab> takes the ghost text
  result.next_shown = proposal(b, 2, "size", "the next proposal")
  local ghost = ghost_shown(b, g)
  local row, col = unpack(cursor())
  local lines = vim.api.nvim_buf_get_lines(b, 0, -1, false)
  lines[row] = lines[row]:sub(1, col) .. ghost .. lines[row]:sub(col + 1)
  local expected = table.concat(lines, "\n")
  result.both = { ghost = ghost, next_edit = ne(b) }
  type_keys("<Tab>")
  wait(function() return g.current(b) == nil end, 10000, "<Tab> on both")
  result.after_both = text(b)
  result.ghost_taken = result.after_both == expected
  type_keys("<Esc>")
  mode("n")
end

local function main()
  vim.opt.runtimepath:prepend(os.getenv("SOKUJI_NVIM_RUNTIME"))
  if os.getenv("SOKUJI_CASE") == "keys" then
    keys_case()
  else
    defaults_case()
  end
  finish(true)
end

h.run(main)
