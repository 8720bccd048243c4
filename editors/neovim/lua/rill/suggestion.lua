-- The suggestion of each buffer: sends textDocument/inlineCompletion, takes in the streamed partials and
-- the final answer, keeps only the latest request's items, and shows whatever part of the chosen one the
-- user has not typed yet through rill.ghost. The answer ranks several items (the streamed suggestion
-- first, then other first lines); cycle() switches between them. What is shown and accepted of each
-- request is reported to the server through rill.acceptance.
local acceptance = require("rill.acceptance")
local config = require("rill.config")
local ghost = require("rill.ghost")
local lsp = require("rill.lsp")

local M = {}

local REQUEST_CANCELLED = -32800
local TRIGGER_INVOKED, TRIGGER_AUTOMATIC = 1, 2
M.TRIGGER_INVOKED, M.TRIGGER_AUTOMATIC = TRIGGER_INVOKED, TRIGGER_AUTOMATIC

--- `:Rill toggle` switches this; when false no request is sent and nothing is shown.
M.enabled = true

---@class rill.Pending
---@field client_id integer
---@field request_id integer
---@field row integer  anchor row (0-based) the request was made at
---@field col integer  anchor byte column
---@field seq integer  last partial shown, so late or reordered ones are dropped
---@field tick integer the buffer's changedtick when the request was sent
---@field position lsp.Position the request's position

---@class rill.Current
---@field row integer
---@field col integer
---@field items string[] every suggestion of the answer, best first, each as inserted at (row, col)
---@field index integer  the item shown (1-based); cycle() changes it
---@field text string    items[index]: the suggestion shown and accepted
---@field done boolean   whether its request has been answered
---@field client_id integer?  the client of the request it answers (nil for a fed suggestion)
---@field request_id integer? that request, which the acceptance figures name

---@type table<integer, { pending: rill.Pending?, current: rill.Current? }>
local buffers = {}

local function state(bufnr)
  local s = buffers[bufnr]
  if not s then
    s = {}
    buffers[bufnr] = s
  end
  return s
end

local function in_insert_mode()
  return vim.api.nvim_get_mode().mode:sub(1, 1) == "i"
end

local function item_text(item)
  local text = item.insertText
  -- The specification also allows a snippet StringValue; rill sends plain strings, but a snippet's
  -- source is still the best approximation of what would be inserted.
  if type(text) == "table" then
    text = text.value
  end
  return type(text) == "string" and text or ""
end

-- True when `item` inserts at `position`. An item whose range replaces text, or starts elsewhere, is the
-- server's next edit on this line (docs/protocol.md): rill.next_edit shows that one, with its marker,
-- and as ghost text at the cursor it would read as an insertion.
local function inserts_at(item, position)
  local range = type(item) == "table" and item.range
  if type(range) ~= "table" then
    return true
  end
  local s, e = range.start, range["end"]
  return s.line == position.line and s.character == position.character
    and e.line == position.line and e.character == position.character
end

-- The texts of the items that insert at `position`, best first.
local function texts_at(items, position)
  local texts = {}
  for _, item in ipairs(items) do
    if inserts_at(item, position) then
      texts[#texts + 1] = item_text(item)
    end
  end
  return texts
end

-- The text between the suggestion's anchor and the cursor (what the user typed since the request), or
-- nil when the cursor is elsewhere: another buffer, or before the anchor.
local function typed_since_anchor(bufnr, cur)
  if vim.api.nvim_get_current_buf() ~= bufnr then
    return nil
  end
  local pos = vim.api.nvim_win_get_cursor(0)
  local row, col = pos[1] - 1, pos[2]
  if row < cur.row or (row == cur.row and col < cur.col) then
    return nil
  end
  local ok, typed = pcall(vim.api.nvim_buf_get_text, bufnr, cur.row, cur.col, row, col, {})
  if not ok then
    return nil
  end
  return table.concat(typed, "\n")
end

-- The part of `text` not typed yet, or nil when `typed` is not a proper prefix of it.
local function rest_of(text, typed)
  if text:sub(1, #typed) ~= typed or #typed >= #text then
    return nil
  end
  return text:sub(#typed + 1)
end

--- The part of `bufnr`'s suggestion the user has not typed yet, or nil when there is none or when the
--- text between the suggestion's anchor and the cursor is not a prefix of it (the user went elsewhere).
---@param bufnr integer
---@return string?
function M.remaining(bufnr)
  local s = buffers[bufnr]
  local cur = s and s.current
  if not cur or not M.enabled then
    return nil
  end
  local typed = typed_since_anchor(bufnr, cur)
  return typed and rest_of(cur.text, typed)
end

--- Redraws `bufnr`'s ghost text for the current cursor: the untyped rest of the suggestion, or nothing.
---@param bufnr integer
function M.refresh(bufnr)
  local rest = in_insert_mode() and M.remaining(bufnr) or nil
  if not rest then
    ghost.clear(bufnr)
    return
  end
  local pos = vim.api.nvim_win_get_cursor(0)
  ghost.show(bufnr, pos[1] - 1, pos[2], rest, config.current.ghost)
  local cur = buffers[bufnr].current
  if cur.request_id and ghost.is_shown(bufnr) then
    acceptance.shown(cur.client_id, cur.request_id)
  end
end

--- Reports that `piece` of `bufnr`'s suggestion is about to be inserted at the cursor: the server learns
--- how much of the request's suggestion is accepted so far (what was typed since its anchor, which
--- matches the suggestion, plus `piece`), in UTF-16 code units.
---@param bufnr integer
---@param piece string
function M.note_accept(bufnr, piece)
  local s = buffers[bufnr]
  local cur = s and s.current
  if not cur or not cur.request_id then
    return
  end
  local typed = typed_since_anchor(bufnr, cur)
  if typed then
    acceptance.accepted(cur.client_id, cur.request_id, acceptance.utf16_len(typed .. piece))
  end
end

--- Makes `texts` (best first) `bufnr`'s suggestion, anchored at (row, col) (0-based, byte column), and
--- shows the first; empty and repeated texts are left out. Answers arrive here; tests may feed one too.
---@param bufnr integer
---@param row integer
---@param col integer
---@param texts string[]
---@param done boolean whether the request has been answered (no more text will come)
---@param origin { client_id: integer, request_id: integer }? the request they answer (acceptance figures)
function M.show_items(bufnr, row, col, texts, done, origin)
  -- An empty or repeated item would be a stop that shows nothing new while cycling.
  local items, seen = {}, {}
  for _, text in ipairs(texts) do
    if text ~= "" and not seen[text] then
      seen[text] = true
      items[#items + 1] = text
    end
  end
  if #items == 0 then
    return
  end
  state(bufnr).current = {
    row = row,
    col = col,
    items = items,
    index = 1,
    text = items[1],
    done = done,
    client_id = origin and origin.client_id,
    request_id = origin and origin.request_id,
  }
  M.refresh(bufnr)
end

-- Makes `texts` (computed for the pending request) the buffer's suggestion and shows it.
local function adopt(bufnr, pending, texts, done)
  M.show_items(bufnr, pending.row, pending.col, texts, done, pending)
end

local function on_response(bufnr, request_id, err, result)
  local s = buffers[bufnr]
  local pending = s and s.pending
  -- Superseded requests are answered with an empty list; only the latest one's answer counts.
  if not pending or pending.request_id ~= request_id then
    return
  end
  s.pending = nil
  if err then
    if err.code ~= REQUEST_CANCELLED then
      require("rill.status").record_error(err.message or vim.inspect(err))
    end
    return
  end
  local items = result and (result.items or result) or {}
  local texts = texts_at(items, pending.position)
  if (texts[1] or "") == "" then
    -- After an edit the server answers a running request empty (stale) whatever it had found, so only
    -- an empty answer for unchanged text means "no suggestion here". Otherwise keep the shown one: the
    -- request about to be sent for the edit continues it when the user typed what it suggested.
    if vim.api.nvim_buf_get_changedtick(bufnr) == pending.tick then
      s.current = nil
    end
    M.refresh(bufnr)
    return
  end
  -- Every item, best first: the first is the text the partials streamed, the others can be cycled to.
  adopt(bufnr, pending, texts, true)
end

--- Handler for rill/inlineCompletion/partial: shows the growing suggestion of the latest request.
---@param params { requestId: integer|string, uri: string, version: integer, seq: integer, items: table[] }
---@param client_id integer
function M.on_partial(params, client_id)
  for bufnr, s in pairs(buffers) do
    local pending = s.pending
    if pending and pending.client_id == client_id and pending.request_id == params.requestId then
      -- `seq` only grows; an equal or smaller one is a duplicate or arrived out of order. The version is
      -- not compared: remaining() already hides text the user has typed away from.
      if params.seq <= pending.seq or not params.items[1] then
        return
      end
      pending.seq = params.seq
      -- Partials carry the best suggestion only; the others come with the answer.
      local text = texts_at({ params.items[1] }, pending.position)[1] or ""
      if text ~= "" then
        adopt(bufnr, pending, { text }, false)
      end
      return
    end
  end
end

--- Stops `bufnr`'s running request, if any. Used when the suggestion is abandoned (dismissed, insert
--- mode left), not when a newer request replaces it: the server supersedes that one itself and can
--- then hand its running generation to the newer request when the user typed what it suggested.
---@param bufnr integer
function M.cancel(bufnr)
  local s = buffers[bufnr]
  local pending = s and s.pending
  if not pending then
    return
  end
  s.pending = nil
  local client = vim.lsp.get_client_by_id(pending.client_id)
  if client then
    client:cancel_request(pending.request_id)
  end
end

--- Asks the server for a suggestion at the cursor of the current window, which must show `bufnr`.
---@param bufnr integer
---@param trigger_kind integer? TRIGGER_INVOKED or TRIGGER_AUTOMATIC (default)
---@return boolean sent
function M.request(bufnr, trigger_kind)
  if not M.enabled or vim.api.nvim_get_current_buf() ~= bufnr then
    return false
  end
  local client = lsp.client_for(bufnr)
  if not client then
    return false
  end
  local params = vim.lsp.util.make_position_params(0, client.offset_encoding)
  params.context = { triggerKind = trigger_kind or TRIGGER_AUTOMATIC }
  local pos = vim.api.nvim_win_get_cursor(0)
  local pending = {
    client_id = client.id,
    request_id = -1,
    row = pos[1] - 1,
    col = pos[2],
    seq = 0,
    tick = vim.api.nvim_buf_get_changedtick(bufnr),
    position = params.position,
  }
  local ok, request_id = client:request("textDocument/inlineCompletion", params, function(err, result)
    on_response(bufnr, pending.request_id, err, result)
  end, bufnr)
  if not ok or not request_id then
    return false
  end
  pending.request_id = request_id
  state(bufnr).pending = pending
  return true
end

--- Shows the `count`-th next item of `bufnr`'s answer (previous for a negative count), wrapping around.
--- Items that do not continue what the user typed since the request are skipped. Returns false when
--- nothing is shown or no other item fits.
---@param bufnr integer
---@param count integer
---@return boolean
function M.cycle(bufnr, count)
  local s = buffers[bufnr]
  local cur = s and s.current
  if not cur or not M.remaining(bufnr) or #cur.items < 2 then
    return false
  end
  local typed = typed_since_anchor(bufnr, cur)
  local n = #cur.items
  local step = count < 0 and -1 or 1
  local index = cur.index
  for _ = 1, math.abs(count) do
    -- The nearest other item in that direction that fits (the shown one always does).
    local found
    for distance = 1, n - 1 do
      local candidate = (index - 1 + step * distance) % n + 1
      if rest_of(cur.items[candidate], typed) then
        found = candidate
        break
      end
    end
    if not found then
      return false
    end
    index = found
  end
  if index == cur.index then
    return false
  end
  cur.index, cur.text = index, cur.items[index]
  M.refresh(bufnr)
  return true
end

--- Hides `bufnr`'s suggestion and stops its request.
---@param bufnr integer
function M.dismiss(bufnr)
  M.cancel(bufnr)
  if buffers[bufnr] then
    buffers[bufnr].current = nil
  end
  ghost.clear(bufnr)
end

--- Forgets `bufnr` entirely (buffer deleted, client detached).
---@param bufnr integer
function M.forget(bufnr)
  M.dismiss(bufnr)
  buffers[bufnr] = nil
end

--- What `bufnr` shows now: the untyped text, whether its request has finished, and which of how many
--- items it is; nil when nothing.
---@param bufnr integer
---@return { text: string, done: boolean, index: integer, count: integer }?
function M.get(bufnr)
  local rest = M.remaining(bufnr)
  if not rest then
    return nil
  end
  local cur = buffers[bufnr].current
  return { text = rest, done = cur.done, index = cur.index, count = #cur.items }
end

--- True while a request for `bufnr` is running.
---@param bufnr integer
function M.is_pending(bufnr)
  return buffers[bufnr] ~= nil and buffers[bufnr].pending ~= nil
end

return M
