-- A reasoning chain's whole result (`rill/reasoningResult`: every step, kept or dropped and why) in a
-- floating window: the server's showMessage holds only a one-line summary, and its logMessage lands in
-- the LSP log. `:Rill reasoning` reopens the last one.
local M = {}

---@class rill.ReasoningStep
---@field number integer
---@field title string
---@field rationale string
---@field kept boolean
---@field droppedBecause string?

---@class rill.ReasoningResult
---@field uri string
---@field task "fix"|"explain"|"improve"
---@field summary string
---@field steps rill.ReasoningStep[]
---@field applied boolean
---@field rejectedBy string?

--- The last result received (any client, any buffer), for `:Rill reasoning`.
---@type rill.ReasoningResult?
M.last = nil

-- The code actions' wording for each task (docs/protocol.md, "Reasoning chains as code actions").
local TASK_TITLES = {
  fix = "fix this step by step",
  explain = "explain step by step",
  improve = "improve step by step",
}

-- A field as one line of text: the server sends strings, but a missing one (vim.NIL in a decoded
-- notification) or one with line breaks must not break the window.
local function one_line(value)
  if value == nil or value == vim.NIL then
    return ""
  end
  return vim.trim((tostring(value):gsub("%s*[\r\n]+%s*", " ")))
end

-- The document as a path where it is a file, else the URI as sent.
local function document_name(uri)
  local text = one_line(uri)
  if vim.startswith(text, "file:") then
    local ok, name = pcall(vim.uri_to_fname, text)
    if ok then
      return name
    end
  end
  return text
end

-- What became of a step, in words: kept, dropped and why, or (explain) nothing to keep.
local function outcome(step, task)
  local dropped = one_line(step.droppedBecause)
  if dropped ~= "" then
    return "dropped because " .. dropped
  end
  if step.kept == true then
    return "kept"
  end
  -- An explanation step has no edit to keep; a step of another task without a reason was not kept.
  return task == "explain" and "explanation" or "not kept"
end

--- The chain as lines: the task with the summary first, the document, the guard that rejected the
--- result (when one did), then every step with its title, its reason and what became of it. The same
--- text as the VS Code extension's "rill: reasoning" channel.
---@param params rill.ReasoningResult
---@return string[]
function M.lines(params)
  local task = one_line(params.task)
  local title = TASK_TITLES[task] or ((task ~= "" and task or "reason") .. " step by step")
  local summary = one_line(params.summary)
  local lines = { ("rill: %s: %s"):format(title, summary ~= "" and summary or "(no summary)") }
  local document = document_name(params.uri)
  if document ~= "" then
    lines[#lines + 1] = "  in " .. document
  end
  local rejected = one_line(params.rejectedBy)
  if rejected ~= "" then
    lines[#lines + 1] = "  not applied, rejected by a guard: " .. rejected
  end
  local steps = type(params.steps) == "table" and params.steps or {}
  if #steps == 0 then
    lines[#lines + 1] = "  (no steps)"
  end
  for index, step in ipairs(steps) do
    local number = type(step.number) == "number" and step.number or index
    local step_title = one_line(step.title)
    lines[#lines + 1] = ("  step %d: %s (%s)"):format(
      number,
      step_title ~= "" and step_title or "(untitled)",
      outcome(step, task)
    )
    local rationale = one_line(step.rationale)
    if rationale ~= "" then
      lines[#lines + 1] = "    why: " .. rationale
    end
  end
  return lines
end

local ns = vim.api.nvim_create_namespace("rill.reasoning")

---@type integer?
local float_win

--- Closes the reasoning window if it is open.
function M.close()
  if float_win and vim.api.nvim_win_is_valid(float_win) then
    vim.api.nvim_win_close(float_win, true)
  end
  float_win = nil
end

--- The open reasoning window, if any (for tests and mappings).
---@return integer?
function M.window()
  if float_win and vim.api.nvim_win_is_valid(float_win) then
    return float_win
  end
  return nil
end

-- Rows `lines` take in a window `width` columns wide with 'wrap' on.
local function wrapped_height(lines, width)
  local rows = 0
  for _, line in ipairs(lines) do
    rows = rows + math.max(1, math.ceil(vim.fn.strdisplaywidth(line) / width))
  end
  return rows
end

--- Shows `params` (default: the last result) in a float; `q` or <Esc> closes it. The float takes the
--- cursor unless you are typing (insert or another non-normal mode), where it opens beside the text
--- and closes when the cursor moves, so a chain that ends mid-sentence does not steal your keys.
---@param params rill.ReasoningResult?
---@return integer? win the float, or nil when there is nothing to show
function M.open(params)
  params = params or M.last
  if not params then
    vim.notify("rill: no reasoning chain has ended yet (run a step-by-step code action)")
    return nil
  end
  M.close()
  local lines = M.lines(params)
  local buf = vim.api.nvim_create_buf(false, true)
  vim.api.nvim_buf_set_lines(buf, 0, -1, false, lines)
  vim.bo[buf].bufhidden = "wipe"
  vim.bo[buf].modifiable = false
  vim.api.nvim_buf_set_extmark(buf, ns, 0, 0, { end_row = 0, end_col = #lines[1], hl_group = "Title" })

  local widest = 0
  for _, line in ipairs(lines) do
    widest = math.max(widest, vim.fn.strdisplaywidth(line))
  end
  local width = math.max(20, math.min(widest, vim.o.columns - 6, 100))
  local height = math.max(1, math.min(wrapped_height(lines, width), vim.o.lines - 6))
  local enter = vim.api.nvim_get_mode().mode == "n"
  local win = vim.api.nvim_open_win(buf, enter, {
    relative = "editor",
    row = math.max(0, math.floor((vim.o.lines - height) / 2) - 1),
    col = math.max(0, math.floor((vim.o.columns - width) / 2)),
    width = width,
    height = height,
    style = "minimal",
    border = "rounded",
    title = " rill: reasoning ",
    title_pos = "center",
    zindex = 60,
  })
  vim.wo[win].wrap = true
  vim.wo[win].linebreak = true
  float_win = win
  for _, key in ipairs({ "q", "<Esc>" }) do
    vim.keymap.set("n", key, M.close, { buffer = buf, nowait = true, desc = "rill: close this window" })
  end
  if enter then
    -- Leaving it for another window closes it, as a hover does; `:Rill reasoning` brings it back.
    vim.api.nvim_create_autocmd("WinLeave", { buffer = buf, once = true, callback = M.close })
  else
    vim.api.nvim_create_autocmd({ "CursorMoved", "CursorMovedI", "InsertLeave" }, {
      buffer = vim.api.nvim_get_current_buf(),
      once = true,
      callback = M.close,
    })
  end
  return win
end

--- Handler for rill/reasoningResult: remembers the result and shows it.
---@param params rill.ReasoningResult
function M.on_result(params)
  M.last = params
  if vim.in_fast_event() then
    vim.schedule(function()
      M.open(params)
    end)
  else
    M.open(params)
  end
end

return M
