-- When to ask for a suggestion and when to drop it: buffer-local autocommands with a debounce timer.
local config = require("rill.config")
local suggestion = require("rill.suggestion")

local M = {}

local group = vim.api.nvim_create_augroup("rill.trigger", { clear = true })

---@type table<integer, uv.uv_timer_t>
local timers = {}
-- The changedtick last seen by an autocommand, to tell cursor motion from typing.
---@type table<integer, integer>
local ticks = {}

local function stop_timer(bufnr)
  local timer = timers[bufnr]
  if timer then
    timer:stop()
  end
end

-- Asks for a suggestion once typing has paused for `debounce_ms`.
local function schedule_request(bufnr)
  if not config.current.auto_trigger or not suggestion.enabled then
    return
  end
  local timer = timers[bufnr]
  if not timer then
    timer = assert(vim.uv.new_timer())
    timers[bufnr] = timer
  end
  timer:stop()
  timer:start(config.current.debounce_ms, 0, vim.schedule_wrap(function()
    -- The user may have left insert mode or the buffer while the timer ran.
    if vim.api.nvim_buf_is_valid(bufnr)
      and vim.api.nvim_get_current_buf() == bufnr
      and vim.api.nvim_get_mode().mode:sub(1, 1) == "i"
    then
      suggestion.request(bufnr, suggestion.TRIGGER_AUTOMATIC)
    end
  end))
end

--- Sets up the autocommands for `bufnr` (idempotent).
---@param bufnr integer
function M.attach(bufnr)
  vim.api.nvim_clear_autocmds({ group = group, buffer = bufnr })
  local function on(events, callback)
    vim.api.nvim_create_autocmd(events, { group = group, buffer = bufnr, callback = callback })
  end
  on("InsertEnter", function()
    ticks[bufnr] = vim.api.nvim_buf_get_changedtick(bufnr)
    schedule_request(bufnr)
  end)
  on({ "TextChangedI", "TextChangedP" }, function()
    ticks[bufnr] = vim.api.nvim_buf_get_changedtick(bufnr)
    -- Show at once what is left of the suggestion after the typed characters, then ask for a new one.
    suggestion.refresh(bufnr)
    schedule_request(bufnr)
  end)
  on("CursorMovedI", function()
    -- CursorMovedI runs before TextChangedI, so an unchanged tick means the cursor moved without an
    -- edit (arrow keys, mouse, `A`): the suggestion no longer belongs there; ask anew where it stopped.
    if ticks[bufnr] == vim.api.nvim_buf_get_changedtick(bufnr) then
      suggestion.dismiss(bufnr)
      schedule_request(bufnr)
    else
      suggestion.refresh(bufnr)
    end
  end)
  on({ "InsertLeave", "BufLeave" }, function()
    stop_timer(bufnr)
    suggestion.dismiss(bufnr)
  end)
  on({ "BufUnload", "BufWipeout" }, function()
    M.detach(bufnr)
  end)
end

--- Removes `bufnr`'s autocommands, timer and suggestion.
---@param bufnr integer
function M.detach(bufnr)
  pcall(vim.api.nvim_clear_autocmds, { group = group, buffer = bufnr })
  local timer = timers[bufnr]
  if timer then
    timer:stop()
    timer:close()
    timers[bufnr] = nil
  end
  ticks[bufnr] = nil
  suggestion.forget(bufnr)
end

--- Stops `bufnr`'s pending debounce, so a dismissed suggestion is not asked for again at once.
---@param bufnr integer
function M.stop(bufnr)
  stop_timer(bufnr)
end

--- Stops every pending debounce (used when suggestions are switched off).
function M.stop_all()
  for bufnr in pairs(timers) do
    stop_timer(bufnr)
  end
end

return M
