//! Stop sequences: finding user-given stop strings in streamed text, including across chunk boundaries.
