-- sokuji for Neovim: code completions and fix suggestions from a local model, over LSP.
--
--   require("sokuji").setup({ cmd = { "sokuji", "serve" }, settings = { maxTokens = 64 } })
--
-- Neovim 0.11+: registered with vim.lsp.config / vim.lsp.enable. Neovim 0.7-0.10: a client
-- started with vim.lsp.start_client and attached to each buffer of a supported filetype.
-- 0.12+: inline (ghost text) completions with vim.lsp.inline_completion. Everywhere: the
-- LSP completion item (omnifunc / <C-x><C-o>, or vim.lsp.completion on 0.11) and code
-- actions ("Fix with sokuji: ...") mapped to <leader>sf.
local M = {}

M.defaults = {
  cmd = { "sokuji", "serve" },
  filetypes = { "python", "javascript", "javascriptreact", "typescript", "typescriptreact", "rust", "go", "c",
                "cpp", "java", "ruby", "sh", "bash", "lua" },
  settings = {}, -- sokuji settings (README "Editor set-up"), sent as initializationOptions
  root_markers = { ".git", "pyproject.toml", "package.json", "Cargo.toml", "go.mod" },
  fix_key = "<leader>sf", -- code actions for the diagnostic under the cursor; false: no mapping
  completion = true, -- vim.lsp.completion (0.11+) and omnifunc
}

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
    if vim.lsp.inline_completion and vim.lsp.inline_completion.enable then
      vim.lsp.inline_completion.enable(true, { bufnr = bufnr })
    end
    if opts.fix_key then
      vim.keymap.set("n", opts.fix_key, function()
        vim.lsp.buf.code_action({ context = { only = { "quickfix" }, diagnostics = vim.diagnostic.get(bufnr, { lnum = vim.fn.line(".") - 1 }) } })
      end, { buffer = bufnr, desc = "sokuji: fix the diagnostic under the cursor" })
    end
  end
end

function M.setup(user)
  local opts = vim.tbl_deep_extend("force", M.defaults, user or {})
  M.options = opts
  if vim.lsp.config and vim.lsp.enable then -- 0.11+
    vim.lsp.config("sokuji", {
      cmd = opts.cmd,
      filetypes = opts.filetypes,
      root_markers = opts.root_markers,
      init_options = opts.settings,
      settings = { sokuji = opts.settings },
      on_attach = on_attach(opts),
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
          init_options = opts.settings,
          settings = { sokuji = opts.settings },
          on_attach = on_attach(opts),
        })
      end
      if M.client_id then
        vim.lsp.buf_attach_client(args.buf, M.client_id)
      end
    end,
  })
end

return M
