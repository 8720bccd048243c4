//! Shorthands for the requests and notifications the tests send most: open, inline completion,
//! menu completion, the server's document mirror, and pushed settings.

use serde_json::{json, Value};

use crate::server::{RpcError, Server, DEFAULT_TIMEOUT};

impl Server {
    /// Opens a document at version 1.
    pub fn open(&self, uri: &str, language_id: &str, text: &str) {
        self.notify(
            "textDocument/didOpen",
            json!({
                "textDocument": { "uri": uri, "languageId": language_id, "version": 1, "text": text }
            }),
        );
    }

    /// Closes a document.
    pub fn close(&self, uri: &str) {
        self.notify(
            "textDocument/didClose",
            json!({ "textDocument": { "uri": uri } }),
        );
    }

    /// Sends incremental changes that bring the document to `version`.
    pub fn change(&self, uri: &str, version: i32, changes: Vec<Value>) {
        self.notify(
            "textDocument/didChange",
            json!({
                "textDocument": { "uri": uri, "version": version },
                "contentChanges": changes
            }),
        );
    }

    /// Requests an inline completion as VS Code does while typing (trigger kind 2, automatic).
    pub fn inline_completion(&self, uri: &str, line: u32, character: u32) -> i64 {
        self.request(
            "textDocument/inlineCompletion",
            json!({
                "textDocument": { "uri": uri },
                "position": { "line": line, "character": character },
                "context": { "triggerKind": 2 }
            }),
        )
    }

    /// Requests menu completion, as editors without inline completion do.
    pub fn completion(&self, uri: &str, line: u32, character: u32) -> i64 {
        self.request(
            "textDocument/completion",
            json!({
                "textDocument": { "uri": uri },
                "position": { "line": line, "character": character },
                "context": { "triggerKind": 1 }
            }),
        )
    }

    /// The server's mirror of a document: `{version, text}`.
    pub fn document_text(&self, uri: &str) -> Result<Value, RpcError> {
        let id = self.request(
            "rill/documentText",
            json!({ "textDocument": { "uri": uri } }),
        );
        self.response(id, DEFAULT_TIMEOUT)
    }

    /// The `rill/inlineCompletion/partial` notifications of one request, in arrival order.
    pub fn partials_of(&self, id: i64) -> Vec<Value> {
        self.notifications("rill/inlineCompletion/partial")
            .into_iter()
            .map(|(_, params)| params)
            .filter(|params| params["requestId"] == json!(id))
            .collect()
    }

    /// Changes settings the way the editor would: the pulled answer changes, then
    /// `workspace/didChangeConfiguration` carries the new tree too (pushed to clients that do not pull).
    pub fn change_settings(&self, settings: Value) {
        self.set_settings(settings.clone());
        self.notify(
            "workspace/didChangeConfiguration",
            json!({ "settings": settings }),
        );
    }
}
