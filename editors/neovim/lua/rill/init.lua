-- rill.nvim: the public API. setup() starts the rill language server for the configured filetypes;
-- the other functions act on the current buffer's suggestion and are what the default keys call.
local config = require("rill.config")

local M = {}

local group = vim.api.nvim_create_augroup("rill.start", { clear = true })

--- Configures the plugin and starts rill for matching buffers (now and when they are opened).
---@param opts table? see :help rill-configuration
function M.setup(opts)
  if vim.fn.has("nvim-0.11") ~= 1 then
    vim.notify("rill: Neovim 0.11 or newer is required", vim.log.levels.ERROR)
    return
  end
  config.apply(opts)
  require("rill.native").check()
  local lsp = require("rill.lsp")
  lsp.update_settings(config.current)
  vim.api.nvim_clear_autocmds({ group = group })
  vim.api.nvim_create_autocmd("FileType", {
    group = group,
    callback = function(args)
      lsp.maybe_start(args.buf)
    end,
  })
  -- Buffers opened before setup() ran (lazy loading, or setup() called from an ftplugin).
  for _, bufnr in ipairs(vim.api.nvim_list_bufs()) do
    if vim.api.nvim_buf_is_loaded(bufnr) then
      lsp.maybe_start(bufnr)
    end
  end
end

local function accept(unit)
  local bufnr = vim.api.nvim_get_current_buf()
  local suggestion = require("rill.suggestion")
  local rest = suggestion.remaining(bufnr)
  if not rest then
    return false
  end
  local accept_mod = require("rill.accept")
  local piece = accept_mod.piece(rest, unit)
  -- Before the insertion, while the cursor still marks what was typed of the suggestion before it.
  suggestion.note_accept(bufnr, piece)
  -- The autocommands that follow the edit redraw what is left of the suggestion and ask for more.
  accept_mod.insert(piece)
  return true
end

--- Inserts the whole suggestion. Returns false when none was shown.
---@return boolean
function M.accept()
  return accept("all")
end

--- Inserts the suggestion's next word (with the whitespace before it).
---@return boolean
function M.accept_word()
  return accept("word")
end

--- Inserts the rest of the suggestion's current line.
---@return boolean
function M.accept_line()
  return accept("line")
end

--- Shows the answer's `count`-th next suggestion (previous for a negative count; default 1), wrapping
--- around; what is shown is what accept() inserts. Returns false when nothing is shown or the answer
--- has no other suggestion that fits what was typed since.
---@param count integer?
---@return boolean
function M.cycle(count)
  return require("rill.suggestion").cycle(vim.api.nvim_get_current_buf(), count or 1)
end

--- Hides the suggestion and stops its request; the next one comes when you type again.
function M.dismiss()
  local bufnr = vim.api.nvim_get_current_buf()
  require("rill.trigger").stop(bufnr)
  require("rill.suggestion").dismiss(bufnr)
end

--- Asks for a suggestion at the cursor now (trigger kind Invoked), whether or not auto-trigger is on.
---@return boolean sent false when rill is not attached or suggestions are off
function M.suggest()
  local suggestion = require("rill.suggestion")
  return suggestion.request(vim.api.nvim_get_current_buf(), suggestion.TRIGGER_INVOKED)
end

--- True when a suggestion is shown in the current buffer (for your own mappings).
---@return boolean
function M.is_visible()
  return require("rill.suggestion").remaining(vim.api.nvim_get_current_buf()) ~= nil
end

--- The suggestion shown in `bufnr` (default current): its untyped text, whether it is complete, and
--- which of the answer's suggestions it is (`index` of `count`).
---@param bufnr integer?
---@return { text: string, done: boolean, index: integer, count: integer }?
function M.suggestion(bufnr)
  return require("rill.suggestion").get(bufnr or vim.api.nvim_get_current_buf())
end

--- Switches suggestions on or off for the session (diagnostics are unaffected). Returns the new state.
---@param enabled boolean? the state to set; omitted flips it
---@return boolean
function M.toggle(enabled)
  local suggestion = require("rill.suggestion")
  if enabled == nil then
    enabled = not suggestion.enabled
  end
  suggestion.enabled = enabled
  if require("rill.native").active() then
    for _, client in ipairs(require("rill.lsp").clients()) do
      for bufnr in pairs(client.attached_buffers) do
        vim.lsp.inline_completion.enable(enabled, { bufnr = bufnr })
      end
    end
  elseif not enabled then
    require("rill.trigger").stop_all()
    for _, bufnr in ipairs(vim.api.nvim_list_bufs()) do
      suggestion.dismiss(bufnr)
    end
  end
  return enabled
end

--- The next edit on offer (a marker or preview is shown): jumps to it and previews it, or, with the
--- cursor on the previewed line, applies it. Returns false when none is on offer.
---@return boolean
function M.next_edit()
  return require("rill.next_edit").accept()
end

--- Turns the next edit on offer down: hides it and tells the server, which does not offer it again.
--- Returns false when none is on offer.
---@return boolean
function M.dismiss_next_edit()
  return require("rill.next_edit").dismiss()
end

--- True while a next edit is on offer in the current buffer (for your own mappings).
---@return boolean
function M.has_next_edit()
  return require("rill.next_edit").active(vim.api.nvim_get_current_buf())
end

--- Applies the model's quick fix for the rill diagnostic at the cursor.
---@param on_done fun(applied: boolean, message: string)?
function M.fix(on_done)
  require("rill.fix").at_cursor(on_done)
end

--- A short status for statuslines ("rill: ready"); "" where rill is not attached.
---@return string
function M.statusline()
  return require("rill.status").statusline()
end

return M
