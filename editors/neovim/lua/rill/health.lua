-- :checkhealth rill: Neovim version, the server binary and its version, the model it would load, and
-- the state of running rill clients.
local M = {}

local health = vim.health

-- Runs the rill binary with `args`; returns (ok, trimmed stdout or stderr).
local function run(bin, args, env)
  local ok, result = pcall(function()
    return vim.system(vim.list_extend({ bin }, args), { text = true, env = env }):wait(10000)
  end)
  if not ok then
    return false, tostring(result)
  end
  if result.code ~= 0 then
    return false, vim.trim(result.stderr ~= "" and result.stderr or ("exit code " .. result.code))
  end
  return true, vim.trim(result.stdout)
end

-- The `model.path` setting, in either the nested or the dotted form the server accepts.
local function model_setting(settings)
  local value = settings["model.path"]
  if value == nil and type(settings.model) == "table" then
    value = settings.model.path
  end
  if type(value) == "string" and value ~= "" then
    return value
  end
  return nil
end

function M.check()
  local config = require("rill.config").current

  health.start("Neovim")
  local v = vim.version()
  local version = ("%d.%d.%d"):format(v.major, v.minor, v.patch)
  if vim.fn.has("nvim-0.11") == 1 then
    health.ok("Neovim " .. version)
  else
    health.error("Neovim " .. version .. " is too old", { "rill.nvim needs Neovim 0.11 or newer" })
  end
  if require("rill.native").available() then
    health.info("vim.lsp.inline_completion is available (option `native = true` uses it)")
  elseif config.native then
    health.warn("`native = true` is set but needs Neovim 0.12; rill's own ghost text is used")
  end

  health.start("rill server")
  local bin = config.cmd[1]
  local path = vim.fn.exepath(bin)
  if path == "" then
    health.error(("%s not found or not executable"):format(bin), {
      "Build it with `cargo build --release` and put target/release/rill on $PATH,",
      "or set `cmd = { '/path/to/rill', '--stdio' }` in require('rill').setup()",
    })
    return
  end
  health.ok("binary: " .. path)
  local ok, out = run(path, { "--version" }, config.cmd_env)
  if ok then
    health.ok("version: " .. out)
  else
    health.error("`" .. bin .. " --version` failed: " .. out)
  end

  local args = { "model", "path" }
  local configured = model_setting(config.settings)
  if configured then
    vim.list_extend(args, { "--model", vim.fn.expand(configured) })
  end
  ok, out = run(path, args, config.cmd_env)
  if ok and vim.fn.filereadable(out) == 1 then
    health.ok(("model: %s (%.0f MB)"):format(out, vim.fn.getfsize(out) / 1e6))
  elseif ok then
    health.error("model path " .. out .. " is not readable", {
      "Check `settings.model.path` and RILL_MODEL, or fetch the default model with `:Rill fetch`",
    })
  else
    health.error("model not found: " .. out, {
      "Fetch the default model with `:Rill fetch` (rill then restarts to load it),",
      "or `rill model fetch` in a shell,",
      "or set `settings = { model = { path = '/path/to/model.gguf' } }`",
    })
  end

  health.start("rill clients")
  local clients = require("rill.lsp").clients()
  if #clients == 0 then
    health.info("no rill client running (open a file of a configured filetype)")
  end
  for _, client in ipairs(clients) do
    local status = require("rill.status").get(client.id)
    local state = status and status.state or "starting"
    local buffers = vim.tbl_count(client.attached_buffers)
    local line = ("client %d: %s, %d buffer(s)"):format(client.id, state, buffers)
    if state == "error" then
      health.error(line .. (status.message and (": " .. status.message) or ""))
    else
      health.ok(line)
    end
  end
end

return M
