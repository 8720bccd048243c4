//! Tokenizer: a `tokenizers::Tokenizer` built from GGUF metadata that reproduces llama.cpp exactly.
