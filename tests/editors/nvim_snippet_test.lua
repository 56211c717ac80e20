-- Driven by tests/editors/test_editors.py: headless Neovim 0.11 running one of the README's Neovim
-- snippets as the user's init, with a real `sokuji serve` and the embedded model.
--   SOKUJI_CASE=attach: the snippet alone starts sokuji (vim.lsp.config, or nvim-lspconfig
--     found on $SOKUJI_LSPCONFIG); a Python buffer gets the client and a completion from it.
--   SOKUJI_CASE=setup: the README's setup{...} with its own command, settings and keys: the
--     mappings as read back (maparg), <Tab> with no suggestion inserts a tab, with one accepts
--     it; the user's own map survives; the settings reached the server.
-- Keys are typed (nvim_feedkeys) and the main loop runs between steps (a coroutine resumed by
-- timers). Writes $SOKUJI_RESULT (JSON).
local h = dofile(debug.getinfo(1, "S").source:sub(2):match("(.*/)") .. "nvim_helpers.lua")
local result, finish, wait, type_keys, ghost, line = h.result, h.finish, h.wait, h.type_keys, h.ghost, h.line
local notes = {}
result.notes = notes

-- what Neovim or a plugin told the user
local notify = vim.notify
vim.notify = function(msg, level, opts)
  notes[#notes + 1] = { msg = tostring(msg), level = level }
  return notify(msg, level, opts)
end

local dir = os.getenv("SOKUJI_WORKSPACE")
local function open(name)
  vim.cmd("edit " .. dir .. "/" .. name)
  vim.bo.filetype = "python" -- -u NONE: no filetype detection; FileType starts the client
  local b = vim.api.nvim_get_current_buf()
  wait(function() return #vim.lsp.get_clients({ bufnr = b, name = "sokuji" }) > 0 end, 60000, "sokuji to attach " .. name)
  return b, vim.lsp.get_clients({ bufnr = b, name = "sokuji" })[1]
end

local function attach_case()
  local lspconfig = os.getenv("SOKUJI_LSPCONFIG")
  if lspconfig then -- as a plugin manager installs it: on the runtimepath, its plugin/ sourced
    vim.opt.runtimepath:prepend(lspconfig)
    vim.cmd("runtime! plugin/lspconfig.lua")
  end
  dofile(os.getenv("SOKUJI_SNIPPET"))
  local bufnr, client = open("fib.py")
  result.client = { name = client.name, cmd = client.config.cmd, root_dir = client.config.root_dir,
                    completion_provider = client.server_capabilities.completionProvider ~= nil }
  -- the model answers through this client
  local params = { textDocument = { uri = vim.uri_from_bufnr(bufnr) }, position = { line = 3, character = 4 } }
  local done, response
  client:request("textDocument/completion", params, function(err, res) done, response = true, { err = err, res = res } end, bufnr)
  wait(function() return done end, 180000, "a completion")
  assert(not response.err, vim.inspect(response.err))
  local items = response.res and (response.res.items or response.res) or {}
  result.response = response.res or vim.NIL
  result.completion = items[1] and items[1].textEdit and items[1].textEdit.newText
end

local function setup_case()
  -- the user's own insert-mode map, made before sokuji's: left alone
  vim.keymap.set("i", "<M-]>", function() vim.g.user_key = (vim.g.user_key or 0) + 1 end, { desc = "user's own" })
  -- a generous time budget, added to the snippet's settings: what the model writes must not
  -- depend on how busy the machine is
  local sokuji = require("sokuji")
  local setup = sokuji.setup
  sokuji.setup = function(opts)
    opts = vim.deepcopy(opts or {})
    opts.settings = vim.tbl_extend("keep", opts.settings or {}, { timeBudgetMs = 60000, kvCachePersist = false, lineStartConfidence = 0 })
    return setup(opts)
  end
  dofile(os.getenv("SOKUJI_SNIPPET"))
  result.sokuji_on_path = vim.fn.exepath("sokuji")
  local bufnr, client = open("point.py")
  result.cmd = client.config.cmd
  result.init_options = client.config.init_options
  result.maps = {}
  for _, lhs in ipairs({ "<Tab>", "<M-l>", "<M-Right>", "<M-Down>", "<M-]>", "<M-[>", "<C-]>" }) do
    local m = vim.fn.maparg(lhs, "i", false, true)
    result.maps[lhs] = m.desc or (m.rhs and ("rhs " .. m.rhs)) or vim.NIL
  end

  -- <Tab> with no suggestion shown: a tab, as before
  vim.api.nvim_win_set_cursor(0, { 3, 0 })
  type_keys("A")
  wait(function() return vim.api.nvim_get_mode().mode == "i" end, 5000, "insert mode")
  result.ghost_before_tab = ghost(bufnr) and ghost(bufnr).text or vim.NIL
  type_keys("<Tab>")
  wait(function() return line(bufnr, 2) ~= "        " end, 10000, "the tab")
  result.after_plain_tab = line(bufnr, 2)
  type_keys("<BS>")
  wait(function() return line(bufnr, 2) == "        " end, 10000, "the tab deleted")

  -- a suggestion shown: <Tab> accepts it all
  type_keys("self.")
  wait(function() return ghost(bufnr) ~= nil end, 180000, "ghost text")
  result.ghost = ghost(bufnr).text
  type_keys("<Tab>")
  wait(function() return ghost(bufnr) == nil end, 10000, "accept with <Tab>")
  result.after_tab = table.concat(vim.api.nvim_buf_get_lines(bufnr, 2, -1, false), "\n")

  -- the user's <M-]> still runs the user's function
  type_keys("<M-]>")
  wait(function() return vim.g.user_key ~= nil end, 10000, "the user's <M-]>")
  result.user_key = vim.g.user_key
  type_keys("<Esc>")
  wait(function() return vim.api.nvim_get_mode().mode == "n" end, 5000, "normal mode")
end

local function main()
  if os.getenv("SOKUJI_CASE") == "setup" then
    vim.opt.runtimepath:prepend(os.getenv("SOKUJI_NVIM_RUNTIME")) -- the `nvim` snippet's first line
    setup_case()
  else
    attach_case()
  end
  finish(true)
end

h.run(main)
