-- `:Rill fetch`: downloads the default model with the server binary (`rill model fetch --progress json`)
-- without blocking the editor, shows each progress event in the command line, and restarts rill once the
-- model is in place so that it loads.
local config = require("rill.config")

local M = {}

-- Redraw the command line at most this often during a download; a new stage is shown at once.
local THROTTLE_MS = 100

---@class rill.FetchEvent
---@field stage "check"|"download"|"assemble"|"verify"|"done"|"error"
---@field bytesDone integer?
---@field bytesTotal integer?
---@field message string?
---@field path string?

---@type vim.SystemObj?
local running

local STAGES = {
  check = "checking",
  download = "downloading",
  assemble = "assembling",
  verify = "verifying",
  done = "done",
  error = "failed",
}

-- A decoded JSON null is vim.NIL; a missing or odd field reads as nil.
local function number(value)
  return type(value) == "number" and value or nil
end

local function text(value)
  return type(value) == "string" and vim.trim(value) or ""
end

--- The command-line text for one progress event: the stage, megabytes done of the total and the
--- percentage where the total is known, and the event's message.
---@param event rill.FetchEvent
---@return string
function M.describe(event)
  local stage = text(event.stage)
  local out = "rill: model fetch: " .. (STAGES[stage] or (stage ~= "" and stage or "working"))
  local done, total = number(event.bytesDone), number(event.bytesTotal)
  if total and total > 0 then
    done = done or 0
    out = out .. (" %.1f / %.1f MB (%d%%)"):format(done / 1e6, total / 1e6, math.floor(done * 100 / total))
  elseif done and done > 0 then
    out = out .. (" %.1f MB"):format(done / 1e6)
  end
  local message = text(event.message)
  if message ~= "" then
    out = out .. ": " .. message
  end
  return out
end

-- Shows `line` in the command line without adding it to the message history, cut to what fits
-- without a hit-enter prompt.
local function echo(line)
  local room = math.max(vim.v.echospace, 20)
  if vim.fn.strdisplaywidth(line) > room then
    line = vim.fn.strcharpart(line, 0, room - 1) .. "…"
  end
  vim.api.nvim_echo({ { line } }, false, {})
end

--- True while a fetch runs.
---@return boolean
function M.is_running()
  return running ~= nil
end

--- Runs `<cmd[1]> model fetch --progress json` with the server's environment (`cmd_env`), showing its
--- progress. On success rill is restarted (or started) for the open buffers so that it loads the
--- model. `on_done(ok, message)` (default: a notification) gets the model's path or the error.
---@param on_done fun(ok: boolean, message: string)?
function M.run(on_done)
  on_done = on_done
    or function(ok, message)
      if ok then
        local restart = #require("rill.lsp").clients() > 0 and "; restarting rill to load it" or ""
        vim.notify(("rill: model ready at %s%s"):format(message, restart))
      else
        vim.notify("rill: model fetch failed: " .. message, vim.log.levels.ERROR)
      end
    end
  if running then
    vim.notify("rill: a model fetch is already running", vim.log.levels.WARN)
    return
  end
  local bin = config.current.cmd[1]
  local argv = { bin, "model", "fetch", "--progress", "json" }

  ---@type rill.FetchEvent?
  local last_event
  local pending = "" -- stdout after the last line break
  local other = {} -- stdout lines that are not progress events, and stderr, for the error message
  local shown_stage, shown_at = nil, 0

  local function show(event)
    last_event = event
    local now = vim.uv.now()
    if event.stage == shown_stage and now - shown_at < THROTTLE_MS then
      return
    end
    shown_stage, shown_at = event.stage, now
    echo(M.describe(event))
  end

  local function on_line(line)
    line = vim.trim(line)
    if line == "" then
      return
    end
    local ok, event = pcall(vim.json.decode, line)
    if ok and type(event) == "table" and type(event.stage) == "string" then
      show(event)
    else
      other[#other + 1] = line
    end
  end

  local function on_stdout(_, data)
    if not data then
      return
    end
    pending = pending .. data
    local lines = vim.split(pending, "\n", { plain = true })
    pending = table.remove(lines)
    if #lines > 0 then
      vim.schedule(function()
        for _, line in ipairs(lines) do
          on_line(line)
        end
      end)
    end
  end

  local function on_stderr(_, data)
    if data then
      vim.schedule(function()
        vim.list_extend(other, vim.split(data, "\n", { plain = true, trimempty = true }))
      end)
    end
  end

  local function on_exit(result)
    vim.schedule(function()
      on_line(pending)
      pending = ""
      running = nil
      -- Clear the progress line: the outcome follows as a message of its own.
      echo("")
      local event = last_event or {}
      if result.code == 0 then
        on_done(true, text(event.path) ~= "" and text(event.path) or "the user cache")
        require("rill.lsp").restart()
        return
      end
      local message = event.stage == "error" and text(event.message) or ""
      if message == "" then
        -- No error event (an older binary, or a crash): the last words it printed say why.
        local tail = vim.list_slice(other, math.max(1, #other - 2))
        message = #tail > 0 and table.concat(tail, " ")
          or ("`%s` exited with code %d"):format(table.concat(argv, " "), result.code)
      end
      on_done(false, message)
    end)
  end

  local ok, obj = pcall(vim.system, argv, {
    text = true,
    env = config.current.cmd_env,
    stdout = on_stdout,
    stderr = on_stderr,
  }, on_exit)
  if not ok then
    on_done(false, ("cannot run %s: %s (set `cmd` in require('rill').setup())"):format(bin, tostring(obj)))
    return
  end
  running = obj
  echo("rill: model fetch: starting")
end

return M
