-- Accepting a suggestion, whole or in part: which piece of the ghost text a key takes, and inserting it.
local M = {}

--- The piece of `text` that accepting by `unit` inserts.
---   "all"  the whole text;
---   "word" leading whitespace (line breaks included) and then one word, or one run of punctuation;
---   "line" the rest of the current line, or, at a line break, the break and the next line.
---@param text string
---@param unit "all"|"word"|"line"
---@return string
function M.piece(text, unit)
  if unit == "word" then
    local _, stop = text:find("^%s*[%w_]+")
    if not stop then
      _, stop = text:find("^%s*[^%w_%s]+")
    end
    return stop and text:sub(1, stop) or text
  elseif unit == "line" then
    local from = text:sub(1, 1) == "\n" and 2 or 1
    local nl = text:find("\n", from, true)
    return nl and text:sub(1, nl - 1) or text
  end
  return text
end

--- Inserts `text` at the cursor of the current window and moves the cursor to its end.
---@param text string
function M.insert(text)
  local pos = vim.api.nvim_win_get_cursor(0)
  local row, col = pos[1] - 1, pos[2]
  local lines = vim.split(text, "\n", { plain = true })
  vim.api.nvim_buf_set_text(0, row, col, row, col, lines)
  local last = #lines == 1 and col + #lines[1] or #lines[#lines]
  vim.api.nvim_win_set_cursor(0, { row + #lines, last })
end

return M
