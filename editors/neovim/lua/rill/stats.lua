-- `:Rill stats`: the server's acceptance figures (`rill/stats`: suggestions shown and accepted, overall,
-- per language and per source, and its latency) in a floating window. The figures live in the server,
-- which keeps them across restarts; this only asks and lays them out.
local M = {}

local METHOD_NOT_FOUND = -32601

---@class rill.Figures
---@field shown integer
---@field accepted integer
---@field partiallyAccepted integer
---@field acceptedChars integer
---@field acceptanceRate number

---@class rill.Stats
---@field overall rill.Figures
---@field byLanguage table<string, rill.Figures>
---@field bySource table<string, rill.Figures>
---@field latencyMs { p50: number?, p95: number?, samples: integer }
---@field persisted boolean
---@field path string?

-- A decoded JSON null is vim.NIL; a missing or odd field reads as nil.
local function number(value)
  return type(value) == "number" and value or nil
end

local function count(value)
  return tostring(number(value) and math.floor(value) or 0)
end

local function rate(figures)
  local value = number(figures.acceptanceRate)
  if not value then
    return "-"
  end
  return ("%.1f%%"):format(value * 100)
end

local function millis(value)
  value = number(value)
  if not value then
    return "-"
  end
  return (math.floor(value) == value and "%d ms" or "%.1f ms"):format(value)
end

local COLUMNS = { "shown", "accepted", "partly", "chars", "rate" }

-- One row per label: the label left-aligned, the figures right-aligned under the column names.
local function table_rows(rows, label_width)
  local cells = {}
  for _, row in ipairs(rows) do
    local f = type(row[2]) == "table" and row[2] or {}
    cells[#cells + 1] = {
      row[1],
      count(f.shown),
      count(f.accepted),
      count(f.partiallyAccepted),
      count(f.acceptedChars),
      rate(f),
    }
  end
  local widths = {}
  for i, name in ipairs(COLUMNS) do
    widths[i] = #name
    for _, c in ipairs(cells) do
      widths[i] = math.max(widths[i], #c[i + 1])
    end
  end
  local function line(label, values)
    local parts = { ("  %-" .. label_width .. "s"):format(label) }
    for i, value in ipairs(values) do
      parts[#parts + 1] = (" %" .. (widths[i] + 1) .. "s"):format(value)
    end
    return (table.concat(parts):gsub("%s+$", ""))
  end
  local out = { header = line("", COLUMNS) }
  for _, c in ipairs(cells) do
    out[#out + 1] = line(c[1], { c[2], c[3], c[4], c[5], c[6] })
  end
  return out
end

-- The entries of a map of figures as { name, figures } rows, most shown first (then by name).
local function sorted(map)
  local rows = {}
  if type(map) == "table" then
    for name, figures in pairs(map) do
      rows[#rows + 1] = { tostring(name), figures }
    end
  end
  table.sort(rows, function(a, b)
    local sa, sb = number(a[2].shown) or 0, number(b[2].shown) or 0
    if sa ~= sb then
      return sa > sb
    end
    return a[1] < b[1]
  end)
  return rows
end

--- The figures as lines: one table of shown / accepted / partly accepted / accepted characters / rate,
--- overall then per language and per source, then the latency and where the counts are kept.
---@param stats rill.Stats
---@return string[]
function M.lines(stats)
  local by_language, by_source = sorted(stats.byLanguage), sorted(stats.bySource)
  local label_width = #"overall"
  for _, row in ipairs(vim.list_extend(vim.list_extend({}, by_language), by_source)) do
    label_width = math.max(label_width, #row[1] + 2)
  end
  local rows = { { "overall", stats.overall } }
  for _, row in ipairs(by_language) do
    rows[#rows + 1] = { "  " .. row[1], row[2] }
  end
  for _, row in ipairs(by_source) do
    rows[#rows + 1] = { "  " .. row[1], row[2] }
  end
  local t = table_rows(rows, label_width)

  local lines = { "rill: suggestions shown and accepted", t.header, t[1] }
  if #by_language > 0 then
    lines[#lines + 1] = "by language"
    for i = 1, #by_language do
      lines[#lines + 1] = t[1 + i]
    end
  end
  if #by_source > 0 then
    lines[#lines + 1] = "by source"
    for i = 1, #by_source do
      lines[#lines + 1] = t[1 + #by_language + i]
    end
  end
  lines[#lines + 1] = "(partly: part of the suggestion accepted; rate: (accepted + partly) / shown)"

  local latency = type(stats.latencyMs) == "table" and stats.latencyMs or {}
  local samples = number(latency.samples) or 0
  if samples > 0 then
    lines[#lines + 1] = ("latency since the server started: p50 %s, p95 %s (%d requests)"):format(
      millis(latency.p50),
      millis(latency.p95),
      samples
    )
  else
    lines[#lines + 1] = "latency since the server started: no requests answered yet"
  end
  if stats.persisted == true and type(stats.path) == "string" then
    lines[#lines + 1] = "counts kept across restarts in " .. stats.path
  else
    lines[#lines + 1] =
      "counts since the server started (not saved: stats.persist is off, or the file cannot be written)"
  end
  return lines
end

---@type integer?
local float_win

--- Closes the stats window if it is open.
function M.close()
  if float_win and vim.api.nvim_win_is_valid(float_win) then
    vim.api.nvim_win_close(float_win, true)
  end
  float_win = nil
end

--- The open stats window, if any (for tests and mappings).
---@return integer?
function M.window()
  if float_win and vim.api.nvim_win_is_valid(float_win) then
    return float_win
  end
  return nil
end

--- Shows `lines` in a float that `q` or <Esc> closes, as does leaving it.
---@param lines string[]
---@return integer win
function M.open(lines)
  M.close()
  local buf = vim.api.nvim_create_buf(false, true)
  vim.api.nvim_buf_set_lines(buf, 0, -1, false, lines)
  vim.bo[buf].bufhidden = "wipe"
  vim.bo[buf].modifiable = false
  local widest = 0
  for _, line in ipairs(lines) do
    widest = math.max(widest, vim.fn.strdisplaywidth(line))
  end
  local width = math.max(20, math.min(widest, vim.o.columns - 6))
  local height = math.max(1, math.min(#lines, vim.o.lines - 6))
  local win = vim.api.nvim_open_win(buf, true, {
    relative = "editor",
    row = math.max(0, math.floor((vim.o.lines - height) / 2) - 1),
    col = math.max(0, math.floor((vim.o.columns - width) / 2)),
    width = width,
    height = height,
    style = "minimal",
    border = "rounded",
    title = " rill: stats ",
    title_pos = "center",
    zindex = 60,
  })
  float_win = win
  local ns = vim.api.nvim_create_namespace("rill.stats")
  vim.api.nvim_buf_set_extmark(buf, ns, 0, 0, { end_row = 0, end_col = #lines[1], hl_group = "Title" })
  for _, key in ipairs({ "q", "<Esc>" }) do
    vim.keymap.set("n", key, M.close, { buffer = buf, nowait = true, desc = "rill: close this window" })
  end
  vim.api.nvim_create_autocmd("WinLeave", { buffer = buf, once = true, callback = M.close })
  return win
end

--- Asks the server (the current buffer's rill client, else any) for its figures; calls
--- `on_done(stats)` with the result or `on_done(nil, message)` when there are none to show.
---@param on_done fun(stats: rill.Stats?, message: string?)
function M.request(on_done)
  local lsp = require("rill.lsp")
  local client = lsp.client_for(vim.api.nvim_get_current_buf()) or lsp.clients()[1]
  if not client then
    on_done(nil, "rill: not running (open a file of a configured filetype first)")
    return
  end
  local ok = client:request("rill/stats", vim.empty_dict(), function(err, result)
    if err then
      if err.code == METHOD_NOT_FOUND then
        on_done(nil, "rill: this rill server does not report acceptance figures (no rill/stats); update rill")
      else
        on_done(nil, "rill: rill/stats failed: " .. tostring(err.message or vim.inspect(err)))
      end
    elseif type(result) ~= "table" then
      on_done(nil, "rill: the server answered rill/stats without figures")
    else
      on_done(result)
    end
  end)
  if not ok then
    on_done(nil, "rill: cannot ask the server for its figures (has it exited? see :Rill log)")
  end
end

--- `:Rill stats`: asks and shows the figures in a float, or says why there are none.
function M.show()
  M.request(function(stats, message)
    if not stats then
      vim.notify(message, vim.log.levels.WARN)
      return
    end
    M.open(M.lines(stats))
  end)
end

return M
