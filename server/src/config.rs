//! The `rill` configuration section: its keys, defaults and ranges, and how a settings object updates it.
//!
//! Settings arrive as JSON from three places (initializationOptions, `workspace/didChangeConfiguration`
//! and the answer to `workspace/configuration`), in whatever shape the editor finds convenient. `apply`
//! accepts all of them, validates each key on its own and reports bad values instead of failing, so one
//! typo never discards the rest of the user's settings. This module depends on no other rill module, so
//! the integration tests can include it directly.

use std::fmt;
use std::path::PathBuf;

use serde_json::Value;

/// When a completion may span several lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Multiline {
    /// Decide from the cursor's surroundings (for example, an empty function body allows several lines).
    #[default]
    Auto,
    /// Always allow several lines.
    Always,
    /// Stop at the end of the current line.
    Never,
}

impl Multiline {
    /// Every value, in the spelling the settings use.
    pub const NAMES: [&'static str; 3] = ["auto", "always", "never"];

    /// The spelling the settings use for this value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Auto => "auto",
            Self::Always => "always",
            Self::Never => "never",
        }
    }

    /// The value a settings string names, or `None` for anything else (matching is exact).
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "auto" => Some(Self::Auto),
            "always" => Some(Self::Always),
            "never" => Some(Self::Never),
            _ => None,
        }
    }
}

impl fmt::Display for Multiline {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a reasoning chain's result reaches the document (`reasoning.apply`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ApplyMode {
    /// As an edit the editor previews before anything changes (a change annotation that needs
    /// confirmation); for editors without that, as a code action to apply by hand.
    #[default]
    Preview,
    /// As an edit applied at once (the user undoes it if it is wrong).
    Immediately,
}

impl ApplyMode {
    /// Every value, in the spelling the settings use.
    pub const NAMES: [&'static str; 2] = ["preview", "immediately"];

    /// The spelling the settings use for this value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Preview => "preview",
            Self::Immediately => "immediately",
        }
    }

    /// The value a settings string names, or `None` for anything else (matching is exact).
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "preview" => Some(Self::Preview),
            "immediately" => Some(Self::Immediately),
            _ => None,
        }
    }
}

/// What happens to a suggestion that is only a comment where code is expected
/// (`completion.codeOverComment`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum CommentPolicy {
    /// Show it as the model wrote it.
    Off,
    /// Drop it (another candidate, or nothing, is shown).
    Drop,
    /// Decode past the comment line and show the code that follows it.
    #[default]
    Continue,
}

impl CommentPolicy {
    /// Every value, in the spelling the settings use.
    pub const NAMES: [&'static str; 3] = ["off", "drop", "continue"];

    /// The spelling the settings use for this value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Off => "off",
            Self::Drop => "drop",
            Self::Continue => "continue",
        }
    }

    /// The value a settings string names, or `None` for anything else (matching is exact).
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "off" => Some(Self::Off),
            "drop" => Some(Self::Drop),
            "continue" => Some(Self::Continue),
            _ => None,
        }
    }
}

/// Where completions are computed (`engine.backend`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Backend {
    /// The in-process model (`model.path`).
    #[default]
    Local,
    /// An OpenAI-compatible completions server at `engine.baseUrl` (vLLM, TGI, llama.cpp, Ollama).
    Openai,
}

impl Backend {
    /// Every value, in the spelling the settings use.
    pub const NAMES: [&'static str; 2] = ["local", "openai"];

    /// The spelling the settings use for this value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Local => "local",
            Self::Openai => "openai",
        }
    }

    /// The value a settings string names, or `None` for anything else (matching is exact).
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "local" => Some(Self::Local),
            "openai" => Some(Self::Openai),
            _ => None,
        }
    }
}

/// How the remote backend spells a fill-in-the-middle prompt (`engine.fimTemplate`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum FimTemplate {
    /// Guess from `engine.model`'s name; a name that matches no family means `None`.
    #[default]
    Auto,
    /// No fill-in-the-middle: the prompt is the text before the cursor.
    None,
    /// `<|fim_prefix|>…<|fim_suffix|>…<|fim_middle|>` (Qwen2.5-Coder, CodeGemma).
    Qwen,
    /// `<fim_prefix>…<fim_suffix>…<fim_middle>` (StarCoder, StarCoder 2).
    Starcoder,
    /// `<｜fim▁begin｜>…<｜fim▁hole｜>…<｜fim▁end｜>` (DeepSeek-Coder).
    Deepseek,
    /// `<PRE> … <SUF>… <MID>` (CodeLlama).
    Codellama,
}

impl FimTemplate {
    /// Every value, in the spelling the settings use.
    pub const NAMES: [&'static str; 6] =
        ["auto", "none", "qwen", "starcoder", "deepseek", "codellama"];

    /// The spelling the settings use for this value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Auto => "auto",
            Self::None => "none",
            Self::Qwen => "qwen",
            Self::Starcoder => "starcoder",
            Self::Deepseek => "deepseek",
            Self::Codellama => "codellama",
        }
    }

    /// The value a settings string names, or `None` for anything else (matching is exact).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::NAMES
            .iter()
            .position(|known| *known == name)
            .map(|index| Self::ALL[index])
    }

    /// Every value, in the order of [`FimTemplate::NAMES`].
    const ALL: [Self; 6] = [
        Self::Auto,
        Self::None,
        Self::Qwen,
        Self::Starcoder,
        Self::Deepseek,
        Self::Codellama,
    ];
}

/// rill's settings, with every value already validated.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// `model.path`: the GGUF file to load; `None` means the default search (`RILL_MODEL`, then the cache).
    pub model_path: Option<PathBuf>,
    /// `engine.threads`: compute threads, 1 to 256; `None` lets the engine choose.
    pub engine_threads: Option<usize>,
    /// `engine.cacheBudgetMb`: memory for all documents' KV caches together, 16 to 65536 MiB.
    pub cache_budget_mb: usize,
    /// `engine.prewarm`: prefill a document's prompt in the background after it opens and when typing pauses.
    pub prewarm: bool,
    /// `engine.prewarmIdleMs`: how long typing must pause before the background prefill, 50 to 10000 ms.
    pub prewarm_idle_ms: u64,
    /// `engine.backend`: the in-process model or a remote OpenAI-compatible server.
    pub engine_backend: Backend,
    /// `engine.baseUrl`: the remote server, without `/v1` (`http://127.0.0.1:8000`); `None` until set.
    pub engine_base_url: Option<String>,
    /// `engine.model`: the model name sent to the remote server; `None` sends none (the server's default).
    pub engine_model: Option<String>,
    /// `engine.apiKeyEnv`: the name of the environment variable holding the remote server's API key
    /// (read at each request; the key itself is never stored in the settings nor logged).
    pub engine_api_key_env: Option<String>,
    /// `engine.timeoutMs`: how long the remote server may take to answer and to send each chunk, 100 to 600000 ms.
    pub engine_timeout_ms: u64,
    /// `engine.fimTemplate`: how remote fill-in-the-middle prompts are spelled.
    pub engine_fim_template: FimTemplate,
    /// `completion.maxTokens`: most tokens one completion generates, 1 to 1024.
    pub max_tokens: usize,
    /// `completion.temperature`: sampling temperature, 0 (greedy) to 2.
    pub temperature: f32,
    /// `completion.topP`: nucleus sampling mass, above 0 and at most 1 (1 turns it off).
    pub top_p: f32,
    /// `completion.topK`: sample among this many likeliest tokens, 0 (off) to 1000.
    pub top_k: usize,
    /// `completion.repetitionPenalty`: penalty for repeating recent tokens, 1.0 (off) to 1.5.
    pub repetition_penalty: f32,
    /// `completion.contextTokens`: most prompt tokens taken from the document, 64 to 32000.
    pub context_tokens: usize,
    /// `completion.timeoutMs`: time budget for one inline completion, 50 to 60000 ms.
    pub timeout_ms: u64,
    /// `completion.fallbackBudgetMs`: time budget for a `textDocument/completion` answer, 10 to 10000 ms.
    pub fallback_budget_ms: u64,
    /// `completion.multiline`: when a suggestion may span lines.
    pub multiline: Multiline,
    /// `completion.tokenHealing`: back the prompt up to a token boundary when the cursor ends inside one.
    pub token_healing: bool,
    /// `completion.suffixChoice`: choose among candidate lines by how likely they make the text after the cursor.
    pub suffix_choice: bool,
    /// `completion.minConfidence`: show a suggestion only when its first line's geometric-mean token
    /// probability reaches this, 0 (always) to 1.
    pub min_confidence: f32,
    /// `completion.codeOverComment`: what to do with a comment-only suggestion where code is expected.
    pub code_over_comment: CommentPolicy,
    /// `completion.candidates`: most suggestions one answer offers, 1 to 5.
    pub candidates: usize,
    /// `streaming`: send partial results; `None` follows the client's capability.
    pub streaming: Option<bool>,
    /// `enable`: answer completions at all (lets an editor toggle rill without restarting it).
    pub enable: bool,
    /// `diagnostics.enable`: publish spans the model finds very unlikely.
    pub diagnostics_enable: bool,
    /// `diagnostics.minSurprise`: flag a token whose probability is below e^-minSurprise (nats), 1 to 30.
    pub diagnostics_min_surprise: f32,
    /// `diagnostics.minAlternative`: and only when the model's own choice there has at least this probability, 0 to 1.
    pub diagnostics_min_alternative: f32,
    /// `diagnostics.debounceMs`: how long typing must pause before the edited region is rescored, 0 to 10000 ms.
    pub diagnostics_debounce_ms: u64,
    /// `diagnostics.lookaheadLines`: lines after an edit rescored with it (the rest waits for idle time), 0 to 1000.
    pub diagnostics_lookahead_lines: usize,
    /// `diagnostics.counterfactual`: keep a flag only when the model's fix also makes the text after it likelier.
    pub diagnostics_counterfactual: bool,
    /// `diagnostics.minGain`: by at least this many nats (natural log), 0 to 50.
    pub diagnostics_min_gain: f32,
    /// `reasoning.timeoutMs`: time limit of one reasoning chain, 1000 to 600000 ms.
    pub reasoning_timeout_ms: u64,
    /// `reasoning.maxSteps`: most steps a chain may have, 1 to 20.
    pub reasoning_max_steps: usize,
    /// `reasoning.apply`: how a chain's result reaches the document.
    pub reasoning_apply: ApplyMode,
    /// `context.crossFile`: show chunks of other open documents in front of the prompt.
    pub cross_file: bool,
    /// `context.chunkLines`: lines per cross-file chunk, 4 to 512.
    pub chunk_lines: usize,
    /// `context.maxChunks`: most chunks the ring keeps, 1 to 64.
    pub max_chunks: usize,
    /// `context.crossFileTokens`: most prompt tokens the chunks take (at most half of
    /// `completion.contextTokens` in any case), 0 to 16000.
    pub cross_file_tokens: usize,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            model_path: None,
            engine_threads: None,
            cache_budget_mb: 512,
            prewarm: true,
            prewarm_idle_ms: 300,
            engine_backend: Backend::Local,
            engine_base_url: None,
            engine_model: None,
            engine_api_key_env: None,
            engine_timeout_ms: 5000,
            engine_fim_template: FimTemplate::Auto,
            max_tokens: 64,
            temperature: 0.0,
            top_p: 1.0,
            top_k: 0,
            repetition_penalty: 1.0,
            context_tokens: 1536,
            timeout_ms: 2000,
            fallback_budget_ms: 300,
            multiline: Multiline::Auto,
            token_healing: true,
            suffix_choice: true,
            min_confidence: DEFAULT_MIN_CONFIDENCE,
            code_over_comment: CommentPolicy::Continue,
            candidates: 3,
            streaming: None,
            enable: true,
            diagnostics_enable: true,
            diagnostics_min_surprise: DEFAULT_MIN_SURPRISE,
            diagnostics_min_alternative: DEFAULT_MIN_ALTERNATIVE,
            diagnostics_debounce_ms: 150,
            diagnostics_lookahead_lines: 20,
            diagnostics_counterfactual: false,
            diagnostics_min_gain: DEFAULT_MIN_GAIN,
            reasoning_timeout_ms: 30_000,
            reasoning_max_steps: 6,
            reasoning_apply: ApplyMode::Preview,
            // Off by default: on the default model it did not improve completions measurably
            // (`crossfile_bench`, benches/README.md) and it makes every prompt longer.
            cross_file: false,
            chunk_lines: 64,
            max_chunks: 16,
            cross_file_tokens: 768,
        }
    }
}

/// A settings value that was rejected; the previous value of `key` stays in effect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigIssue {
    /// The key without the `rill.` prefix, dotted (`completion.maxTokens`); empty for the section itself.
    pub key: String,
    /// Why the value was rejected, written to be shown to the user as is.
    pub reason: String,
}

impl ConfigIssue {
    fn new(key: &str, reason: impl Into<String>) -> Self {
        Self {
            key: key.to_string(),
            reason: reason.into(),
        }
    }
}

impl fmt::Display for ConfigIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.key.is_empty() {
            write!(f, "rill: {}", self.reason)
        } else {
            write!(f, "rill.{}: {}", self.key, self.reason)
        }
    }
}

impl std::error::Error for ConfigIssue {}

/// The name of the section, which `apply` also accepts as an outer wrapper or a key prefix.
pub const SECTION: &str = "rill";

/// Every key `apply` understands, dotted, without the `rill.` prefix.
pub const KEYS: [&str; 41] = [
    "model.path",
    "engine.threads",
    "engine.cacheBudgetMb",
    "engine.prewarm",
    "engine.prewarmIdleMs",
    "engine.backend",
    "engine.baseUrl",
    "engine.model",
    "engine.apiKeyEnv",
    "engine.timeoutMs",
    "engine.fimTemplate",
    "completion.maxTokens",
    "completion.temperature",
    "completion.topP",
    "completion.topK",
    "completion.repetitionPenalty",
    "completion.contextTokens",
    "completion.timeoutMs",
    "completion.fallbackBudgetMs",
    "completion.multiline",
    "completion.tokenHealing",
    "completion.suffixChoice",
    "completion.minConfidence",
    "completion.codeOverComment",
    "completion.candidates",
    "streaming",
    "enable",
    "diagnostics.enable",
    "diagnostics.minSurprise",
    "diagnostics.minAlternative",
    "diagnostics.debounceMs",
    "diagnostics.lookaheadLines",
    "diagnostics.counterfactual",
    "diagnostics.minGain",
    "reasoning.timeoutMs",
    "reasoning.maxSteps",
    "reasoning.apply",
    "context.crossFile",
    "context.chunkLines",
    "context.maxChunks",
    "context.crossFileTokens",
];

/// Default `completion.minConfidence`, chosen on the quality benchmark (`benches/README.md`).
pub const DEFAULT_MIN_CONFIDENCE: f32 = 0.6;
/// Default `diagnostics.minSurprise` (nats), chosen from the fault-injection benchmark (`benches/README.md`).
pub const DEFAULT_MIN_SURPRISE: f32 = 13.0;
/// Default `diagnostics.minAlternative`, chosen from the same benchmark.
pub const DEFAULT_MIN_ALTERNATIVE: f32 = 0.2;
/// Default `diagnostics.minGain` (nats), chosen from the same benchmark at a realistic fault density.
pub const DEFAULT_MIN_GAIN: f32 = 2.0;

impl Config {
    /// The memory budget for all documents' KV caches, in bytes.
    pub fn cache_budget_bytes(&self) -> usize {
        self.cache_budget_mb << 20
    }

    /// Applies a settings object on top of `self`.
    ///
    /// Accepts the nested form `{"completion": {"maxTokens": 32}}`, dotted keys
    /// `{"completion.maxTokens": 32}` and any mix of the two, with or without an outer
    /// `{"rill": {...}}` wrapper or a `rill.` key prefix. An invalid value (wrong type, out of range,
    /// unknown enum value) is reported and the previous value is kept, while valid keys in the same
    /// object still apply. Unknown keys are ignored and only logged at debug level, because editors
    /// routinely send settings meant for other tools along with ours. `null` for any key resets it to
    /// its default. A `null` settings object changes nothing.
    pub fn apply(&mut self, settings: &Value) -> Vec<ConfigIssue> {
        let mut issues = Vec::new();
        match settings {
            Value::Null => {}
            Value::Object(_) => self.apply_object(settings, "", &mut issues),
            other => issues.push(ConfigIssue::new(
                "",
                format!("settings must be an object, got {}", describe(other)),
            )),
        }
        issues
    }

    /// Walks one object whose keys continue `prefix` (empty at the top), applying every known key.
    fn apply_object(&mut self, object: &Value, prefix: &str, issues: &mut Vec<ConfigIssue>) {
        let Some(map) = object.as_object() else {
            return;
        };
        for (name, value) in map {
            let at_top = prefix.is_empty();
            if at_top && name == SECTION {
                // The outer wrapper editors use when they send every section at once.
                match value {
                    Value::Object(_) => self.apply_object(value, "", issues),
                    Value::Null => {}
                    other => issues.push(ConfigIssue::new(
                        "",
                        format!(
                            "the `rill` section must be an object, got {}",
                            describe(other)
                        ),
                    )),
                }
                continue;
            }
            let name = if at_top {
                name.strip_prefix("rill.").unwrap_or(name)
            } else {
                name.as_str()
            };
            let key = if at_top {
                name.to_string()
            } else {
                format!("{prefix}.{name}")
            };
            if KEYS.contains(&key.as_str()) {
                if let Err(reason) = self.apply_key(&key, value) {
                    issues.push(ConfigIssue::new(&key, reason));
                }
            } else if value.is_object() && is_section(&key) {
                self.apply_object(value, &key, issues);
            } else {
                tracing::debug!(key = %key, "ignoring unknown rill setting");
            }
        }
    }

    /// Validates and stores one known key; on error nothing changes and the reason is returned.
    fn apply_key(&mut self, key: &str, value: &Value) -> Result<(), String> {
        if value.is_null() {
            self.reset_key(key);
            return Ok(());
        }
        match key {
            "model.path" => {
                let path = expect_string(value)?;
                // Editors' settings UIs show an unset path as the empty string; treat it as unset.
                self.model_path = if path.is_empty() {
                    None
                } else {
                    Some(PathBuf::from(path))
                };
            }
            "engine.threads" => self.engine_threads = Some(integer_in(value, 1, 256)? as usize),
            "engine.cacheBudgetMb" => self.cache_budget_mb = integer_in(value, 16, 65536)? as usize,
            "engine.prewarm" => self.prewarm = expect_bool(value)?,
            "engine.prewarmIdleMs" => self.prewarm_idle_ms = integer_in(value, 50, 10000)?,
            "engine.backend" => {
                let name = expect_string(value)?;
                self.engine_backend =
                    Backend::from_name(name).ok_or_else(|| one_of(&Backend::NAMES, name))?;
            }
            "engine.baseUrl" => self.engine_base_url = base_url(expect_string(value)?)?,
            "engine.model" => {
                let model = expect_string(value)?.trim();
                self.engine_model = (!model.is_empty()).then(|| model.to_string());
            }
            "engine.apiKeyEnv" => {
                self.engine_api_key_env = environment_variable_name(expect_string(value)?)?
            }
            "engine.timeoutMs" => self.engine_timeout_ms = integer_in(value, 100, 600_000)?,
            "engine.fimTemplate" => {
                let name = expect_string(value)?;
                self.engine_fim_template = FimTemplate::from_name(name)
                    .ok_or_else(|| one_of(&FimTemplate::NAMES, name))?;
            }
            "completion.maxTokens" => self.max_tokens = integer_in(value, 1, 1024)? as usize,
            "completion.temperature" => self.temperature = number_in(value, 0.0, 2.0, false)?,
            "completion.topP" => self.top_p = number_in(value, 0.0, 1.0, true)?,
            "completion.topK" => self.top_k = integer_in(value, 0, 1000)? as usize,
            "completion.repetitionPenalty" => {
                self.repetition_penalty = number_in(value, 1.0, 1.5, false)?
            }
            "completion.contextTokens" => {
                self.context_tokens = integer_in(value, 64, 32000)? as usize
            }
            "completion.timeoutMs" => self.timeout_ms = integer_in(value, 50, 60000)?,
            "completion.fallbackBudgetMs" => {
                self.fallback_budget_ms = integer_in(value, 10, 10000)?
            }
            "completion.multiline" => {
                let name = expect_string(value)?;
                self.multiline = Multiline::from_name(name).ok_or_else(|| {
                    format!(
                        "expected one of {}, got \"{name}\"",
                        Multiline::NAMES.map(|n| format!("\"{n}\"")).join(", ")
                    )
                })?;
            }
            "completion.tokenHealing" => self.token_healing = expect_bool(value)?,
            "completion.suffixChoice" => self.suffix_choice = expect_bool(value)?,
            "completion.minConfidence" => self.min_confidence = number_in(value, 0.0, 1.0, false)?,
            "completion.codeOverComment" => {
                let name = expect_string(value)?;
                self.code_over_comment = CommentPolicy::from_name(name)
                    .ok_or_else(|| one_of(&CommentPolicy::NAMES, name))?;
            }
            "completion.candidates" => self.candidates = integer_in(value, 1, 5)? as usize,
            "streaming" => self.streaming = Some(expect_bool(value)?),
            "enable" => self.enable = expect_bool(value)?,
            "diagnostics.enable" => self.diagnostics_enable = expect_bool(value)?,
            "diagnostics.minSurprise" => {
                self.diagnostics_min_surprise = number_in(value, 1.0, 30.0, false)?
            }
            "diagnostics.minAlternative" => {
                self.diagnostics_min_alternative = number_in(value, 0.0, 1.0, false)?
            }
            "diagnostics.debounceMs" => self.diagnostics_debounce_ms = integer_in(value, 0, 10000)?,
            "diagnostics.lookaheadLines" => {
                self.diagnostics_lookahead_lines = integer_in(value, 0, 1000)? as usize
            }
            "diagnostics.counterfactual" => self.diagnostics_counterfactual = expect_bool(value)?,
            "diagnostics.minGain" => {
                self.diagnostics_min_gain = number_in(value, 0.0, 50.0, false)?
            }
            "reasoning.timeoutMs" => self.reasoning_timeout_ms = integer_in(value, 1000, 600_000)?,
            "reasoning.maxSteps" => self.reasoning_max_steps = integer_in(value, 1, 20)? as usize,
            "reasoning.apply" => {
                let name = expect_string(value)?;
                self.reasoning_apply =
                    ApplyMode::from_name(name).ok_or_else(|| one_of(&ApplyMode::NAMES, name))?;
            }
            "context.crossFile" => self.cross_file = expect_bool(value)?,
            "context.chunkLines" => self.chunk_lines = integer_in(value, 4, 512)? as usize,
            "context.maxChunks" => self.max_chunks = integer_in(value, 1, 64)? as usize,
            "context.crossFileTokens" => {
                self.cross_file_tokens = integer_in(value, 0, 16000)? as usize
            }
            // Unreachable through `apply_object`, which only passes keys from `KEYS`; ignoring is the
            // safe answer should that ever change.
            _ => {}
        }
        Ok(())
    }

    /// Puts one key back to its default value.
    fn reset_key(&mut self, key: &str) {
        let defaults = Self::default();
        match key {
            "model.path" => self.model_path = defaults.model_path,
            "engine.threads" => self.engine_threads = defaults.engine_threads,
            "engine.cacheBudgetMb" => self.cache_budget_mb = defaults.cache_budget_mb,
            "engine.prewarm" => self.prewarm = defaults.prewarm,
            "engine.prewarmIdleMs" => self.prewarm_idle_ms = defaults.prewarm_idle_ms,
            "engine.backend" => self.engine_backend = defaults.engine_backend,
            "engine.baseUrl" => self.engine_base_url = defaults.engine_base_url,
            "engine.model" => self.engine_model = defaults.engine_model,
            "engine.apiKeyEnv" => self.engine_api_key_env = defaults.engine_api_key_env,
            "engine.timeoutMs" => self.engine_timeout_ms = defaults.engine_timeout_ms,
            "engine.fimTemplate" => self.engine_fim_template = defaults.engine_fim_template,
            "completion.maxTokens" => self.max_tokens = defaults.max_tokens,
            "completion.temperature" => self.temperature = defaults.temperature,
            "completion.topP" => self.top_p = defaults.top_p,
            "completion.topK" => self.top_k = defaults.top_k,
            "completion.repetitionPenalty" => self.repetition_penalty = defaults.repetition_penalty,
            "completion.contextTokens" => self.context_tokens = defaults.context_tokens,
            "completion.timeoutMs" => self.timeout_ms = defaults.timeout_ms,
            "completion.fallbackBudgetMs" => self.fallback_budget_ms = defaults.fallback_budget_ms,
            "completion.multiline" => self.multiline = defaults.multiline,
            "completion.tokenHealing" => self.token_healing = defaults.token_healing,
            "completion.suffixChoice" => self.suffix_choice = defaults.suffix_choice,
            "completion.minConfidence" => self.min_confidence = defaults.min_confidence,
            "completion.codeOverComment" => self.code_over_comment = defaults.code_over_comment,
            "completion.candidates" => self.candidates = defaults.candidates,
            "streaming" => self.streaming = defaults.streaming,
            "enable" => self.enable = defaults.enable,
            "diagnostics.enable" => self.diagnostics_enable = defaults.diagnostics_enable,
            "diagnostics.minSurprise" => {
                self.diagnostics_min_surprise = defaults.diagnostics_min_surprise
            }
            "diagnostics.minAlternative" => {
                self.diagnostics_min_alternative = defaults.diagnostics_min_alternative
            }
            "diagnostics.debounceMs" => {
                self.diagnostics_debounce_ms = defaults.diagnostics_debounce_ms
            }
            "diagnostics.lookaheadLines" => {
                self.diagnostics_lookahead_lines = defaults.diagnostics_lookahead_lines
            }
            "diagnostics.counterfactual" => {
                self.diagnostics_counterfactual = defaults.diagnostics_counterfactual
            }
            "diagnostics.minGain" => self.diagnostics_min_gain = defaults.diagnostics_min_gain,
            "reasoning.timeoutMs" => self.reasoning_timeout_ms = defaults.reasoning_timeout_ms,
            "reasoning.maxSteps" => self.reasoning_max_steps = defaults.reasoning_max_steps,
            "reasoning.apply" => self.reasoning_apply = defaults.reasoning_apply,
            "context.crossFile" => self.cross_file = defaults.cross_file,
            "context.chunkLines" => self.chunk_lines = defaults.chunk_lines,
            "context.maxChunks" => self.max_chunks = defaults.max_chunks,
            "context.crossFileTokens" => self.cross_file_tokens = defaults.cross_file_tokens,
            _ => {}
        }
    }
}

/// The message for a string that names none of `names`.
fn one_of(names: &[&str], got: &str) -> String {
    let names: Vec<String> = names.iter().map(|name| format!("\"{name}\"")).collect();
    format!("expected one of {}, got \"{got}\"", names.join(", "))
}

/// An `http://` or `https://` URL without a trailing `/` or `/v1` (the OpenAI clients' convention
/// includes it; rill adds `/v1/completions` itself). Empty means unset.
fn base_url(text: &str) -> Result<Option<String>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let Some(rest) = text
        .strip_prefix("http://")
        .or_else(|| text.strip_prefix("https://"))
    else {
        return Err(format!(
            "expected an http:// or https:// URL such as \"http://127.0.0.1:8000\", got {}",
            describe(&Value::String(text.to_string()))
        ));
    };
    if rest.is_empty() || rest.starts_with('/') || rest.chars().any(char::is_whitespace) {
        return Err(format!(
            "expected a URL with a host, got {}",
            describe(&Value::String(text.to_string()))
        ));
    }
    let trimmed = text.trim_end_matches('/');
    let trimmed = trimmed.strip_suffix("/v1").unwrap_or(trimmed);
    Ok(Some(trimmed.trim_end_matches('/').to_string()))
}

/// The name of an environment variable (letters, digits and `_`, not starting with a digit).
/// Empty means unset. The value is never echoed back: a user who pasted the key itself here must
/// not see it in a message or a log.
fn environment_variable_name(text: &str) -> Result<Option<String>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let valid = text.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !text.starts_with(|c: char| c.is_ascii_digit());
    if valid {
        Ok(Some(text.to_string()))
    } else {
        Err("expected the name of an environment variable (letters, digits and _), such as \"RILL_API_KEY\"; put the key itself in that variable, not in the settings".to_string())
    }
}

/// True when `key` is a proper prefix of some known key, so an object under it may hold settings.
fn is_section(key: &str) -> bool {
    KEYS.iter().any(|known| {
        known.len() > key.len() && known.starts_with(key) && known.as_bytes()[key.len()] == b'.'
    })
}

/// A short description of a JSON value for messages: its type, and the value itself when it is short.
fn describe(value: &Value) -> String {
    match value {
        Value::Null => "null".to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) if s.chars().count() <= 40 => format!("the string \"{s}\""),
        Value::String(_) => "a string".to_string(),
        Value::Array(_) => "an array".to_string(),
        Value::Object(_) => "an object".to_string(),
    }
}

fn expect_string(value: &Value) -> Result<&str, String> {
    value
        .as_str()
        .ok_or_else(|| format!("expected a string, got {}", describe(value)))
}

fn expect_bool(value: &Value) -> Result<bool, String> {
    value
        .as_bool()
        .ok_or_else(|| format!("expected true or false, got {}", describe(value)))
}

/// An integer within `min..=max`. Whole floats such as `32.0` count as integers, because some editors
/// store every number as a double; `32.5` does not.
fn integer_in(value: &Value, min: u64, max: u64) -> Result<u64, String> {
    let expected = || {
        format!(
            "expected an integer from {min} to {max}, got {}",
            describe(value)
        )
    };
    let Value::Number(number) = value else {
        return Err(expected());
    };
    if let Some(n) = number.as_u64() {
        return if (min..=max).contains(&n) {
            Ok(n)
        } else {
            Err(expected())
        };
    }
    if number.is_i64() {
        // Only negative integers reach this point, and no key accepts those.
        return Err(expected());
    }
    let Some(f) = number.as_f64() else {
        return Err(expected());
    };
    // The range check comes before the cast, so the cast never saturates or truncates.
    if f.is_finite() && f.fract() == 0.0 && f >= min as f64 && f <= max as f64 {
        Ok(f as u64)
    } else {
        Err(expected())
    }
}

/// A number within `min..=max`, or within `min` (exclusive) to `max` when `exclusive_min` is set.
fn number_in(value: &Value, min: f32, max: f32, exclusive_min: bool) -> Result<f32, String> {
    let expected = || {
        let lower = if exclusive_min { "above" } else { "from" };
        let upper = if exclusive_min { "up to" } else { "to" };
        format!(
            "expected a number {lower} {min} {upper} {max}, got {}",
            describe(value)
        )
    };
    let Some(f) = value.as_f64() else {
        return Err(expected());
    };
    // The check runs on the narrowed value, so that a tiny positive `topP` that rounds to 0 in f32 is
    // rejected instead of stored as an out-of-range 0.
    let f = f as f32;
    let above_min = if exclusive_min { f > min } else { f >= min };
    if f.is_finite() && above_min && f <= max {
        Ok(f)
    } else {
        Err(expected())
    }
}
