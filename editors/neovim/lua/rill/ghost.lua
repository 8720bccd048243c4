-- Draws a suggestion as ghost text with one extmark: the first line as virtual text at the cursor, the
-- other lines as virtual lines below it. Knows nothing about requests; callers say what to show where.
local M = {}

M.ns = vim.api.nvim_create_namespace("rill.ghost")

-- One extmark per buffer; updating it in place (same id) avoids a flicker between partials.
---@type table<integer, integer>
local marks = {}

-- Virtual text shows a tab as a single cell, so expand tabs to what the buffer would display.
local function expand_tabs(line, bufnr)
  if not line:find("\t", 1, true) then
    return line
  end
  local ts = vim.bo[bufnr].tabstop
  return (line:gsub("\t", string.rep(" ", ts)))
end

--- Shows `text` at (row, col) (0-based, byte column) in `bufnr`, replacing what was shown before.
---@param bufnr integer
---@param row integer
---@param col integer
---@param text string
---@param opts { position: "inline"|"overlay"|"eol", hl_group: string }
function M.show(bufnr, row, col, text, opts)
  if text == "" then
    M.clear(bufnr)
    return
  end
  local lines = vim.split(text, "\n", { plain = true })
  local hl = opts.hl_group
  local virt_lines = {}
  for i = 2, #lines do
    virt_lines[#virt_lines + 1] = { { expand_tabs(lines[i], bufnr), hl } }
  end
  local mark = {
    id = marks[bufnr],
    virt_text = { { expand_tabs(lines[1], bufnr), hl } },
    virt_text_pos = opts.position,
    virt_lines = #virt_lines > 0 and virt_lines or nil,
    -- Above diagnostics' virtual text, so the suggestion is never hidden behind a message.
    priority = 5000,
    hl_mode = "combine",
  }
  local ok, id = pcall(vim.api.nvim_buf_set_extmark, bufnr, M.ns, row, col, mark)
  if ok then
    marks[bufnr] = id
  else
    -- The position went out of range (the buffer changed under us): drop the ghost rather than error.
    M.clear(bufnr)
  end
end

--- True while ghost text is drawn in `bufnr`.
---@param bufnr integer
---@return boolean
function M.is_shown(bufnr)
  return marks[bufnr] ~= nil
end

--- Removes the ghost text from `bufnr`.
---@param bufnr integer
function M.clear(bufnr)
  marks[bufnr] = nil
  if vim.api.nvim_buf_is_valid(bufnr) then
    vim.api.nvim_buf_clear_namespace(bufnr, M.ns, 0, -1)
  end
end

return M
