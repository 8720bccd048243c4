-- The server's state as reported by rill/status, for `:Rill status` and statuslines.
local M = {}

---@class rill.ServerStatus
---@field state "loading"|"ready"|"error"
---@field message string?
---@field tokensPerSecond number?
---@field timeToFirstTokenMs number?
---@field generatedTokens integer?
---@field promptTokens integer?
---@field reusedTokens integer?
---@field source string?

---@type table<integer, rill.ServerStatus>
local by_client = {}
---@type string?
local last_error

--- Handler for rill/status. Also fires `User RillStatus` so statuslines can redraw.
---@param params rill.ServerStatus
---@param client_id integer
function M.on_status(params, client_id)
  by_client[client_id] = params
  vim.api.nvim_exec_autocmds("User", { pattern = "RillStatus", modeline = false, data = params })
end

--- Remembers a failed completion request, shown by `:Rill status`.
---@param message string
function M.record_error(message)
  last_error = message
end

--- The last status of client `client_id`, if it sent one.
---@param client_id integer
---@return rill.ServerStatus?
function M.get(client_id)
  return by_client[client_id]
end

--- Forgets a client that exited.
---@param client_id integer
function M.forget(client_id)
  by_client[client_id] = nil
end

--- A short text for a statusline: "rill: ready", "rill: loading", "rill: off", or "" when not attached.
---@param bufnr integer?
---@return string
function M.statusline(bufnr)
  local client = require("rill.lsp").client_for(bufnr or vim.api.nvim_get_current_buf())
  if not client then
    return ""
  end
  if not require("rill.suggestion").enabled then
    return "rill: off"
  end
  local status = by_client[client.id]
  return "rill: " .. (status and status.state or "starting")
end

local function fmt_number(value, unit)
  if value == nil then
    return nil
  end
  return (math.floor(value) == value and "%d%s" or "%.1f%s"):format(value, unit)
end

--- The lines `:Rill status` prints.
---@return string[]
function M.report()
  local config = require("rill.config").current
  local lines = {}
  local clients = require("rill.lsp").clients()
  if #clients == 0 then
    lines[#lines + 1] = "rill: not running (no buffer of a configured filetype open)"
  end
  for _, client in ipairs(clients) do
    local status = by_client[client.id] or { state = "starting" }
    local head = ("rill: %s (client %d, %s)"):format(status.state, client.id, table.concat(config.cmd, " "))
    lines[#lines + 1] = head
    if status.message then
      lines[#lines + 1] = "  message: " .. status.message
    end
    local measures = {}
    for _, m in ipairs({
      { "tokensPerSecond", " tok/s" },
      { "timeToFirstTokenMs", " ms to first token" },
      { "generatedTokens", " tokens generated" },
      { "promptTokens", " prompt tokens" },
      { "reusedTokens", " reused from cache" },
    }) do
      local text = fmt_number(status[m[1]], m[2])
      if text then
        measures[#measures + 1] = text
      end
    end
    if status.source then
      measures[#measures + 1] = "served from " .. status.source
    end
    if #measures > 0 then
      lines[#lines + 1] = "  last completion: " .. table.concat(measures, ", ")
    end
    local bufs = vim.tbl_keys(client.attached_buffers)
    table.sort(bufs)
    lines[#lines + 1] = "  buffers: " .. table.concat(vim.tbl_map(tostring, bufs), ", ")
  end
  local mode = require("rill.native").active() and "native (vim.lsp.inline_completion)"
    or "rill ghost text, streaming"
  lines[#lines + 1] = ("suggestions: %s; auto-trigger %s (debounce %d ms); %s"):format(
    require("rill.suggestion").enabled and "on" or "off",
    config.auto_trigger and "on" or "off",
    config.debounce_ms,
    mode
  )
  if last_error then
    lines[#lines + 1] = "last error: " .. last_error
  end
  return lines
end

return M
