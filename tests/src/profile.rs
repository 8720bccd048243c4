//! Editor profiles: the client capabilities, initialization options and settings a test server is started with.

use serde_json::{json, Value};

/// How one editor presents itself to the server, and how it behaves towards it.
#[derive(Debug, Clone)]
pub struct Profile {
    /// A short name for failure messages (`clientInfo.name` too).
    pub name: &'static str,
    /// The `capabilities` of `initialize`.
    pub capabilities: Value,
    /// The `initializationOptions` of `initialize` (`null` when the editor sends none).
    pub initialization_options: Value,
    /// The whole settings tree, e.g. `{"rill": {"completion": {"maxTokens": 16}}}`. The client answers
    /// `workspace/configuration` items from it by `section`, as VS Code does.
    pub settings: Value,
    /// Whether this editor ever sends `$/cancelRequest`; Helix does not, so tests for it must not either.
    pub sends_cancel: bool,
    /// Environment variables the server process starts with, after the harness's own
    /// (`RILL_LOG=debug`), which they may override.
    pub env: Vec<(String, String)>,
}

impl Profile {
    /// VS Code with rill's extension: UTF-16 only, inline completion with streamed partials,
    /// work-done progress and pulled configuration.
    pub fn vscode() -> Self {
        Self {
            name: "vscode",
            capabilities: json!({
                "general": { "positionEncodings": ["utf-16"] },
                "textDocument": {
                    "synchronization": { "dynamicRegistration": true, "didSave": true },
                    "completion": { "completionItem": { "snippetSupport": true } },
                    "inlineCompletion": {}
                },
                "window": { "workDoneProgress": true, "showMessage": {} },
                "workspace": {
                    "configuration": true,
                    "didChangeConfiguration": { "dynamicRegistration": true },
                    // As VS Code: it previews edits whose change annotation needs confirmation.
                    "workspaceEdit": { "documentChanges": true, "changeAnnotationSupport": { "groupsOnLabel": true } }
                },
                "experimental": { "rillStreaming": true, "rillStatus": true, "rillAcceptance": true }
            }),
            initialization_options: Value::Null,
            settings: Value::Null,
            sends_cancel: true,
            env: Vec::new(),
        }
    }

    /// Helix: prefers UTF-8, has no inline completion (so rill answers `textDocument/completion`
    /// instead), never cancels requests.
    pub fn helix() -> Self {
        Self {
            name: "helix",
            capabilities: json!({
                "general": { "positionEncodings": ["utf-8", "utf-32", "utf-16"] },
                "textDocument": {
                    "completion": {
                        "completionItem": { "snippetSupport": true, "insertReplaceSupport": true },
                        "completionItemKind": {}
                    },
                    "codeAction": {
                        "codeActionLiteralSupport": { "codeActionKind": { "valueSet": ["", "quickfix", "refactor", "refactor.rewrite", "source"] } },
                        "dataSupport": true,
                        "disabledSupport": true,
                        "isPreferredSupport": true
                    },
                    "publishDiagnostics": { "versionSupport": true, "dataSupport": true }
                },
                "window": { "workDoneProgress": true },
                "workspace": { "configuration": true, "didChangeConfiguration": { "dynamicRegistration": false } }
            }),
            initialization_options: Value::Null,
            settings: Value::Null,
            sends_cancel: false,
            env: Vec::new(),
        }
    }

    /// A Neovim-like client: offers UTF-8 and UTF-16, no inline completion, no work-done progress and
    /// no configuration pull, so settings reach rill only through pushed notifications.
    pub fn neovim_like() -> Self {
        Self {
            name: "neovim-like",
            capabilities: json!({
                "general": { "positionEncodings": ["utf-8", "utf-16"] },
                "textDocument": { "completion": { "completionItem": { "snippetSupport": false } } },
                "window": { "workDoneProgress": false },
                "workspace": { "configuration": false }
            }),
            initialization_options: Value::Null,
            settings: Value::Null,
            sends_cancel: true,
            env: Vec::new(),
        }
    }

    /// The same profile with this settings tree (answered to `workspace/configuration`).
    pub fn with_settings(mut self, settings: Value) -> Self {
        self.settings = settings;
        self
    }

    /// The same profile with an environment variable set for the server process.
    pub fn with_env(mut self, name: &str, value: &str) -> Self {
        self.env.push((name.to_string(), value.to_string()));
        self
    }

    /// The same profile with these `initializationOptions`.
    pub fn with_initialization_options(mut self, options: Value) -> Self {
        self.initialization_options = options;
        self
    }

    /// Whether the client offered `workspace/configuration`, i.e. the server pulls settings.
    pub fn pulls_configuration(&self) -> bool {
        self.capabilities["workspace"]["configuration"] == json!(true)
    }

    /// Whether the client declared inline completion support.
    pub fn has_inline_completion(&self) -> bool {
        self.capabilities["textDocument"]
            .get("inlineCompletion")
            .is_some()
    }

    /// The `initialize` params this editor sends.
    pub fn initialize_params(&self) -> Value {
        json!({
            "processId": std::process::id(),
            "clientInfo": { "name": format!("rill-e2e ({})", self.name), "version": "0" },
            "rootUri": null,
            "workspaceFolders": null,
            "capabilities": self.capabilities,
            "initializationOptions": self.initialization_options,
            "trace": "off"
        })
    }
}

/// The answer to one `workspace/configuration` item: the subtree at its dotted `section`, or the whole
/// tree without one; `null` where the tree has nothing there.
pub fn configuration_section(settings: &Value, section: Option<&str>) -> Value {
    let Some(section) = section else {
        return settings.clone();
    };
    section
        .split('.')
        .try_fold(settings, |value, key| value.get(key))
        .cloned()
        .unwrap_or(Value::Null)
}
