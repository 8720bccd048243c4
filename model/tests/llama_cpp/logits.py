"""Logits of every position of a token sequence, computed by llama.cpp (llama-cpp-python) on a GGUF file.

Usage: logits.py MODEL.gguf TOKEN_IDS_JSON N_CTX

Prints {"logits": [[...vocab floats...], ...]}, one row per token, as JSON on standard output.
The tokens are evaluated in one batch, as the Rust side's one-shot reference pass does; flash
attention stays off (its default here) so that attention runs in plain f32 like rill's.
"""

import json
import sys

import llama_cpp


def main() -> None:
    model_path, tokens_json, n_ctx = sys.argv[1], sys.argv[2], int(sys.argv[3])
    tokens = json.loads(tokens_json)
    llm = llama_cpp.Llama(
        model_path=model_path,
        logits_all=True,
        n_ctx=n_ctx,
        n_batch=max(len(tokens), 1),
        n_ubatch=max(len(tokens), 1),
        n_threads=2,
        verbose=False,
    )
    llm.eval(tokens)
    rows = llm.scores[: len(tokens)]
    json.dump({"logits": [[float(value) for value in row] for row in rows]}, sys.stdout)


if __name__ == "__main__":
    main()
