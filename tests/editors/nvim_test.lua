-- Driven by tests/editors/test_editors.py: headless Neovim with the README's snippet, a real
-- `sokuji serve` and the embedded model. Writes what happened to $SOKUJI_RESULT (JSON).
local h = dofile(debug.getinfo(1, "S").source:sub(2):match("(.*/)") .. "nvim_helpers.lua")
local result, finish = h.result, h.finish

local function clients(bufnr)
  if vim.lsp.get_clients then
    return vim.lsp.get_clients({ bufnr = bufnr })
  end
  return vim.tbl_values(vim.lsp.buf_get_clients(bufnr))
end

local function open(path)
  vim.cmd("edit " .. vim.fn.fnameescape(path))
  vim.bo.filetype = "python" -- -u NONE: no filetype detection
  local bufnr = vim.api.nvim_get_current_buf()
  assert(vim.wait(60000, function() return #clients(bufnr) > 0 end, 50), "sokuji did not attach")
  return bufnr
end

local function main()
  vim.opt.runtimepath:prepend(os.getenv("SOKUJI_NVIM_RUNTIME"))
  dofile(os.getenv("SOKUJI_SNIPPET")) -- the README's snippet, as a user pastes it
  local dir = os.getenv("SOKUJI_WORKSPACE")

  -- 1. a completion from the model, applied to the buffer
  local bufnr = open(dir .. "/fib.py")
  local params = { textDocument = { uri = vim.uri_from_bufnr(bufnr) }, position = { line = 3, character = 4 } }
  local responses = vim.lsp.buf_request_sync(bufnr, "textDocument/completion", params, 180000) or {}
  local item
  for _, r in pairs(responses) do
    local items = r.result and (r.result.items or r.result) or {}
    item = item or items[1]
  end
  assert(item and item.textEdit, "no completion item")
  result.completion = item.textEdit.newText
  vim.lsp.util.apply_text_edits({ item.textEdit }, bufnr, "utf-16")
  result.after_completion = table.concat(vim.api.nvim_buf_get_lines(bufnr, 0, -1, false), "\n")

  -- 2. syntax errors: the diagnostic, then the code action that fixes it, as a user picks it
  local function fix(name)
    local broken = open(dir .. "/" .. name)
    assert(vim.wait(30000, function() return #vim.diagnostic.get(broken) > 0 end, 50), "no diagnostics in " .. name)
    result["diagnostics " .. name] = vim.tbl_map(function(d) return d.message end, vim.diagnostic.get(broken))
    vim.api.nvim_win_set_cursor(0, { vim.diagnostic.get(broken)[1].lnum + 1, 0 })
    local before = table.concat(vim.api.nvim_buf_get_lines(broken, 0, -1, false), "\n")
    local title
    vim.ui.select = function(items, opts, on_choice) -- pick sokuji's fix from the list
      for i, it in ipairs(items) do
        local action = it.action or it[2] or it
        if action.title and action.title:find("^Fix with sokuji") then
          title = action.title
          return on_choice(it, i)
        end
      end
      on_choice(nil, nil)
    end
    vim.lsp.buf.code_action({ context = { only = { "quickfix" } } }) -- the line's diagnostics: Neovim fills them in
    assert(vim.wait(120000, function()
      return table.concat(vim.api.nvim_buf_get_lines(broken, 0, -1, false), "\n") ~= before
    end, 50), "the fix was not applied to " .. name)
    return title, table.concat(vim.api.nvim_buf_get_lines(broken, 0, -1, false), "\n")
  end
  result.action_title, result.after_fix = fix("calc.py")
  result.broken_title, result.after_broken_fix = fix("broken.py")
  result.status = require("sokuji").status()
  finish(true)
end

local ok, err = xpcall(main, debug.traceback)
if not ok then
  finish(false, err)
end
