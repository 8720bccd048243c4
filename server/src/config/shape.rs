//! How a setting looks from outside (its VS Code scope, JSON type, default, range and allowed values), which validation and the generated copies share.

use serde_json::Value;

/// Where a setting may be set in VS Code (package.json's `scope`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Per folder or workspace too (the default).
    Resource,
    /// Per machine, and per workspace or folder when the user chooses to: paths, threads and servers
    /// that depend on the machine rather than on the project.
    MachineOverridable,
}

impl Scope {
    /// The spelling package.json uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Resource => "resource",
            Self::MachineOverridable => "machine-overridable",
        }
    }
}

/// What the generated settings say about one key's values.
#[derive(Debug, Clone, PartialEq)]
pub struct Shape {
    /// The JSON type: `integer`, `number`, `boolean` or `string`.
    pub json_type: &'static str,
    /// Whether `null` (unset) means something of its own, so the settings UI must offer it.
    pub nullable: bool,
    /// The default as the editor's settings show it (`""` for an unset string).
    pub default: Value,
    /// The default as the documentation table shows it.
    pub default_text: String,
    /// The smallest value allowed, for numbers.
    pub minimum: Option<Value>,
    /// Whether `minimum` itself is excluded.
    pub exclusive_minimum: bool,
    /// The largest value allowed, for numbers.
    pub maximum: Option<Value>,
    /// The names of an enumerated key's values, with what each means.
    pub choices: Vec<(&'static str, &'static str)>,
    /// The allowed values in words, for the documentation table.
    pub allowed: String,
    /// What an array's items or an object's members must be (package.json's `items` or
    /// `additionalProperties`).
    pub members: Option<(&'static str, Value)>,
}

impl Shape {
    /// A shape with no range, no choices and not nullable.
    pub fn new(
        json_type: &'static str,
        default: Value,
        default_text: String,
        allowed: String,
    ) -> Self {
        Self {
            json_type,
            nullable: false,
            default,
            default_text,
            minimum: None,
            exclusive_minimum: false,
            maximum: None,
            choices: Vec::new(),
            allowed,
            members: None,
        }
    }

    /// An enumerated string key.
    pub fn choices(default: &str, names: &[&'static str], descriptions: &[&'static str]) -> Self {
        let quoted: Vec<String> = names.iter().map(|name| format!("`\"{name}\"`")).collect();
        Self {
            choices: names
                .iter()
                .copied()
                .zip(descriptions.iter().copied())
                .collect(),
            ..Self::new(
                "string",
                Value::from(default),
                format!("`\"{default}\"`"),
                quoted.join(", "),
            )
        }
    }
}
