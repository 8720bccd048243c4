-- Buffer-local keys for suggestions (insert mode) and next edits (normal mode, and insert mode where no
-- suggestion is shown). Each is an expr mapping that acts only while there is something to act on and
-- otherwise gives the key its usual meaning, so <Tab> still indents and <Esc> still leaves insert mode.
local config = require("rill.config")

local M = {}

local descriptions = {
  accept = "rill: accept the suggestion",
  accept_word = "rill: accept the next word of the suggestion",
  accept_line = "rill: accept the next line of the suggestion",
  dismiss = "rill: dismiss the suggestion",
  next = "rill: show the next suggestion",
  prev = "rill: show the previous suggestion",
}

-- An expr mapping may not change the buffer (textlock), so the action runs from the returned <Cmd>.
local rill_actions = {
  accept = "<Cmd>lua require('rill').accept()<CR>",
  accept_word = "<Cmd>lua require('rill').accept_word()<CR>",
  accept_line = "<Cmd>lua require('rill').accept_line()<CR>",
  dismiss = "<Cmd>lua require('rill').dismiss()<CR>",
  next = "<Cmd>lua require('rill').cycle(1)<CR>",
  prev = "<Cmd>lua require('rill').cycle(-1)<CR>",
}

local next_edit_descriptions = {
  accept = "rill: jump to the next edit, or apply it",
  dismiss = "rill: turn the next edit down",
}

local next_edit_actions = {
  accept = "<Cmd>lua require('rill').next_edit()<CR>",
  dismiss = "<Cmd>lua require('rill').dismiss_next_edit()<CR>",
}

local function map(bufnr, name, rhs)
  local lhs = config.current.keymaps[name]
  if not lhs then
    return
  end
  vim.keymap.set("i", lhs, function()
    return rhs(lhs)
  end, { buffer = bufnr, expr = true, silent = true, desc = descriptions[name] })
end

-- The next edit's action for key `name`, or nil when no marker or preview is shown in `bufnr`.
local function next_edit_action(bufnr, name)
  if require("rill.next_edit").active(bufnr) then
    return next_edit_actions[name]
  end
  return nil
end

-- Maps the next edit keys in normal mode, and in insert mode those that are not a suggestion key too
-- (a shared key is handled by the suggestion's mapping, see attach()). <Esc> is left alone in insert
-- mode: leaving insert mode after a rename must not throw away the offer that follows it.
local function map_next_edit(bufnr, insert_taken)
  local keys = config.current.next_edit.keymaps
  for name, lhs in pairs(keys) do
    if lhs then
      local modes = { "n" }
      if name == "accept" and not insert_taken[lhs] then
        modes[#modes + 1] = "i"
      end
      vim.keymap.set(modes, lhs, function()
        return next_edit_action(bufnr, name) or lhs
      end, { buffer = bufnr, expr = true, silent = true, desc = next_edit_descriptions[name] })
    end
  end
end

--- Maps the keys for rill's own ghost text in `bufnr`, and those for next edits when they are on.
--- The suggestion's accept and dismiss keys act on a next edit when no suggestion is shown.
---@param bufnr integer
function M.attach(bufnr)
  local suggestion = require("rill.suggestion")
  local with_next_edit = config.current.next_edit.enabled
  local taken = {}
  for name, action in pairs(rill_actions) do
    local lhs = config.current.keymaps[name]
    if lhs then
      taken[lhs] = true
    end
    -- A suggestion key that is also the next edit's accept key applies the next edit in its turn.
    local also = nil
    if with_next_edit and lhs and lhs == config.current.next_edit.keymaps.accept then
      also = "accept"
    elseif with_next_edit and name == "dismiss" then
      also = "dismiss"
    end
    map(bufnr, name, function(key)
      if suggestion.remaining(bufnr) then
        return action
      end
      return also and next_edit_action(bufnr, also) or key
    end)
  end
  if with_next_edit then
    map_next_edit(bufnr, taken)
  end
end

--- Maps the keys for Neovim's native inline completion (0.12+) in `bufnr`; it has no word/line
--- acceptance and no dismiss function (moving the cursor or leaving insert mode hides it).
---@param bufnr integer
function M.attach_native(bufnr)
  if config.current.next_edit.enabled then
    -- Neovim's inline completion owns the insert-mode keys; next edits get their normal-mode ones.
    map_next_edit(bufnr, { [config.current.next_edit.keymaps.accept or ""] = true })
  end
  map(bufnr, "accept", function(lhs)
    -- get() accepts the shown item and reports whether there was one; the edit itself is deferred by
    -- Neovim, which is what makes it usable from an expr mapping.
    if vim.lsp.inline_completion.get({ bufnr = bufnr }) then
      return ""
    end
    return lhs
  end)
  map(bufnr, "next", function()
    vim.lsp.inline_completion.select({ bufnr = bufnr, count = 1 })
    return ""
  end)
  map(bufnr, "prev", function()
    vim.lsp.inline_completion.select({ bufnr = bufnr, count = -1 })
    return ""
  end)
end

return M
