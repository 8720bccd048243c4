//! One module per LSP method, standard or rill's own (`rill/*`), in the manner of ruff's server: each owns its handler and nothing else.

pub mod cache_status;
pub mod code_action;
pub mod completion;
pub mod diagnostics_status;
pub mod did_accept_completion;
pub mod did_change;
pub mod did_change_configuration;
pub mod did_close;
pub mod did_open;
pub mod did_show_completion;
pub mod document_text;
pub mod execute_command;
pub mod initialize;
pub mod initialized;
pub mod inline_completion;
pub mod next_edit;
pub mod next_edit_dismiss;
pub mod work_done_progress_cancel;
