"""A reasoning chain's result (rill/reasoningResult) opens in a float that `q` closes and :Rill reasoning
reopens: fed to the client's handler, and sent by the real server at the end of a chain."""

from conftest import Editor, wait_for

# The example of docs/protocol.md, with a guard's rejection.
RESULT = {
    "uri": "file:///tmp/a.py",
    "task": "fix",
    "summary": "2 step(s), 1 kept, 1 dropped; applied",
    "steps": [
        {"number": 1, "title": "Spell return", "rationale": "`retrun` is not a keyword.", "kept": True},
        {
            "number": 2,
            "title": "Add braces",
            "rationale": "Blocks read better.",
            "kept": False,
            "droppedBecause": "changes nothing",
        },
    ],
    "applied": True,
    "rejectedBy": "the result looks like JavaScript, not python (it has `{`)",
}

EXPECTED = [
    "rill: fix this step by step: 2 step(s), 1 kept, 1 dropped; applied",
    "  in /tmp/a.py",
    "  not applied, rejected by a guard: the result looks like JavaScript, not python (it has `{`)",
    "  step 1: Spell return (kept)",
    "    why: `retrun` is not a keyword.",
    "  step 2: Add braces (dropped because changes nothing)",
    "    why: Blocks read better.",
]

FLOAT_LUA = """
    local win = require('rill.reasoning').window()
    if not win then return vim.NIL end
    local buf = vim.api.nvim_win_get_buf(win)
    return {
      lines = vim.api.nvim_buf_get_lines(buf, 0, -1, false),
      relative = vim.api.nvim_win_get_config(win).relative,
      current = vim.api.nvim_get_current_win() == win,
    }
"""


def reasoning_float(nvim):
    """The reasoning float's lines, whether it floats and has the cursor; None when it is closed."""
    return nvim.exec_lua(FLOAT_LUA)


def test_handler_shows_the_chain_and_rill_reasoning_reopens_it(nvim, workdir):
    path = workdir / "reasoning_fed.py"
    path.write_text("def f():\n    retrun 1\n")
    editor = Editor(nvim, path)
    # In normal mode the float takes the cursor (an earlier test may have left insert mode on).
    editor.leave_insert()
    editor_win = nvim.current.window.handle
    # Through the handler the plugin gave the client, as the notification would arrive.
    editor.lua(
        """
        local client = vim.lsp.get_clients({ bufnr = ..., name = 'rill' })[1]
        client.handlers['rill/reasoningResult'](nil, select(2, ...),
          { method = 'rill/reasoningResult', client_id = client.id })
        """,
        editor.buf,
        RESULT,
    )
    shown = wait_for(lambda: reasoning_float(nvim), 5, message="the reasoning float")
    assert shown["lines"] == EXPECTED, shown
    assert shown["relative"] == "editor" and shown["current"], shown

    nvim.input("q")
    wait_for(lambda: reasoning_float(nvim) is None, 5, message="`q` to close the float")
    assert nvim.current.window.handle == editor_win

    nvim.command("Rill reasoning")
    again = reasoning_float(nvim)
    assert again is not None and again["lines"] == EXPECTED, again
    assert nvim.exec_lua("return vim.fn.getcompletion('Rill re', 'cmdline')") == ["reasoning"]
    nvim.input("<Esc>")
    wait_for(lambda: reasoning_float(nvim) is None, 5, message="<Esc> to close the float")


def test_explanation_steps_odd_fields_and_typing(nvim, workdir):
    lines = nvim.exec_lua(
        "return require('rill.reasoning').lines(...)",
        {
            "uri": "untitled:x",
            "task": "explain",
            "summary": "1 step(s)\nexplained",
            "steps": [{"number": 1, "title": "Read the loop", "rationale": None, "kept": False}],
            "applied": False,
            "rejectedBy": None,
        },
    )
    assert lines == [
        "rill: explain step by step: 1 step(s) explained",
        "  in untitled:x",
        "  step 1: Read the loop (explanation)",
    ]
    assert nvim.exec_lua("return require('rill.reasoning').lines({ task = 'golf' })") == [
        "rill: golf step by step: (no summary)",
        "  (no steps)",
    ]

    # A chain that ends while you type does not take the cursor; moving it closes the float.
    path = workdir / "reasoning_typing.py"
    path.write_text("x = 1\n")
    editor = Editor(nvim, path)
    editor_win = nvim.current.window.handle
    nvim.input("A")
    wait_for(lambda: editor.mode() == "i", 5, message="insert mode")
    editor.lua("require('rill.reasoning').on_result(...)", RESULT)
    shown = wait_for(lambda: reasoning_float(nvim), 5, message="the reasoning float")
    assert not shown["current"] and nvim.current.window.handle == editor_win, shown
    nvim.input("2")
    wait_for(lambda: reasoning_float(nvim) is None, 5, message="typing to close the float")
    editor.leave_insert()


def test_a_real_chain_ends_in_the_float(nvim, workdir):
    path = workdir / "reasoning_real.py"
    path.write_text("def mul(a, b):\n    return a * b\n")
    editor = Editor(nvim, path)
    editor.leave_insert()
    editor.lua("require('rill.reasoning').last = nil")
    # A chain asked for while the model loads is refused ("still loading").
    wait_for(
        lambda: nvim.exec_lua("return require('rill').statusline()") == "rill: ready",
        120,
        interval=0.2,
        message="the model to load",
    )
    # What the "explain step by step" code action runs; explaining changes nothing in the document.
    editor.lua(
        """
        local bufnr = ...
        local client = vim.lsp.get_clients({ bufnr = bufnr, name = 'rill' })[1]
        _G.rill_reason_done = false
        client:request('workspace/executeCommand', {
          command = 'rill.reason',
          arguments = { {
            uri = vim.uri_from_bufnr(bufnr),
            range = { start = { line = 0, character = 0 }, ['end'] = { line = 2, character = 0 } },
            task = 'explain',
          } },
        }, function(err, result) _G.rill_reason_done = { err = err, result = result } end, bufnr)
        """,
        editor.buf,
    )
    # The chain is bounded by reasoning.timeoutMs (30 s by default) after the model is loaded.

    def float_or_prompt():
        # The server's one-line summary (window/showMessage) ends in a hit-enter prompt when it is
        # wider than the screen. While Nvim waits there every call but get_mode blocks, so answer it
        # as a user would.
        if nvim.api.get_mode()["blocking"]:
            nvim.input("<CR>")
            return None
        return reasoning_float(nvim)

    shown = wait_for(float_or_prompt, 120, interval=0.2, message="the chain's result")
    assert shown["lines"][0].startswith("rill: explain step by step: "), shown
    assert shown["lines"][1] == f"  in {path}", shown
    assert all(line.startswith("  ") for line in shown["lines"][1:]), shown
    done = wait_for(lambda: editor.lua("return _G.rill_reason_done"), 30, message="the command's answer")
    assert done.get("err") is None, done
    # The summary is shown as one line (vim.notify), without the trailing line break of Neovim's own
    # handler that would stop at a hit-enter prompt.
    messages = nvim.exec_lua("return vim.fn.execute('messages')")
    assert "rill: explain step by step: " in messages and "LSP[rill]" not in messages, messages
    nvim.input("q")
    wait_for(lambda: reasoning_float(nvim) is None, 5, message="`q` to close the float")
    assert editor.lines() == ["def mul(a, b):", "    return a * b"]
