"""Next edit suggestions: after a rename the server offers the rename of the next use (rill/nextEditAvailable);
the marker shows at its line, <Tab> jumps there and previews it, <Tab> again applies it, <Esc> turns the next
one down. The server answers from its scripted fake backend (RILL_TEST_FAKE_SCRIPT), whose next edit is the
propagated rename, so the test knows the edits without a model."""

import time

import pytest
from conftest import Editor, setup_rill, start_nvim, stop_nvim, wait_for

SOURCE = "def summarize(xs):\n    total = 0\n    for x in xs:\n        total += x\n    return total\n"

# A short pause before the server looks for the next edit keeps the test quick.
SETTINGS = {"nextEdit": {"debounceMs": 50}}

MARKS_LUA = """
    local buf = ...
    local ns = vim.api.nvim_get_namespaces()['rill.next_edit']
    local out = {}
    for _, m in ipairs(vim.api.nvim_buf_get_extmarks(buf, ns, 0, -1, { details = true })) do
      local d = m[4]
      out[#out + 1] = {
        row = m[2],
        col = m[3],
        text = d.virt_text and d.virt_text[1][1] or vim.NIL,
        pos = d.virt_text_pos or vim.NIL,
        hl = d.hl_group or vim.NIL,
        end_row = d.end_row or vim.NIL,
        end_col = d.end_col or vim.NIL,
      }
    end
    return out
"""

NEXT_EDIT_LUA = """
    local buf = ...
    local client = vim.lsp.get_clients({ bufnr = buf, name = 'rill' })[1]
    local answer = client:request_sync('rill/nextEdit', {
      textDocument = { uri = vim.uri_from_bufnr(buf) },
      position = { line = 0, character = 0 },
    }, 5000, buf)
    return answer and answer.result or vim.NIL
"""


@pytest.fixture(scope="module")
def fake_nvim(workdir):
    """A Neovim of its own whose server answers from the scripted fake: no model, known next edits."""
    script = workdir / "fake-script.json"
    script.write_text("{}")
    session = start_nvim(workdir)
    setup_rill(session, SETTINGS, cmd_env={"RILL_TEST_FAKE_SCRIPT": str(script)})
    yield session
    stop_nvim(session)


def marks(editor):
    return editor.lua(MARKS_LUA, editor.buf)


def marker_on(editor, row):
    """The marker's extmark when it is shown at the end of `row` (0-based) and nothing else is shown."""
    shown = marks(editor)
    if len(shown) == 1 and shown[0]["row"] == row and shown[0]["pos"] == "eol":
        return shown[0]
    return None


def rename_total(editor):
    """Renames `total` on line 2 to `acc` as a user would: `cw` in normal mode."""
    editor.nvim.api.win_set_cursor(0, (2, 4))
    editor.nvim.input("cwacc<Esc>")
    wait_for(lambda: editor.lines()[1] == "    acc = 0" and editor.mode() == "n", 5, message="the rename")


def test_tab_jumps_to_the_next_edit_and_applies_it(fake_nvim, workdir):
    path = workdir / "next_edit.py"
    path.write_text(SOURCE)
    editor = Editor(fake_nvim, path)
    rename_total(editor)

    marker = wait_for(lambda: marker_on(editor, 3), 10, message="the marker on line 4")
    assert marker["text"] == "⇥ Tab: next edit", marker

    # The first <Tab> fetches the edit, jumps to it and previews it: `total` struck through, `acc` after it.
    fake_nvim.input("<Tab>")
    wait_for(lambda: tuple(fake_nvim.current.window.cursor) == (4, 8), 5, message="the jump to line 4")
    preview = wait_for(lambda: [m for m in marks(editor) if m["pos"] == "inline"], 5, message="the preview")
    assert preview[0]["row"] == 3 and preview[0]["col"] == 13 and preview[0]["text"] == "acc", preview
    old = [m for m in marks(editor) if m["hl"] == "RillNextEditOld"]
    assert len(old) == 1 and (old[0]["row"], old[0]["col"], old[0]["end_col"]) == (3, 8, 13), old
    assert editor.lines()[3] == "        total += x"

    # The second <Tab> applies it.
    fake_nvim.input("<Tab>")
    wait_for(lambda: editor.lines()[3] == "        acc += x", 5, message="the edit applied")
    assert editor.lines() == [
        "def summarize(xs):",
        "    acc = 0",
        "    for x in xs:",
        "        acc += x",
        "    return total",
    ]

    # Accepting it is an edit too: the server offers the next use, `return total`; <Esc> turns it down.
    wait_for(lambda: marker_on(editor, 4), 10, message="the marker on line 5")
    fake_nvim.input("<Esc>")
    wait_for(lambda: marks(editor) == [], 5, message="<Esc> to clear the marker")
    assert editor.lua(NEXT_EDIT_LUA, editor.buf) is None
    # Turned down, it is not offered again.
    time.sleep(0.5)
    assert marks(editor) == []
    assert editor.lines()[4] == "    return total"


def test_in_insert_mode_tab_and_ctrl_bracket(fake_nvim, workdir):
    path = workdir / "next_edit_insert.py"
    path.write_text(SOURCE)
    editor = Editor(fake_nvim, path)
    editor.nvim.api.win_set_cursor(0, (2, 4))
    # The rename typed, and insert mode kept: the offer comes while the user pauses.
    fake_nvim.input("cwacc")
    wait_for(lambda: editor.lines()[1] == "    acc = 0", 5, message="the rename")
    wait_for(lambda: marker_on(editor, 3), 10, message="the marker on line 4")
    assert editor.mode() == "i"

    # No ghost text is shown (the fake writes none, and the server's inline answer on the target line is
    # the next edit itself, which is not ghost text), so <Tab> jumps and applies.
    fake_nvim.input("<Tab>")
    wait_for(lambda: tuple(fake_nvim.current.window.cursor) == (4, 8), 5, message="the jump to line 4")
    wait_for(lambda: [m for m in marks(editor) if m["pos"] == "inline"], 5, message="the preview")
    assert editor.ghost() is None
    fake_nvim.input("<Tab>")
    wait_for(lambda: editor.lines()[3] == "        acc += x", 5, message="the edit applied")
    assert editor.mode() == "i"

    wait_for(lambda: marker_on(editor, 4), 10, message="the marker on line 5")
    fake_nvim.input("<C-]>")
    wait_for(lambda: marks(editor) == [], 5, message="<C-]> to clear the marker")
    assert editor.mode() == "i"
    editor.leave_insert()
    assert editor.lines()[4] == "    return total"


def test_disabled_shows_nothing_and_keeps_tab(fake_nvim, workdir):
    script = workdir / "fake-script.json"
    setup_rill(
        fake_nvim, SETTINGS, cmd_env={"RILL_TEST_FAKE_SCRIPT": str(script)}, next_edit={"enabled": False}
    )
    try:
        path = workdir / "next_edit_off.py"
        path.write_text(SOURCE)
        editor = Editor(fake_nvim, path)
        assert editor.lua("return vim.fn.maparg('<Tab>', 'n')") == ""
        rename_total(editor)
        # Several times the server's pause: it was told not to look (nextEdit.enable = false).
        time.sleep(0.5)
        assert marks(editor) == []
        # Even a notification that arrives is not shown.
        editor.lua(
            """
            local buf = ...
            local client = vim.lsp.get_clients({ bufnr = buf, name = 'rill' })[1]
            client.handlers['rill/nextEditAvailable'](nil, {
              uri = vim.uri_from_bufnr(buf),
              version = vim.lsp.util.buf_versions[buf],
              range = { start = { line = 3, character = 8 }, ['end'] = { line = 3, character = 13 } },
            }, { method = 'rill/nextEditAvailable', client_id = client.id })
            """,
            editor.buf,
        )
        assert marks(editor) == []
        # <Tab> keeps its meaning: in insert mode it inserts a tab.
        fake_nvim.api.win_set_cursor(0, (5, 0))
        fake_nvim.input("o<Tab>y<Esc>")
        wait_for(lambda: editor.mode() == "n" and len(editor.lines()) == 6, 5, message="the typed line")
        # (after the indentation 'autoindent' copies from the line above)
        assert editor.lines()[5] == "    \ty"
        assert editor.lines()[3] == "        total += x"
    finally:
        setup_rill(fake_nvim, SETTINGS, cmd_env={"RILL_TEST_FAKE_SCRIPT": str(script)})
