//! Every key of the `rill` settings section, each declared once: its field, default, accepted values and
//! documentation. Adding a setting means adding one entry here and regenerating package.json and
//! docs/protocol.md (`RILL_UPDATE_GENERATED=1 cargo test --release -p rill --test settings_generated`).
//!
//! `doc` is shown by every copy (VS Code's settings UI, docs/protocol.md, the field's rustdoc); `vscode`
//! adds what only VS Code users need, `protocol` what only docs/protocol.md's readers (editor plugin
//! authors) need. Docs are Markdown; `|` needs no escaping.

use std::path::PathBuf;

use super::choices::{ApplyMode, Backend, CommentPolicy, FimTemplate, Multiline};
use super::patterns::{FileGlobs, Globs, LanguageSwitches, Languages};
use super::values::{
    base_url, environment_variable_name, int, num, num_above, optional_name, optional_path, Choice,
    Flag, Text,
};

/// Default `completion.minConfidence`, chosen on the quality benchmark (`benches/README.md`).
pub const DEFAULT_MIN_CONFIDENCE: f32 = 0.6;
/// Default `diagnostics.minSurprise` (nats), chosen from the fault-injection benchmark (`benches/README.md`).
pub const DEFAULT_MIN_SURPRISE: f32 = 13.0;
/// Default `diagnostics.minAlternative`, chosen from the same benchmark.
pub const DEFAULT_MIN_ALTERNATIVE: f32 = 0.2;
/// Default `diagnostics.minGain` (nats), chosen from the same benchmark at a realistic fault density.
pub const DEFAULT_MIN_GAIN: f32 = 2.0;

config_keys! {
    /// rill's settings, with every value already validated.
    #[derive(Debug, Clone, PartialEq)]
    pub struct Config {
        model_path: Option<PathBuf> {
            key: "model.path",
            default: None,
            rule: Text { parse: optional_path, allowed: "any path; `\"\"` means unset" },
            scope: MachineOverridable,
            doc: "GGUF model file to load. Empty: the `RILL_MODEL` environment variable, then the default \
                model in the cache (`~/.cache/rill/models`).",
            vscode: "Read when the model loads: restart the server to apply.",
            protocol: "Changed at runtime, the new file loads in the background while the current model \
                keeps serving, and replaces it once loaded; a file that cannot be loaded (missing, \
                truncated, not GGUF) is reported with `window/showMessage` (type Error) and in the \
                `message` of a `rill/status` `ready`, and the current model stays. A model that had \
                failed to load is replaced at once; a change made while a model loads applies once that \
                load ends, so that two models never load at once.",
        }
        engine_threads: Option<usize> {
            key: "engine.threads",
            default: None,
            rule: int(1, 256),
            scope: MachineOverridable,
            doc: "Compute threads, 1 to 256. Empty (`null`): chosen automatically.",
            vscode: "Read when the model loads: restart the server to apply.",
            protocol: "Read when the model loads (at start).",
        }
        cache_budget_mb: usize {
            key: "engine.cacheBudgetMb",
            default: 512,
            rule: int(16, 65536),
            scope: MachineOverridable,
            doc: "Memory for all documents' KV caches together, in MiB (16 to 65536).",
            vscode: "Documents other than the edited one are compacted, and over the budget evicted least \
                recently used first.",
            protocol: "Documents other than the edited one and the last pre-warmed one are compacted at \
                once (their sliding-window layers keep the last 512 + 128 positions) and, over the \
                budget, evicted least recently used first. `didClose` frees a document's cache at once, \
                its diagnostics scan and reasoning chains included. One long sequence (a diagnostics \
                scan, a reasoning chain's prompt) takes at most half of the budget: a smaller budget \
                shortens the context they keep.",
        }
        disk_cache_mb: usize {
            key: "engine.diskCacheMb",
            default: 1024,
            rule: int(0, 1048576),
            scope: MachineOverridable,
            doc: "Disk space for idle documents' KV caches, in MiB (0 to 1048576; 0 keeps them in memory).",
            vscode: "A document you are not editing moves its compacted cache to an unlinked file in the \
                user cache directory and reads it back (milliseconds) when you return, instead of \
                prefilling it again (seconds).",
            protocol: "Every sequence but the edited, last pre-warmed and last scored one is compacted \
                and written to an unlinked file in `$XDG_CACHE_HOME/rill/kv` (`~/.cache/rill/kv`), \
                which goes away with the process; it is read back bit for bit when next used. Over \
                the budget, the least recently used file is dropped. A directory that cannot be \
                written keeps caches in memory (under `engine.cacheBudgetMb`), with one warning in \
                the log. `rill/cacheStatus` reports `diskBytes`.",
        }
        prewarm: bool {
            key: "engine.prewarm",
            default: true,
            rule: Flag,
            doc: "Prefill a document's prompt in the background after it opens and when typing pauses, so \
                the first completion finds it cached and its first line already decided.",
            protocol: "Background work runs in passes of 128 tokens and yields to completions (and to the \
                rescoring of an edited region) before each layer of a pass.",
        }
        next_edit_enable: bool {
            key: "nextEdit.enable",
            default: true,
            rule: Flag,
            doc: "After an edit, once typing pauses, look for the edit that follows it elsewhere in the \
                file (the other uses of a renamed name, the calls of a changed function, the lines below) \
                and offer it.",
            protocol: "See [Next edit suggestions](#next-edit-suggestions-rillnextedit). With the remote \
                engine only renames and changed literals are propagated, unchecked: it cannot score text.",
        }
        stats_persist: bool {
            key: "stats.persist",
            default: true,
            rule: Flag,
            doc: "Keep the suggestion figures of `rill/stats` (shown, accepted, acceptance rate) across \
                restarts, in `$XDG_DATA_HOME/rill/stats.json` (`~/.local/share/rill/stats.json`). They \
                never leave the machine.",
        }
        next_edit_debounce_ms: u64 {
            key: "nextEdit.debounceMs",
            default: 300,
            rule: int(50, 10000),
            doc: "How long typing must pause before the next edit is looked for, in milliseconds (50 to \
                10000).",
        }
        prewarm_idle_ms: u64 {
            key: "engine.prewarmIdleMs",
            default: 300,
            rule: int(50, 10000),
            doc: "How long typing must pause before the background prefill, in milliseconds (50 to \
                10000).",
        }
        engine_backend: Backend {
            key: "engine.backend",
            default: Backend::Local,
            rule: Choice,
            scope: MachineOverridable,
            doc: "Where completions are computed. Applies live: switching to `openai` unloads the local \
                model, switching back loads it.",
            protocol: "See [The remote engine](#the-remote-engine-enginebackend--openai).",
        }
        engine_base_url: Option<String> {
            key: "engine.baseUrl",
            default: None,
            rule: Text {
                parse: base_url,
                allowed: "an `http://` or `https://` URL; `\"\"` means unset",
            },
            scope: MachineOverridable,
            doc: "The OpenAI-compatible server for `rill.engine.backend: openai`, such as \
                `http://127.0.0.1:8000` (a trailing `/v1` is accepted). rill posts to \
                `{baseUrl}/v1/completions`.",
            protocol: "A trailing `/` or `/v1` is dropped. Required with `engine.backend: \"openai\"`.",
        }
        engine_model: Option<String> {
            key: "engine.model",
            default: None,
            rule: Text { parse: optional_name, allowed: "any name; `\"\"` means unset" },
            scope: MachineOverridable,
            doc: "The model name sent to the remote server (`model` in the request). Empty: none is sent \
                and the server uses its default. With `rill.engine.fimTemplate: auto` it also picks the \
                fill-in-the-middle template.",
            protocol: "For vLLM, the served model name.",
        }
        engine_api_key_env: Option<String> {
            key: "engine.apiKeyEnv",
            default: None,
            rule: Text {
                parse: environment_variable_name,
                allowed: "an environment variable name (`A-Z`, `a-z`, `0-9`, `_`); `\"\"` means unset",
            },
            scope: MachineOverridable,
            doc: "The **name** of an environment variable holding the remote server's API key, sent as \
                `Authorization: Bearer …`. The key itself never goes in the settings and is never logged. \
                Empty: no key.",
            protocol: "The variable is read at each request. A value that is not a variable name is \
                rejected without being echoed.",
        }
        engine_timeout_ms: u64 {
            key: "engine.timeoutMs",
            default: 5000,
            rule: int(100, 600_000),
            scope: MachineOverridable,
            doc: "How long the remote server may take to answer, and to send each next piece of a \
                completion, in milliseconds (100 to 600000). Past it the request fails, the error is shown \
                once and requests back off.",
            protocol: "It bounds connecting and answering a request, the first event, and the time \
                between two events; a request past it fails as a slow server.",
        }
        engine_fim_template: FimTemplate {
            key: "engine.fimTemplate",
            default: FimTemplate::Auto,
            rule: Choice,
            scope: MachineOverridable,
            doc: "How remote prompts spell fill-in-the-middle, so the model sees the text after the cursor \
                too.",
        }
        completion_exclude: FileGlobs {
            key: "completion.exclude",
            default: FileGlobs::default(),
            rule: Globs,
            doc: "Files that get no suggestions, next edits or diagnostics, as glob patterns matched \
                against their path, such as `**/.env` or `**/secrets/**` (`*` stays within one \
                directory). Their text is never sent to a model: not to the remote engine, not as \
                another file's context.",
        }
        completion_languages: LanguageSwitches {
            key: "completion.languages",
            default: LanguageSwitches::default(),
            rule: Languages,
            doc: "Suggestions and next edits per language id, such as `{\"markdown\": false}`; languages \
                not named are on.",
        }
        max_tokens: usize {
            key: "completion.maxTokens",
            default: 64,
            rule: int(1, 1024),
            doc: "Most tokens one completion generates (1 to 1024).",
        }
        temperature: f32 {
            key: "completion.temperature",
            default: 0.0,
            rule: num(0.0, 2.0),
            doc: "Sampling temperature, 0 to 2; 0 is greedy (deterministic).",
        }
        top_p: f32 {
            key: "completion.topP",
            default: 1.0,
            rule: num_above(0.0, 1.0),
            doc: "Nucleus sampling mass, above 0 and at most 1; 1 turns it off.",
        }
        top_k: usize {
            key: "completion.topK",
            default: 0,
            rule: int(0, 1000),
            doc: "Sample among the K likeliest tokens (0 to 1000); 0 turns it off.",
        }
        repetition_penalty: f32 {
            key: "completion.repetitionPenalty",
            default: 1.0,
            rule: num(1.0, 1.5),
            doc: "Penalty on repeating recent tokens, 1.0 to 1.5; 1.0 turns it off.",
        }
        context_tokens: usize {
            key: "completion.contextTokens",
            default: 1536,
            rule: int(64, 32000),
            doc: "Most prompt tokens taken from the document before the cursor (64 to 32000; also capped \
                by the model's context).",
        }
        timeout_ms: u64 {
            key: "completion.timeoutMs",
            default: 2000,
            rule: int(50, 60000),
            doc: "Time budget of one inline completion in milliseconds (50 to 60000), including waiting \
                for the model to load. When it runs out, the suggestion decoded so far is shown. Raise it \
                on a slow CPU.",
        }
        fallback_budget_ms: u64 {
            key: "completion.fallbackBudgetMs",
            default: 300,
            rule: int(10, 10000),
            doc: "Time budget of one `textDocument/completion` answer (the fallback for editors without \
                inline completion), in milliseconds (10 to 10000).",
        }
        adaptive_delay: bool {
            key: "completion.adaptiveDelay",
            default: true,
            rule: Flag,
            doc: "Adapt when automatic completions start new model work to your typing rhythm and the \
                model's measured latency: in the middle of a word, while you type, a request the current \
                suggestion cannot serve waits about one and a half of your keystroke intervals, less the \
                model's latency but at least 1.2 intervals, before it starts the model; at word boundaries and on explicit requests \
                it does not wait.",
            protocol: "Only `textDocument/inlineCompletion` requests with `triggerKind` Automatic wait; \
                the wait ends early when the request is cancelled or superseded, so a keystroke within \
                it costs no model work. Suggestions still matched by what was typed (typed-ahead, the \
                cache) never wait. The wait is bounded by `completion.delayMinMs` and \
                `completion.delayMaxMs`.",
        }
        delay_min_ms: u64 {
            key: "completion.delayMinMs",
            default: 0,
            rule: int(0, 5000),
            doc: "Shortest wait, in milliseconds (0 to 5000), before an automatic completion starts new \
                model work, at word boundaries too; a fixed debounce when `completion.adaptiveDelay` is \
                off.",
        }
        delay_max_ms: u64 {
            key: "completion.delayMaxMs",
            default: 400,
            rule: int(0, 5000),
            doc: "Longest adaptive wait, in milliseconds (0 to 5000); below `completion.delayMinMs` \
                it counts as that.",
        }
        multiline: Multiline {
            key: "completion.multiline",
            default: Multiline::Auto,
            rule: Choice,
            doc: "Whether a suggestion may span several lines.",
        }
        token_healing: bool {
            key: "completion.tokenHealing",
            default: true,
            rule: Flag,
            doc: "When the cursor ends inside what would be one token (indentation before a keyword, \
                `retu`, an open quote), back the prompt up to the previous token boundary and let the \
                model write the removed text itself, so the suggestion starts the way the model would \
                spell it.",
            protocol: "It backs up at most 4 tokens, never over a line break.",
        }
        suffix_choice: bool {
            key: "completion.suffixChoice",
            default: true,
            rule: Flag,
            doc: "Rank the candidate first lines by how likely the model finds the text after the cursor \
                (the next two non-blank lines) following each, so the suggestion fits the code below it.",
            protocol: "With it on, at least 3 candidates are decoded even when `completion.candidates` is \
                lower. Off: candidates are ranked by their own likelihood.",
        }
        min_confidence: f32 {
            key: "completion.minConfidence",
            default: DEFAULT_MIN_CONFIDENCE,
            rule: num(0.0, 1.0),
            doc: "Stay silent when the model's confidence in the suggestion's first line (its \
                geometric-mean token probability) is below this, 0 to 1; 0 always shows one.",
            protocol: "The confidence is the `confidence` item field. It is not applied where confidence \
                is not measured (temperature above 0, the remote engine, menu answers with a budget under \
                1 s). The default keeps 69 % of suggestions and raises precision when shown from 22 % to \
                29 % on `quality_bench`.",
        }
        code_over_comment: CommentPolicy {
            key: "completion.codeOverComment",
            default: CommentPolicy::Continue,
            rule: Choice,
            doc: "What happens to a suggestion that is only a comment where code is expected (the \
                cursor's line holds no comment before it, and the nearest non-blank line above is code).",
            protocol: "`continue` skips at most 2 comment lines.",
        }
        candidates: usize {
            key: "completion.candidates",
            default: 3,
            rule: int(1, 5),
            doc: "Most suggestions one answer offers (1 to 5): the best one first, then other first lines.",
            vscode: "*Show Next/Previous Inline Suggestion* (`Alt+]` / `Alt+[`) cycles through them.",
            protocol: "1 answers the best one only (see Inline completion and the completion fallback).",
        }
        streaming: Option<bool> {
            key: "streaming",
            default: None,
            rule: Flag,
            doc: "Show the suggestion while it is being decoded (partial results).",
            vscode: "Empty (`null`): on, because this extension asks for it; `false` turns streaming off.",
            protocol: "Unset: follow the client's opt-in (see Streaming).",
        }
        enable: bool {
            key: "enable",
            default: true,
            rule: Flag,
            doc: "Completions and diagnostics on. `false` makes every completion answer empty and turns \
                diagnostics off without stopping the server.",
            vscode: "The status bar menu toggles it.",
        }
        diagnostics_enable: bool {
            key: "diagnostics.enable",
            default: true,
            rule: Flag,
            doc: "Show the spans the model finds very unlikely (for example a misspelt keyword) as \
                information diagnostics, with the model's rewrite as a quick fix.",
            protocol: "Turning it off clears them.",
        }
        diagnostics_min_surprise: f32 {
            key: "diagnostics.minSurprise",
            default: DEFAULT_MIN_SURPRISE,
            rule: num(1.0, 30.0),
            doc: "Flag a token whose log probability (natural log) is below −minSurprise (1 to 30)…",
        }
        diagnostics_min_alternative: f32 {
            key: "diagnostics.minAlternative",
            default: DEFAULT_MIN_ALTERNATIVE,
            rule: num(0.0, 1.0),
            doc: "…when the model's own choice there has at least this probability (0 to 1).",
            protocol: "Defaults chosen on the tuning corpus of the fault-injection benchmark at a \
                realistic fault density, with the name index (benches/README.md).",
        }
        diagnostics_debounce_ms: u64 {
            key: "diagnostics.debounceMs",
            default: 150,
            rule: int(0, 10000),
            doc: "How long typing must pause before the edited lines are rescored, in milliseconds (0 to \
                10000).",
        }
        diagnostics_lookahead_lines: usize {
            key: "diagnostics.lookaheadLines",
            default: 20,
            rule: int(0, 1000),
            doc: "Lines after an edit rescored with it (0 to 1000); the rest of the document is rescored \
                after 1.5 s more of quiet.",
        }
        diagnostics_counterfactual: bool {
            key: "diagnostics.counterfactual",
            default: false,
            rule: Flag,
            doc: "Keep a flag only when the model's fix also makes the text after it (the rest of the line \
                and the next line) likelier: a misspelling does, a new name does not. Flags the check \
                rejects are withdrawn a moment after they appear.",
            protocol: "See [Model diagnostics](#model-diagnostics). Off by default: at a realistic fault \
                density it cost recall and made squiggles flicker without beating the name index with a \
                higher `minSurprise` (benches/README.md).",
        }
        diagnostics_min_gain: f32 {
            key: "diagnostics.minGain",
            default: DEFAULT_MIN_GAIN,
            rule: num(0.0, 50.0),
            doc: "…by at least this many nats (natural log, summed over the compared tokens; 0 to 50).",
            protocol: "Chosen with the fault-injection benchmark at a realistic fault density \
                (benches/README.md).",
        }
        reasoning_timeout_ms: u64 {
            key: "reasoning.timeoutMs",
            default: 30_000,
            rule: int(1000, 600_000),
            doc: "Time limit of one reasoning chain (the `step by step` code actions), in milliseconds \
                (1000 to 600000); on timeout the steps written so far are used.",
        }
        reasoning_max_steps: usize {
            key: "reasoning.maxSteps",
            default: 6,
            rule: int(1, 20),
            doc: "Most steps a reasoning chain may have (1 to 20).",
        }
        reasoning_apply: ApplyMode {
            key: "reasoning.apply",
            default: ApplyMode::Preview,
            rule: Choice,
            doc: "How a reasoning chain's result reaches the document. A result that fails a guard \
                (another language, copied from the prompt's examples, not about the selection, \
                definitions changed, much less likely to the model than the original) is never applied.",
            protocol: "The preview is a change annotation with `needsConfirmation` (see \
                [Reasoning chains](#reasoning-chains)).",
        }
        cross_file: bool {
            key: "context.crossFile",
            // Off by default: on the default model it did not improve completions measurably
            // (`crossfile_bench`, benches/README.md) and it makes every prompt longer.
            default: false,
            rule: Flag,
            doc: "Show chunks of other open documents (recently opened, edited or viewed) at the start of \
                the prompt.",
            protocol: "See Prompts and cross-file context. Off by default: on the default model it did \
                not measurably improve completions (benches/README.md, `crossfile_bench`).",
        }
        chunk_lines: usize {
            key: "context.chunkLines",
            default: 64,
            rule: int(4, 512),
            doc: "Lines per cross-file chunk (4 to 512).",
        }
        max_chunks: usize {
            key: "context.maxChunks",
            default: 16,
            rule: int(1, 64),
            doc: "Most cross-file chunks kept; the oldest leave first (1 to 64).",
        }
        cross_file_tokens: usize {
            key: "context.crossFileTokens",
            default: 768,
            rule: int(0, 16000),
            doc: "Most prompt tokens the cross-file chunks take (0 to 16000; never more than half of \
                `completion.contextTokens`). 0 turns them off.",
            protocol: "File headers count too, and the document gets the rest. Chunks that do not fit are \
                dropped whole, oldest first.",
        }
    }
}
