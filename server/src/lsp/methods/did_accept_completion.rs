//! `rill/didAcceptCompletion`: the client accepted some or all of a suggestion (cumulative length; the largest counts in `rill/stats`).

use crate::lsp::session::Session;
use crate::rill_protocol::DidAcceptCompletionParams;

pub fn handle(session: &Session, params: DidAcceptCompletionParams) {
    if !session
        .stats
        .did_accept(&params.request_id, params.accepted_length)
    {
        tracing::debug!(
            "rill/didAcceptCompletion for {:?}: not answered yet (kept until it is) or long forgotten",
            params.request_id
        );
    }
}
