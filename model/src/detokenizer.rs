//! Streaming detokenizer: turns generated token ids into text without ever emitting half a UTF-8 character.
