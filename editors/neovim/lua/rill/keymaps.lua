-- Buffer-local insert-mode keys for suggestions. Each is an expr mapping that acts only while a
-- suggestion is shown and otherwise gives the key its usual meaning, so <Tab> still indents.
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

local function map(bufnr, name, rhs)
  local lhs = config.current.keymaps[name]
  if not lhs then
    return
  end
  vim.keymap.set("i", lhs, function()
    return rhs(lhs)
  end, { buffer = bufnr, expr = true, silent = true, desc = descriptions[name] })
end

--- Maps the keys for rill's own ghost text in `bufnr`.
---@param bufnr integer
function M.attach(bufnr)
  local suggestion = require("rill.suggestion")
  for name, action in pairs(rill_actions) do
    map(bufnr, name, function(lhs)
      if suggestion.remaining(bufnr) then
        return action
      end
      return lhs
    end)
  end
end

--- Maps the keys for Neovim's native inline completion (0.12+) in `bufnr`; it has no word/line
--- acceptance and no dismiss function (moving the cursor or leaving insert mode hides it).
---@param bufnr integer
function M.attach_native(bufnr)
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
