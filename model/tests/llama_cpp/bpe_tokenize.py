"""Tokenizes texts with llama.cpp (through llama-cpp-python) for the byte-level BPE parity tests.

Usage: bpe_tokenize.py MODEL.gguf TEXTS.json

(Not named tokenize.py: that would shadow the standard library module of the same name, which
llama_cpp imports indirectly.)

MODEL.gguf only needs a vocabulary: it is loaded with `vocab_only`. TEXTS.json is a JSON list of
strings. Prints one JSON object with, for every text, the ids of `llama_tokenize` without BOS
and without parsing special tokens (`ids`), without BOS while parsing them (`ids_special`) and
with BOS as the model wants it (`ids_bos`), and the text `llama_detokenize` makes of `ids` without
removing or unparsing special tokens (`detok`, hex); and, for the vocabulary, every token's piece as
llama.cpp decodes document text (`pieces`, hex), which tokens end generation (`eog`), which are
control tokens (`control`), BOS, EOS, whether BOS is added and the FIM tokens llama.cpp detected.
"""

import ctypes
import json
import sys

import llama_cpp


@llama_cpp.llama_log_callback
def _quiet(level, text, user_data):
    # llama.cpp logs every load on stderr; the test only wants the JSON (and real errors, which
    # surface as a failed load below).
    del level, text, user_data


def tokenize(vocab, data: bytes, add_special: bool, parse_special: bool) -> list:
    capacity = len(data) + 8
    tokens = (llama_cpp.llama_token * capacity)()
    n = llama_cpp.llama_tokenize(vocab, data, len(data), tokens, capacity, add_special, parse_special)
    if n < 0:
        raise RuntimeError(f"llama_tokenize needs {-n} tokens for {data!r}")
    return list(tokens[:n])


def piece(vocab, token: int) -> bytes:
    size = 64
    while True:
        buf = ctypes.create_string_buffer(size)
        n = llama_cpp.llama_token_to_piece(vocab, token, buf, size, 0, False)
        if n >= 0:
            return buf.raw[:n]
        size = -n


def detokenize(vocab, ids: list) -> bytes:
    tokens = (llama_cpp.llama_token * max(len(ids), 1))(*ids)
    size = 64
    while True:
        buf = ctypes.create_string_buffer(size)
        n = llama_cpp.llama_detokenize(vocab, tokens, len(ids), buf, size, False, False)
        if n >= 0:
            return buf.raw[:n]
        size = -n


def optional_id(token: int):
    return None if token < 0 else token


def main() -> None:
    model_path, texts_path = sys.argv[1], sys.argv[2]
    with open(texts_path, encoding="utf-8") as f:
        texts = json.load(f)

    llama_cpp.llama_log_set(_quiet, ctypes.c_void_p())
    llama_cpp.llama_backend_init()
    params = llama_cpp.llama_model_default_params()
    params.vocab_only = True
    model = llama_cpp.llama_model_load_from_file(model_path.encode(), params)
    if not model:
        sys.exit(f"llama.cpp could not load {model_path}")
    vocab = llama_cpp.llama_model_get_vocab(model)
    n_tokens = llama_cpp.llama_vocab_n_tokens(vocab)

    cases = []
    for text in texts:
        data = text.encode("utf-8")
        ids = tokenize(vocab, data, False, False)
        cases.append(
            {
                "ids": ids,
                "detok": detokenize(vocab, ids).hex(),
                "ids_special": tokenize(vocab, data, False, True),
                "ids_bos": tokenize(vocab, data, True, False),
            }
        )
    result = {
        "cases": cases,
        "n_tokens": n_tokens,
        "pieces": [piece(vocab, t).hex() for t in range(n_tokens)],
        "eog": [t for t in range(n_tokens) if llama_cpp.llama_vocab_is_eog(vocab, t)],
        "control": [t for t in range(n_tokens) if llama_cpp.llama_vocab_is_control(vocab, t)],
        "bos": optional_id(llama_cpp.llama_vocab_bos(vocab)),
        "eos": optional_id(llama_cpp.llama_vocab_eos(vocab)),
        "add_bos": bool(llama_cpp.llama_vocab_get_add_bos(vocab)),
        "fim": [
            optional_id(llama_cpp.llama_vocab_fim_pre(vocab)),
            optional_id(llama_cpp.llama_vocab_fim_suf(vocab)),
            optional_id(llama_cpp.llama_vocab_fim_mid(vocab)),
        ],
    }
    llama_cpp.llama_model_free(model)
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
