//! Settings that say which documents get suggestions: `completion.exclude` (glob patterns of files that get nothing and are never sent anywhere) and `completion.languages` (a switch per language id).

use std::collections::BTreeMap;

use globset::{GlobSet, GlobSetBuilder};
use serde_json::Value;

use super::shape::Shape;
use super::values::{describe, expect_string, SettingValue};

/// More patterns or languages than anyone writes by hand: a bound, so that absurd settings cannot
/// cost unbounded memory or matching time.
const MOST_ENTRIES: usize = 256;
/// The longest pattern or language id accepted.
const LONGEST: usize = 1024;

/// The rule of `completion.exclude`.
pub struct Globs;

/// The rule of `completion.languages`.
pub struct Languages;

/// Glob patterns matched against a document's path (`**/.env`, `**/secrets/**`).
#[derive(Debug, Clone, Default)]
pub struct FileGlobs {
    patterns: Vec<String>,
    set: GlobSet,
}

impl PartialEq for FileGlobs {
    fn eq(&self, other: &Self) -> bool {
        self.patterns == other.patterns
    }
}

impl FileGlobs {
    /// The patterns as `completion.exclude` would take them.
    pub fn new(patterns: &[&str]) -> Result<Self, String> {
        Self::parse(&Globs, &Value::from(patterns.to_vec()))
    }

    /// Whether some pattern matches `path` (a file path; `file:` URIs are matched by their path).
    pub fn matches(&self, path: &str) -> bool {
        !self.patterns.is_empty() && self.set.is_match(path)
    }

    pub fn patterns(&self) -> &[String] {
        &self.patterns
    }
}

impl SettingValue for FileGlobs {
    type Rule = Globs;

    fn parse(_: &Globs, value: &Value) -> Result<Self, String> {
        let items = value.as_array().ok_or_else(|| {
            format!(
                "expected an array of glob patterns, got {}",
                describe(value)
            )
        })?;
        if items.len() > MOST_ENTRIES {
            return Err(format!(
                "{} patterns; at most {MOST_ENTRIES} are accepted",
                items.len()
            ));
        }
        let mut builder = GlobSetBuilder::new();
        let mut patterns = Vec::with_capacity(items.len());
        for item in items {
            let pattern = expect_string(item)?;
            if pattern.is_empty() || pattern.len() > LONGEST {
                return Err(format!(
                    "a pattern must have 1 to {LONGEST} characters, got {}",
                    pattern.len()
                ));
            }
            // `*` does not cross `/`, as in .gitignore and VS Code's `files.exclude`.
            let glob = globset::GlobBuilder::new(pattern)
                .literal_separator(true)
                .build()
                .map_err(|err| format!("the pattern {pattern:?} is not a glob: {}", err.kind()))?;
            builder.add(glob);
            patterns.push(pattern.to_string());
        }
        let set = builder
            .build()
            .map_err(|err| format!("the patterns cannot be compiled: {err}"))?;
        Ok(Self { patterns, set })
    }

    fn shape(_: &Globs, _: &Self) -> Shape {
        Shape {
            members: Some(("items", serde_json::json!({ "type": "string" }))),
            ..Shape::new(
                "array",
                Value::Array(Vec::new()),
                "`[]`".to_string(),
                format!("glob patterns (`*`, `**`, `?`, `[…]`, `{{a,b}}`), at most {MOST_ENTRIES}"),
            )
        }
    }
}

/// A switch per language id; languages not named are on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LanguageSwitches(BTreeMap<String, bool>);

impl LanguageSwitches {
    pub fn new<'a>(switches: impl IntoIterator<Item = (&'a str, bool)>) -> Self {
        Self(
            switches
                .into_iter()
                .map(|(language, on)| (language.to_string(), on))
                .collect(),
        )
    }

    /// Whether documents of `language` get suggestions.
    pub fn allows(&self, language: &str) -> bool {
        self.0.get(language).copied().unwrap_or(true)
    }
}

impl SettingValue for LanguageSwitches {
    type Rule = Languages;

    fn parse(_: &Languages, value: &Value) -> Result<Self, String> {
        let members = value.as_object().ok_or_else(|| {
            format!(
                "expected an object of language ids and true/false, got {}",
                describe(value)
            )
        })?;
        if members.len() > MOST_ENTRIES {
            return Err(format!(
                "{} languages; at most {MOST_ENTRIES} are accepted",
                members.len()
            ));
        }
        let mut switches = BTreeMap::new();
        for (language, on) in members {
            if language.is_empty() || language.len() > LONGEST {
                return Err(format!(
                    "a language id must have 1 to {LONGEST} characters, got {}",
                    language.len()
                ));
            }
            let on = on.as_bool().ok_or_else(|| {
                format!(
                    "expected true or false for \"{language}\", got {}",
                    describe(on)
                )
            })?;
            switches.insert(language.clone(), on);
        }
        Ok(Self(switches))
    }

    fn shape(_: &Languages, _: &Self) -> Shape {
        Shape {
            members: Some((
                "additionalProperties",
                serde_json::json!({ "type": "boolean" }),
            )),
            ..Shape::new(
                "object",
                Value::Object(serde_json::Map::new()),
                "`{}`".to_string(),
                "language ids mapped to `true` or `false`".to_string(),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn globs(patterns: Value) -> Result<FileGlobs, String> {
        FileGlobs::parse(&Globs, &patterns)
    }

    #[test]
    fn patterns_match_paths_as_gitignore_would() {
        let excluded = globs(json!(["**/.env", "**/secrets/**", "*.pem"])).unwrap();
        assert!(excluded.matches("/home/u/project/.env"));
        assert!(excluded.matches("/home/u/project/app/secrets/keys.py"));
        assert!(!excluded.matches("/home/u/project/app/secret.py"));
        assert!(!excluded.matches("/home/u/project/.envrc"));
        // `*` stays inside one directory.
        assert!(!excluded.matches("/home/u/key.pem"));
        assert!(excluded.matches("key.pem"));
        assert!(!FileGlobs::default().matches("/anything"));
    }

    #[test]
    fn bad_patterns_and_switches_are_refused_in_words() {
        assert!(globs(json!("**/.env")).unwrap_err().contains("array"));
        assert!(globs(json!(["a[b"])).unwrap_err().contains("not a glob"));
        assert!(globs(json!([""])).is_err());
        assert!(globs(json!(vec!["*.x"; MOST_ENTRIES + 1])).is_err());
        let parse = |value| LanguageSwitches::parse(&Languages, &value);
        assert!(parse(json!({ "markdown": "no" }))
            .unwrap_err()
            .contains("markdown"));
        let switches = parse(json!({ "markdown": false, "python": true })).unwrap();
        assert!(!switches.allows("markdown"));
        assert!(switches.allows("python") && switches.allows("rust"));
    }
}
