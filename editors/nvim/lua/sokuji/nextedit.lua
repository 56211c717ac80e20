-- sokuji next edits for Neovim 0.8+: after an edit pauses (in normal or insert mode) asks
-- textDocument/copilotInlineEdit at the cursor and draws the nearest proposal where it goes,
-- with extmarks: the text it replaces highlighted (strike-through), the new text after it
-- (inline on 0.10+, end of line before) and virtual lines below for more lines; a marker at
-- the window's top or bottom line when the proposal is off screen. One key jumps to it, then
-- applies it (and the next proposal of the series shows); another dismisses it. Nothing blocks:
-- requests are asynchronous, a newer edit cancels the one in flight ($/cancelRequest), and an
-- answer for an older buffer state is dropped, as is a proposal for another version.
local M = {}

local ghost = require("sokuji.ghost")
local ns = vim.api.nvim_create_namespace("sokuji_next_edit")
local has_inline = vim.fn.has("nvim-0.10") == 1
local uv = vim.uv or vim.loop
local client_call = ghost.client_call

M.state = {} -- bufnr -> { shown, asked, dismissed, request = {client, id}, timer, marker }
M.skipped = {} -- "mode lhs" -> key name, keys left to the user's own mapping
M.cancelled = 0 -- requests cancelled, for the curious and the tests

local function buf_state(bufnr)
  local s = M.state[bufnr]
  if not s then
    s = {}
    M.state[bufnr] = s
  end
  return s
end

local function tick(bufnr)
  return vim.api.nvim_buf_get_changedtick(bufnr)
end

-- the replaced text: strike-through in DiffDelete's colours; redone after a colorscheme
local function define_highlights()
  local ok, del
  if vim.api.nvim_get_hl then -- 0.9+
    ok, del = pcall(vim.api.nvim_get_hl, 0, { name = "DiffDelete", link = false })
  else
    ok, del = pcall(vim.api.nvim_get_hl_by_name, "DiffDelete", true)
    del = ok and { fg = del.foreground, bg = del.background } or nil
  end
  del = ok and del or {}
  vim.api.nvim_set_hl(0, "SokujiNextEditOld", { default = true, strikethrough = true, fg = del.fg, bg = del.bg })
  vim.api.nvim_set_hl(0, "SokujiNextEditNew", { default = true, link = "DiffAdd" })
  vim.api.nvim_set_hl(0, "SokujiNextEditMarker", { default = true, link = "DiagnosticInfo" })
end

function M.current(bufnr)
  local s = M.state[bufnr or vim.api.nvim_get_current_buf()]
  return s and s.shown or nil
end

function M.cancel(bufnr)
  M.cancelled = M.cancelled + ghost.stop(M.state[bufnr])
end

function M.clear(bufnr)
  local s = M.state[bufnr]
  if s then
    s.shown, s.marker = nil, nil
  end
  if vim.api.nvim_buf_is_valid(bufnr) then
    vim.api.nvim_buf_clear_namespace(bufnr, ns, 0, -1)
  end
end

-- The marker at the window's edge when the proposal's line is not on screen: "↓ next edit: line 42".
function M.update_marker(bufnr)
  local s = M.state[bufnr]
  if not s then
    return
  end
  if s.marker then
    pcall(vim.api.nvim_buf_del_extmark, bufnr, ns, s.marker)
    s.marker = nil
  end
  if not s.shown or vim.api.nvim_get_current_buf() ~= bufnr then
    return
  end
  local line, top, bottom = s.shown.row + 1, vim.fn.line("w0"), vim.fn.line("w$")
  local at, text
  if line < top then
    at, text = top - 1, "↑ next edit: line " .. line
  elseif line > bottom then
    at, text = bottom - 1, "↓ next edit: line " .. line
  else
    return
  end
  s.marker = vim.api.nvim_buf_set_extmark(bufnr, ns, at, 0, {
    virt_text = { { text, M.options.hl_group_marker } }, virt_text_pos = "right_align", priority = 150,
  })
end

function M.render(bufnr)
  local s = M.state[bufnr]
  vim.api.nvim_buf_clear_namespace(bufnr, ns, 0, -1)
  s.marker = nil
  local p = s.shown
  if not p then
    return
  end
  if p.row ~= p.erow or p.col ~= p.ecol then -- what it replaces
    vim.api.nvim_buf_set_extmark(bufnr, ns, p.row, p.col, {
      end_row = p.erow, end_col = p.ecol, hl_group = M.options.hl_group, priority = 150,
    })
  end
  local lines = vim.split(p.text, "\n", { plain = true })
  local first = table.remove(lines, 1)
  local opts = { hl_mode = "combine", priority = 150 }
  if first ~= "" then -- after the range (an insertion: at its place)
    opts.virt_text = { { first, M.options.hl_group_new } }
    opts.virt_text_pos = has_inline and "inline" or "eol"
  end
  if #lines > 0 then
    opts.virt_lines = vim.tbl_map(function(l) return { { l, M.options.hl_group_new } } end, lines)
  end
  if opts.virt_text or opts.virt_lines then
    vim.api.nvim_buf_set_extmark(bufnr, ns, p.erow, p.ecol, opts)
  end
  M.update_marker(bufnr)
end

-- A position in the negotiated encoding as a byte column of the buffer's line; nil off the buffer.
local function byte_col(bufnr, pos, encoding)
  local line = vim.api.nvim_buf_get_lines(bufnr, pos.line, pos.line + 1, false)[1]
  if not line then
    return nil
  end
  local ok, col
  if vim.lsp.util._str_byteindex_enc then -- 0.8 - 0.10
    ok, col = pcall(vim.lsp.util._str_byteindex_enc, line, pos.character, encoding)
  else -- 0.11+
    ok, col = pcall(vim.str_byteindex, line, encoding, pos.character, false)
  end
  col = ok and col or pos.character
  return col <= #line and col or nil
end

-- The first (nearest) proposal of an answer for this buffer's `version`, in byte positions.
local function pick(bufnr, result, version, client)
  local uri = vim.uri_from_bufnr(bufnr)
  local encoding = client.offset_encoding or "utf-16"
  for _, e in ipairs(result and result.edits or {}) do
    local doc = e.textDocument or {}
    local fresh = (doc.uri == nil or doc.uri == uri) and (doc.version == nil or doc.version == version)
    if fresh and e.range and type(e.text) == "string" then -- a stale one is dropped
      local col, ecol = byte_col(bufnr, e.range.start, encoding), byte_col(bufnr, e.range["end"], encoding)
      if col and ecol then
        return { row = e.range.start.line, col = col, erow = e.range["end"].line, ecol = ecol, text = e.text,
                 command = e.command, client = client }
      end
    end
  end
end

-- Ask for the proposals at the cursor; the answer is shown unless the buffer changed meanwhile.
function M.request(bufnr)
  local client = ghost.sokuji_client(bufnr)
  if not client or vim.api.nvim_get_current_buf() ~= bufnr then
    return
  end
  M.cancel(bufnr)
  local s = buf_state(bufnr)
  local asked, version = tick(bufnr), vim.lsp.util.buf_versions[bufnr]
  local params = vim.lsp.util.make_position_params(0, client.offset_encoding or "utf-16")
  params.textDocument.version = version
  s.asked = asked
  local ok, id
  ok, id = client_call(client, "request", "textDocument/copilotInlineEdit", params, function(err, result)
    if s.request and s.request[2] == id then
      s.request = nil
    end
    if err or not vim.api.nvim_buf_is_valid(bufnr) or tick(bufnr) ~= asked or s.dismissed == asked then
      return -- cancelled or refused; or edited (or dismissed) since: an answer for text that is gone
    end
    s.shown = pick(bufnr, result, version, client)
    M.render(bufnr)
  end, bufnr)
  if ok then
    s.request = { client, id }
  end
end

-- An edit by the user: what is shown goes, the request in flight is stale; ask after a pause.
local function edited(bufnr)
  local s = buf_state(bufnr)
  if s.asked == tick(bufnr) then
    return -- already asked for this text (our own apply, or insert mode left)
  end
  M.cancel(bufnr)
  M.clear(bufnr)
  s.dismissed, s.asked = nil, nil
  if not s.timer then
    s.timer = uv.new_timer()
  end
  s.timer:start(M.options.debounce_ms, 0, vim.schedule_wrap(function()
    if vim.api.nvim_buf_is_valid(bufnr) and vim.api.nvim_get_current_buf() == bufnr then
      M.request(bufnr)
    end
  end))
end

local function cursor()
  local pos = vim.api.nvim_win_get_cursor(0)
  return pos[1] - 1, pos[2]
end

-- The cursor is at the proposal: on its first line, from its start to its end (normal mode
-- keeps the cursor on the line's last character: an insertion at the end counts there).
local function at(bufnr, p)
  local row, col = cursor()
  local line = vim.api.nvim_buf_get_lines(bufnr, row, row + 1, false)[1] or ""
  local last = p.erow == p.row and p.ecol or #line
  return row == p.row and col >= math.min(p.col, math.max(#line - 1, 0)) and col <= last
end

-- Replace the range with the text, tell sokuji (the item's command), ask for the next one at once.
function M.apply(bufnr)
  local s = M.state[bufnr]
  local p = s.shown
  M.cancel(bufnr)
  M.clear(bufnr)
  vim.api.nvim_buf_set_text(bufnr, p.row, p.col, p.erow, p.ecol, vim.split(p.text, "\n", { plain = true }))
  vim.api.nvim_win_set_cursor(0, { p.row + 1, p.col })
  -- after the edit: Neovim sends the pending didChange before any request, so sokuji sees
  -- the edit first, and carries the rest of the series onto the new version
  if p.command and p.command.command then
    pcall(client_call, p.client, "request", "workspace/executeCommand",
      { command = p.command.command, arguments = p.command.arguments }, function() end, bufnr)
  end
  M.request(bufnr)
end

-- The jump key: to the proposal's start; pressed again there, apply it.
function M.jump(bufnr)
  local p = M.state[bufnr].shown
  if at(bufnr, p) then
    return M.apply(bufnr)
  end
  vim.api.nvim_win_set_cursor(0, { p.row + 1, p.col })
  M.update_marker(bufnr)
end

-- Cleared until the next edit.
function M.dismiss(bufnr)
  M.cancel(bufnr)
  M.clear(bufnr)
  buf_state(bufnr).dismissed = tick(bufnr)
end

-- One key in one mode, buffer-local, by ghost.lua's rule: a key already mapped (by the user,
-- a plugin, Neovim's defaults, or sokuji's ghost-text keys) is left alone unless the user named
-- it in setup's `next_edit.keys`; then it is taken over, and does what it did when no next
-- edit is shown.
local function map_key(bufnr, mode, name, lhs, action, chosen)
  local prev
  vim.api.nvim_buf_call(bufnr, function() prev = vim.fn.maparg(lhs, mode, false, true) end)
  if vim.tbl_isempty(prev) or (prev.desc or ""):find("^sokuji: next edit") then
    prev = nil -- none, or ours from an earlier attach
  end
  if prev and not chosen then
    M.skipped[mode .. " " .. lhs] = name -- the user's map wins
    return
  end
  local ghost_key = prev and (prev.desc or ""):find("^sokuji: ") ~= nil
  vim.keymap.set(mode, lhs, function()
    -- Ghost text wins on a key shared with it: it is at the cursor, what the user is typing.
    -- With no ghost text shown the key acts on the next edit; with neither, it does what it did.
    if (ghost_key and ghost.current(bufnr)) or not M.current(bufnr) then
      return ghost.fall_back(lhs, prev)
    end
    action(bufnr)
  end, { buffer = bufnr, desc = "sokuji: next edit " .. name })
end

local function map_keys(bufnr)
  local actions = { jump = M.jump, dismiss = M.dismiss }
  local chosen = M.options.chosen or {}
  for name, lhs in pairs(M.options.keys or {}) do
    if lhs and actions[name] then
      for _, mode in ipairs({ "n", "i" }) do
        map_key(bufnr, mode, name, lhs, actions[name], chosen[name])
      end
    end
  end
end

local function global_autocmds()
  local group = vim.api.nvim_create_augroup("sokuji_next_edit", { clear = true })
  vim.api.nvim_create_autocmd("ColorScheme", { group = group, callback = define_highlights })
  vim.api.nvim_create_autocmd("WinScrolled", { -- any window: the current one may show a marker
    group = group, callback = function() M.update_marker(vim.api.nvim_get_current_buf()) end,
  })
end

function M.attach(bufnr, options)
  M.options = options
  local s = buf_state(bufnr)
  if s.attached then
    return
  end
  s.attached = true
  if not M.globals then
    M.globals = true
    define_highlights()
    global_autocmds()
  end
  map_keys(bufnr)
  local group = vim.api.nvim_create_augroup("sokuji_next_edit_" .. bufnr, { clear = true })
  vim.api.nvim_create_autocmd({ "TextChanged", "TextChangedI", "TextChangedP" }, {
    group = group, buffer = bufnr, callback = function() edited(bufnr) end,
  })
  vim.api.nvim_create_autocmd({ "CursorMoved", "CursorMovedI", "BufEnter" }, {
    group = group, buffer = bufnr, callback = function() M.update_marker(bufnr) end,
  })
  vim.api.nvim_create_autocmd("BufUnload", {
    group = group, buffer = bufnr,
    callback = function()
      M.cancel(bufnr)
      if s.timer then
        s.timer:close()
      end
      M.state[bufnr] = nil
    end,
  })
end

return M
