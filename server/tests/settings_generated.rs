//! Fails when the committed copies of the settings differ from what the key declarations
//! (server/src/config/keys.rs) generate: vscode-extension/package.json's `contributes.configuration` and
//! docs/protocol.md's settings table. With `RILL_UPDATE_GENERATED=1` it rewrites them instead.

use std::fs;
use std::path::{Path, PathBuf};

use serde_json::Value;

use rill_server::config::schema;

/// Set to `1` to rewrite the committed copies instead of failing.
const UPDATE_VAR: &str = "RILL_UPDATE_GENERATED";
/// The start of the line before docs/protocol.md's generated table (the line goes on to say where the
/// table comes from).
const BEGIN_MARKER: &str = "<!-- settings:begin";
/// The line after the generated table.
const END_MARKER: &str = "<!-- settings:end -->";

fn repository_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the server crate lives in the repository")
        .to_path_buf()
}

fn updating() -> bool {
    std::env::var(UPDATE_VAR).is_ok_and(|value| value == "1")
}

fn how_to_regenerate(what: &str) -> String {
    format!(
        "{what} differs from what server/src/config/keys.rs declares. Change the declaration there, \
         not the copy; then regenerate the copy with\n\n    \
         {UPDATE_VAR}=1 cargo test --release -p rill --test settings_generated\n\n\
         and review `git diff`."
    )
}

#[test]
fn package_json_configuration_is_generated() {
    let path = repository_root().join("vscode-extension/package.json");
    let text = fs::read_to_string(&path).expect("package.json is readable");
    let package: Value = serde_json::from_str(&text).expect("package.json is JSON");
    let expected = schema::vscode_configuration();
    let committed = &package["contributes"]["configuration"];
    if *committed == expected {
        return;
    }
    if updating() {
        let updated = replace_json_member(&text, "configuration", |indent| {
            schema::vscode_configuration_json(indent)
        })
        .expect("package.json's configuration can be replaced");
        // Nothing but the configuration may change.
        let mut reparsed: Value = serde_json::from_str(&updated).expect("the result is JSON");
        assert_eq!(reparsed["contributes"]["configuration"], expected);
        reparsed["contributes"]["configuration"] = committed.clone();
        assert_eq!(reparsed, package, "only the configuration changed");
        fs::write(&path, updated).expect("package.json is writable");
        return;
    }
    panic!(
        "{}\n\n{}",
        describe_difference(committed, &expected),
        how_to_regenerate("vscode-extension/package.json's contributes.configuration")
    );
}

#[test]
fn protocol_settings_table_is_generated() {
    let path = repository_root().join("docs/protocol.md");
    let text = fs::read_to_string(&path).expect("docs/protocol.md is readable");
    let (start, end) = generated_region(&text).expect("docs/protocol.md has the settings markers");
    // A blank line on each side keeps the table a block of its own next to the marker comments.
    let expected = format!("\n{}\n", schema::settings_table_markdown());
    let committed = &text[start..end];
    if committed == expected {
        return;
    }
    if updating() {
        let updated = format!("{}{expected}{}", &text[..start], &text[end..]);
        fs::write(&path, updated).expect("docs/protocol.md is writable");
        return;
    }
    let first_difference = committed
        .lines()
        .zip(expected.lines())
        .find(|(committed, expected)| committed != expected)
        .map_or_else(
            || "the tables differ in length".to_string(),
            |(committed, expected)| format!("committed: {committed}\nexpected:  {expected}"),
        );
    panic!(
        "{first_difference}\n\n{}",
        how_to_regenerate("docs/protocol.md's settings table")
    );
}

/// The byte range between the end of the begin marker's line and the start of the end marker.
fn generated_region(text: &str) -> Option<(usize, usize)> {
    let begin = text.find(BEGIN_MARKER)?;
    let start = begin + text[begin..].find('\n')? + 1;
    let end = start + text[start..].find(END_MARKER)?;
    let only_once =
        text.matches(BEGIN_MARKER).count() == 1 && text.matches(END_MARKER).count() == 1;
    only_once.then_some((start, end))
}

/// The keys whose properties differ, with both versions, so the failure says what drifted.
fn describe_difference(committed: &Value, expected: &Value) -> String {
    let empty = serde_json::Map::new();
    let properties = |configuration: &Value| {
        configuration["properties"]
            .as_object()
            .cloned()
            .unwrap_or_else(|| empty.clone())
    };
    let (committed_properties, expected_properties) = (properties(committed), properties(expected));
    let mut lines = Vec::new();
    for key in committed_properties.keys().chain(
        expected_properties
            .keys()
            .filter(|key| !committed_properties.contains_key(*key)),
    ) {
        let (old, new) = (committed_properties.get(key), expected_properties.get(key));
        if old != new {
            lines.push(format!(
                "{key}:\n  committed: {}\n  expected:  {}",
                old.map_or("(missing)".to_string(), Value::to_string),
                new.map_or("(missing)".to_string(), Value::to_string)
            ));
        }
    }
    if committed["title"] != expected["title"] {
        lines.push(format!(
            "title: committed {}, expected {}",
            committed["title"], expected["title"]
        ));
    }
    lines.join("\n")
}

/// `text` (a JSON document) with the value of its only member named `name` replaced by what `render`
/// writes for the indentation of the member's line. Everything else keeps its bytes.
fn replace_json_member(
    text: &str,
    name: &str,
    render: impl FnOnce(usize) -> String,
) -> Result<String, String> {
    let needle = format!("\"{name}\":");
    let mut found = text.match_indices(&needle);
    let (at, _) = found.next().ok_or_else(|| format!("no member {needle}"))?;
    if found.next().is_some() {
        return Err(format!("more than one member {needle}"));
    }
    let line_start = text[..at].rfind('\n').map_or(0, |newline| newline + 1);
    let indent = text[line_start..at].len();
    let after = at + needle.len();
    let start = after + (text[after..].len() - text[after..].trim_start().len());
    let end = start + value_length(&text[start..])?;
    Ok(format!(
        "{}{}{}",
        &text[..start],
        render(indent),
        &text[end..]
    ))
}

/// The length in bytes of the object or array that `text` starts with.
fn value_length(text: &str) -> Result<usize, String> {
    if !text.starts_with(['{', '[']) {
        return Err("the member's value is not an object or array".to_string());
    }
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for (index, c) in text.char_indices() {
        if in_string {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => in_string = true,
            '{' | '[' => depth += 1,
            '}' | ']' => {
                depth -= 1;
                if depth == 0 {
                    return Ok(index + 1);
                }
            }
            _ => {}
        }
    }
    Err("unbalanced brackets".to_string())
}

#[test]
fn replacing_a_member_keeps_the_rest_byte_for_byte() {
    let text = "{\n  \"a\": 1,\n  \"outer\": {\n    \"configuration\": {\n      \"s\": \"}{\\\"\"\n    },\n    \"b\": [2]\n  }\n}\n";
    let replaced = replace_json_member(text, "configuration", |indent| {
        format!(
            "{{\n{}  \"new\": true\n{}}}",
            " ".repeat(indent),
            " ".repeat(indent)
        )
    })
    .expect("replaced");
    assert_eq!(
        replaced,
        "{\n  \"a\": 1,\n  \"outer\": {\n    \"configuration\": {\n      \"new\": true\n    },\n    \"b\": [2]\n  }\n}\n"
    );
    assert!(replace_json_member(text, "missing", |_| String::new()).is_err());
}

#[test]
fn the_region_lies_between_the_markers() {
    let text =
        "intro\n<!-- settings:begin: generated -->\n\n| table |\n\n<!-- settings:end -->\nafter\n";
    let (start, end) = generated_region(text).expect("markers found");
    assert_eq!(&text[start..end], "\n| table |\n\n");
    assert_eq!(generated_region("no markers"), None);
}
