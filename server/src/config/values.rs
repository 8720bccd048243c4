//! How one setting's JSON value is checked and stored, and what the generated settings say about it.
//!
//! Every field type of [`Config`](super::Config) implements [`SettingValue`] with a *rule* (a range, a
//! string parser). A key's declaration in `keys.rs` names its rule once, and that one rule both
//! validates values and describes them in package.json and docs/protocol.md, so the three cannot drift.

use std::path::PathBuf;

use serde_json::Value;

use super::shape::Shape;

/// A type a setting can have, with the rule that checks its values.
pub trait SettingValue: Sized {
    /// What a key declaration says about the accepted values (a range, a parser); `()`-like for types
    /// whose values need no more than their JSON type.
    type Rule;

    /// The value `value` stands for under `rule`, or the reason it is rejected (shown to the user as is).
    /// `null` never gets here: it resets the key before any rule runs.
    fn parse(rule: &Self::Rule, value: &Value) -> Result<Self, String>;

    /// Type, default and accepted values as the generated settings show them.
    fn shape(rule: &Self::Rule, default: &Self) -> Shape;
}

/// An integer from `min` to `max`, both included.
pub struct Int {
    min: u64,
    max: u64,
}

/// An integer from `min` to `max`, both included.
pub const fn int(min: u64, max: u64) -> Int {
    Int { min, max }
}

/// A number from `min` (included unless `exclusive_min`) to `max` (included).
pub struct Num {
    min: f32,
    max: f32,
    exclusive_min: bool,
}

/// A number from `min` to `max`, both included.
pub const fn num(min: f32, max: f32) -> Num {
    Num {
        min,
        max,
        exclusive_min: false,
    }
}

/// A number above `min` (excluded) up to `max` (included), for keys where the minimum itself means
/// nothing sensible (a `topP` of 0 would leave no token to sample).
pub const fn num_above(min: f32, max: f32) -> Num {
    Num {
        min,
        max,
        exclusive_min: true,
    }
}

/// `true` or `false`.
pub struct Flag;

/// One of an enum's names (the enums of `choices.rs`).
pub struct Choice;

/// A string turned into the stored value by `parse`, for strings with a syntax of their own (a URL, a
/// variable name) and those where `""` means unset.
pub struct Text<T> {
    /// Gets the string itself; the message for a value that is not a string is common to all.
    pub parse: fn(&str) -> Result<T, String>,
    /// The accepted strings in words, for the documentation table.
    pub allowed: &'static str,
}

impl SettingValue for u64 {
    type Rule = Int;

    fn parse(rule: &Int, value: &Value) -> Result<Self, String> {
        integer_in(value, rule.min, rule.max)
    }

    fn shape(rule: &Int, default: &Self) -> Shape {
        rule.shape(Value::from(*default), default.to_string(), false)
    }
}

impl SettingValue for usize {
    type Rule = Int;

    fn parse(rule: &Int, value: &Value) -> Result<Self, String> {
        // Every key's maximum fits in a usize, so the cast never truncates.
        integer_in(value, rule.min, rule.max).map(|n| n as usize)
    }

    fn shape(rule: &Int, default: &Self) -> Shape {
        rule.shape(Value::from(*default), default.to_string(), false)
    }
}

/// An integer key whose unset state means something of its own (`engine.threads`: automatic).
impl SettingValue for Option<usize> {
    type Rule = Int;

    fn parse(rule: &Int, value: &Value) -> Result<Self, String> {
        usize::parse(rule, value).map(Some)
    }

    fn shape(rule: &Int, default: &Self) -> Shape {
        match default {
            Some(n) => rule.shape(Value::from(*n), n.to_string(), true),
            None => rule.shape(Value::Null, UNSET.to_string(), true),
        }
    }
}

impl Int {
    fn shape(&self, default: Value, default_text: String, nullable: bool) -> Shape {
        Shape {
            minimum: Some(Value::from(self.min)),
            maximum: Some(Value::from(self.max)),
            nullable,
            ..Shape::new(
                "integer",
                default,
                default_text,
                format!("{} to {}", self.min, self.max),
            )
        }
    }
}

impl SettingValue for f32 {
    type Rule = Num;

    fn parse(rule: &Num, value: &Value) -> Result<Self, String> {
        number_in(value, rule.min, rule.max, rule.exclusive_min)
    }

    fn shape(rule: &Num, default: &Self) -> Shape {
        let allowed = if rule.exclusive_min {
            format!("above {}, up to {}", rule.min, rule.max)
        } else {
            format!("{} to {}", rule.min, rule.max)
        };
        Shape {
            minimum: Some(number_json(rule.min)),
            exclusive_minimum: rule.exclusive_min,
            maximum: Some(number_json(rule.max)),
            // `{:?}` keeps the `.0` of whole numbers (`13.0`), which tells the reader the key takes
            // fractions too.
            ..Shape::new(
                "number",
                number_json(*default),
                format!("{default:?}"),
                allowed,
            )
        }
    }
}

impl SettingValue for bool {
    type Rule = Flag;

    fn parse(_: &Flag, value: &Value) -> Result<Self, String> {
        expect_bool(value)
    }

    fn shape(_: &Flag, default: &Self) -> Shape {
        Shape::new(
            "boolean",
            Value::Bool(*default),
            format!("`{default}`"),
            "`true`, `false`".to_string(),
        )
    }
}

/// A switch whose unset state means something of its own (`streaming`: follow the client).
impl SettingValue for Option<bool> {
    type Rule = Flag;

    fn parse(rule: &Flag, value: &Value) -> Result<Self, String> {
        bool::parse(rule, value).map(Some)
    }

    fn shape(rule: &Flag, default: &Self) -> Shape {
        let shape = match default {
            Some(b) => bool::shape(rule, b),
            None => Shape {
                default: Value::Null,
                default_text: UNSET.to_string(),
                ..bool::shape(rule, &false)
            },
        };
        Shape {
            nullable: true,
            ..shape
        }
    }
}

impl SettingValue for Option<String> {
    type Rule = Text<Self>;

    fn parse(rule: &Text<Self>, value: &Value) -> Result<Self, String> {
        (rule.parse)(expect_string(value)?)
    }

    fn shape(rule: &Text<Self>, default: &Self) -> Shape {
        text_shape(rule.allowed, default.as_deref())
    }
}

impl SettingValue for Option<PathBuf> {
    type Rule = Text<Self>;

    fn parse(rule: &Text<Self>, value: &Value) -> Result<Self, String> {
        (rule.parse)(expect_string(value)?)
    }

    fn shape(rule: &Text<Self>, default: &Self) -> Shape {
        let default = default.as_ref().map(|path| path.to_string_lossy());
        text_shape(rule.allowed, default.as_deref())
    }
}

/// What the documentation table says for a key whose default is "not set".
const UNSET: &str = "unset";

/// An optional string: editors' settings UIs show an unset string as `""`, which the parsers read as
/// unset, so the settings show `""` rather than `null` as the default.
fn text_shape(allowed: &str, default: Option<&str>) -> Shape {
    Shape::new(
        "string",
        Value::from(default.unwrap_or("")),
        default.map_or(UNSET.to_string(), |text| format!("`\"{text}\"`")),
        allowed.to_string(),
    )
}

/// A settings number as JSON, spelled the shortest way that reads back as the same `f32` (`0.6`, not
/// `0.6000000238418579`), and without a fraction when it is whole, the way package.json writes it.
fn number_json(value: f32) -> Value {
    serde_json::from_str(&value.to_string()).expect("a finite f32 prints as a JSON number")
}

/// The message for a string that names none of `names`.
pub fn one_of(names: &[&str], got: &str) -> String {
    let names: Vec<String> = names.iter().map(|name| format!("\"{name}\"")).collect();
    format!("expected one of {}, got \"{got}\"", names.join(", "))
}

/// `model.path`: any path. Editors' settings UIs show an unset path as the empty string; it means unset.
pub fn optional_path(text: &str) -> Result<Option<PathBuf>, String> {
    Ok((!text.is_empty()).then(|| PathBuf::from(text)))
}

/// `engine.model`: any name, trimmed; empty means unset.
pub fn optional_name(text: &str) -> Result<Option<String>, String> {
    let text = text.trim();
    Ok((!text.is_empty()).then(|| text.to_string()))
}

/// An `http://` or `https://` URL without a trailing `/` or `/v1` (the OpenAI clients' convention
/// includes it; rill adds `/v1/completions` itself). Empty means unset.
pub fn base_url(text: &str) -> Result<Option<String>, String> {
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
pub fn environment_variable_name(text: &str) -> Result<Option<String>, String> {
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

/// A short description of a JSON value for messages: its type, and the value itself when it is short.
pub fn describe(value: &Value) -> String {
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

pub fn expect_string(value: &Value) -> Result<&str, String> {
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
