-- sokuji ghost text for Neovim 0.8+: asks textDocument/inlineCompletion itself (sokuji answers
-- it for any client) and draws the suggestion with extmarks: inline virtual text on the cursor
-- line on 0.10+ (end-of-line text before), virtual lines below for the rest. Nothing blocks:
-- requests are asynchronous, a keystroke cancels the one in flight ($/cancelRequest), and a
-- late answer for an older buffer state or cursor is dropped. It tells sokuji what is shown
-- and accepted (didShowCompletion, didPartiallyAcceptCompletion, the item's command), for its
-- local acceptance counts (sokuji.stats).
local M = {}

local ns = vim.api.nvim_create_namespace("sokuji_ghost")
local has_inline = vim.fn.has("nvim-0.10") == 1
local new_api = vim.fn.has("nvim-0.11") == 1 -- client:request() instead of client.request()
local uv = vim.uv or vim.loop

M.state = {} -- bufnr -> { items, sources, index, row, col, tick, request = {client, id}, timer }
M.status_info = { state = "starting", latency = nil, error = nil }
M.cancelled = 0 -- requests this module cancelled ($/cancelRequest), for the curious and the tests
M.sent = { shown = 0, partly = 0, accepted = 0 } -- acceptance signals sent, likewise

local function client_call(client, name, ...)
  if new_api then
    return client[name](client, ...)
  end
  return client[name](...)
end
M.client_call = client_call -- shared with nextedit.lua

local function buf_state(bufnr)
  local s = M.state[bufnr]
  if not s then
    s = {}
    M.state[bufnr] = s
  end
  return s
end

local function sokuji_client(bufnr)
  local list = vim.lsp.get_clients and vim.lsp.get_clients({ bufnr = bufnr, name = "sokuji" })
    or vim.lsp.get_active_clients({ bufnr = bufnr, name = "sokuji" })
  return list[1]
end
M.sokuji_client = sokuji_client

local function cursor()
  local pos = vim.api.nvim_win_get_cursor(0)
  return pos[1] - 1, pos[2]
end

function M.clear(bufnr)
  bufnr = bufnr or vim.api.nvim_get_current_buf()
  local s = M.state[bufnr]
  if not s then
    return
  end
  vim.api.nvim_buf_clear_namespace(bufnr, ns, 0, -1)
  s.items, s.sources, s.index = nil, nil, nil
end

-- A buffer state's timer stopped and its request in flight cancelled ($/cancelRequest); 1 if
-- one was. Shared with nextedit.lua.
function M.stop(s)
  if s and s.timer then
    s.timer:stop()
  end
  if s and s.request then
    local client, id = s.request[1], s.request[2]
    s.request = nil
    pcall(client_call, client, "cancel_request", id)
    return 1
  end
  return 0
end

function M.cancel(bufnr)
  M.cancelled = M.cancelled + M.stop(M.state[bufnr])
end

local function item_text(item)
  return type(item.insertText) == "table" and item.insertText.value or item.insertText or ""
end

-- A text's length in the negotiated position encoding (acceptedLength's unit).
local function units(text, encoding)
  if vim.lsp.util._str_utfindex_enc then -- 0.8 - 0.10
    return vim.lsp.util._str_utfindex_enc(text, nil, encoding)
  end
  return vim.str_utfindex(text, encoding) -- 0.11+
end

-- Acceptance signals, for sokuji's local counts. `src`: { client, item (as received), base
-- (bytes of its text in the buffer: typed before it was shown, then accepted), shown }.
-- sokuji follows only an item that carries its command (the first of a list: the command's
-- argument is the item's id), so the others are not reported.
local function report(src, what, piece)
  if not (src and src.item.command) then
    return
  end
  local client, item = src.client, src.item
  if what == "shown" then
    if src.shown then
      return -- once per item, however often it is redrawn
    end
    src.shown = true
    pcall(client_call, client, "notify", "textDocument/didShowCompletion", { item = item })
  elseif what == "accepted" then -- nothing of it left: the item's own command, as LSP has it
    local cmd = item.command
    pcall(client_call, client, "request", "workspace/executeCommand",
      { command = cmd.command, arguments = cmd.arguments }, function() end)
  else -- a word or a line: how much of the item is accepted in all (the server counts the
    -- difference, and ignores a length it already took from the didChange)
    src.base = src.base + #piece
    local length = units(item_text(item):sub(1, src.base), client.offset_encoding or "utf-16")
    pcall(client_call, client, "notify", "textDocument/didPartiallyAcceptCompletion",
      { item = item, acceptedLength = length })
  end
  M.sent[what] = M.sent[what] + 1
end

-- The text still to insert at the cursor: the item's text less what the user typed since
-- its range's start.
local function remaining(bufnr, item, row, col, encoding)
  local text = item_text(item)
  if item.range then
    local start = item.range.start
    if start.line ~= row then
      return nil
    end
    local line = vim.api.nvim_buf_get_lines(bufnr, row, row + 1, false)[1] or ""
    local ok, scol
    if vim.lsp.util._str_byteindex_enc then -- 0.8 - 0.10
      ok, scol = pcall(vim.lsp.util._str_byteindex_enc, line, start.character, encoding)
    else -- 0.11+
      ok, scol = pcall(vim.str_byteindex, line, encoding, start.character, false)
    end
    if not ok or not scol then
      scol = start.character
    end
    local typed = line:sub(scol + 1, col)
    if text:sub(1, #typed) ~= typed then
      return nil
    end
    text = text:sub(#typed + 1)
  end
  return text
end

function M.current(bufnr)
  local s = M.state[bufnr or vim.api.nvim_get_current_buf()]
  return s and s.items and s.items[s.index] or nil
end

function M.render(bufnr)
  local s = M.state[bufnr]
  vim.api.nvim_buf_clear_namespace(bufnr, ns, 0, -1)
  local text = s and s.items and s.items[s.index]
  if not text or text == "" then
    return
  end
  local lines = vim.split(text, "\n", { plain = true })
  local first = table.remove(lines, 1)
  local opts = { hl_mode = "combine", priority = 200 }
  if first ~= "" then
    opts.virt_text = { { first, M.options.hl_group } }
    opts.virt_text_pos = has_inline and "inline" or "eol"
  end
  if #lines > 0 then
    opts.virt_lines = vim.tbl_map(function(l) return { { l, M.options.hl_group } } end, lines)
  end
  s.mark = vim.api.nvim_buf_set_extmark(bufnr, ns, s.row, s.col, opts)
  report(s.sources and s.sources[s.index], "shown")
end

-- texts[i]: what is left to insert of sources[i].item
local function show(bufnr, s, texts, sources, index)
  local seen, items, kept = {}, {}, {}
  for i, t in ipairs(texts) do
    if t ~= "" and not seen[t] then
      seen[t] = true
      items[#items + 1] = t
      kept[#kept + 1] = sources[i]
    end
  end
  if #items == 0 then
    M.clear(bufnr)
    return
  end
  index = index or 1
  if index < 0 then -- counted from the end ("previous" from the best one)
    index = #items + 1 + index
  end
  s.items, s.sources, s.index = items, kept, math.max(1, math.min(index, #items))
  M.render(bufnr)
end

-- Ask for suggestions at the cursor; `invoked`: the user asked (more items, for cycling).
function M.request(bufnr, invoked, then_index)
  bufnr = bufnr or vim.api.nvim_get_current_buf()
  local client = sokuji_client(bufnr)
  if not client then
    return
  end
  M.cancel(bufnr)
  local s = buf_state(bufnr)
  local row, col = cursor()
  local params = vim.lsp.util.make_position_params(0, client.offset_encoding or "utf-16")
  params.context = { triggerKind = invoked and 1 or 2 } -- Invoked = 1, Automatic = 2
  local tick = vim.api.nvim_buf_get_changedtick(bufnr)
  local started = uv.hrtime()
  local ok, id
  ok, id = client_call(client, "request", "textDocument/inlineCompletion", params, function(err, result)
    if s.request and s.request[2] == id then
      s.request = nil
    end
    if err then
      return -- cancelled, or refused: nothing to show
    end
    M.status_info.latency = math.floor((uv.hrtime() - started) / 1e6)
    if vim.api.nvim_buf_get_changedtick(bufnr) ~= tick or vim.api.nvim_get_current_buf() ~= bufnr then
      return -- typed meanwhile: an answer for text that is gone
    end
    local r, c = cursor()
    if r ~= row or c ~= col or not vim.api.nvim_get_mode().mode:match("^i") then
      return
    end
    local items = result and (result.items or result) or {}
    local texts, sources = {}, {}
    for i, item in ipairs(items) do
      texts[i] = remaining(bufnr, item, row, col, client.offset_encoding or "utf-16") or ""
      sources[i] = { client = client, item = item, base = #item_text(item) - #texts[i] }
    end
    s.row, s.col, s.tick = row, col, tick
    show(bufnr, s, texts, sources, then_index)
  end, bufnr)
  if ok then
    s.request = { client, id }
  end
end

local function schedule(bufnr)
  local s = buf_state(bufnr)
  M.cancel(bufnr) -- the keystroke makes the request in flight stale
  M.clear(bufnr)
  if not s.timer then
    s.timer = uv.new_timer()
  end
  s.timer:stop()
  s.timer:start(M.options.debounce_ms, 0, vim.schedule_wrap(function()
    if vim.api.nvim_buf_is_valid(bufnr) and vim.api.nvim_get_current_buf() == bufnr
      and vim.api.nvim_get_mode().mode:match("^i") then
      M.request(bufnr, false)
    end
  end))
end

-- Insert `piece` (a prefix of the shown suggestion) at the cursor; the rest stays shown.
local function insert(bufnr, piece)
  local s = M.state[bufnr]
  local text = s.items[s.index]
  local lines = vim.split(piece, "\n", { plain = true })
  vim.api.nvim_buf_set_text(bufnr, s.row, s.col, s.row, s.col, lines)
  local row = s.row + #lines - 1
  local col = (#lines == 1 and s.col or 0) + #lines[#lines]
  local rest = text:sub(#piece + 1)
  s.row, s.col, s.tick = row, col, vim.api.nvim_buf_get_changedtick(bufnr)
  s.items, s.sources = { rest }, { s.sources and s.sources[s.index] }
  s.index = 1
  vim.api.nvim_win_set_cursor(0, { row + 1, col })
  if rest == "" then
    M.clear(bufnr)
  else
    M.render(bufnr)
  end
end

local function word_of(text)
  return text:match("^[ \t]*[%w_]+") or text:match("^[ \t]*[^%w_%s]+") or text:match("^\n[ \t]*") or text
end

local function line_of(text)
  if text:sub(1, 1) == "\n" then
    return "\n" .. (text:sub(2):match("^[^\n]*") or "")
  end
  return text:match("^[^\n]*")
end

function M.accept(kind)
  local bufnr = vim.api.nvim_get_current_buf()
  local text = M.current(bufnr)
  if not text then
    return false
  end
  M.cancel(bufnr)
  local s = M.state[bufnr]
  local src = s.sources and s.sources[s.index]
  local piece = kind == "word" and word_of(text) or kind == "line" and line_of(text) or text
  insert(bufnr, piece)
  -- after the insert: Neovim sends a pending didChange before any notification or request,
  -- so sokuji sees the edit first (its prefetch after an accept starts from it)
  report(src, piece == text and "accepted" or "partly", piece)
  return true
end

function M.cycle(step)
  local bufnr = vim.api.nvim_get_current_buf()
  local s = buf_state(bufnr)
  if s.items and s.asked_at == s.tick and #s.items > 1 then
    s.index = (s.index - 1 + step) % #s.items + 1
    M.render(bufnr)
  else -- one item (typing asks for one): ask explicitly for several, then move
    s.asked_at = vim.api.nvim_buf_get_changedtick(bufnr)
    M.request(bufnr, true, step > 0 and 2 or -1)
  end
  return true
end

function M.dismiss()
  local bufnr = vim.api.nvim_get_current_buf()
  local shown = M.current(bufnr) ~= nil
  M.cancel(bufnr)
  M.clear(bufnr)
  return shown
end

local function termcodes(keys)
  return vim.api.nvim_replace_termcodes(keys, true, false, true)
end

-- Do what `lhs` did before sokuji mapped it: `prev` (maparg's dict) run again, or the key
-- itself where it had no mapping.
local function fall_back(lhs, prev)
  if not prev then
    vim.api.nvim_feedkeys(termcodes(lhs), "n", false)
    return
  end
  local keys
  if prev.callback then
    keys = prev.callback()
    if prev.expr ~= 1 or type(keys) ~= "string" then
      return
    end
    if prev.replace_keycodes == 1 then
      keys = termcodes(keys)
    end
  elseif prev.expr == 1 then
    keys = vim.api.nvim_eval(prev.rhs)
  else
    keys = termcodes(prev.rhs)
  end
  vim.api.nvim_feedkeys(keys, prev.noremap == 1 and "n" or "m", false)
end
M.fall_back = fall_back

-- Insert-mode keys, buffer-local. A key already mapped (by the user, a plugin or Neovim's
-- defaults, such as 0.11's <Tab>) is left alone unless the user named it in setup's
-- `ghost.keys`; then it is taken over, and with no suggestion shown it does what it did.
local function map_keys(bufnr)
  local actions = {
    accept = function() return M.accept("all") end,
    accept_word = function() return M.accept("word") end,
    accept_line = function() return M.accept("line") end,
    next = function() return M.cycle(1) end,
    prev = function() return M.cycle(-1) end,
    dismiss = M.dismiss,
  }
  M.skipped = M.skipped or {}
  local chosen = M.options.chosen or {}
  for name, lhs in pairs(M.options.keys) do
    if lhs and actions[name] then
      local prev
      vim.api.nvim_buf_call(bufnr, function() prev = vim.fn.maparg(lhs, "i", false, true) end)
      if vim.tbl_isempty(prev) or (prev.desc or ""):find("^sokuji: ") then
        prev = nil
      end
      if prev and not chosen[name] then
        M.skipped[name] = lhs -- the user's map wins
      else
        local needs = name ~= "next" and name ~= "prev"
        vim.keymap.set("i", lhs, function()
          if needs and not M.current(bufnr) then
            return fall_back(lhs, prev)
          end
          actions[name]()
        end, { buffer = bufnr, desc = "sokuji: " .. name:gsub("_", " ") })
      end
    end
  end
end

function M.attach(bufnr, options)
  M.options = options
  local s = buf_state(bufnr)
  if s.attached then
    return
  end
  s.attached = true
  map_keys(bufnr)
  local group = vim.api.nvim_create_augroup("sokuji_ghost_" .. bufnr, { clear = true })
  vim.api.nvim_create_autocmd({ "TextChangedI", "TextChangedP" }, {
    group = group, buffer = bufnr,
    callback = function()
      if s.items and s.tick == vim.api.nvim_buf_get_changedtick(bufnr) then
        return -- our own partial accept
      end
      schedule(bufnr)
    end,
  })
  vim.api.nvim_create_autocmd("CursorMovedI", {
    group = group, buffer = bufnr,
    callback = function()
      local r, c = cursor()
      if s.items and (r ~= s.row or c ~= s.col) then
        M.cancel(bufnr)
        M.clear(bufnr)
      end
    end,
  })
  vim.api.nvim_create_autocmd({ "InsertLeave", "BufLeave", "ModeChanged" }, {
    group = group, buffer = bufnr,
    callback = function()
      if not vim.api.nvim_get_mode().mode:match("^i") then
        M.cancel(bufnr)
        M.clear(bufnr)
      end
    end,
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

-- status: fed by $/progress (the model's load) and sokuji.stats (its outcome)
local function refresh_from_stats(client)
  client_call(client, "request", "workspace/executeCommand", { command = "sokuji.stats", arguments = {} }, function(err, stats)
    if err or type(stats) ~= "table" then
      return
    end
    if stats.modelError ~= nil and stats.modelError ~= vim.NIL then
      M.status_info.state, M.status_info.error = "error", stats.modelError
    elseif stats.modelReady then
      M.status_info.state, M.status_info.error = "ready", nil
    end
  end)
end

function M.progress_handler(default)
  return function(err, result, ctx, config)
    local value = result and result.value
    local title = M.progress_titles or {}
    M.progress_titles = title
    if value and value.kind == "begin" then
      title[result.token] = value.title
      if value.title and value.title:find("loading model") then
        M.status_info.state = "loading"
      end
    elseif value and value.kind == "end" and (title[result.token] or ""):find("loading model") then
      local client = vim.lsp.get_client_by_id(ctx.client_id)
      if client then
        refresh_from_stats(client)
      end
    end
    if default then
      return default(err, result, ctx, config)
    end
  end
end

function M.on_init(client)
  M.status_info.state = "loading"
  refresh_from_stats(client) -- a model loaded before our handler saw its progress
end

function M.status()
  local st = M.status_info
  if st.state == "ready" then
    return st.latency and ("sokuji: ready " .. st.latency .. " ms") or "sokuji: ready"
  elseif st.state == "error" then
    return "sokuji: error: " .. tostring(st.error)
  end
  return "sokuji: " .. st.state
end

return M
