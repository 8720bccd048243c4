//! Sampling: choosing the next token from logits (greedy, temperature, top-k, top-p, min-p, repetition penalty).
