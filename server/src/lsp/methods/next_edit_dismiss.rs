//! `rill/nextEdit/dismiss`: the user turned the document's next edit down (Esc); it is not offered again.

use crate::lsp::session::Session;
use crate::rill_protocol::DocumentParams;

pub fn handle(session: &Session, params: DocumentParams) {
    if !session.next_edits.dismiss(&params.text_document.uri) {
        tracing::debug!(
            "rill/nextEdit/dismiss for {}: nothing on offer",
            params.text_document.uri
        );
    }
}
