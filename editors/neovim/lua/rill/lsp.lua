-- Starting the rill language server for the configured filetypes and finding its client: the client
-- configuration (command, capabilities, settings, handlers for rill's own notifications).
local config = require("rill.config")

local M = {}

M.name = "rill"

--- The rill client attached to `bufnr`, if any.
---@param bufnr integer
---@return vim.lsp.Client?
function M.client_for(bufnr)
  return vim.lsp.get_clients({ bufnr = bufnr, name = M.name })[1]
end

--- Every running rill client.
---@return vim.lsp.Client[]
function M.clients()
  return vim.lsp.get_clients({ name = M.name })
end

-- An empty Lua table would be sent as a JSON array; the server expects an object.
local function as_object(t)
  if next(t) == nil then
    return vim.empty_dict()
  end
  return t
end

--- The capabilities rill is started with: Neovim's own, the user's extras, and what rill needs.
---@param cfg rill.Config
---@return lsp.ClientCapabilities
function M.capabilities(cfg)
  local ours = {
    textDocument = { inlineCompletion = vim.empty_dict() },
    experimental = {
      -- rill/status feeds `:Rill status` and the statusline in either mode; the server sends it only
      -- to clients that ask.
      rillStatus = true,
      -- Items then carry the command `rill.didAcceptCompletion` naming their request: the only way
      -- to learn of an accept in native mode (rill's own ghost text knows its request ids).
      rillAcceptance = true,
    },
  }
  if not require("rill.native").active() then
    -- Only rill's own renderer shows partials; Neovim's native inline completion would ignore them.
    ours.experimental.rillStreaming = true
  end
  return vim.tbl_deep_extend(
    "force",
    vim.lsp.protocol.make_client_capabilities(),
    cfg.capabilities or {},
    ours
  )
end

--- The vim.lsp.ClientConfig for the current configuration.
---@param cfg rill.Config
---@return vim.lsp.ClientConfig
function M.client_config(cfg)
  local settings = as_object(config.server_settings(cfg))
  return {
    name = M.name,
    cmd = cfg.cmd,
    cmd_env = cfg.cmd_env,
    root_dir = vim.fn.getcwd(),
    capabilities = M.capabilities(cfg),
    -- The same settings serve initializationOptions (read before the first pull) and the `rill`
    -- section answered to workspace/configuration.
    init_options = settings,
    settings = { rill = settings },
    -- Run by Neovim's native inline completion when an item is accepted (see rill.acceptance).
    commands = {
      ["rill.didAcceptCompletion"] = function(command, ctx)
        require("rill.acceptance").on_command(command, ctx)
      end,
    },
    handlers = {
      ["rill/inlineCompletion/partial"] = function(_, params, ctx)
        require("rill.suggestion").on_partial(params, ctx.client_id)
      end,
      ["rill/status"] = function(_, params, ctx)
        require("rill.status").on_status(params, ctx.client_id)
      end,
      ["rill/nextEditAvailable"] = function(_, params, ctx)
        require("rill.next_edit").on_available(params, ctx.client_id)
      end,
      ["rill/reasoningResult"] = function(_, params)
        require("rill.reasoning").on_result(params)
      end,
      -- Neovim 0.11 echoes an info message with a trailing line break, so every one ends in a
      -- hit-enter prompt (over the reasoning float, after each chain); rill's messages are one line.
      ["window/showMessage"] = function(err, params, ctx)
        local types = vim.lsp.protocol.MessageType
        if type(params) == "table" and type(params.message) == "string" and params.type ~= types.Error then
          local level = params.type == types.Warning and vim.log.levels.WARN or vim.log.levels.INFO
          vim.notify(params.message, level)
          return params
        end
        return vim.lsp.handlers["window/showMessage"](err, params, ctx)
      end,
    },
    on_exit = function(_, _, client_id)
      require("rill.status").forget(client_id)
    end,
    on_attach = function(client, bufnr)
      require("rill.attach").buffer(client, bufnr)
      if cfg.on_attach then
        cfg.on_attach(client, bufnr)
      end
    end,
  }
end

--- Hands changed settings to running clients (setup() called again): the server then pulls the `rill`
--- section anew, as docs/protocol.md describes for workspace/didChangeConfiguration.
---@param cfg rill.Config
function M.update_settings(cfg)
  local settings = { rill = as_object(config.server_settings(cfg)) }
  for _, client in ipairs(M.clients()) do
    client.settings = settings
    client:notify("workspace/didChangeConfiguration", { settings = settings })
  end
end

--- Stops every rill client and, once they have exited, starts rill again for the loaded buffers of
--- the configured filetypes: a server that started without a model loads the one fetched since.
function M.restart()
  local function start_all()
    for _, bufnr in ipairs(vim.api.nvim_list_bufs()) do
      if vim.api.nvim_buf_is_loaded(bufnr) then
        M.maybe_start(bufnr)
      end
    end
  end
  local old = M.clients()
  if #old == 0 then
    start_all()
    return
  end
  for _, client in ipairs(old) do
    client:stop()
  end
  -- vim.lsp.start() would hand the buffers back to a client still shutting down; wait for the exit
  -- (a few seconds at most, then force it).
  local timer = assert(vim.uv.new_timer())
  local waited, finished = 0, false
  timer:start(50, 50, vim.schedule_wrap(function()
    if finished then
      return
    end
    waited = waited + 50
    local alive = vim.tbl_filter(function(client)
      return not client:is_stopped()
    end, old)
    if #alive > 0 and waited < 3000 then
      return
    end
    finished = true
    timer:stop()
    timer:close()
    for _, client in ipairs(alive) do
      client:stop(true)
    end
    start_all()
  end))
end

local warned_missing = false

--- Starts rill for `bufnr` (or attaches the running client to it) when its filetype is configured.
---@param bufnr integer
function M.maybe_start(bufnr)
  local cfg = config.current
  if vim.bo[bufnr].buftype ~= "" or not config.wants_filetype(vim.bo[bufnr].filetype) then
    return
  end
  if vim.fn.executable(cfg.cmd[1]) ~= 1 then
    -- Once per session: a missing binary would otherwise complain on every file opened.
    if not warned_missing then
      warned_missing = true
      vim.notify(
        ("rill: %s is not executable; set `cmd` in require('rill').setup() (see :checkhealth rill)"):format(
          cfg.cmd[1]
        ),
        vim.log.levels.ERROR
      )
    end
    return
  end
  vim.lsp.start(M.client_config(cfg), {
    bufnr = bufnr,
    -- One server for every buffer and project: each server process loads its own copy of the model.
    reuse_client = function(client, new_config)
      return client.name == new_config.name and not client:is_stopped()
    end,
  })
end

return M
