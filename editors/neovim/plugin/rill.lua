-- rill.nvim entry point: defines :Rill and the ghost-text highlight. Nothing starts until
-- require("rill").setup() is called, so merely installing the plugin changes no editing behaviour.
if vim.g.loaded_rill then
  return
end
vim.g.loaded_rill = true

local function define_highlights()
  -- `default` so a colorscheme or the user can restyle it.
  vim.api.nvim_set_hl(0, "RillGhost", { link = "Comment", default = true })
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
  desc = "rill: status | toggle | log | suggest | fix | reasoning",
})
