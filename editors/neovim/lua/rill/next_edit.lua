-- Next edit suggestions: after an edit the server offers the one that follows it elsewhere in the file
-- (rill/nextEditAvailable). A marker at the end of the target line says so; the first <Tab> fetches the
-- edit (rill/nextEdit), jumps there and previews it, the second applies it; <Esc> turns it down
-- (rill/nextEdit/dismiss). Any change to the buffer drops both: the server has withdrawn the offer.
local config = require("rill.config")

local M = {}

M.ns = vim.api.nvim_create_namespace("rill.next_edit")

local group = vim.api.nvim_create_augroup("rill.next_edit", { clear = true })

---@class rill.NextEdit
---@field client_id integer
---@field version integer   the LSP document version the offer was made for
---@field row integer       target range start (0-based row, byte column)
---@field col integer
---@field phase "marker"|"preview"
---@field edits lsp.TextEdit[]? fetched by the first <Tab>
---@field fetching boolean? a rill/nextEdit request is on its way

---@type table<integer, rill.NextEdit>
local offers = {}

local function enabled()
  return config.current.next_edit.enabled
end

-- The version Neovim's LSP client last gave the buffer (its changedtick at the latest change); the
-- server's offer is only for the version it was computed for.
local function lsp_version(bufnr)
  return vim.lsp.util.buf_versions[bufnr]
end

-- The byte column of LSP position `pos` in `bufnr`, in the client's offset encoding.
local function byte_col(bufnr, pos, encoding)
  local line = vim.api.nvim_buf_get_lines(bufnr, pos.line, pos.line + 1, false)[1]
  if not line then
    return nil
  end
  local ok, col = pcall(vim.str_byteindex, line, encoding, pos.character, false)
  return ok and col or #line
end

-- The key as the marker names it: "<Tab>" reads "Tab".
local function key_label(lhs)
  return (lhs:gsub("^<(.*)>$", "%1"))
end

--- Removes `bufnr`'s marker or preview and forgets the offer (nothing is sent to the server).
---@param bufnr integer
function M.clear(bufnr)
  offers[bufnr] = nil
  if vim.api.nvim_buf_is_valid(bufnr) then
    vim.api.nvim_buf_clear_namespace(bufnr, M.ns, 0, -1)
  end
end

--- The offer shown in `bufnr`, or nil when none is, or when the buffer changed since it was made.
---@param bufnr integer
---@return rill.NextEdit?
function M.get(bufnr)
  local offer = offers[bufnr]
  if offer and offer.version ~= lsp_version(bufnr) then
    -- The edit was made but the autocommand that drops the marker has not run yet.
    M.clear(bufnr)
    return nil
  end
  return offer
end

--- True while a marker or a preview is shown in `bufnr` (what the keys act on).
---@param bufnr integer
---@return boolean
function M.active(bufnr)
  return enabled() and M.get(bufnr) ~= nil
end

local function show_marker(bufnr, offer)
  vim.api.nvim_buf_clear_namespace(bufnr, M.ns, 0, -1)
  local lhs = config.current.next_edit.keymaps.accept
  local text = lhs and ("⇥ %s: next edit"):format(key_label(lhs)) or "⇥ next edit"
  vim.api.nvim_buf_set_extmark(bufnr, M.ns, offer.row, 0, {
    virt_text = { { text, "RillNextEdit" } },
    virt_text_pos = "eol",
    -- Above diagnostics' virtual text, as the ghost text is.
    priority = 5000,
  })
end

-- Draws each edit where it goes: the replaced text struck through, the new text right after it.
local function show_preview(bufnr, offer, encoding)
  vim.api.nvim_buf_clear_namespace(bufnr, M.ns, 0, -1)
  for _, edit in ipairs(offer.edits) do
    local srow, erow = edit.range.start.line, edit.range["end"].line
    local scol = byte_col(bufnr, edit.range.start, encoding)
    local ecol = byte_col(bufnr, edit.range["end"], encoding)
    if not scol or not ecol then
      return false
    end
    if srow ~= erow or scol ~= ecol then
      vim.api.nvim_buf_set_extmark(bufnr, M.ns, srow, scol, {
        end_row = erow,
        end_col = ecol,
        hl_group = "RillNextEditOld",
        priority = 5000,
      })
    end
    local lines = vim.split(edit.newText, "\n", { plain = true })
    local virt_lines = {}
    for i = 2, #lines do
      virt_lines[#virt_lines + 1] = { { lines[i], "RillNextEditNew" } }
    end
    vim.api.nvim_buf_set_extmark(bufnr, M.ns, erow, ecol, {
      virt_text = lines[1] ~= "" and { { lines[1], "RillNextEditNew" } } or nil,
      virt_text_pos = "inline",
      virt_lines = #virt_lines > 0 and virt_lines or nil,
      priority = 5000,
    })
  end
  return true
end

--- Handler for rill/nextEditAvailable: shows the marker when the offer is for the buffer's current text.
---@param params { uri: string, version: integer, range: lsp.Range }
---@param client_id integer
function M.on_available(params, client_id)
  if not enabled() or type(params) ~= "table" or type(params.range) ~= "table" then
    return
  end
  local client = vim.lsp.get_client_by_id(client_id)
  if not client then
    return
  end
  -- Only a buffer the client has open: vim.uri_to_bufnr() would create one for any other uri.
  local bufnr
  for b in pairs(client.attached_buffers) do
    if vim.api.nvim_buf_is_loaded(b) and vim.uri_from_bufnr(b) == params.uri then
      bufnr = b
    end
  end
  -- A late notification for text the user has since changed is stale: the server withdrew it.
  if not bufnr or params.version ~= lsp_version(bufnr) then
    return
  end
  local row = params.range.start.line
  local col = byte_col(bufnr, params.range.start, client.offset_encoding)
  if not col then
    return
  end
  local offer = { client_id = client_id, version = params.version, row = row, col = col, phase = "marker" }
  offers[bufnr] = offer
  show_marker(bufnr, offer)
end

local function move_cursor(bufnr, row, col)
  if vim.api.nvim_get_current_buf() ~= bufnr then
    return
  end
  if vim.api.nvim_get_mode().mode == "n" then
    -- Into the jump list, so <C-o> goes back to where the user was editing.
    vim.cmd("normal! m'")
  end
  pcall(vim.api.nvim_win_set_cursor, 0, { row + 1, col })
end

-- Fetches the edit on offer and, when it is still there, jumps to it and previews it.
local function fetch_and_jump(bufnr, offer)
  local client = vim.lsp.get_client_by_id(offer.client_id)
  if not client then
    M.clear(bufnr)
    return
  end
  offer.fetching = true
  local params = {
    textDocument = { uri = vim.uri_from_bufnr(bufnr) },
    position = { line = offer.row, character = 0 },
  }
  client:request("rill/nextEdit", params, function(err, result)
    -- The user may have typed, dismissed or got another offer while the request ran.
    if M.get(bufnr) ~= offer then
      return
    end
    offer.fetching = false
    if err or type(result) ~= "table" or type(result.edits) ~= "table" or #result.edits == 0
      or result.version ~= offer.version
    then
      -- null: the offer was withdrawn (another edit, or another client turned it down).
      M.clear(bufnr)
      return
    end
    offer.edits = result.edits
    offer.phase = "preview"
    local first = result.edits[1].range.start
    offer.row = first.line
    offer.col = byte_col(bufnr, first, client.offset_encoding) or 0
    if not show_preview(bufnr, offer, client.offset_encoding) then
      M.clear(bufnr)
      return
    end
    move_cursor(bufnr, offer.row, offer.col)
  end, bufnr)
end

--- <Tab>: jumps to the edit on offer and previews it; on the previewed line, applies it. Returns false
--- when nothing is on offer.
---@param bufnr integer?
---@return boolean
function M.accept(bufnr)
  bufnr = bufnr or vim.api.nvim_get_current_buf()
  local offer = M.active(bufnr) and M.get(bufnr) or nil
  if not offer then
    return false
  end
  if offer.phase == "marker" then
    if not offer.fetching then
      fetch_and_jump(bufnr, offer)
    end
    return true
  end
  local cursor_row = vim.api.nvim_win_get_cursor(0)[1] - 1
  if vim.api.nvim_get_current_buf() ~= bufnr or cursor_row ~= offer.row then
    -- The user looked elsewhere after the jump: go back to the edit rather than apply it unseen.
    move_cursor(bufnr, offer.row, offer.col)
    return true
  end
  local client = vim.lsp.get_client_by_id(offer.client_id)
  M.clear(bufnr)
  if client then
    vim.lsp.util.apply_text_edits(offer.edits, bufnr, client.offset_encoding)
  end
  return true
end

--- <Esc>: hides the marker or preview and tells the server the edit is not wanted (it is not offered
--- again). Returns false when nothing is on offer.
---@param bufnr integer?
---@return boolean
function M.dismiss(bufnr)
  bufnr = bufnr or vim.api.nvim_get_current_buf()
  local offer = M.active(bufnr) and M.get(bufnr) or nil
  if not offer then
    return false
  end
  M.clear(bufnr)
  local client = vim.lsp.get_client_by_id(offer.client_id)
  if client then
    client:notify("rill/nextEdit/dismiss", { textDocument = { uri = vim.uri_from_bufnr(bufnr) } })
  end
  return true
end

--- Drops `bufnr`'s offer whenever its text changes (idempotent).
---@param bufnr integer
function M.attach(bufnr)
  vim.api.nvim_clear_autocmds({ group = group, buffer = bufnr })
  vim.api.nvim_create_autocmd({ "TextChanged", "TextChangedI", "TextChangedP" }, {
    group = group,
    buffer = bufnr,
    callback = function()
      M.get(bufnr)
    end,
  })
  vim.api.nvim_create_autocmd({ "BufUnload", "BufWipeout" }, {
    group = group,
    buffer = bufnr,
    callback = function()
      pcall(vim.api.nvim_clear_autocmds, { group = group, buffer = bufnr })
      M.clear(bufnr)
    end,
  })
end

return M
