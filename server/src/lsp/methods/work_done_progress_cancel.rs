//! `window/workDoneProgress/cancel`: the user pressed cancel on a progress rill started (a reasoning chain's).

use tower_lsp::lsp_types::WorkDoneProgressCancelParams;

use crate::lsp::session::Session;

pub fn handle(session: &Session, params: WorkDoneProgressCancelParams) {
    crate::lsp::reasoning::cancel_progress(session, &params.token);
}
