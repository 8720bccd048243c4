-- Acceptance figures for the server's `rill/stats`: tells it when the suggestion answered for a request
-- was shown (rill/didShowCompletion) and how much of it the user accepted (rill/didAcceptCompletion),
-- each request at most once shown and with growing accepted lengths only.
local M = {}

-- The server remembers the last 512 request ids; remembering as many here is enough to send each
-- notification once, and bounds the memory of a long session.
local LIMIT = 512

---@type table<string, { shown: boolean, accepted: integer }>
local records = {}
---@type string[] keys of `records`, oldest first
local order = {}

local function record(client_id, request_id)
  local key = client_id .. ":" .. tostring(request_id)
  local r = records[key]
  if not r then
    r = { shown = false, accepted = 0 }
    records[key] = r
    order[#order + 1] = key
    if #order > LIMIT then
      records[table.remove(order, 1)] = nil
    end
  end
  return r
end

local function notify(client_id, method, params)
  local client = vim.lsp.get_client_by_id(client_id)
  if client and not client:is_stopped() then
    client:notify(method, params)
  end
end

--- The length of `text` in UTF-16 code units, the unit of the protocol's lengths.
---@param text string
---@return integer
function M.utf16_len(text)
  if text == "" then
    return 0
  end
  -- A string cut in the middle of a character (never the case for the server's text) counts bytes.
  local ok, len = pcall(vim.str_utfindex, text, "utf-16")
  return ok and len or #text
end

--- The suggestion answered for `request_id` is on screen: tells the server, once per request.
---@param client_id integer
---@param request_id integer|string
function M.shown(client_id, request_id)
  local r = record(client_id, request_id)
  if r.shown then
    return
  end
  r.shown = true
  notify(client_id, "rill/didShowCompletion", { requestId = request_id })
end

--- The user has accepted `length` UTF-16 code units of `request_id`'s suggestion so far (cumulative:
--- what was typed or accepted since the request, plus the piece just accepted). Sent only when it grows.
---@param client_id integer
---@param request_id integer|string
---@param length integer
function M.accepted(client_id, request_id, length)
  local r = record(client_id, request_id)
  if length <= r.accepted then
    return
  end
  r.accepted = length
  notify(client_id, "rill/didAcceptCompletion", { requestId = request_id, acceptedLength = length })
end

--- Client-side command `rill.didAcceptCompletion`, which the server (with `rillAcceptance`) attaches to
--- every inline completion item. Only Neovim's native inline completion runs items' commands, on a full
--- accept; the arguments name the request and the item's length.
---@param command lsp.Command
---@param ctx { client_id: integer }
function M.on_command(command, ctx)
  local args = type(command.arguments) == "table" and command.arguments[1] or nil
  if type(args) ~= "table" or args.requestId == nil or type(args.length) ~= "number" then
    return
  end
  -- Accepted implies shown; Neovim may have drawn it without this plugin noticing.
  M.shown(ctx.client_id, args.requestId)
  M.accepted(ctx.client_id, args.requestId, args.length)
end

return M
