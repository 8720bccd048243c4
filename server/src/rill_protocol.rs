//! rill's own methods on the wire: one request or notification type per `rill/*` method (and the `rill.reason` command), with their params and results, as `docs/protocol.md` documents them.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use tower_lsp::lsp_types::notification::Notification;
use tower_lsp::lsp_types::request::Request;
use tower_lsp::lsp_types::{
    NumberOrString, Position, Range, TextDocumentIdentifier, TextEdit, Url,
};

use crate::protocol::InlineCompletionItem;

/// rill's notification carrying the growing suggestion of a running inline completion request.
pub const PARTIAL_METHOD: &str = "rill/inlineCompletion/partial";
/// rill's notification reporting the engine's state and the measurements of the last completion.
pub const STATUS_METHOD: &str = "rill/status";
/// The notification with a finished reasoning chain, whole, for a panel or a float.
pub const REASONING_RESULT_METHOD: &str = "rill/reasoningResult";

/// Parameters of `rill/inlineCompletion/partial`.
///
/// Each notification replaces the previous one for the same request: `insertText` holds the whole
/// suggestion so far, not a delta, and `seq` grows by one per notification so that a client can drop
/// one that arrives out of order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InlineCompletionPartialParams {
    /// The JSON-RPC id of the `textDocument/inlineCompletion` request this belongs to.
    pub request_id: NumberOrString,
    pub uri: Url,
    /// The document version the suggestion was computed for.
    pub version: i32,
    /// 1 for the first partial of a request, then one more for each following partial.
    pub seq: u64,
    pub items: Vec<InlineCompletionItem>,
}

/// The `rill/inlineCompletion/partial` notification.
#[derive(Debug)]
pub enum InlineCompletionPartialNotification {}

impl Notification for InlineCompletionPartialNotification {
    type Params = InlineCompletionPartialParams;
    const METHOD: &'static str = PARTIAL_METHOD;
}

/// The engine's state as `rill/status` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StatusState {
    /// The model is being loaded; completions wait (up to their timeout) for it.
    Loading,
    /// The model is loaded and completions run.
    Ready,
    /// The model could not be loaded or a completion failed; `message` says why.
    Error,
}

/// What one finished completion measured, as `StatusParams::ready` needs it.
///
/// This is a trait rather than a struct so that the engine's own statistics type can be passed as is
/// without this module depending on the engine (the integration tests compile this file on its own).
pub trait CompletionMeasurements {
    fn prompt_tokens(&self) -> usize;
    fn reused_tokens(&self) -> usize;
    fn generated_tokens(&self) -> usize;
    fn time_to_first_token(&self) -> Duration;
    fn tokens_per_second(&self) -> f64;
    /// Whether the first line was decided ahead of the request, by the pre-warm.
    fn first_line_ahead(&self) -> bool {
        false
    }
}

/// Parameters of `rill/status`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusParams {
    pub state: StatusState,
    /// A human-readable explanation, always set for `error`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Tokens in the last completion's prompt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_tokens: Option<usize>,
    /// Prompt tokens whose KV cache entries were reused instead of recomputed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reused_tokens: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_to_first_token_ms: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens_per_second: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generated_tokens: Option<usize>,
    /// How the last request was served: `model` (a new generation), `typedAhead` (a running
    /// generation the typed text matched) or `cache` (a finished one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<Source>,
    /// For `typedAhead` and `cache`: characters of the suggestion the user typed, accepted without model work.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accepted_chars: Option<usize>,
    /// `true` when the pre-warm had already decided the suggestion's first line, so it streamed
    /// without decoding; absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_line_ahead: Option<bool>,
    /// Documents whose KV cache the engine holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cached_documents: Option<usize>,
    /// Tokens cached over all documents.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cached_tokens: Option<usize>,
    /// Bytes the KV caches hold in memory over all documents.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cached_bytes: Option<usize>,
    /// Bytes idle documents' caches take on disk.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disk_bytes: Option<usize>,
    /// Bytes one more cached token costs in the document being edited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes_per_cached_token: Option<usize>,
    /// How next edits are found while the engine is ready; absent in other states.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_edits: Option<NextEditMode>,
}

/// How next edits are found (`nextEdits` of `rill/status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum NextEditMode {
    /// Propagations and lines the edit made unlikely, each kept only when the model's scores
    /// say the document is likelier with it.
    Model,
    /// The remote engine cannot score given text: only propagations of the edit (renames,
    /// literals, removed arguments), unchecked by a model.
    PropagationOnly,
    /// `nextEdit.enable` (or `enable`) is off.
    Off,
}

impl StatusParams {
    /// A status with the given state and nothing else set.
    pub fn new(state: StatusState) -> Self {
        Self {
            state,
            message: None,
            prompt_tokens: None,
            reused_tokens: None,
            time_to_first_token_ms: None,
            tokens_per_second: None,
            generated_tokens: None,
            source: None,
            accepted_chars: None,
            first_line_ahead: None,
            cached_documents: None,
            cached_tokens: None,
            cached_bytes: None,
            disk_bytes: None,
            bytes_per_cached_token: None,
            next_edits: None,
        }
    }

    /// The model is loading.
    pub fn loading() -> Self {
        Self::new(StatusState::Loading)
    }

    /// The model is loaded and no completion has run yet.
    pub fn ready_idle() -> Self {
        Self::new(StatusState::Ready)
    }

    /// The model is loaded, with the measurements of the completion that just finished.
    pub fn ready<M: CompletionMeasurements + ?Sized>(stats: &M) -> Self {
        // JSON has no NaN or infinity (serde_json would write null), so a rate from a zero-length
        // interval is left out instead of sent as a number the client cannot read.
        let tokens_per_second = Some(stats.tokens_per_second()).filter(|rate| rate.is_finite());
        Self {
            prompt_tokens: Some(stats.prompt_tokens()),
            reused_tokens: Some(stats.reused_tokens()),
            generated_tokens: Some(stats.generated_tokens()),
            time_to_first_token_ms: Some(stats.time_to_first_token().as_secs_f64() * 1000.0),
            tokens_per_second,
            first_line_ahead: stats.first_line_ahead().then_some(true),
            ..Self::new(StatusState::Ready)
        }
    }

    /// Something failed; `message` says what.
    pub fn error(message: impl Into<String>) -> Self {
        Self {
            message: Some(message.into()),
            ..Self::new(StatusState::Error)
        }
    }
}

/// The `rill/status` notification.
#[derive(Debug)]
pub enum StatusNotification {}

impl Notification for StatusNotification {
    type Params = StatusParams;
    const METHOD: &'static str = STATUS_METHOD;
}

/// One step of a reasoning chain as `rill/reasoningResult` reports it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReasoningStepReport {
    pub number: usize,
    pub title: String,
    pub rationale: String,
    /// Whether the step's edit is part of the result; `false` for an explanation step.
    pub kept: bool,
    /// Why the step was dropped, when it was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dropped_because: Option<String>,
}

/// Parameters of `rill/reasoningResult`: everything a chain found, sent once when it ends, so that
/// an editor can show it in full (the summary alone fits one status line).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReasoningResultParams {
    pub uri: Url,
    pub task: Task,
    /// One line: steps, kept, dropped, and whether the result was applied.
    pub summary: String,
    pub steps: Vec<ReasoningStepReport>,
    pub applied: bool,
    /// When a guard stopped the result, why, in words.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rejected_by: Option<String>,
}

/// The `rill/reasoningResult` notification.
#[derive(Debug)]
pub enum ReasoningResultNotification {}

impl Notification for ReasoningResultNotification {
    type Params = ReasoningResultParams;
    const METHOD: &'static str = REASONING_RESULT_METHOD;
}

/// Params of the requests about one document (`rill/documentText`, `rill/diagnosticsStatus`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DocumentParams {
    pub text_document: TextDocumentIdentifier,
}

/// `rill/documentText`: the server's copy of a document, so that clients and tests can check that
/// the mirror equals what they sent.
#[derive(Debug)]
pub enum DocumentTextRequest {}

impl Request for DocumentTextRequest {
    type Params = DocumentParams;
    type Result = DocumentText;
    const METHOD: &'static str = "rill/documentText";
}

/// Result of `rill/documentText`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DocumentText {
    pub version: i32,
    pub text: String,
}

/// `rill/cacheStatus`: what the engine's KV caches hold now, for a status display and for tests
/// that wait for background pre-warming.
#[derive(Debug)]
pub enum CacheStatusRequest {}

impl Request for CacheStatusRequest {
    type Params = ();
    type Result = CacheStatus;
    const METHOD: &'static str = "rill/cacheStatus";
}

/// Result of `rill/cacheStatus`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CacheStatus {
    pub cached_documents: usize,
    pub cached_tokens: usize,
    /// Bytes in memory: the edited, pre-warmed and scored sequences (and all of them where
    /// `engine.diskCacheMb` is 0).
    pub cached_bytes: usize,
    /// Idle documents' caches on disk (`engine.diskCacheMb`).
    #[serde(default)]
    pub disk_bytes: usize,
    pub bytes_per_cached_token: usize,
    /// Documents whose next completion at the pre-warmed place has its first line decided.
    pub first_lines_ahead: usize,
    /// Forward passes the model has run since it loaded (a prefill chunk, a decoded token and a
    /// verified draft are one pass each), over all work.
    pub model_passes: u64,
    /// Tokens those passes ran.
    pub model_tokens: u64,
    /// The passes completion requests caused (not pre-warming, scoring or next edits).
    pub completion_passes: u64,
    /// Tokens those passes ran.
    pub completion_tokens: u64,
}

/// `rill/diagnosticsStatus`: whether a document's model diagnostics are up to date, and how many
/// there are; tests and benchmarks wait on it instead of guessing from silence.
#[derive(Debug)]
pub enum DiagnosticsStatusRequest {}

impl Request for DiagnosticsStatusRequest {
    type Params = DocumentParams;
    type Result = DiagnosticsStatus;
    const METHOD: &'static str = "rill/diagnosticsStatus";
}

/// Result of `rill/diagnosticsStatus`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DiagnosticsStatus {
    pub version: i32,
    /// Scoring is scheduled or running for this document.
    pub pending: bool,
    /// Flags published now.
    pub flags: usize,
}

/// How a completion was served (`source` of `rill/status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Source {
    /// A new generation.
    Model,
    /// A running generation the text typed since its prompt matched.
    TypedAhead,
    /// A finished generation the text typed since its prompt matched.
    Cache,
}

/// What a reasoning chain does (`task` of the `rill.reason` command and of `rill/reasoningResult`).
pub use crate::reasoning::prompt::ReasoningTask as Task;

/// The arguments of the `rill.reason` command (`workspace/executeCommand`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReasonArguments {
    pub uri: Url,
    pub range: Range,
    pub task: Task,
    /// The diagnostic the action was asked on, if any.
    #[serde(default)]
    pub problem: Option<String>,
}

/// One step the model wrote, as the `rill.reason` result lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StepWritten {
    pub title: String,
    pub rationale: String,
    pub has_code: bool,
}

/// A step kept: its code before and after.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepKept {
    pub number: usize,
    pub title: String,
    pub before: String,
    pub after: String,
}

/// A step dropped, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepDropped {
    pub title: String,
    pub reason: String,
}

/// The result of the `rill.reason` command.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReasonResult {
    /// The user cancelled the chain; nothing else is set.
    pub cancelled: bool,
    #[serde(default)]
    pub timed_out: bool,
    #[serde(default)]
    pub steps: Vec<StepWritten>,
    #[serde(default)]
    pub kept: Vec<StepKept>,
    #[serde(default)]
    pub dropped: Vec<StepDropped>,
    /// What the parser repaired or ignored in the model's output.
    #[serde(default)]
    pub problems: Vec<String>,
    /// The editor applied the result (after its preview, where it has one).
    #[serde(default)]
    pub applied: bool,
    /// The result waits as a code action (an editor without a preview).
    #[serde(default)]
    pub offered: bool,
    /// The guard that stopped the result, in words.
    #[serde(default)]
    pub rejected_by: Option<String>,
    /// Why the kept steps were not applied, in words.
    #[serde(default)]
    pub not_applied: Option<String>,
    /// The model's whole output.
    #[serde(default)]
    pub output: String,
}

impl ReasonResult {
    pub fn cancelled() -> Self {
        Self {
            cancelled: true,
            ..Self::default()
        }
    }
}

/// `rill/nextEditAvailable`: a next edit is on offer for a document (see `rill/nextEdit`).
#[derive(Debug)]
pub enum NextEditAvailable {}

impl Notification for NextEditAvailable {
    type Params = NextEditAvailableParams;
    const METHOD: &'static str = "rill/nextEditAvailable";
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NextEditAvailableParams {
    pub uri: Url,
    /// The document version the edit is for; ignore it once the document moved on.
    pub version: i32,
    /// The text the edit replaces (empty for an insertion).
    pub range: Range,
}

/// `rill/nextEdit`: the next edit on offer for a document, or `null`.
#[derive(Debug)]
pub enum NextEditRequest {}

impl Request for NextEditRequest {
    type Params = NextEditParams;
    type Result = Option<NextEditResult>;
    const METHOD: &'static str = "rill/nextEdit";
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NextEditParams {
    pub text_document: TextDocumentIdentifier,
    /// Where the cursor is; the offer does not depend on it, but clients send it as for other
    /// position requests.
    #[serde(default)]
    pub position: Option<Position>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NextEditResult {
    pub edits: Vec<TextEdit>,
    /// Why this edit, in words (e.g. `count → total`).
    pub reason: String,
    /// The document version the edits apply to.
    pub version: i32,
}

/// `rill/nextEdit/dismiss`: the user turned the offer down; it is not offered again.
#[derive(Debug)]
pub enum NextEditDismiss {}

impl Notification for NextEditDismiss {
    type Params = DocumentParams;
    const METHOD: &'static str = "rill/nextEdit/dismiss";
}

/// `rill/didShowCompletion`: the suggestion answered for a request was shown.
#[derive(Debug)]
pub enum DidShowCompletion {}

impl Notification for DidShowCompletion {
    type Params = DidShowCompletionParams;
    const METHOD: &'static str = "rill/didShowCompletion";
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DidShowCompletionParams {
    /// The JSON-RPC id of the `textDocument/inlineCompletion` request.
    pub request_id: NumberOrString,
}

/// `rill/didAcceptCompletion`: the user accepted some or all of a suggestion.
#[derive(Debug)]
pub enum DidAcceptCompletion {}

impl Notification for DidAcceptCompletion {
    type Params = DidAcceptCompletionParams;
    const METHOD: &'static str = "rill/didAcceptCompletion";
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DidAcceptCompletionParams {
    pub request_id: NumberOrString,
    /// UTF-16 code units of the suggestion accepted so far (cumulative: the largest counts).
    pub accepted_length: u64,
}

/// The argument of the command each inline item carries for clients that report acceptance
/// (`experimental.rillAcceptance`): `rill.didAcceptCompletion`, run by the client on a full accept.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AcceptanceArgument {
    pub request_id: NumberOrString,
    /// The item's `insertText` in UTF-16 code units.
    pub length: u64,
}

/// The client-side command an accepted inline item runs (see [`AcceptanceArgument`]).
pub const ACCEPT_COMMAND: &str = "rill.didAcceptCompletion";

/// `rill/stats`: the suggestion figures kept on this machine.
#[derive(Debug)]
pub enum StatsRequest {}

impl Request for StatsRequest {
    type Params = ();
    type Result = StatsResult;
    const METHOD: &'static str = "rill/stats";
}

/// Counts of one slice of the suggestions (overall, a language, a source).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatsFigures {
    pub shown: u64,
    /// Accepted whole.
    pub accepted: u64,
    /// Accepted in part (a word, a line) and never whole.
    pub partially_accepted: u64,
    /// UTF-16 code units of suggestions accepted.
    pub accepted_chars: u64,
    /// (accepted + partiallyAccepted) / shown; 0 when nothing was shown.
    #[serde(default)]
    pub acceptance_rate: f64,
}

/// Latency of answered requests since the server started: to the first text for streamed
/// requests, to the answer otherwise.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatsLatency {
    pub p50: Option<f64>,
    pub p95: Option<f64>,
    pub samples: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatsResult {
    pub overall: StatsFigures,
    pub by_language: std::collections::BTreeMap<String, StatsFigures>,
    pub by_source: std::collections::BTreeMap<Source, StatsFigures>,
    pub latency_ms: StatsLatency,
    /// Whether the counts are kept across restarts (`stats.persist`, and a writable file).
    pub persisted: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<std::path::PathBuf>,
}
