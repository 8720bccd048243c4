//! Tests of rill's wire types (`protocol.rs`) and settings handling (`config.rs`) against literal JSON.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::{json, Value};
use tower_lsp::lsp_types::notification::Notification;
use tower_lsp::lsp_types::request::Request;
use tower_lsp::lsp_types::{Command, NumberOrString, Position, Range, Url};

use rill_server::config::{
    ApplyMode, Backend, CommentPolicy, Config, ConfigIssue, FileGlobs, FimTemplate,
    LanguageSwitches, Multiline, KEYS,
};
use rill_server::protocol::*;
use rill_server::rill_protocol::*;

/// Parses `value` as `T`, serializes it back and checks that nothing changed on the way.
fn round_trip<T>(value: Value) -> T
where
    T: serde::de::DeserializeOwned + serde::Serialize,
{
    let parsed: T = serde_json::from_value(value.clone()).expect("the JSON parses");
    let back = serde_json::to_value(&parsed).expect("the value serializes");
    assert_eq!(back, value, "round trip changed the JSON");
    parsed
}

fn range(start_line: u32, start_character: u32, end_line: u32, end_character: u32) -> Range {
    Range::new(
        Position::new(start_line, start_character),
        Position::new(end_line, end_character),
    )
}

// ---------------------------------------------------------------------------------------------------
// Inline completion wire format (LSP 3.18).
// ---------------------------------------------------------------------------------------------------

#[test]
fn method_names() {
    assert_eq!(INLINE_COMPLETION_METHOD, "textDocument/inlineCompletion");
    assert_eq!(
        InlineCompletionRequest::METHOD,
        "textDocument/inlineCompletion"
    );
    assert_eq!(
        InlineCompletionPartialNotification::METHOD,
        "rill/inlineCompletion/partial"
    );
    assert_eq!(StatusNotification::METHOD, "rill/status");
}

#[test]
fn params_invoked_with_work_done_token() {
    let params: InlineCompletionParams = round_trip(json!({
        "textDocument": { "uri": "file:///home/user/project/main.py" },
        "position": { "line": 3, "character": 12 },
        "context": { "triggerKind": 1 },
        "workDoneToken": "token-1"
    }));
    assert_eq!(
        params.text_document.uri.as_str(),
        "file:///home/user/project/main.py"
    );
    assert_eq!(params.position, Position::new(3, 12));
    assert_eq!(
        params.context.trigger_kind,
        InlineCompletionTriggerKind::Invoked
    );
    assert!(params.context.selected_completion_info.is_none());
    assert_eq!(
        params.work_done_progress_params.work_done_token,
        Some(NumberOrString::String("token-1".to_string()))
    );
}

#[test]
fn params_automatic_with_selected_completion_info() {
    let params: InlineCompletionParams = round_trip(json!({
        "textDocument": { "uri": "file:///a.rs" },
        "position": { "line": 0, "character": 4 },
        "context": {
            "triggerKind": 2,
            "selectedCompletionInfo": {
                "range": { "start": { "line": 0, "character": 0 }, "end": { "line": 0, "character": 4 } },
                "text": "println!"
            }
        }
    }));
    assert_eq!(
        params.context.trigger_kind,
        InlineCompletionTriggerKind::Automatic
    );
    let selected = params
        .context
        .selected_completion_info
        .expect("selected completion info");
    assert_eq!(selected.range, range(0, 0, 0, 4));
    assert_eq!(selected.text, "println!");
    assert!(params.work_done_progress_params.work_done_token.is_none());
}

#[test]
fn params_tolerate_extra_fields() {
    // rill's request shim adds `rillRequestId`; the parameters must still parse.
    let params: InlineCompletionParams = serde_json::from_value(json!({
        "textDocument": { "uri": "file:///a.rs" },
        "position": { "line": 1, "character": 2 },
        "context": { "triggerKind": 2 },
        "rillRequestId": 7
    }))
    .expect("extra fields are ignored");
    assert_eq!(params.position, Position::new(1, 2));
}

#[test]
fn trigger_kind_is_an_integer_on_the_wire() {
    assert_eq!(
        serde_json::to_value(InlineCompletionTriggerKind::Invoked).unwrap(),
        json!(1)
    );
    assert_eq!(
        serde_json::to_value(InlineCompletionTriggerKind::Automatic).unwrap(),
        json!(2)
    );
    for bad in [
        json!(0),
        json!(3),
        json!("Invoked"),
        json!(-1),
        json!(1.5),
        json!(null),
    ] {
        assert!(
            serde_json::from_value::<InlineCompletionTriggerKind>(bad.clone()).is_err(),
            "{bad} must be rejected"
        );
    }
}

#[test]
fn item_with_plain_string_and_every_field() {
    let item: InlineCompletionItem = round_trip(json!({
        "insertText": "return a + b",
        "filterText": "ret",
        "range": { "start": { "line": 2, "character": 4 }, "end": { "line": 2, "character": 7 } },
        "command": { "title": "Accepted", "command": "rill.accepted", "arguments": [1, "x"] }
    }));
    assert_eq!(
        item.insert_text,
        InsertText::Plain("return a + b".to_string())
    );
    assert_eq!(item.insert_text.as_str(), "return a + b");
    assert_eq!(item.filter_text.as_deref(), Some("ret"));
    assert_eq!(item.range, Some(range(2, 4, 2, 7)));
    let command: Command = item.command.expect("command");
    assert_eq!(command.command, "rill.accepted");
}

#[test]
fn item_with_snippet_string_value() {
    let item: InlineCompletionItem = round_trip(json!({
        "insertText": { "kind": "snippet", "value": "for ${1:i} in 0..${2:n} {\n\t$0\n}" }
    }));
    match &item.insert_text {
        InsertText::Snippet(snippet) => {
            assert_eq!(snippet.kind, StringValueKind::Snippet);
            assert_eq!(snippet.value, "for ${1:i} in 0..${2:n} {\n\t$0\n}");
        }
        other => panic!("expected a snippet, got {other:?}"),
    }
    assert_eq!(
        item.insert_text.as_str(),
        "for ${1:i} in 0..${2:n} {\n\t$0\n}"
    );
    assert!(item.filter_text.is_none() && item.range.is_none() && item.command.is_none());
}

#[test]
fn item_rejects_malformed_insert_text() {
    for bad in [
        json!({ "insertText": { "kind": "markdown", "value": "x" } }),
        json!({ "insertText": 5 }),
        json!({ "insertText": null }),
        json!({}),
    ] {
        assert!(
            serde_json::from_value::<InlineCompletionItem>(bad.clone()).is_err(),
            "{bad}"
        );
    }
}

#[test]
fn optional_item_fields_are_omitted_when_absent() {
    let item = InlineCompletionItem {
        insert_text: "x".into(),
        filter_text: None,
        range: None,
        command: None,
        confidence: None,
    };
    assert_eq!(
        serde_json::to_value(&item).unwrap(),
        json!({ "insertText": "x" })
    );
}

#[test]
fn response_list_and_array_forms() {
    let list_json = json!({ "items": [ { "insertText": "a" }, { "insertText": "b" } ] });
    let list: InlineCompletionResponse = round_trip(list_json);
    assert!(matches!(list, InlineCompletionResponse::List(_)));
    assert_eq!(list.items().len(), 2);

    let array: InlineCompletionResponse = round_trip(json!([ { "insertText": "a" } ]));
    assert!(matches!(array, InlineCompletionResponse::Array(_)));
    assert_eq!(array.items()[0].insert_text.as_str(), "a");

    let empty: InlineCompletionList = round_trip(json!({ "items": [] }));
    assert!(empty.items.is_empty());

    // A null result is the request's `Option` being `None`.
    let none: <InlineCompletionRequest as Request>::Result =
        serde_json::from_value(json!(null)).unwrap();
    assert!(none.is_none());
}

#[test]
fn server_capability_entry() {
    let (key, value) = inline_completion_capability();
    assert_eq!(key, "inlineCompletionProvider");
    assert_eq!(value, json!({}));
    let options: InlineCompletionOptions = round_trip(json!({ "workDoneProgress": true }));
    assert_eq!(
        options.work_done_progress_options.work_done_progress,
        Some(true)
    );
}

// ---------------------------------------------------------------------------------------------------
// Client capability detection.
// ---------------------------------------------------------------------------------------------------

/// Roughly what VS Code 1.9x sends: inline completion supported, plus many fields lsp-types drops.
fn vscode_like_capabilities() -> Value {
    json!({
        "general": { "positionEncodings": ["utf-16"] },
        "workspace": { "configuration": true, "didChangeConfiguration": { "dynamicRegistration": true } },
        "window": { "workDoneProgress": true },
        "textDocument": {
            "synchronization": { "dynamicRegistration": true, "didSave": true },
            "completion": { "completionItem": { "snippetSupport": true } },
            "inlineCompletion": { "dynamicRegistration": true }
        }
    })
}

/// Roughly what Helix sends: UTF-8 positions, regular completion, no inline completion.
fn helix_like_capabilities() -> Value {
    json!({
        "general": { "positionEncodings": ["utf-8", "utf-32", "utf-16"] },
        "workspace": { "configuration": true, "workspaceFolders": true },
        "window": { "workDoneProgress": true },
        "textDocument": {
            "completion": { "completionItem": { "snippetSupport": true, "insertReplaceSupport": true } },
            "hover": { "contentFormat": ["markdown"] }
        }
    })
}

#[test]
fn inline_completion_support_detection() {
    assert!(client_supports_inline_completion(
        &vscode_like_capabilities()
    ));
    assert!(!client_supports_inline_completion(
        &helix_like_capabilities()
    ));
    // An empty object still declares support; null and odd shapes do not.
    assert!(client_supports_inline_completion(
        &json!({ "textDocument": { "inlineCompletion": {} } })
    ));
    assert!(!client_supports_inline_completion(
        &json!({ "textDocument": { "inlineCompletion": null } })
    ));
    assert!(!client_supports_inline_completion(
        &json!({ "textDocument": [] })
    ));
    assert!(!client_supports_inline_completion(&json!({})));
    assert!(!client_supports_inline_completion(&json!(null)));
    assert!(!client_supports_inline_completion(&json!("capabilities")));
}

#[test]
fn streaming_opt_in_detection() {
    let vscode = vscode_like_capabilities();
    let helix = helix_like_capabilities();
    assert!(!client_wants_streaming(&vscode, None));
    assert!(!client_wants_streaming(
        &helix,
        Some(&json!({ "completion": { "maxTokens": 8 } }))
    ));

    let mut streaming_vscode = vscode.clone();
    streaming_vscode["experimental"] = json!({ "rillStreaming": true });
    assert!(client_wants_streaming(&streaming_vscode, None));

    assert!(client_wants_streaming(
        &helix,
        Some(&json!({ "streaming": true }))
    ));
    assert!(client_wants_streaming(
        &helix,
        Some(&json!({ "rill": { "streaming": true } }))
    ));
    assert!(client_wants_streaming(
        &helix,
        Some(&json!({ "rill.streaming": true }))
    ));

    // Only the JSON value `true` opts in.
    assert!(!client_wants_streaming(
        &json!({ "experimental": { "rillStreaming": "true" } }),
        None
    ));
    assert!(!client_wants_streaming(
        &json!({ "experimental": { "rillStreaming": false } }),
        None
    ));
    assert!(!client_wants_streaming(
        &helix,
        Some(&json!({ "streaming": false }))
    ));
    assert!(!client_wants_streaming(
        &helix,
        Some(&json!({ "streaming": 1 }))
    ));
    assert!(!client_wants_streaming(&json!(null), Some(&json!(null))));
    assert!(!client_wants_streaming(
        &json!([]),
        Some(&json!("streaming"))
    ));
}

// ---------------------------------------------------------------------------------------------------
// rill's notifications.
// ---------------------------------------------------------------------------------------------------

#[test]
fn partial_notification_shape() {
    let params: InlineCompletionPartialParams = round_trip(json!({
        "requestId": 12,
        "uri": "file:///home/user/project/main.py",
        "version": 5,
        "seq": 2,
        "items": [ {
            "insertText": "return a +",
            "range": { "start": { "line": 3, "character": 4 }, "end": { "line": 3, "character": 4 } }
        } ]
    }));
    assert_eq!(params.request_id, NumberOrString::Number(12));
    assert_eq!(
        params.uri,
        Url::parse("file:///home/user/project/main.py").unwrap()
    );
    assert_eq!((params.version, params.seq), (5, 2));
    assert_eq!(params.items[0].insert_text.as_str(), "return a +");

    // String request ids are just as valid in JSON-RPC.
    let params: InlineCompletionPartialParams = round_trip(json!({
        "requestId": "req-7", "uri": "file:///x.rs", "version": 0, "seq": 1, "items": []
    }));
    assert_eq!(
        params.request_id,
        NumberOrString::String("req-7".to_string())
    );
}

#[test]
fn status_notification_shapes() {
    assert_eq!(
        serde_json::to_value(StatusParams::loading()).unwrap(),
        json!({ "state": "loading" })
    );
    assert_eq!(
        serde_json::to_value(StatusParams::ready_idle()).unwrap(),
        json!({ "state": "ready" })
    );
    assert_eq!(
        serde_json::to_value(StatusParams::error("model not found")).unwrap(),
        json!({ "state": "error", "message": "model not found" })
    );

    let full: StatusParams = round_trip(json!({
        "state": "ready",
        "promptTokens": 812,
        "reusedTokens": 800,
        "timeToFirstTokenMs": 41.5,
        "tokensPerSecond": 180.25,
        "generatedTokens": 17
    }));
    assert_eq!(full.state, StatusState::Ready);
    assert_eq!(full.prompt_tokens, Some(812));
    assert_eq!(full.time_to_first_token_ms, Some(41.5));

    assert!(serde_json::from_value::<StatusParams>(json!({ "state": "Ready" })).is_err());
    assert!(serde_json::from_value::<StatusParams>(json!({ "state": "busy" })).is_err());
}

struct FakeStats {
    tokens_per_second: f64,
}

impl CompletionMeasurements for FakeStats {
    fn prompt_tokens(&self) -> usize {
        100
    }
    fn reused_tokens(&self) -> usize {
        90
    }
    fn generated_tokens(&self) -> usize {
        12
    }
    fn time_to_first_token(&self) -> Duration {
        Duration::from_micros(25_500)
    }
    fn tokens_per_second(&self) -> f64 {
        self.tokens_per_second
    }
}

#[test]
fn status_ready_from_measurements() {
    let status = StatusParams::ready(&FakeStats {
        tokens_per_second: 150.0,
    });
    assert_eq!(
        serde_json::to_value(&status).unwrap(),
        json!({
            "state": "ready",
            "promptTokens": 100,
            "reusedTokens": 90,
            "generatedTokens": 12,
            "timeToFirstTokenMs": 25.5,
            "tokensPerSecond": 150.0
        })
    );
    // A rate JSON cannot carry is left out rather than sent as null.
    let status = StatusParams::ready(&FakeStats {
        tokens_per_second: f64::INFINITY,
    });
    assert!(status.tokens_per_second.is_none());
    assert!(serde_json::to_value(&status)
        .unwrap()
        .get("tokensPerSecond")
        .is_none());
}

// ---------------------------------------------------------------------------------------------------
// Configuration.
// ---------------------------------------------------------------------------------------------------

fn applied(settings: Value) -> (Config, Vec<ConfigIssue>) {
    let mut config = Config::default();
    let issues = config.apply(&settings);
    (config, issues)
}

#[test]
fn defaults() {
    let config = Config::default();
    assert_eq!(config.model_path, None);
    assert_eq!(config.engine_threads, None);
    assert_eq!(config.max_tokens, 64);
    assert_eq!(config.temperature, 0.0);
    assert_eq!(config.top_p, 1.0);
    assert_eq!(config.top_k, 0);
    assert_eq!(config.repetition_penalty, 1.0);
    assert_eq!(config.context_tokens, 1536);
    assert_eq!(config.timeout_ms, 2000);
    assert_eq!(config.fallback_budget_ms, 300);
    assert_eq!(config.multiline, Multiline::Auto);
    assert_eq!(config.streaming, None);
    assert!(config.enable);
    // Empty and null settings change nothing.
    assert_eq!(applied(json!({})), (Config::default(), vec![]));
    assert_eq!(applied(json!(null)), (Config::default(), vec![]));
    assert_eq!(
        applied(json!({ "rill": null })),
        (Config::default(), vec![])
    );
}

/// Every key set to a valid non-default value, in nested form.
fn everything_nested() -> Value {
    json!({
        "model": { "path": "/models/tiny.gguf" },
        "nextEdit": { "enable": false, "debounceMs": 450 },
        "engine": {
            "threads": 4,
            "cacheBudgetMb": 256,
            "diskCacheMb": 0,
            "prewarm": false,
            "prewarmIdleMs": 500,
            "backend": "openai",
            "baseUrl": "https://gpu.example:8000/v1/",
            "model": "Qwen/Qwen2.5-Coder-1.5B",
            "apiKeyEnv": "TEAM_API_KEY",
            "timeoutMs": 8000,
            "fimTemplate": "deepseek"
        },
        "completion": {
            "maxTokens": 32,
            "temperature": 0.2,
            "topP": 0.9,
            "topK": 40,
            "repetitionPenalty": 1.1,
            "contextTokens": 2048,
            "timeoutMs": 1500,
            "fallbackBudgetMs": 250,
            "adaptiveDelay": false,
            "delayMinMs": 40,
            "delayMaxMs": 250,
            "multiline": "never",
            "tokenHealing": false,
            "suffixChoice": false,
            "minConfidence": 0.25,
            "codeOverComment": "drop",
            "candidates": 2,
            "exclude": ["**/.env", "**/secrets/**"],
            "languages": { "markdown": false }
        },
        "stats": { "persist": false },
        "streaming": true,
        "enable": false,
        "diagnostics": {
            "enable": false,
            "minSurprise": 6.5,
            "minAlternative": 0.25,
            "debounceMs": 200,
            "lookaheadLines": 10,
            "counterfactual": true,
            "minGain": 1.5
        },
        "reasoning": { "timeoutMs": 5000, "maxSteps": 4, "apply": "immediately" },
        "context": { "crossFile": true, "chunkLines": 32, "maxChunks": 8, "crossFileTokens": 400 }
    })
}

fn everything_expected() -> Config {
    Config {
        model_path: Some(PathBuf::from("/models/tiny.gguf")),
        engine_threads: Some(4),
        cache_budget_mb: 256,
        disk_cache_mb: 0,
        prewarm: false,
        prewarm_idle_ms: 500,
        next_edit_enable: false,
        next_edit_debounce_ms: 450,
        engine_backend: Backend::Openai,
        // The trailing `/v1/` is dropped: rill adds `/v1/completions` itself.
        engine_base_url: Some("https://gpu.example:8000".to_string()),
        engine_model: Some("Qwen/Qwen2.5-Coder-1.5B".to_string()),
        engine_api_key_env: Some("TEAM_API_KEY".to_string()),
        engine_timeout_ms: 8000,
        engine_fim_template: FimTemplate::Deepseek,
        max_tokens: 32,
        temperature: 0.2,
        top_p: 0.9,
        top_k: 40,
        repetition_penalty: 1.1,
        context_tokens: 2048,
        timeout_ms: 1500,
        fallback_budget_ms: 250,
        adaptive_delay: false,
        delay_min_ms: 40,
        delay_max_ms: 250,
        multiline: Multiline::Never,
        token_healing: false,
        suffix_choice: false,
        min_confidence: 0.25,
        code_over_comment: CommentPolicy::Drop,
        candidates: 2,
        streaming: Some(true),
        enable: false,
        diagnostics_enable: false,
        diagnostics_min_surprise: 6.5,
        diagnostics_min_alternative: 0.25,
        diagnostics_debounce_ms: 200,
        diagnostics_lookahead_lines: 10,
        diagnostics_counterfactual: true,
        diagnostics_min_gain: 1.5,
        reasoning_timeout_ms: 5000,
        reasoning_max_steps: 4,
        reasoning_apply: ApplyMode::Immediately,
        cross_file: true,
        chunk_lines: 32,
        max_chunks: 8,
        cross_file_tokens: 400,
        completion_exclude: FileGlobs::new(&["**/.env", "**/secrets/**"]).unwrap(),
        completion_languages: LanguageSwitches::new([("markdown", false)]),
        stats_persist: false,
    }
}

/// The same settings with every key written dotted at the top level.
fn everything_dotted() -> Value {
    let mut flat = serde_json::Map::new();
    fn walk(prefix: &str, value: &Value, flat: &mut serde_json::Map<String, Value>) {
        // A key whose value is itself an object (`completion.languages`) stays whole.
        match value.as_object().filter(|_| !KEYS.contains(&prefix)) {
            Some(map) => {
                for (name, child) in map {
                    let key = if prefix.is_empty() {
                        name.clone()
                    } else {
                        format!("{prefix}.{name}")
                    };
                    walk(&key, child, flat);
                }
            }
            None => {
                flat.insert(prefix.to_string(), value.clone());
            }
        }
    }
    walk("", &everything_nested(), &mut flat);
    Value::Object(flat)
}

#[test]
fn nested_dotted_and_wrapped_forms_agree() {
    let dotted = everything_dotted();
    assert_eq!(
        dotted.as_object().unwrap().len(),
        KEYS.len(),
        "every key is covered"
    );
    let prefixed: serde_json::Map<String, Value> = dotted
        .as_object()
        .unwrap()
        .iter()
        .map(|(key, value)| (format!("rill.{key}"), value.clone()))
        .collect();
    let forms = [
        everything_nested(),
        dotted.clone(),
        json!({ "rill": everything_nested() }),
        json!({ "rill": dotted }),
        Value::Object(prefixed),
        // The whole settings tree of an editor, with other tools' sections next to ours.
        json!({ "editor": { "tabSize": 4 }, "rust-analyzer": { "check": "clippy" }, "rill": everything_nested() }),
    ];
    for form in forms {
        assert_eq!(
            applied(form.clone()),
            (everything_expected(), vec![]),
            "form {form}"
        );
    }
}

#[test]
fn mixed_nesting_applies() {
    let (config, issues) = applied(json!({
        "completion": { "maxTokens": 16 },
        "completion.topK": 5,
        "rill": { "engine.threads": 2, "model": { "path": "m.gguf" } }
    }));
    assert!(issues.is_empty(), "{issues:?}");
    assert_eq!(config.max_tokens, 16);
    assert_eq!(config.top_k, 5);
    assert_eq!(config.engine_threads, Some(2));
    assert_eq!(config.model_path, Some(PathBuf::from("m.gguf")));
}

#[test]
fn apply_builds_on_the_previous_values() {
    let mut config = Config::default();
    assert!(config
        .apply(&json!({ "completion": { "maxTokens": 10 } }))
        .is_empty());
    assert!(config
        .apply(&json!({ "completion": { "topK": 3 } }))
        .is_empty());
    assert_eq!((config.max_tokens, config.top_k), (10, 3));
}

/// Applies `value` to `key` on top of the full non-default configuration and checks that exactly one
/// issue names the key and that nothing changed.
fn assert_rejected(key: &str, value: Value) {
    let mut config = everything_expected();
    let issues = config.apply(&json!({ key: value.clone() }));
    assert_eq!(
        config,
        everything_expected(),
        "{key} = {value} changed the configuration"
    );
    assert_eq!(issues.len(), 1, "{key} = {value}: {issues:?}");
    assert_eq!(issues[0].key, key);
    assert!(!issues[0].reason.is_empty());
    let shown = issues[0].to_string();
    assert!(shown.starts_with(&format!("rill.{key}: ")), "{shown}");
}

#[test]
fn invalid_values_keep_the_previous_value_and_name_the_key() {
    let cases: &[(&str, Value)] = &[
        ("model.path", json!(5)),
        ("model.path", json!(["a"])),
        ("engine.threads", json!(0)),
        ("engine.threads", json!(257)),
        ("engine.threads", json!("4")),
        ("engine.threads", json!(-1)),
        ("engine.cacheBudgetMb", json!(15)),
        ("engine.cacheBudgetMb", json!(65537)),
        ("engine.cacheBudgetMb", json!("512")),
        ("engine.diskCacheMb", json!(-1)),
        ("engine.diskCacheMb", json!(1048577)),
        ("engine.prewarm", json!("yes")),
        ("engine.prewarmIdleMs", json!(49)),
        ("engine.prewarmIdleMs", json!(10001)),
        ("completion.maxTokens", json!(0)),
        ("completion.maxTokens", json!(1025)),
        ("completion.maxTokens", json!(32.5)),
        ("completion.maxTokens", json!("32")),
        ("completion.maxTokens", json!(true)),
        ("completion.maxTokens", json!({ "value": 3 })),
        ("completion.maxTokens", json!(1e300)),
        ("completion.temperature", json!(-0.1)),
        ("completion.temperature", json!(2.01)),
        ("completion.temperature", json!("0.5")),
        ("completion.topP", json!(0)),
        ("completion.topP", json!(1e-60)),
        ("completion.topP", json!(1.1)),
        ("completion.topK", json!(1001)),
        ("completion.topK", json!(2.5)),
        ("completion.repetitionPenalty", json!(0.9)),
        ("completion.repetitionPenalty", json!(1.6)),
        ("completion.contextTokens", json!(63)),
        ("completion.contextTokens", json!(32001)),
        ("completion.timeoutMs", json!(49)),
        ("completion.timeoutMs", json!(60001)),
        ("completion.fallbackBudgetMs", json!(9)),
        ("completion.fallbackBudgetMs", json!(10001)),
        ("completion.multiline", json!("sometimes")),
        ("completion.multiline", json!("Auto")),
        ("completion.multiline", json!(1)),
        ("streaming", json!("yes")),
        ("streaming", json!(1)),
        ("enable", json!("false")),
        ("enable", json!(0)),
        ("engine.backend", json!("vllm")),
        ("engine.backend", json!(true)),
        ("engine.baseUrl", json!("localhost:8000")),
        ("engine.baseUrl", json!("http://")),
        ("engine.baseUrl", json!("http://host name")),
        ("engine.baseUrl", json!(8000)),
        ("engine.model", json!(7)),
        ("engine.apiKeyEnv", json!("sk-abc123")),
        ("engine.apiKeyEnv", json!("1KEY")),
        ("engine.timeoutMs", json!(99)),
        ("engine.timeoutMs", json!(600_001)),
        ("engine.fimTemplate", json!("qwen2")),
    ];
    for (key, value) in cases {
        assert_rejected(key, value.clone());
    }
}

#[test]
fn invalid_nested_value_is_named_by_its_dotted_key() {
    let mut config = Config::default();
    let issues = config.apply(&json!({ "rill": { "completion": { "maxTokens": "many" } } }));
    assert_eq!(issues.len(), 1);
    assert_eq!(issues[0].key, "completion.maxTokens");
    assert!(issues[0]
        .to_string()
        .starts_with("rill.completion.maxTokens: "));
    assert_eq!(config, Config::default());
}

#[test]
fn valid_keys_apply_next_to_invalid_ones() {
    let (config, issues) = applied(json!({
        "completion": { "maxTokens": 5000, "topK": 7, "multiline": "bogus", "temperature": 0.5 },
        "enable": "nope",
        "streaming": false
    }));
    let mut keys: Vec<&str> = issues.iter().map(|issue| issue.key.as_str()).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        ["completion.maxTokens", "completion.multiline", "enable"]
    );
    assert_eq!(config.max_tokens, 64);
    assert_eq!(config.multiline, Multiline::Auto);
    assert!(config.enable);
    assert_eq!(config.top_k, 7);
    assert_eq!(config.temperature, 0.5);
    assert_eq!(config.streaming, Some(false));
}

#[test]
fn boundaries_and_whole_floats_are_accepted() {
    let (config, issues) = applied(json!({
        "engine.threads": 256,
        "engine.cacheBudgetMb": 65536,
        "engine.diskCacheMb": 1048576,
        "engine.prewarmIdleMs": 50,
        "completion": {
            "maxTokens": 32.0,
            "temperature": 2,
            "topP": 1,
            "topK": 1000,
            "repetitionPenalty": 1.5,
            "contextTokens": 64,
            "timeoutMs": 60000,
            "fallbackBudgetMs": 10,
            "multiline": "always"
        }
    }));
    assert!(issues.is_empty(), "{issues:?}");
    assert_eq!(config.engine_threads, Some(256));
    assert_eq!(config.cache_budget_mb, 65536);
    assert_eq!(config.disk_cache_mb, 1048576);
    assert_eq!(config.prewarm_idle_ms, 50);
    assert_eq!(config.max_tokens, 32);
    assert_eq!(config.temperature, 2.0);
    assert_eq!(config.top_p, 1.0);
    assert_eq!(config.top_k, 1000);
    assert_eq!(config.repetition_penalty, 1.5);
    assert_eq!(config.context_tokens, 64);
    assert_eq!(config.timeout_ms, 60000);
    assert_eq!(config.fallback_budget_ms, 10);
    assert_eq!(config.multiline, Multiline::Always);

    let (config, issues) =
        applied(json!({ "completion": { "maxTokens": 1, "topP": 0.01, "repetitionPenalty": 1 } }));
    assert!(issues.is_empty(), "{issues:?}");
    assert_eq!(
        (config.max_tokens, config.top_p, config.repetition_penalty),
        (1, 0.01, 1.0)
    );
}

#[test]
fn null_resets_to_the_default() {
    let mut config = everything_expected();
    let nulls: serde_json::Map<String, Value> = KEYS
        .iter()
        .map(|key| (key.to_string(), Value::Null))
        .collect();
    assert!(config.apply(&Value::Object(nulls)).is_empty());
    assert_eq!(config, Config::default());

    let mut config = everything_expected();
    assert!(config
        .apply(
            &json!({ "model": { "path": null }, "engine": { "threads": null }, "streaming": null })
        )
        .is_empty());
    assert_eq!(config.model_path, None);
    assert_eq!(config.engine_threads, None);
    assert_eq!(config.streaming, None);
    assert_eq!(config.max_tokens, 32, "keys not mentioned keep their value");
}

#[test]
fn empty_model_path_means_unset() {
    let mut config = everything_expected();
    assert!(config.apply(&json!({ "model.path": "" })).is_empty());
    assert_eq!(config.model_path, None);
}

#[test]
fn unknown_keys_are_ignored() {
    let (config, issues) = applied(json!({
        "completion": { "maxTokens": 8, "flavour": "vanilla", "sampling": { "minP": 0.1 } },
        "completion.unknown": 3,
        "model": { "path": "x.gguf", "quantization": "q4" },
        "telemetry": true,
        "rill.somethingNew": 1,
        "enable.extra": true,
        "editor": { "fontSize": 14 }
    }));
    assert!(issues.is_empty(), "{issues:?}");
    assert_eq!(config.max_tokens, 8);
    assert_eq!(config.model_path, Some(PathBuf::from("x.gguf")));
    assert_eq!(
        Config {
            max_tokens: 64,
            model_path: None,
            ..config
        },
        Config::default()
    );
}

#[test]
fn non_object_settings_are_reported_without_changes() {
    for bad in [json!(5), json!("rill"), json!([1, 2]), json!({ "rill": 3 })] {
        let (config, issues) = applied(bad.clone());
        assert_eq!(config, Config::default(), "{bad}");
        assert_eq!(issues.len(), 1, "{bad}: {issues:?}");
        assert_eq!(issues[0].key, "");
        assert!(issues[0].to_string().starts_with("rill: "), "{}", issues[0]);
    }
    // A known section given as something other than an object is not a key, so it is ignored.
    let (config, issues) = applied(json!({ "completion": 5 }));
    assert_eq!((config, issues), (Config::default(), vec![]));
}

#[test]
fn multiline_names() {
    for name in Multiline::NAMES {
        let value = Multiline::from_name(name).expect("known name");
        assert_eq!(value.as_str(), name);
        assert_eq!(value.to_string(), name);
    }
    assert_eq!(Multiline::default(), Multiline::Auto);
}

#[test]
fn remote_engine_names_round_trip() {
    for name in Backend::NAMES {
        assert_eq!(Backend::from_name(name).expect("known name").as_str(), name);
    }
    for name in FimTemplate::NAMES {
        assert_eq!(
            FimTemplate::from_name(name).expect("known name").as_str(),
            name
        );
    }
    assert_eq!(Backend::default(), Backend::Local);
    assert_eq!(FimTemplate::default(), FimTemplate::Auto);
}

#[test]
fn an_api_key_pasted_into_api_key_env_is_rejected_without_being_echoed() {
    let secret = "sk-live-0123456789abcdef";
    let (config, issues) = applied(json!({ "engine": { "apiKeyEnv": secret } }));
    assert_eq!(config.engine_api_key_env, None);
    assert_eq!(issues.len(), 1);
    let shown = issues[0].to_string();
    assert!(shown.contains("environment variable"), "{shown}");
    assert!(
        !shown.contains(secret),
        "the message repeats the key: {shown}"
    );
}

#[test]
fn empty_remote_strings_mean_unset() {
    let (config, issues) = applied(json!({
        "engine": { "baseUrl": " ", "model": "", "apiKeyEnv": "" }
    }));
    assert!(issues.is_empty(), "{issues:?}");
    assert_eq!(config.engine_base_url, None);
    assert_eq!(config.engine_model, None);
    assert_eq!(config.engine_api_key_env, None);
    let (config, _) = applied(json!({ "engine.baseUrl": "http://127.0.0.1:8080" }));
    assert_eq!(
        config.engine_base_url.as_deref(),
        Some("http://127.0.0.1:8080")
    );
}
