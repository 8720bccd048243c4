"""Model diagnostics arrive as Neovim diagnostics, and the plugin applies their quick fix."""

from conftest import SETTINGS, Editor, setup_rill, wait_for

BUGGY = '''def total_price(items):
    """Add up the price of every item."""
    total = 0
    for item in items:
        total += item.price
    retrun total
'''


def rill_diagnostics(editor):
    return editor.lua(
        """
        return vim.tbl_map(function(d) return { lnum = d.lnum, col = d.col, message = d.message } end,
          vim.tbl_filter(function(d) return d.source == 'rill' end, vim.diagnostic.get(...)))
        """,
        editor.buf,
    )


def test_misspelling_is_flagged_and_fixed(nvim, workdir):
    path = workdir / "total.py"
    path.write_text(BUGGY)
    editor = Editor(nvim, path)

    found = wait_for(lambda: rill_diagnostics(editor), 90, interval=0.2, message="a rill diagnostic")
    flagged = [d for d in found if d["lnum"] == 5]
    assert flagged, f"no diagnostic on the `retrun` line: {found}"
    assert "retrun" in flagged[0]["message"], flagged[0]

    nvim.current.window.cursor = (6, flagged[0]["col"])
    editor.lua(
        "_G.rill_fix_result = nil; require('rill').fix(function(applied, msg) "
        "_G.rill_fix_result = { applied = applied, message = msg } end)"
    )
    result = wait_for(lambda: editor.lua("return _G.rill_fix_result"), 30, message="the quick fix")
    assert result["applied"], result
    assert "return" in result["message"], result
    assert editor.lines()[5] == "    return total"
    # Only the flagged span changed.
    assert editor.lines()[:5] == BUGGY.splitlines()[:5]


def test_settings_reach_the_server_when_setup_runs_again(nvim, workdir):
    path = workdir / "settings.py"
    path.write_text(BUGGY)
    editor = Editor(nvim, path)
    wait_for(lambda: rill_diagnostics(editor), 90, interval=0.2, message="a rill diagnostic")
    # The server pulls the `rill` section (workspace/configuration) when told that it changed; with
    # diagnostics switched off it clears them.
    setup_rill(nvim, {**SETTINGS, "diagnostics": {"enable": False}})
    try:
        wait_for(lambda: not rill_diagnostics(editor), 30, message="diagnostics cleared by the setting")
    finally:
        setup_rill(nvim, SETTINGS)
