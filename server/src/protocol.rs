//! Wire types of the LSP 3.18 inline completion that lsp-types 0.94 lacks; rill's own `rill/*` methods are in [`crate::rill_protocol`].
//!
//! lsp-types 0.94 predates `textDocument/inlineCompletion`, so the request, its parameters and its result
//! are defined here, field for field as in the LSP 3.18 specification (camelCase on the wire). The same
//! module holds the helpers that read the parts of `initialize` lsp-types drops. Nothing here depends on
//! other rill modules.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{json, Value};
use tower_lsp::lsp_types::request::Request;
use tower_lsp::lsp_types::{
    Command, Position, Range, TextDocumentIdentifier, WorkDoneProgressOptions,
    WorkDoneProgressParams,
};

/// The LSP 3.18 request method for inline completion.
pub const INLINE_COMPLETION_METHOD: &str = "textDocument/inlineCompletion";

/// How an inline completion was triggered.
///
/// The specification encodes this as a bare integer, so serde's default (a string tag) does not fit and
/// the conversions are written by hand below.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InlineCompletionTriggerKind {
    /// The user asked for a completion explicitly (a keyboard shortcut, a command).
    Invoked,
    /// The editor asked on its own while the user typed.
    Automatic,
}

impl InlineCompletionTriggerKind {
    /// The integer the specification assigns to this kind.
    pub fn code(self) -> u8 {
        match self {
            Self::Invoked => 1,
            Self::Automatic => 2,
        }
    }

    /// The kind for a wire integer, or `None` for a value the specification does not define.
    pub fn from_code(code: u64) -> Option<Self> {
        match code {
            1 => Some(Self::Invoked),
            2 => Some(Self::Automatic),
            _ => None,
        }
    }
}

impl Serialize for InlineCompletionTriggerKind {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u8(self.code())
    }
}

impl<'de> Deserialize<'de> for InlineCompletionTriggerKind {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let code = u64::deserialize(deserializer)?;
        Self::from_code(code).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "invalid inline completion trigger kind {code}, expected 1 (Invoked) or 2 (Automatic)"
            ))
        })
    }
}

/// The completion item the editor's regular completion widget has selected, if it is open.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SelectedCompletionInfo {
    /// The range the selected item would replace.
    pub range: Range,
    /// The text the selected item would insert.
    pub text: String,
}

/// Why and in which surroundings an inline completion was requested.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InlineCompletionContext {
    pub trigger_kind: InlineCompletionTriggerKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selected_completion_info: Option<SelectedCompletionInfo>,
}

/// Parameters of `textDocument/inlineCompletion`.
///
/// Unknown fields are ignored rather than rejected, because rill's own request shim adds one
/// (`rillRequestId`) before the parameters reach the handler.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InlineCompletionParams {
    pub text_document: TextDocumentIdentifier,
    pub position: Position,
    pub context: InlineCompletionContext,
    #[serde(flatten)]
    pub work_done_progress_params: WorkDoneProgressParams,
}

/// The only `kind` a specification `StringValue` may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum StringValueKind {
    #[serde(rename = "snippet")]
    Snippet,
}

/// The specification's `StringValue`: a snippet in TextMate syntax (`$1`, `${2:default}`, `$0`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StringValue {
    pub kind: StringValueKind,
    pub value: String,
}

/// The text an inline completion item inserts.
///
/// The specification allows either a plain string or a snippet `StringValue`; rill only sends plain
/// strings, but both forms are accepted when reading so that messages from other servers (or echoed
/// back by clients) round-trip without loss.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum InsertText {
    Plain(String),
    Snippet(StringValue),
}

// The server itself only writes plain strings; readers (tests, clients in Rust) use this.
impl InsertText {
    /// The raw text: the string itself, or the snippet's source with its placeholders left in.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Plain(text) => text,
            Self::Snippet(snippet) => &snippet.value,
        }
    }
}

impl From<String> for InsertText {
    fn from(text: String) -> Self {
        Self::Plain(text)
    }
}

impl From<&str> for InsertText {
    fn from(text: &str) -> Self {
        Self::Plain(text.to_string())
    }
}

/// One suggestion shown as ghost text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InlineCompletionItem {
    /// The text that replaces `range` (or is inserted at the cursor when `range` is absent).
    pub insert_text: InsertText,
    /// Text the editor filters against; defaults to the text `range` covers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter_text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub range: Option<Range>,
    /// A command the editor runs after accepting the item.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<Command>,
    /// rill's extension: the model's confidence in the item's first line (its geometric-mean
    /// token probability, 0 to 1), when it was measured. Clients may ignore it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confidence: Option<f32>,
}

/// The list form of an inline completion result; the form rill sends.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct InlineCompletionList {
    pub items: Vec<InlineCompletionItem>,
}

/// Every non-null result the specification allows for `textDocument/inlineCompletion`.
///
/// `List` comes first so that an object is tried as a list before anything else; the two forms cannot be
/// confused because one is a JSON object and the other an array.
// The server always answers with `InlineCompletionList`; this type exists so the full wire format can be
// read (by tests and Rust clients) and may therefore be unused in the binary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum InlineCompletionResponse {
    List(InlineCompletionList),
    Array(Vec<InlineCompletionItem>),
}

impl InlineCompletionResponse {
    /// The items, whichever form carried them.
    pub fn items(&self) -> &[InlineCompletionItem] {
        match self {
            Self::List(list) => &list.items,
            Self::Array(items) => items,
        }
    }
}

/// The `textDocument/inlineCompletion` request, for typed clients and tests.
///
/// The server registers its handler by method name through tower-lsp, so it may not name this type.
#[derive(Debug)]
pub enum InlineCompletionRequest {}

impl Request for InlineCompletionRequest {
    type Params = InlineCompletionParams;
    type Result = Option<InlineCompletionResponse>;
    const METHOD: &'static str = INLINE_COMPLETION_METHOD;
}

/// The object form of the `inlineCompletionProvider` server capability.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InlineCompletionOptions {
    #[serde(flatten)]
    pub work_done_progress_options: WorkDoneProgressOptions,
}

/// The `inlineCompletionProvider` entry of the server's capabilities, as a key and a JSON value.
///
/// lsp-types 0.94's `ServerCapabilities` has no field for it, so the server serializes its
/// `InitializeResult` first and then inserts this pair into the `capabilities` object. The value is the
/// options form with no options set (`{}`), which the specification treats like `true`.
pub fn inline_completion_capability() -> (String, Value) {
    let options =
        serde_json::to_value(InlineCompletionOptions::default()).unwrap_or_else(|_| json!({}));
    ("inlineCompletionProvider".to_string(), options)
}

/// True when the client declares `textDocument.inlineCompletion` in its raw `capabilities`.
///
/// This reads the raw JSON because lsp-types 0.94 drops capabilities it does not know. An explicit
/// `null` counts as absent, as it does everywhere else in LSP.
pub fn client_supports_inline_completion(raw_capabilities: &Value) -> bool {
    raw_capabilities
        .get("textDocument")
        .and_then(|text_document| text_document.get("inlineCompletion"))
        .is_some_and(|capability| !capability.is_null())
}

/// True when the client has opted in to `rill/inlineCompletion/partial` notifications.
///
/// Any one of these opts in: the client capability `experimental.rillStreaming: true`, the
/// initialization option `streaming: true`, or `rill.streaming: true` in the initialization options
/// (nested as `{"rill": {"streaming": true}}` or as the dotted key `"rill.streaming"`). Only the JSON
/// value `true` counts; strings such as `"true"` do not, so a typo cannot switch streaming on silently.
pub fn client_wants_streaming(
    raw_capabilities: &Value,
    initialization_options: Option<&Value>,
) -> bool {
    let is_true = |value: Option<&Value>| value.and_then(Value::as_bool).unwrap_or(false);
    let from_capability = is_true(
        raw_capabilities
            .get("experimental")
            .and_then(|experimental| experimental.get("rillStreaming")),
    );
    let from_options = initialization_options.is_some_and(|options| {
        is_true(options.get("streaming"))
            || is_true(options.get("rill").and_then(|rill| rill.get("streaming")))
            || is_true(options.get("rill.streaming"))
    });
    from_capability || from_options
}
