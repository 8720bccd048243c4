-- rill.nvim entry point: defines :Rill and the ghost-text and next-edit highlights. Nothing starts until
-- require("rill").setup() is called, so merely installing the plugin changes no editing behaviour.
if vim.g.loaded_rill then
  return
end
vim.g.loaded_rill = true

local function define_highlights()
  -- `default` so a colorscheme or the user can restyle it.
  vim.api.nvim_set_hl(0, "RillGhost", { link = "Comment", default = true })
  -- The next edit: the marker at the end of its line, its new text, and the text it replaces.
  vim.api.nvim_set_hl(0, "RillNextEdit", { link = "DiagnosticHint", default = true })
  vim.api.nvim_set_hl(0, "RillNextEditNew", { link = "DiffAdd", default = true })
  -- A link cannot add strikethrough, so the colorscheme's DiffDelete colours are copied.
  local delete = vim.api.nvim_get_hl(0, { name = "DiffDelete", link = false })
  vim.api.nvim_set_hl(0, "RillNextEditOld", {
    fg = delete.fg,
    bg = delete.bg,
    ctermfg = delete.ctermfg,
    ctermbg = delete.ctermbg,
    strikethrough = true,
    default = true,
  })
end
define_highlights()
vim.api.nvim_create_autocmd("ColorScheme", {
  group = vim.api.nvim_create_augroup("rill.highlights", { clear = true }),
  callback = define_highlights,
})

vim.api.nvim_create_user_command("Rill", function(opts)
  require("rill.command").run(opts.args)
end, {
  nargs = "?",
  complete = function(lead)
    return require("rill.command").complete(lead)
  end,
  desc = "rill: status | toggle | log | suggest | fix | reasoning | stats | fetch",
})
