-- Whether to leave inline completion to Neovim itself (vim.lsp.inline_completion, Neovim 0.12+)
-- instead of rill's streaming ghost text; the option falls back to rill's own where that is missing.
local config = require("rill.config")

local M = {}

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
