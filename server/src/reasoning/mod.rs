//! Explicit reasoning chains: prompts that ask the model for numbered steps, a tolerant parser of what it writes, and the per-step edits with their consistency checks.

pub mod guards;
pub mod parse;
pub mod prompt;
pub mod steps;
