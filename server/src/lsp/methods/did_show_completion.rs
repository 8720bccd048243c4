//! `rill/didShowCompletion`: the client showed the suggestion it got for a request (counted once per request in `rill/stats`).

use crate::lsp::session::Session;
use crate::rill_protocol::DidShowCompletionParams;

pub fn handle(session: &Session, params: DidShowCompletionParams) {
    if !session.stats.did_show(&params.request_id) {
        tracing::debug!(
            "rill/didShowCompletion for {:?}: not answered yet (kept until it is) or long forgotten",
            params.request_id
        );
    }
}
