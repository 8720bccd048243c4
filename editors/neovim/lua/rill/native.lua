-- Whether to leave inline completion to Neovim itself (vim.lsp.inline_completion, Neovim 0.12+)
-- instead of rill's streaming ghost text; the option falls back to rill's own where that is missing.
-- In that mode it also notices, as well as Neovim lets it, which answers get shown (acceptance figures).
local config = require("rill.config")

local M = {}

local group = vim.api.nvim_create_augroup("rill.native", { clear = true })

-- Whether Neovim's inline completion has a candidate drawn in `bufnr`. The namespace's name is
-- Neovim's own, not an API: should it change, only the didShow reports stop.
local function candidate_drawn(bufnr)
  local ns = vim.api.nvim_get_namespaces()["nvim.lsp.inline_completion"]
  return ns ~= nil
    and vim.api.nvim_buf_is_valid(bufnr)
    and #vim.api.nvim_buf_get_extmarks(bufnr, ns, 0, -1, { limit = 1 }) > 0
end

--- Reports rill's answers that Neovim draws in `bufnr` as shown (rill/didShowCompletion). Neovim
--- exposes neither its items nor a "shown" event, so an answered textDocument/inlineCompletion request
--- of rill's client followed by a drawn candidate counts as shown. Accepts arrive through the items'
--- command instead (rill.acceptance.on_command).
---@param bufnr integer
function M.track(bufnr)
  vim.api.nvim_clear_autocmds({ group = group, buffer = bufnr })
  vim.api.nvim_create_autocmd("LspRequest", {
    group = group,
    buffer = bufnr,
    callback = function(args)
      local data = type(args.data) == "table" and args.data or {}
      local request = type(data.request) == "table" and data.request or {}
      if request.type ~= "complete" or request.method ~= "textDocument/inlineCompletion" then
        return
      end
      local client = vim.lsp.get_client_by_id(data.client_id)
      if not client or client.name ~= require("rill.lsp").name or data.request_id == nil then
        return
      end
      -- Neovim's handler draws the answer in a callback of its own around this event; look after it.
      vim.schedule(function()
        vim.schedule(function()
          if candidate_drawn(bufnr) then
            require("rill.acceptance").shown(data.client_id, data.request_id)
          end
        end)
      end)
    end,
  })
end

--- True when Neovim provides vim.lsp.inline_completion.
function M.available()
  local ok, mod = pcall(function()
    return vim.lsp.inline_completion
  end)
  return vim.fn.has("nvim-0.12") == 1 and ok and type(mod) == "table" and mod.enable ~= nil
end

--- True when native mode is both asked for and available.
function M.active()
  return config.current.native and M.available()
end

--- Warns once, at setup, when native mode was asked for on a Neovim without it.
function M.check()
  if config.current.native and not M.available() then
    vim.notify(
      "rill: `native = true` needs Neovim 0.12 (vim.lsp.inline_completion); using rill's ghost text",
      vim.log.levels.WARN
    )
  end
end

return M
