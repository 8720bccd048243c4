"""Acceptance figures: the plugin tells the server which request's suggestion was shown
(rill/didShowCompletion, once) and how much of it was accepted (rill/didAcceptCompletion, cumulative UTF-16
lengths), and `:Rill stats` shows the server's figures (rill/stats). The server answers from its scripted
fake backend (RILL_TEST_FAKE_SCRIPT), so the suggestion is known without a model; each Neovim gets a fresh
XDG_DATA_HOME, where the server keeps its figures."""

import json

import pytest
from conftest import Editor, setup_rill, start_nvim, stop_nvim, wait_for

# Non-ASCII on purpose: `é` is 2 bytes and 1 UTF-16 unit, the emoji 4 bytes and 2 units.
SUGGESTION = "compute('é😀') + 1"
FIRST_WORD = "compute"


def utf16_len(text):
    return len(text.encode("utf-16-le")) // 2


# Written in pieces of 3 characters 10 ms apart, so the ghost text is redrawn several times.
SCRIPT = {"rules": [{"endsWith": "x = ", "text": SUGGESTION}], "pieceChars": 3, "pieceDelayMs": 10}

# Requests only on demand (require('rill').suggest()), so which request a suggestion answers is known;
# no next edits, whose answers could interleave.
OPTIONS = {"auto_trigger": False, "next_edit": {"enabled": False}}

# Records, on the buffer's rill client, the ids of its inline completion requests and every rill/did*
# notification it sends, as they go out.
RECORD_LUA = """
    local buf = ...
    local client = vim.lsp.get_clients({ bufnr = buf, name = 'rill' })[1]
    _G.rill_test = { sent = {}, requests = {} }
    if not client.rill_test_wrapped then
      client.rill_test_wrapped = true
      local notify, request = client.notify, client.request
      client.notify = function(self, method, params)
        if method:match('^rill/did') then
          table.insert(_G.rill_test.sent, { method = method, params = params })
        end
        return notify(self, method, params)
      end
      client.request = function(self, method, params, handler, bufnr)
        local ok, id = request(self, method, params, handler, bufnr)
        if ok and method == 'textDocument/inlineCompletion' then
          table.insert(_G.rill_test.requests, id)
        end
        return ok, id
      end
    end
"""


def start_fake_nvim(tmp_path):
    script = tmp_path / "fake-script.json"
    script.write_text(json.dumps(SCRIPT))
    # start_nvim points XDG_DATA_HOME (the server's stats.json) into this test's own directory.
    session = start_nvim(tmp_path)
    setup_rill(session, {}, cmd_env={"RILL_TEST_FAKE_SCRIPT": str(script)}, **OPTIONS)
    return session


@pytest.fixture
def fake_nvim(tmp_path):
    session = start_fake_nvim(tmp_path)
    yield session
    stop_nvim(session)


def open_recorded(nvim, path):
    path.write_text("y = 0\n")
    editor = Editor(nvim, path)
    nvim.command("setlocal noautoindent")
    editor.lua(RECORD_LUA, editor.buf)
    return editor


def recorded(editor):
    return editor.lua("return _G.rill_test")


def suggest_after(editor, typed):
    """Opens a new last line, types `typed`, asks for a suggestion and waits until it is complete;
    returns the id of the request it answers."""
    editor.nvim.input("Go" + typed)
    wait_for(lambda: editor.lines()[-1] == typed and editor.mode() == "i", 5, message="the typed line")
    assert editor.lua("return require('rill').suggest()")
    wait_for(lambda: editor.ghost_and_done() == (SUGGESTION, True), 10, message="the whole suggestion")
    return recorded(editor)["requests"][-1]


def test_shown_once_and_accepted_lengths_are_cumulative_utf16(fake_nvim, tmp_path):
    editor = open_recorded(fake_nvim, tmp_path / "acceptance.py")

    first = suggest_after(editor, "x = ")
    # The ghost text grew over several partials and the answer, but the server hears of it once.
    assert recorded(editor)["sent"] == [
        {"method": "rill/didShowCompletion", "params": {"requestId": first}}
    ]

    # <M-w> accepts the first word, <M-l> the rest of the line: growing lengths for the same request.
    fake_nvim.input("<M-w>")
    wait_for(lambda: editor.lines()[-1] == "x = " + FIRST_WORD, 5, message="the word inserted")
    fake_nvim.input("<M-l>")
    wait_for(lambda: editor.lines()[-1] == "x = " + SUGGESTION, 5, message="the rest of the line")
    assert recorded(editor)["sent"][1:] == [
        {
            "method": "rill/didAcceptCompletion",
            "params": {"requestId": first, "acceptedLength": utf16_len(FIRST_WORD)},
        },
        {
            "method": "rill/didAcceptCompletion",
            "params": {"requestId": first, "acceptedLength": utf16_len(SUGGESTION)},
        },
    ]
    assert utf16_len(SUGGESTION) == 18  # neither the bytes (21) nor the characters (17)
    editor.leave_insert()

    # Typing what the ghost shows, then <Tab>: the typed part counts as accepted too (a full accept).
    editor.lua("_G.rill_test.sent = {}")
    second = suggest_after(editor, "x = ")
    assert second != first
    fake_nvim.input("comp")
    wait_for(lambda: editor.ghost() == SUGGESTION[4:], 5, message="the ghost text to shrink")
    fake_nvim.input("<Tab>")
    wait_for(lambda: editor.lines()[-1] == "x = " + SUGGESTION, 5, message="the suggestion accepted")
    assert recorded(editor)["sent"] == [
        {"method": "rill/didShowCompletion", "params": {"requestId": second}},
        {
            "method": "rill/didAcceptCompletion",
            "params": {"requestId": second, "acceptedLength": utf16_len(SUGGESTION)},
        },
    ]
    editor.leave_insert()

    # A dismissed suggestion was shown, never accepted.
    editor.lua("_G.rill_test.sent = {}")
    third = suggest_after(editor, "x = ")
    fake_nvim.input("<C-]>")
    wait_for(lambda: editor.ghost() is None, 5, message="the ghost text dismissed")
    editor.leave_insert()
    assert recorded(editor)["sent"] == [{"method": "rill/didShowCompletion", "params": {"requestId": third}}]


def test_native_accept_command_reports_the_items_request(fake_nvim, tmp_path):
    # Neovim 0.12's native inline completion runs an accepted item's command; the server names the
    # request and the item's length in it (rillAcceptance). Run here as Neovim would run it.
    editor = open_recorded(fake_nvim, tmp_path / "native.py")
    caps = editor.lua(
        "return vim.lsp.get_clients({ bufnr = ..., name = 'rill' })[1].capabilities.experimental", editor.buf
    )
    assert caps == {"rillStatus": True, "rillAcceptance": True, "rillStreaming": True}, caps
    editor.lua(
        """
        local client = vim.lsp.get_clients({ bufnr = ..., name = 'rill' })[1]
        client:exec_cmd({ title = 'rill: accepted', command = 'rill.didAcceptCompletion',
          arguments = { { requestId = 41, length = 12 } } }, { bufnr = ... })
        """,
        editor.buf,
    )
    assert recorded(editor)["sent"] == [
        {"method": "rill/didShowCompletion", "params": {"requestId": 41}},
        {"method": "rill/didAcceptCompletion", "params": {"requestId": 41, "acceptedLength": 12}},
    ]


def test_native_answer_drawn_by_neovim_counts_as_shown(fake_nvim, tmp_path):
    # What Neovim 0.12 does in native mode, played on 0.11: an answered inline completion request of
    # rill's client (LspRequest "complete"), then its candidate drawn in Neovim's namespace.
    editor = open_recorded(fake_nvim, tmp_path / "native_shown.py")
    editor.lua(
        """
        local buf = ...
        require('rill.native').track(buf)
        local client = vim.lsp.get_clients({ bufnr = buf, name = 'rill' })[1]
        local function answered(request_id)
          vim.api.nvim_exec_autocmds('LspRequest', { buffer = buf, modeline = false, data = {
            client_id = client.id, request_id = request_id,
            request = { type = 'complete', method = 'textDocument/inlineCompletion', bufnr = buf } } })
        end
        answered(7)  -- nothing drawn: not shown
        vim.schedule(function()
          vim.schedule(function()
            vim.schedule(function()
              local ns = vim.api.nvim_create_namespace('nvim.lsp.inline_completion')
              vim.api.nvim_buf_set_extmark(buf, ns, 0, 0, { virt_text = { { 'x', 'Comment' } } })
              answered(8)
              answered(8)  -- the same answer seen again: reported once
            end)
          end)
        end)
        """,
        editor.buf,
    )
    wait_for(lambda: recorded(editor)["sent"], 5, message="a notification")
    fake_nvim.exec_lua("vim.wait(100)")
    assert recorded(editor)["sent"] == [{"method": "rill/didShowCompletion", "params": {"requestId": 8}}]


def figures(shown, accepted, partly, chars, rate):
    return {
        "shown": shown,
        "accepted": accepted,
        "partiallyAccepted": partly,
        "acceptedChars": chars,
        "acceptanceRate": rate,
    }


# The example answer of the protocol (issue 20).
STATS = {
    "overall": figures(12, 3, 2, 140, 0.4167),
    "byLanguage": {"python": figures(10, 3, 1, 120, 0.4), "rust": figures(2, 0, 1, 20, 0.5)},
    "bySource": {
        "model": figures(8, 2, 2, 100, 0.5),
        "typedAhead": figures(3, 1, 0, 40, 0.3333),
        "cache": figures(1, 0, 0, 0, 0),
    },
    "latencyMs": {"p50": 42.0, "p95": 180.5, "samples": 30},
    "persisted": True,
    "path": "/home/u/.local/share/rill/stats.json",
}


def test_stats_lines_lay_the_figures_out(fake_nvim):
    lines = fake_nvim.exec_lua("return require('rill.stats').lines(...)", STATS)
    assert lines == [
        "rill: suggestions shown and accepted",
        "                shown  accepted  partly  chars   rate",
        "  overall          12         3       2    140  41.7%",
        "by language",
        "    python         10         3       1    120  40.0%",
        "    rust            2         0       1     20  50.0%",
        "by source",
        "    model           8         2       2    100  50.0%",
        "    typedAhead      3         1       0     40  33.3%",
        "    cache           1         0       0      0   0.0%",
        "(partly: part of the suggestion accepted; rate: (accepted + partly) / shown)",
        "latency since the server started: p50 42 ms, p95 180.5 ms (30 requests)",
        "counts kept across restarts in /home/u/.local/share/rill/stats.json",
    ], "\n".join(lines)
    fresh = dict(STATS, latencyMs={"p50": None, "p95": None, "samples": 0}, persisted=False, byLanguage={})
    fresh.pop("path")
    lines = fake_nvim.exec_lua("return require('rill.stats').lines(...)", fresh)
    assert "by language" not in lines
    assert lines[-2] == "latency since the server started: no requests answered yet"
    assert lines[-1].startswith("counts since the server started (not saved"), lines


NOTIFY_LUA = """
    _G.rill_notified = {}
    vim.notify = function(msg, level) table.insert(_G.rill_notified, { msg = msg, level = level or 2 }) end
"""


def test_stats_from_a_server_without_rill_stats_says_so(fake_nvim, tmp_path):
    editor = Editor(fake_nvim, tmp_path / "old_server.py")
    editor.lua(NOTIFY_LUA)
    # A server that predates rill/stats answers MethodNotFound; played by the client's request here.
    editor.lua(
        """
        local client = vim.lsp.get_clients({ bufnr = ..., name = 'rill' })[1]
        local request = client.request
        client.request = function(self, method, params, handler, bufnr)
          if method == 'rill/stats' then
            handler({ code = -32601, message = 'Method not found' }, nil, {})
            return true, 0
          end
          return request(self, method, params, handler, bufnr)
        end
        """,
        editor.buf,
    )
    fake_nvim.command("Rill stats")
    notified = wait_for(lambda: editor.lua("return _G.rill_notified"), 5, message="a message")
    assert notified == [
        {
            "msg": "rill: this rill server does not report acceptance figures (no rill/stats); update rill",
            "level": 3,
        }
    ]
    assert editor.lua("return require('rill.stats').window()") is None


STATS_FLOAT_LUA = """
    local win = require('rill.stats').window()
    if not win then return vim.NIL end
    return vim.api.nvim_buf_get_lines(vim.api.nvim_win_get_buf(win), 0, -1, false)
"""


def test_rill_stats_shows_the_servers_figures(fake_nvim, tmp_path):
    """Needs the server's rill/stats (issue 20)."""
    editor = open_recorded(fake_nvim, tmp_path / "stats.py")
    # Shown and accepted whole; shown and one word accepted; shown and dismissed.
    suggest_after(editor, "x = ")
    fake_nvim.input("<Tab>")
    wait_for(lambda: editor.lines()[-1] == "x = " + SUGGESTION, 5, message="the suggestion accepted")
    editor.leave_insert()
    suggest_after(editor, "x = ")
    fake_nvim.input("<M-w>")
    wait_for(lambda: editor.lines()[-1] == "x = " + FIRST_WORD, 5, message="the word accepted")
    editor.leave_insert()
    suggest_after(editor, "x = ")
    fake_nvim.input("<C-]>")
    editor.leave_insert()

    editor.lua(NOTIFY_LUA)
    fake_nvim.command("Rill stats")
    shown = wait_for(
        lambda: fake_nvim.exec_lua(STATS_FLOAT_LUA) or editor.lua("return _G.rill_notified")[:1],
        10,
        message="the stats float",
    )
    if isinstance(shown[0], dict):
        pytest.fail(f":Rill stats showed no figures: {shown[0]['msg']}")
    text = "\n".join(shown)
    chars = utf16_len(SUGGESTION) + utf16_len(FIRST_WORD)
    # shown 3, accepted 1, partly 1, chars, rate 2/3
    overall = [line.split() for line in shown if line.strip().startswith("overall")]
    assert overall == [["overall", "3", "1", "1", str(chars), "66.7%"]], text
    python = [line.split() for line in shown if line.strip().startswith("python")]
    assert python == [["python", "3", "1", "1", str(chars), "66.7%"]], text
    assert "by source" in shown, text
    assert any(line.startswith("latency since the server started: p50 ") for line in shown), text
    stats_file = tmp_path / "xdg_data_home" / "rill" / "stats.json"
    assert shown[-1] == f"counts kept across restarts in {stats_file}", text
    # `q` closes it.
    fake_nvim.input("q")
    wait_for(lambda: fake_nvim.exec_lua(STATS_FLOAT_LUA) is None, 5, message="`q` to close the float")
    assert fake_nvim.exec_lua("return vim.fn.getcompletion('Rill st', 'cmdline')") == ["stats", "status"]
