-- sokuji for Neovim: code completions and fix suggestions from a local model, over LSP.
--
--   require("sokuji").setup({ cmd = { "sokuji", "serve" }, settings = { maxTokens = 64 } })
--
-- Neovim 0.11+: registered with vim.lsp.config / vim.lsp.enable. Neovim 0.7-0.10: a client
-- started with vim.lsp.start_client and attached to each buffer of a supported filetype.
-- 0.8+: ghost text, accept all / word / line, cycling (lua/sokuji/ghost.lua; 0.12 too, which
-- uses the built-in vim.lsp.inline_completion only with ghost = { enabled = false }); next
-- edits, the proposals sokuji makes after an edit, drawn where they go (lua/sokuji/nextedit.lua).
-- require("sokuji").status() for a statusline. Everywhere: the
-- LSP completion item (omnifunc / <C-x><C-o>, or vim.lsp.completion on 0.11) and code
-- actions ("Fix with sokuji: ...") mapped to <leader>sf.
local M = {}

M.defaults = {
  cmd = { "sokuji", "serve" },
  filetypes = { "python", "javascript", "javascriptreact", "typescript", "typescriptreact", "rust", "go", "c",
                "cpp", "java", "ruby", "sh", "bash", "lua" },
  settings = {}, -- sokuji settings (docs/settings.md), sent as initializationOptions
  root_markers = { ".git", "pyproject.toml", "package.json", "Cargo.toml", "go.mod" },
  fix_key = "<leader>sf", -- code actions for the diagnostic under the cursor; false: no mapping
  completion = true, -- vim.lsp.completion (0.11+) and omnifunc
  -- 0.8+: ghost text drawn by this module (lua/sokuji/ghost.lua); false: none (0.12: the built-in)
  ghost = {
    enabled = true,
    debounce_ms = 75, -- quiet time after a keystroke before asking
    hl_group = "Comment",
    -- insert-mode keys; false leaves one out; a key already mapped is left alone unless
    -- named in setup's ghost.keys (then taken over, doing what it did where nothing is shown)
    keys = { accept = "<M-l>", accept_word = "<M-Right>", accept_line = "<M-Down>",
             next = "<M-]>", prev = "<M-[>", dismiss = "<C-]>" },
  },
  -- 0.8+: next edits (lua/sokuji/nextedit.lua), asked after an edit pauses, in normal and insert mode
  next_edit = {
    enabled = true,
    debounce_ms = 400, -- quiet time after an edit before asking
    hl_group = "SokujiNextEditOld", -- the text a proposal replaces (strike-through, DiffDelete's colours)
    hl_group_new = "SokujiNextEditNew", -- its new text (links to DiffAdd)
    hl_group_marker = "SokujiNextEditMarker", -- "↓ next edit: line 42" when off screen (DiagnosticInfo)
    -- normal- and insert-mode keys, by the ghost keys' rule; jump: to the proposal, pressed
    -- there: apply it (then the next one shows). A key shared with ghost.keys: ghost text first
    keys = { jump = "<M-n>", dismiss = "<M-N>" },
  },
}

local ghost = require("sokuji.ghost")
local has_ghost = vim.fn.has("nvim-0.8") == 1

-- "sokuji: loading" / "sokuji: ready 120 ms" (the last suggestion's round trip) / "sokuji: error: ..."
-- for a statusline: fed by $/progress (the model's load) and sokuji.stats.
function M.status()
  return ghost.status()
end

local function ghost_on(opts)
  return has_ghost and opts.ghost and opts.ghost.enabled
end

local function next_edit_on(opts)
  return has_ghost and type(opts.next_edit) == "table" and opts.next_edit.enabled
end

local function root_dir(bufnr, markers)
  local path = vim.api.nvim_buf_get_name(bufnr)
  local found = vim.fs and vim.fs.find and vim.fs.find(markers, { path = vim.fs.dirname(path), upward = true })[1]
  if found then
    return vim.fs.dirname(found)
  end
  return vim.fn.fnamemodify(path, ":p:h")
end

local function on_attach(opts)
  return function(client, bufnr)
    if opts.completion then
      vim.bo[bufnr].omnifunc = "v:lua.vim.lsp.omnifunc"
      if vim.lsp.completion and vim.lsp.completion.enable then
        vim.lsp.completion.enable(true, client.id, bufnr, { autotrigger = false })
      end
    end
    if ghost_on(opts) then
      ghost.attach(bufnr, opts.ghost)
    elseif vim.lsp.inline_completion and vim.lsp.inline_completion.enable then
      vim.lsp.inline_completion.enable(true, { bufnr = bufnr })
    end
    if opts.fix_key then
      vim.keymap.set("n", opts.fix_key, function()
        vim.lsp.buf.code_action({ context = { only = { "quickfix" }, diagnostics = vim.diagnostic.get(bufnr, { lnum = vim.fn.line(".") - 1 }) } })
      end, { buffer = bufnr, desc = "sokuji: fix the diagnostic under the cursor" })
    end
    if next_edit_on(opts) then -- after the other keys: one it shares with them chains to them
      require("sokuji.nextedit").attach(bufnr, opts.next_edit)
    end
  end
end

-- keys named in setup take over a key already mapped (ghost.lua, nextedit.lua)
local function mark_chosen(opts, user, part)
  local named = type(user) == "table" and type(user[part]) == "table" and user[part].keys
  if type(opts[part]) == "table" then
    opts[part].chosen = {}
    for name, lhs in pairs(type(named) == "table" and named or {}) do
      opts[part].chosen[name] = lhs and true or nil
    end
  end
end

function M.setup(user)
  local opts = vim.tbl_deep_extend("force", M.defaults, user or {})
  mark_chosen(opts, user, "ghost")
  mark_chosen(opts, user, "next_edit")
  M.options = opts
  local handlers = { ["$/progress"] = ghost.progress_handler(vim.lsp.handlers["$/progress"]) }
  if vim.lsp.config and vim.lsp.enable then -- 0.11+
    vim.lsp.config("sokuji", {
      cmd = opts.cmd,
      filetypes = opts.filetypes,
      root_markers = opts.root_markers,
      init_options = next(opts.settings) and opts.settings or vim.empty_dict(), -- {} as an object
      settings = { sokuji = next(opts.settings) and opts.settings or vim.empty_dict() },
      on_attach = on_attach(opts),
      on_init = ghost.on_init,
      handlers = handlers,
    })
    vim.lsp.enable("sokuji")
    return
  end
  -- 0.7 - 0.10: one client, attached to every buffer of a supported filetype
  local group = vim.api.nvim_create_augroup("sokuji", { clear = true })
  vim.api.nvim_create_autocmd("FileType", {
    group = group,
    pattern = opts.filetypes,
    callback = function(args)
      if not M.client_id or not vim.lsp.get_client_by_id(M.client_id) then
        M.client_id = vim.lsp.start_client({
          name = "sokuji",
          cmd = opts.cmd,
          root_dir = root_dir(args.buf, opts.root_markers),
          init_options = next(opts.settings) and opts.settings or vim.empty_dict(), -- {} as an object
          settings = { sokuji = next(opts.settings) and opts.settings or vim.empty_dict() },
          on_attach = on_attach(opts),
          on_init = ghost.on_init,
          handlers = handlers,
        })
      end
      if M.client_id then
        vim.lsp.buf_attach_client(args.buf, M.client_id)
      end
    end,
  })
end

return M
