//! One module per LSP method, in the manner of ruff's server: each owns its handler and nothing else.

pub mod code_action;
pub mod completion;
pub mod did_change;
pub mod did_change_configuration;
pub mod did_close;
pub mod did_open;
pub mod execute_command;
pub mod initialize;
pub mod initialized;
pub mod inline_completion;
