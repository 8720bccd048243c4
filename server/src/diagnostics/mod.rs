//! Model-based diagnostics as plain text logic: which scored tokens make a flag, where a flag's span lies, and how flags move when the text is edited.
//!
//! Nothing here runs the model or knows LSP: the engine produces [`ScoredToken`]s, these modules
//! turn them into [`Flag`]s, and the LSP layer publishes them.

pub mod confirm;
pub mod edits;
pub mod names;
pub mod prose;
pub mod regions;
pub mod spans;

pub use edits::{ByteEdit, FlagSet};
pub use spans::{find_flags, Fix, Flag, ScoredToken, Thresholds};
