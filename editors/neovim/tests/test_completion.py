"""Streaming ghost text and accepting it, against the real rill server and model."""

import time

from conftest import Editor, wait_for

# A function body to write: the model's suggestion spans several lines, so it streams for a while and
# exercises both the inline first line and the virtual lines below it.
SOURCE = '''def fibonacci(n):
    """Return the n-th Fibonacci number."""
'''
TYPED = "    "


def sample_ghost(editor, timeout):
    """Samples the ghost text every 20 ms until the suggestion is complete; returns the distinct texts."""
    samples = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text, done = editor.ghost_and_done()
        if text and (not samples or samples[-1] != text):
            samples.append(text)
        if done and samples:
            return samples
        time.sleep(0.02)
    raise AssertionError(f"the suggestion did not complete in {timeout} s; ghost texts seen: {samples}")


def test_ghost_text_streams_and_tab_accepts_it(nvim, workdir):
    path = workdir / "fibonacci.py"
    path.write_text(SOURCE)
    editor = Editor(nvim, path)

    # Typed as a user would, key by key into insert mode (autoindent off, so the indent is as typed).
    nvim.command("setlocal noautoindent")
    nvim.input("Go" + TYPED)
    wait_for(lambda: editor.lines()[-1] == TYPED, 5, message="the typed line")

    samples = sample_ghost(editor, timeout=60)
    final = samples[-1]
    assert final.strip(), "the final suggestion is empty"
    # Partials arrive while the model decodes: the ghost text is seen growing, and each step extends the
    # previous one (the server's partials are cumulative and never retract text).
    assert len(samples) >= 3, f"the ghost text did not grow while streaming: {samples}"
    for before, after in zip(samples, samples[1:]):
        assert after.startswith(before) and len(after) > len(before), f"not growing: {samples}"
    # The first line is drawn inline at the cursor (col = end of the typed text).
    mark = editor.lua(
        """
        local ns = vim.api.nvim_get_namespaces()['rill.ghost']
        local m = vim.api.nvim_buf_get_extmarks(..., ns, 0, -1, { details = true })[1]
        return { m[2], m[3], m[4].virt_text_pos }
        """,
        editor.buf,
    )
    assert mark == [len(SOURCE.splitlines()), len(TYPED), "inline"]

    nvim.input("<Tab>")
    expected = TYPED + final
    wait_for(lambda: expected in "\n".join(editor.lines()), 5, message=f"the accepted text {expected!r}")
    # The cursor ends after the inserted text.
    final_lines = final.split("\n")
    row, col = nvim.current.window.cursor
    assert row == len(SOURCE.splitlines()) + len(final_lines)
    assert col == (len(TYPED) if len(final_lines) == 1 else 0) + len(final_lines[-1])
    editor.leave_insert()

    # Incremental sync (including the accepted insertion) kept the server's copy identical.
    mirror = editor.lua(
        """
        local client = vim.lsp.get_clients({ bufnr = ..., name = 'rill' })[1]
        local r = client:request_sync('rill/documentText',
          { textDocument = vim.lsp.util.make_text_document_params(...) }, 10000, ...)
        return r and r.result and r.result.text or vim.NIL
        """,
        editor.buf,
    )
    assert mirror == "\n".join(editor.lines()) + "\n"

    # The server reported a finished completion with measurements.
    report = "\n".join(editor.lua("return require('rill.status').report()"))
    assert "rill: ready" in report and "tok/s" in report, report


def test_tab_falls_back_to_its_usual_meaning_without_a_suggestion(nvim, workdir):
    path = workdir / "plain.py"
    path.write_text("x = 1\n")
    editor = Editor(nvim, path)
    assert editor.lua("return require('rill').toggle(false)") is False
    try:
        nvim.input("A<Tab>y")
        wait_for(lambda: editor.lines()[0] == "x = 1\ty", 5, message="a literal tab from <Tab>")
        assert editor.ghost() is None
        editor.leave_insert()
    finally:
        editor.lua("require('rill').toggle(true)")


def test_partial_acceptance_pieces(nvim):
    piece = "return require('rill.accept').piece(...)"
    cases = [
        ("int(n ** 0.5) + 1):", "word", "int"),
        ("(n ** 0.5)", "word", "("),
        ("  total += x", "word", "  total"),
        ("\n    return x", "word", "\n    return"),
        ("a(b)\n    c\n", "line", "a(b)"),
        ("\n    c\nd", "line", "\n    c"),
        ("tail", "line", "tail"),
        ("a\nb", "all", "a\nb"),
    ]
    for text, unit, expected in cases:
        assert nvim.exec_lua(piece, text, unit) == expected, (text, unit)


def test_accept_word_accept_line_and_dismiss(nvim, workdir):
    path = workdir / "fibonacci_keys.py"
    path.write_text(SOURCE)
    editor = Editor(nvim, path)
    nvim.command("setlocal noautoindent")
    nvim.input("Go" + TYPED)
    full = sample_ghost(editor, timeout=60)[-1]
    first_line = full.split("\n")[0]
    word = nvim.exec_lua("return require('rill.accept').piece(...)", full, "word")
    assert word and len(word) < len(first_line), f"need a first line of several words: {full!r}"

    nvim.input("<M-w>")
    wait_for(lambda: editor.lines()[-1] == TYPED + word, 5, message=f"the word {word!r} inserted")
    # What is left of the suggestion stays on screen after the accepted word.
    seen = []
    wait_for(lambda: seen.append(editor.ghost()) or seen[-1] == full[len(word):], 5,
             message=f"the rest of the suggestion shown; full {full!r}, seen {seen[-5:]!r}")

    nvim.input("<M-l>")
    wait_for(lambda: editor.lines()[-1] == TYPED + first_line, 5, message="the rest of the line inserted")

    nvim.input("<C-]>")
    wait_for(lambda: editor.ghost() is None, 5, message="the ghost text to disappear")
    assert editor.lua("return require('rill').suggestion()") is None
    # Dismissing also stopped the request and the debounce: nothing comes back while the user does not
    # type (the auto-trigger delay is 20 ms, a suggestion from the cache would come within this wait).
    time.sleep(1.0)
    assert editor.ghost() is None
    assert not editor.lua("return require('rill.suggestion').is_pending(...)", editor.buf)
    editor.leave_insert()
    assert editor.lines()[-1] == TYPED + first_line
