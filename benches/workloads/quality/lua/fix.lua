-- `:Rill fix`: applies the model's quick fix for the rill diagnostic under the cursor, without the
-- code-action menu (vim.lsp.buf.code_action() offers the same fix among the other actions).
local lsp = require("rill.lsp")

local M = {}

-- How long to wait for a flagged span's rewrite: rill publishes the squiggle first and the fix (decoded
-- afterwards) in a later publish, so a fix asked for right away may not be there yet.
local FIX_WAIT_MS = 10000

local function rill_lsp_diagnostics(bufnr, row)
  local out = {}
  for _, d in ipairs(vim.diagnostic.get(bufnr, { lnum = row })) do
    if d.source == "rill" and d.user_data and d.user_data.lsp then
      out[#out + 1] = d
    end
  end
  return out
end

-- The rill diagnostic covering the cursor, or else the first one on the cursor's line.
local function diagnostic_at_cursor(bufnr)
  local pos = vim.api.nvim_win_get_cursor(0)
  local row, col = pos[1] - 1, pos[2]
  local on_line = rill_lsp_diagnostics(bufnr, row)
  for _, d in ipairs(on_line) do
    if col >= d.col and col <= (d.end_col or d.col) then
      return d
    end
  end
  return on_line[1]
end

local function has_fix(d)
  local data = d.user_data.lsp.data
  return type(data) == "table" and data.fix ~= nil
end

-- The current version of diagnostic `d` once it carries a fix: `d` itself, or, after a re-publish, the
-- rill diagnostic with the same range.
local function with_fix(bufnr, d)
  if has_fix(d) then
    return d
  end
  for _, other in ipairs(rill_lsp_diagnostics(bufnr, d.lnum)) do
    local same_range = other.col == d.col and other.end_lnum == d.end_lnum and other.end_col == d.end_col
    if same_range and has_fix(other) then
      return other
    end
  end
  return nil
end

-- Calls `callback(d)` with `diagnostic` once it carries its fix, or `callback(nil)` after FIX_WAIT_MS.
local function when_fixed(bufnr, diagnostic, callback)
  local ready = with_fix(bufnr, diagnostic)
  if ready then
    callback(ready)
    return
  end
  local finished = false
  local autocmd
  local function finish(d)
    if finished then
      return
    end
    finished = true
    pcall(vim.api.nvim_del_autocmd, autocmd)
    callback(d)
  end
  autocmd = vim.api.nvim_create_autocmd("DiagnosticChanged", {
    buffer = bufnr,
    callback = function()
      local d = with_fix(bufnr, diagnostic)
      if d then
        finish(d)
      end
    end,
  })
  vim.defer_fn(function()
    finish(nil)
  end, FIX_WAIT_MS)
end

local function request_fix(client, bufnr, diagnostic, on_done)
  local lsp_diagnostic = diagnostic.user_data.lsp
  local params = {
    textDocument = vim.lsp.util.make_text_document_params(bufnr),
    range = lsp_diagnostic.range,
    context = { diagnostics = { lsp_diagnostic }, only = { "quickfix" } },
  }
  client:request("textDocument/codeAction", params, function(err, actions)
    if err then
      on_done(false, "rill: code action failed: " .. (err.message or vim.inspect(err)))
      return
    end
    for _, action in ipairs(actions or {}) do
      -- The reasoning actions are quickfixes too, but carry a command instead of an edit.
      if action.isPreferred and action.edit and not action.disabled then
        vim.lsp.util.apply_workspace_edit(action.edit, client.offset_encoding)
        on_done(true, action.title)
        return
      end
    end
    on_done(false, "rill: the model has no rewrite for this span")
  end, bufnr)
end

--- Applies the preferred rill quick fix at the cursor of the current window, waiting (up to 10 s) for
--- the model's rewrite when the diagnostic was published before it.
---@param on_done fun(applied: boolean, message: string)? called when done (default: vim.notify)
function M.at_cursor(on_done)
  on_done = on_done or function(applied, message)
    vim.notify(message, applied and vim.log.levels.INFO or vim.log.levels.WARN)
  end
  local bufnr = vim.api.nvim_get_current_buf()
  local client = lsp.client_for(bufnr)
  if not client then
    on_done(false, "rill: not attached to this buffer")
    return
  end
  local diagnostic = diagnostic_at_cursor(bufnr)
  if not diagnostic then
    on_done(false, "rill: no rill diagnostic on this line")
    return
  end
  local tick = vim.api.nvim_buf_get_changedtick(bufnr)
  when_fixed(bufnr, diagnostic, function(fixed)
    if not fixed then
      on_done(false, "rill: the model has no rewrite for this span")
    elseif vim.api.nvim_buf_get_changedtick(bufnr) ~= tick then
      -- The user edited while the rewrite was decoded; applying it now could land somewhere else.
      on_done(false, "rill: the text changed; run :Rill fix again")
    else
      request_fix(client, bufnr, fixed, on_done)
    end
  end)
end

return M
