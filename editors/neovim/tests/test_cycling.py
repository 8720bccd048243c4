"""Cycling through the server's several suggestions with <M-]> / <M-[>: with the real server, and with a fed answer."""

from conftest import Editor, wait_for
from test_completion import SOURCE, TYPED, sample_ghost

SUGGESTION_LUA = "local s = require('rill').suggestion(...); return s == nil and vim.NIL or s"


def suggestion(editor):
    """What require('rill').suggestion() reports for the test's buffer: text, done, index and count."""
    return editor.lua(SUGGESTION_LUA, editor.buf)


def test_alt_brackets_cycle_the_real_servers_suggestions_and_tab_accepts_the_shown_one(nvim, workdir):
    # An empty function body: with the default model the server ranks three items here (the body, then
    # two other first lines), checked with a plain LSP client against target/release/rill.
    path = workdir / "fibonacci_cycle.py"
    path.write_text(SOURCE)
    editor = Editor(nvim, path)
    nvim.command("setlocal noautoindent")
    nvim.input("Go" + TYPED)
    first = sample_ghost(editor, timeout=60)[-1]
    shown = suggestion(editor)
    count = shown["count"]
    assert count >= 2, f"the server offered one suggestion here, nothing to cycle: {shown!r}"
    assert shown["index"] == 1 and shown["text"] == first

    nvim.input("<M-]>")
    second = wait_for(lambda: (g := editor.ghost()) != first and g, 5, message="<M-]> to show the second")
    assert suggestion(editor)["index"] == 2
    nvim.input("<M-[>")
    wait_for(lambda: editor.ghost() == first, 5, message="<M-[> to show the first again")
    # Backwards from the first wraps to the last, and forwards from the last to the first.
    nvim.input("<M-[>")
    wait_for(lambda: suggestion(editor)["index"] == count, 5, message="<M-[> to wrap to the last")
    assert editor.ghost() not in (None, first)
    nvim.input("<M-]>")
    wait_for(lambda: editor.ghost() == first, 5, message="<M-]> to wrap to the first")
    assert suggestion(editor)["index"] == 1

    # Cycling sent no request and moved nothing: the buffer is as typed.
    assert editor.lines()[-1] == TYPED
    nvim.input("<M-]>")
    wait_for(lambda: editor.ghost() == second, 5, message="<M-]> to show the second again")
    nvim.input("<Tab>")
    expected = TYPED + second
    wait_for(lambda: "\n".join(editor.lines()).endswith(expected), 5, message=f"the shown {expected!r}")
    editor.leave_insert()


def test_cycling_wraps_and_skips_items_that_do_not_fit_what_was_typed(nvim):
    # A fed answer in a buffer rill is not attached to (filetype text), so no request replaces it.
    nvim.command("enew")
    nvim.command("setlocal noautoindent")
    buf = nvim.current.buffer.number
    nvim.current.buffer[:] = ["x = "]
    nvim.input("A")
    wait_for(lambda: nvim.api.get_mode()["mode"] == "i", 5, message="insert mode")
    suggestion = "return require('rill.suggestion')"

    def ghost():
        return nvim.exec_lua(
            "local s = require('rill').suggestion(...); return s == nil and vim.NIL or { s.text, s.index, s.count }",
            buf,
        )

    def cycle(count):
        return nvim.exec_lua("return require('rill').cycle(...)", count)

    # Empty and repeated items are left out; the first is shown.
    nvim.exec_lua(suggestion + ".show_items(...)", buf, 0, 4, ["foo()", "", "bar()", "foo()", "fob"], True)
    assert ghost() == ["foo()", 1, 3]
    assert cycle(1) is True and ghost() == ["bar()", 2, 3]
    assert cycle(1) is True and ghost() == ["fob", 3, 3]
    assert cycle(1) is True and ghost() == ["foo()", 1, 3], "forwards from the last wraps to the first"
    assert cycle(-1) is True and ghost() == ["fob", 3, 3], "backwards from the first wraps to the last"
    assert cycle(2) is True and ghost() == ["bar()", 2, 3]

    # After typing "f" only the items starting with it are stops; the ghost shows the untyped rest.
    assert cycle(-1) is True and ghost() == ["foo()", 1, 3]
    nvim.input("f")
    wait_for(lambda: nvim.current.buffer[0] == "x = f", 5, message="the typed f")
    assert ghost() == ["oo()", 1, 3]
    assert cycle(1) is True and ghost() == ["ob", 3, 3], "bar() does not fit and is skipped"
    assert cycle(1) is True and ghost() == ["oo()", 1, 3]

    # One item: nothing to cycle to.
    nvim.exec_lua(suggestion + ".show_items(...)", buf, 0, 4, ["foo()"], True)
    assert cycle(1) is False and ghost() == ["oo()", 1, 1]
    nvim.exec_lua(suggestion + ".dismiss(...)", buf)
    assert cycle(1) is False
    nvim.input("<Esc>")
    wait_for(lambda: nvim.api.get_mode()["mode"] == "n", 5, message="normal mode")
    nvim.command("bwipeout!")
