-- `:Rill log`: the server's own log. rill writes it to stderr, which Neovim records in the LSP log
-- (one entry per chunk, as a quoted Lua string); this pulls rill's entries out into a scratch buffer.
local config = require("rill.config")

local M = {}

local escapes = { n = "\n", t = "\t", r = "\r", ['"'] = '"', ["\\"] = "\\", ["'"] = "'" }

-- Reverses vim.inspect's quoting of a string, in one pass so that an escaped backslash before digits
-- stays a backslash, and without evaluating anything read from the log file.
local function unquote(quoted)
  local body = quoted:match('^"(.*)"$')
  if not body then
    return quoted
  end
  local out, i = {}, 1
  while i <= #body do
    local c = body:sub(i, i)
    if c == "\\" then
      local digits = body:match("^%d%d?%d?", i + 1)
      if digits then
        out[#out + 1] = string.char(tonumber(digits) % 256)
        i = i + 1 + #digits
      else
        local e = body:sub(i + 1, i + 1)
        out[#out + 1] = escapes[e] or e
        i = i + 2
      end
    else
      out[#out + 1] = c
      i = i + 1
    end
  end
  return table.concat(out)
end

--- rill's stderr output recorded in the LSP log, as lines.
---@param path string the LSP log file
---@return string[]
function M.read(path)
  local file = io.open(path, "r")
  if not file then
    return {}
  end
  local marker = vim.inspect(config.current.cmd[1]) .. '\t"stderr"\t'
  local chunks = {}
  for line in file:lines() do
    local at = line:find(marker, 1, true)
    if at then
      chunks[#chunks + 1] = unquote(line:sub(at + #marker))
    end
  end
  file:close()
  local lines = vim.split(table.concat(chunks), "\n", { plain = true, trimempty = true })
  return lines
end

--- Opens rill's log in a scratch buffer in a new split, scrolled to the end.
function M.open()
  local path = vim.lsp.log.get_filename()
  local lines = M.read(path)
  if #lines == 0 then
    lines = {
      "No rill output in " .. path .. " yet.",
      "rill logs to stderr at the level set by RILL_LOG (setup({ cmd_env = { RILL_LOG = 'debug' } })).",
    }
  end
  -- A log window left open from an earlier call would hold the buffer name.
  local previous = vim.fn.bufnr("rill://log")
  if previous ~= -1 then
    vim.api.nvim_buf_delete(previous, { force = true })
  end
  vim.cmd("botright new")
  local buf = vim.api.nvim_get_current_buf()
  vim.bo[buf].buftype = "nofile"
  vim.bo[buf].bufhidden = "wipe"
  vim.bo[buf].swapfile = false
  vim.api.nvim_buf_set_name(buf, "rill://log")
  vim.api.nvim_buf_set_lines(buf, 0, -1, false, lines)
  vim.bo[buf].modifiable = false
  vim.api.nvim_win_set_cursor(0, { #lines, 0 })
end

return M
