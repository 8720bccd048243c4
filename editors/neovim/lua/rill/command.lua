-- The :Rill command and its subcommands.
local M = {}

local subcommands = {
  status = function()
    vim.api.nvim_echo({ { table.concat(require("rill.status").report(), "\n") } }, false, {})
  end,
  toggle = function()
    local enabled = require("rill").toggle()
    vim.notify("rill: suggestions " .. (enabled and "on" or "off"))
  end,
  log = function()
    require("rill.log").open()
  end,
  suggest = function()
    require("rill").suggest()
  end,
  fix = function()
    require("rill.fix").at_cursor()
  end,
  reasoning = function()
    require("rill.reasoning").open()
  end,
  stats = function()
    require("rill.stats").show()
  end,
  fetch = function()
    require("rill.fetch").run()
  end,
}

--- Runs `:Rill {sub}`; without an argument, `status`.
---@param args string
function M.run(args)
  local name = vim.trim(args)
  if name == "" then
    name = "status"
  end
  local sub = subcommands[name]
  if not sub then
    vim.notify(
      ("rill: unknown subcommand %q (expected %s)"):format(name, table.concat(M.names(), ", ")),
      vim.log.levels.ERROR
    )
    return
  end
  sub()
end

--- The subcommand names, sorted (for completion and messages).
---@return string[]
function M.names()
  local names = vim.tbl_keys(subcommands)
  table.sort(names)
  return names
end

--- Command-line completion for :Rill.
---@param lead string
---@return string[]
function M.complete(lead)
  return vim.tbl_filter(function(name)
    return vim.startswith(name, lead)
  end, M.names())
end

return M
