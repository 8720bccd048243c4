//! What the client can do, decided once at `initialize` from its raw capabilities and options.

use serde_json::Value;

use crate::documents::PositionEncoding;

/// Client features rill adapts to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientFeatures {
    pub encoding: PositionEncoding,
    /// The client sends `textDocument/inlineCompletion`; otherwise completions go through `textDocument/completion`.
    pub inline_completion: bool,
    /// The client listens to `rill/inlineCompletion/partial`.
    pub streaming: bool,
    /// The client asked for rill's own notifications, `rill/status` and `rill/nextEditAvailable`
    /// (`experimental.rillStatus`): others (Helix) would log each one as unhandled.
    pub status: bool,
    /// The client reports shown and accepted suggestions (`experimental.rillAcceptance`), so each
    /// inline item carries the command that tells it the request's id.
    pub acceptance: bool,
    /// The client answers `workspace/configuration`.
    pub configuration_pull: bool,
    /// The client shows `$/progress` for server-created tokens.
    pub work_done_progress: bool,
    /// The client honours change annotations in `workspace/applyEdit` (LSP 3.16), so an edit that
    /// needs confirmation is previewed before it changes anything.
    pub change_annotations: bool,
}

impl ClientFeatures {
    pub fn from_initialize(
        params: &tower_lsp::lsp_types::InitializeParams,
        raw: Option<&Value>,
    ) -> Self {
        let raw_capabilities = raw
            .and_then(|raw| raw.get("capabilities"))
            .cloned()
            .unwrap_or(Value::Null);
        let offered = params
            .capabilities
            .general
            .as_ref()
            .and_then(|general| general.position_encodings.as_deref());
        Self {
            encoding: PositionEncoding::negotiate(offered),
            inline_completion: crate::protocol::client_supports_inline_completion(
                &raw_capabilities,
            ),
            streaming: crate::protocol::client_wants_streaming(
                &raw_capabilities,
                params.initialization_options.as_ref(),
            ),
            status: experimental_flag(&raw_capabilities, "rillStatus"),
            acceptance: experimental_flag(&raw_capabilities, "rillAcceptance"),
            configuration_pull: params
                .capabilities
                .workspace
                .as_ref()
                .and_then(|workspace| workspace.configuration)
                .unwrap_or(false),
            work_done_progress: params
                .capabilities
                .window
                .as_ref()
                .and_then(|window| window.work_done_progress)
                .unwrap_or(false),
            change_annotations: params
                .capabilities
                .workspace
                .as_ref()
                .and_then(|workspace| workspace.workspace_edit.as_ref())
                .is_some_and(|edit| {
                    edit.change_annotation_support.is_some()
                        && edit.document_changes.unwrap_or(false)
                }),
        }
    }
}

impl Default for ClientFeatures {
    fn default() -> Self {
        Self {
            encoding: PositionEncoding::Utf16,
            inline_completion: false,
            streaming: false,
            status: false,
            acceptance: false,
            configuration_pull: false,
            work_done_progress: false,
            change_annotations: false,
        }
    }
}

/// Whether `experimental.<name>` is the JSON value `true`.
fn experimental_flag(raw_capabilities: &Value, name: &str) -> bool {
    raw_capabilities
        .get("experimental")
        .and_then(|experimental| experimental.get(name))
        .and_then(Value::as_bool)
        .unwrap_or(false)
}
