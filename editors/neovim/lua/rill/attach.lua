-- What happens when the rill client attaches to a buffer: rill's ghost text (autocommands and keys),
-- or, in native mode, Neovim's own inline completion; and the next edit marker's autocommands.
local config = require("rill.config")

local M = {}

--- Prepares `bufnr` for suggestions from the rill client now attached to it.
---@param _ vim.lsp.Client
---@param bufnr integer
function M.buffer(_, bufnr)
  if config.current.next_edit.enabled then
    require("rill.next_edit").attach(bufnr)
  end
  if require("rill.native").active() then
    vim.lsp.inline_completion.enable(true, { bufnr = bufnr })
    require("rill.native").track(bufnr)
    require("rill.keymaps").attach_native(bufnr)
    return
  end
  require("rill.trigger").attach(bufnr)
  require("rill.keymaps").attach(bufnr)
  -- A client can attach while the user is already typing (the first file of a session); ask now.
  if config.current.auto_trigger and vim.api.nvim_get_mode().mode:sub(1, 1) == "i" then
    require("rill.suggestion").request(bufnr)
  end
end

return M
