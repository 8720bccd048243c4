""":checkhealth rill and :Rill, against the real binary and model."""

from conftest import Editor, rill_binary


def test_checkhealth_finds_binary_version_and_model(nvim, workdir):
    path = workdir / "health.py"
    path.write_text("print('hi')\n")
    Editor(nvim, path)
    nvim.command("checkhealth rill")
    report = "\n".join(nvim.current.buffer[:])
    nvim.command("tabclose")
    assert f"OK binary: {rill_binary()}" in report, report
    assert "OK version: rill " in report, report
    assert "OK model: " in report and ".gguf" in report, report
    assert "OK Neovim 0.11" in report, report
    assert "ERROR" not in report, report


def test_rill_command_toggles_and_reports(nvim, workdir):
    path = workdir / "command.py"
    path.write_text("print('hi')\n")
    Editor(nvim, path)
    assert nvim.exec_lua("return require('rill').statusline()").startswith("rill: ")
    nvim.command("Rill toggle")
    assert nvim.exec_lua("return require('rill').statusline()") == "rill: off"
    nvim.command("Rill toggle")
    assert nvim.exec_lua("return require('rill').statusline()") != "rill: off"
    assert nvim.exec_lua("return vim.fn.getcompletion('Rill t', 'cmdline')") == ["toggle"]
    # :Rill status prints the report (captured here instead of waiting at a hit-enter prompt).
    status = nvim.exec_lua("return vim.fn.execute('Rill status')")
    assert "rill: ready" in status and "suggestions: on" in status, status
    # The server's stderr (RILL_LOG=info from cmd_env) is pulled out of the LSP log.
    nvim.command("Rill log")
    assert nvim.current.buffer.name == "rill://log"
    log = "\n".join(nvim.current.buffer[:])
    nvim.command("close")
    assert "model loaded in" in log, log
