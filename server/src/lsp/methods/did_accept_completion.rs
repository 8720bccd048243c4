//! `rill/didAcceptCompletion`: the client accepted some or all of a suggestion (cumulative length; the largest counts in `rill/stats`).

use crate::lsp::session::Session;
use crate::rill_protocol::DidAcceptCompletionParams;

pub fn handle(session: &Session, params: DidAcceptCompletionParams) {
    if !session
        .stats
        .accepted(&params.request_id, params.accepted_length)
    {
        tracing::debug!(
            "rill/didAcceptCompletion for {:?}: not a request answered recently",
            params.request_id
        );
    }
}
