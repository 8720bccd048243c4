//! Generates the settings' user-facing copies from the key declarations: VS Code's
//! `contributes.configuration` (vscode-extension/package.json) and the settings table of
//! docs/protocol.md. `server/tests/settings_generated.rs` fails when the committed copies differ and
//! rewrites them with `RILL_UPDATE_GENERATED=1`.

use serde_json::Value;

pub use super::shape::{Scope, Shape};

/// One key as the generated settings describe it.
#[derive(Debug, Clone, PartialEq)]
pub struct Descriptor {
    /// Dotted, without the `rill.` prefix.
    pub key: &'static str,
    /// What it does, for every reader (Markdown).
    pub doc: &'static str,
    /// More for VS Code's settings UI only (what this extension does, its key bindings).
    pub vscode: Option<&'static str>,
    /// More for docs/protocol.md only (protocol details, measurements behind the default).
    pub protocol: Option<&'static str>,
    /// VS Code's `scope`.
    pub scope: Scope,
    /// Type, default and allowed values.
    pub shape: Shape,
}

impl Descriptor {
    /// The text of package.json's `markdownDescription`.
    pub fn vscode_description(&self) -> String {
        join_sentences([Some(self.doc), self.vscode])
    }

    /// The text of the documentation table's last column: the doc, what each choice means, then the
    /// protocol details.
    pub fn protocol_description(&self) -> String {
        let choices: Vec<String> = self
            .shape
            .choices
            .iter()
            .map(|(name, description)| format!("`{name}`: {description}"))
            .collect();
        let choices = choices.join(" ");
        join_sentences([Some(self.doc), Some(choices.as_str()), self.protocol])
    }
}

fn join_sentences<'a>(parts: impl IntoIterator<Item = Option<&'a str>>) -> String {
    let parts: Vec<&str> = parts
        .into_iter()
        .flatten()
        .filter(|part| !part.is_empty())
        .collect();
    parts.join(" ")
}

/// Every server key, in declaration order.
pub fn descriptors() -> Vec<Descriptor> {
    super::keys::descriptors()
}

/// The VS Code extension's own settings, which the server never reads. They are declared here because
/// package.json's `contributes.configuration` is generated whole.
pub fn client_descriptors() -> Vec<Descriptor> {
    vec![Descriptor {
        key: "serverPath",
        doc: "Path of the `rill` server binary (client setting, not sent to the server's engine). \
            Empty: the binary shipped with this extension (`bin/rill`), else `rill` on `PATH`. A leading \
            `~` is your home folder. Changing it restarts the server.",
        vscode: None,
        protocol: None,
        scope: Scope::MachineOverridable,
        shape: Shape::new(
            "string",
            Value::from(""),
            "unset".to_string(),
            "any path".to_string(),
        ),
    }]
}

/// VS Code's `contributes.configuration`: the client's own settings, then every server key, each
/// `rill.`-prefixed.
pub fn vscode_configuration() -> Value {
    configuration().to_value()
}

/// [`vscode_configuration`] as package.json writes it: two-space indentation, each property's members
/// in a fixed order (`type`, `default`, the allowed values, `markdownDescription`, `scope`), and every
/// line after the first indented by `indent` more spaces, so the text can replace the value in place.
pub fn vscode_configuration_json(indent: usize) -> String {
    let mut out = String::new();
    configuration().write(&mut out, indent);
    out
}

/// The settings table of docs/protocol.md (header included, one row per server key, ending in a
/// newline).
pub fn settings_table_markdown() -> String {
    let mut table =
        String::from("| key | type | default | allowed | meaning |\n|---|---|---|---|---|\n");
    for descriptor in descriptors() {
        let shape = &descriptor.shape;
        let cells = [
            format!("`{}`", descriptor.key),
            shape.json_type.to_string(),
            shape.default_text.clone(),
            shape.allowed.clone(),
            descriptor.protocol_description(),
        ];
        let cells: Vec<String> = cells.iter().map(|cell| table_cell(cell)).collect();
        table.push_str(&format!("| {} |\n", cells.join(" | ")));
    }
    table
}

/// A Markdown table cell: `|` would end the cell, even inside a code span.
fn table_cell(text: &str) -> String {
    text.replace('|', "\\|")
}

/// The configuration object, with its members in the order package.json keeps them.
fn configuration() -> Json {
    let properties = client_descriptors()
        .iter()
        .chain(descriptors().iter())
        .map(|descriptor| (format!("rill.{}", descriptor.key), property(descriptor)))
        .collect();
    Json::Object(vec![
        ("title".to_string(), Json::Value(Value::from("rill"))),
        ("properties".to_string(), Json::Object(properties)),
    ])
}

/// One `properties` member.
fn property(descriptor: &Descriptor) -> Json {
    let shape = &descriptor.shape;
    let mut members: Vec<(&str, Value)> = Vec::new();
    let json_type = if shape.nullable {
        Value::from(vec![shape.json_type, "null"])
    } else {
        Value::from(shape.json_type)
    };
    members.push(("type", json_type));
    members.push(("default", shape.default.clone()));
    if !shape.choices.is_empty() {
        let (names, descriptions): (Vec<&str>, Vec<&str>) = shape.choices.iter().copied().unzip();
        members.push(("enum", Value::from(names)));
        members.push(("enumDescriptions", Value::from(descriptions)));
    }
    if let Some(minimum) = &shape.minimum {
        let name = if shape.exclusive_minimum {
            "exclusiveMinimum"
        } else {
            "minimum"
        };
        members.push((name, minimum.clone()));
    }
    if let Some(maximum) = &shape.maximum {
        members.push(("maximum", maximum.clone()));
    }
    if let Some((name, schema)) = &shape.members {
        members.push((name, schema.clone()));
    }
    members.push((
        "markdownDescription",
        Value::from(descriptor.vscode_description()),
    ));
    members.push(("scope", Value::from(descriptor.scope.as_str())));
    Json::Object(
        members
            .into_iter()
            .map(|(name, value)| (name.to_string(), Json::Value(value)))
            .collect(),
    )
}

/// JSON whose objects keep their members' order (serde_json's own map sorts them), so that the
/// rewritten package.json reads like the hand-written one did.
enum Json {
    Value(Value),
    Object(Vec<(String, Json)>),
}

impl Json {
    fn to_value(&self) -> Value {
        match self {
            Self::Value(value) => value.clone(),
            Self::Object(members) => Value::Object(
                members
                    .iter()
                    .map(|(name, member)| (name.clone(), member.to_value()))
                    .collect(),
            ),
        }
    }

    /// Writes `self` pretty-printed, every line after the first indented by `indent` spaces.
    fn write(&self, out: &mut String, indent: usize) {
        match self {
            Self::Value(value) => {
                let text = serde_json::to_string_pretty(value).expect("JSON values serialize");
                out.push_str(&text.replace('\n', &format!("\n{}", " ".repeat(indent))));
            }
            Self::Object(members) if members.is_empty() => out.push_str("{}"),
            Self::Object(members) => {
                out.push('{');
                for (index, (name, member)) in members.iter().enumerate() {
                    if index > 0 {
                        out.push(',');
                    }
                    out.push('\n');
                    out.push_str(&" ".repeat(indent + 2));
                    out.push_str(&Value::from(name.as_str()).to_string());
                    out.push_str(": ");
                    member.write(out, indent + 2);
                }
                out.push('\n');
                out.push_str(&" ".repeat(indent));
                out.push('}');
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Config, KEYS};

    #[test]
    fn every_key_is_described_once_in_declaration_order() {
        let keys: Vec<&str> = descriptors().iter().map(|d| d.key).collect();
        assert_eq!(keys, KEYS);
        let mut unique = keys.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), keys.len(), "a key is declared twice");
    }

    /// The defaults the settings UI shows are the server's defaults: applying every one of them to a
    /// changed configuration gives back the default configuration, without complaint.
    #[test]
    fn generated_defaults_apply_as_the_defaults() {
        let defaults: serde_json::Map<String, Value> = descriptors()
            .into_iter()
            .map(|d| (d.key.to_string(), d.shape.default))
            .collect();
        let mut config = Config {
            max_tokens: 5,
            engine_threads: Some(3),
            streaming: Some(false),
            model_path: Some("elsewhere.gguf".into()),
            ..Config::default()
        };
        assert_eq!(config.apply(&Value::Object(defaults)), vec![]);
        assert_eq!(config, Config::default());
    }

    #[test]
    fn ranges_and_choices_reach_package_json() {
        let configuration = vscode_configuration();
        let properties = &configuration["properties"];
        let top_p = &properties["rill.completion.topP"];
        assert_eq!(top_p["exclusiveMinimum"], 0);
        assert_eq!(top_p["maximum"], 1);
        assert!(top_p.get("minimum").is_none());
        assert_eq!(properties["rill.completion.minConfidence"]["default"], 0.6);
        assert_eq!(
            properties["rill.engine.threads"]["type"],
            serde_json::json!(["integer", "null"])
        );
        assert_eq!(properties["rill.engine.threads"]["default"], Value::Null);
        assert_eq!(properties["rill.model.path"]["default"], "");
        assert_eq!(
            properties["rill.completion.multiline"]["enum"],
            serde_json::json!(["auto", "always", "never"])
        );
        assert_eq!(
            properties["rill.serverPath"]["scope"],
            "machine-overridable"
        );
    }

    #[test]
    fn ordered_text_is_the_same_json() {
        let text = vscode_configuration_json(4);
        let parsed: Value = serde_json::from_str(&text).expect("the text is JSON");
        assert_eq!(parsed, vscode_configuration());
        assert!(text.ends_with("\n    }"), "{:?}", text.lines().last());
    }

    #[test]
    fn table_cells_escape_pipes() {
        let table = settings_table_markdown();
        let fim = table
            .lines()
            .find(|line| line.starts_with("| `engine.fimTemplate` |"))
            .expect("a row for engine.fimTemplate");
        assert!(fim.contains("<\\|fim_prefix\\|>"), "{fim}");
        assert_eq!(table.lines().count(), 2 + KEYS.len());
    }
}
