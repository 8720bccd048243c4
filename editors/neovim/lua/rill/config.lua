-- rill.nvim configuration: the defaults, and merging and checking what the user passes to setup().
local M = {}

---@class rill.Keymaps
---@field accept string|false       Accept the whole suggestion (falls back to the key when none is shown).
---@field accept_word string|false  Accept the next word of the suggestion.
---@field accept_line string|false  Accept the rest of the suggestion's current line.
---@field dismiss string|false      Hide the suggestion and stop its request.
---@field next string|false         Show the answer's next suggestion (wrapping around).
---@field prev string|false         Show the answer's previous suggestion (wrapping around).

---@class rill.NextEditKeymaps
---@field accept string|false  Jump to the edit on offer; on it, apply it (falls back to the key otherwise).
---@field dismiss string|false Turn the edit on offer down (normal mode; falls back to the key otherwise).

---@class rill.NextEdit
---@field enabled boolean      Show the server's next edit suggestions (rill/nextEditAvailable).
---@field keymaps rill.NextEditKeymaps

---@class rill.Config
---@field cmd string[]               Command that starts the server.
---@field cmd_env table<string,string>? Extra environment for the server, e.g. { RILL_LOG = "debug" }.
---@field filetypes string[]         Filetypes to attach to; { "*" } means every file buffer.
---@field settings table             The `rill` settings section (docs/protocol.md, "Configuration").
---@field capabilities table?        Extra client capabilities merged into rill's own.
---@field auto_trigger boolean       Ask for a suggestion while typing.
---@field debounce_ms integer        Quiet time after a keystroke before asking (the server adapts the rest).
---@field native boolean             Use vim.lsp.inline_completion (Neovim >= 0.12), not rill's ghost text.
---@field ghost { position: "inline"|"overlay"|"eol", hl_group: string }
---@field keymaps rill.Keymaps
---@field next_edit rill.NextEdit
---@field on_attach fun(client: vim.lsp.Client, bufnr: integer)?

---@type rill.Config
M.defaults = {
  cmd = { "rill", "--stdio" },
  cmd_env = nil,
  filetypes = {
    "c", "cpp", "cs", "css", "go", "haskell", "html", "java", "javascript", "javascriptreact", "julia",
    "kotlin", "lua", "php", "python", "ruby", "rust", "scala", "sh", "bash", "zsh", "sql", "swift",
    "typescript", "typescriptreact", "vim", "zig",
  },
  settings = {},
  capabilities = nil,
  auto_trigger = true,
  -- Short: it only coalesces the keys of one mapping or paste. How long a request in the middle of a
  -- word waits before it costs model work is the server's adaptive triggering (completion.adaptiveDelay).
  debounce_ms = 20,
  native = false,
  ghost = { position = "inline", hl_group = "RillGhost" },
  keymaps = {
    accept = "<Tab>",
    accept_word = "<M-w>",
    accept_line = "<M-l>",
    dismiss = "<C-]>",
    next = "<M-]>",
    prev = "<M-[>",
  },
  next_edit = {
    enabled = true,
    keymaps = { accept = "<Tab>", dismiss = "<Esc>" },
  },
  on_attach = nil,
}

---@type rill.Config
M.current = vim.deepcopy(M.defaults)

-- A mistyped option should fail loudly at setup() rather than misbehave later while typing.
local function validate(cfg)
  vim.validate("cmd", cfg.cmd, function(v)
    return type(v) == "table" and #v > 0 and type(v[1]) == "string"
  end, "a non-empty list of strings")
  vim.validate("cmd_env", cfg.cmd_env, "table", true)
  vim.validate("filetypes", cfg.filetypes, "table")
  vim.validate("settings", cfg.settings, "table")
  vim.validate("capabilities", cfg.capabilities, "table", true)
  vim.validate("auto_trigger", cfg.auto_trigger, "boolean")
  vim.validate("debounce_ms", cfg.debounce_ms, function(v)
    return type(v) == "number" and v >= 0
  end, "a number >= 0")
  vim.validate("native", cfg.native, "boolean")
  vim.validate("ghost.position", cfg.ghost.position, function(v)
    return v == "inline" or v == "overlay" or v == "eol"
  end, '"inline", "overlay" or "eol"')
  vim.validate("ghost.hl_group", cfg.ghost.hl_group, "string")
  for name, lhs in pairs(cfg.keymaps) do
    vim.validate("keymaps." .. name, lhs, function(v)
      return v == false or type(v) == "string"
    end, "a key (string) or false")
  end
  vim.validate("next_edit.enabled", cfg.next_edit.enabled, "boolean")
  for name, lhs in pairs(cfg.next_edit.keymaps) do
    vim.validate("next_edit.keymaps." .. name, lhs, function(v)
      return v == false or type(v) == "string"
    end, "a key (string) or false")
  end
  vim.validate("on_attach", cfg.on_attach, "function", true)
end

--- Merges `opts` over the defaults, checks the result and makes it current.
---@param opts table?
---@return rill.Config
function M.apply(opts)
  local cfg = vim.tbl_deep_extend("force", vim.deepcopy(M.defaults), opts or {})
  -- Lists replace rather than merge: tbl_deep_extend would mix a user's { "rill" } into the default cmd.
  if opts and opts.cmd then
    cfg.cmd = opts.cmd
  end
  if opts and opts.filetypes then
    cfg.filetypes = opts.filetypes
  end
  validate(cfg)
  M.current = cfg
  return cfg
end

--- The `rill` settings section sent to the server: the user's, except that with `next_edit.enabled`
--- false the server's search is switched off too (unless the settings say otherwise), so it spends no
--- CPU on edits nobody will see.
---@param cfg rill.Config
---@return table
function M.server_settings(cfg)
  local settings = vim.deepcopy(cfg.settings)
  if cfg.next_edit.enabled or settings["nextEdit.enable"] ~= nil then
    return settings
  end
  if settings.nextEdit == nil then
    settings.nextEdit = { enable = false }
  elseif type(settings.nextEdit) == "table" and settings.nextEdit.enable == nil then
    settings.nextEdit.enable = false
  end
  return settings
end

--- True when the plugin should attach to a buffer of this filetype.
---@param filetype string
function M.wants_filetype(filetype)
  if filetype == "" then
    return false
  end
  for _, ft in ipairs(M.current.filetypes) do
    if ft == "*" or ft == filetype then
      return true
    end
  end
  return false
end

return M
