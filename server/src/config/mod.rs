//! The `rill` configuration section: its keys, defaults and ranges, and how a settings object updates it.
//!
//! Settings arrive as JSON from three places (initializationOptions, `workspace/didChangeConfiguration`
//! and the answer to `workspace/configuration`), in whatever shape the editor finds convenient. `apply`
//! accepts all of them, validates each key on its own and reports bad values instead of failing, so one
//! typo never discards the rest of the user's settings. This module depends on no other rill module.
//!
//! Each key is declared once, in `keys.rs`; `declare.rs` generates the struct, its defaults and the
//! per-key apply and reset from that table, and `schema.rs` generates VS Code's settings and the table of
//! docs/protocol.md from it.

// First, so that `keys.rs` can use its macro.
#[macro_use]
mod declare;
mod choices;
mod keys;
mod patterns;
pub mod schema;
mod shape;
mod values;

use std::fmt;

use serde_json::Value;

pub use choices::{ApplyMode, Backend, CommentPolicy, FimTemplate, Multiline};
pub use keys::{
    Config, DEFAULT_MIN_ALTERNATIVE, DEFAULT_MIN_CONFIDENCE, DEFAULT_MIN_GAIN,
    DEFAULT_MIN_SURPRISE, KEYS,
};
pub use patterns::{FileGlobs, LanguageSwitches};
use values::describe;

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

impl Config {
    /// The memory budget for all documents' KV caches, in bytes.
    pub fn cache_budget_bytes(&self) -> usize {
        self.cache_budget_mb << 20
    }

    /// The disk budget for idle documents' KV caches, in bytes (zero: they stay in memory).
    pub fn disk_cache_bytes(&self) -> usize {
        self.disk_cache_mb << 20
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
}

/// True when `key` is a proper prefix of some known key, so an object under it may hold settings.
fn is_section(key: &str) -> bool {
    KEYS.iter().any(|known| {
        known.len() > key.len() && known.starts_with(key) && known.as_bytes()[key.len()] == b'.'
    })
}
