//! The editor configurations shipped in `editors/` use only real settings with valid values: a typo there would silently do nothing for every user who copies it.

use rill_server::config::Config;

#[test]
fn the_helix_snippet_configures_rill_without_issues() {
    let text = include_str!("../../editors/helix/languages.toml");
    let parsed: toml::Value = toml::from_str(text).expect("languages.toml parses");
    let server = &parsed["language-server"]["rill"];
    assert_eq!(server["command"].as_str(), Some("rill"));
    assert_eq!(
        server["args"].as_array().map(|args| args.len()),
        Some(1),
        "{server:?}"
    );
    // Helix sends `config` as initializationOptions and answers workspace/configuration from it.
    let settings = serde_json::to_value(&server["config"]).expect("TOML converts to JSON");
    let mut config = Config::default();
    let issues = config.apply(&settings);
    assert!(issues.is_empty(), "{issues:?}");
    assert_eq!(config.fallback_budget_ms, 300);
    assert_eq!(config.reasoning_timeout_ms, 15_000);
    // The chain's limit must stay below Helix's request timeout, or Helix gives up first.
    let helix_timeout_ms = server["timeout"].as_integer().expect("timeout set") as u64 * 1000;
    assert!(config.reasoning_timeout_ms < helix_timeout_ms);
    let languages = parsed["language"].as_array().expect("languages");
    assert!(languages.iter().all(|language| language["language-servers"]
        .as_array()
        .is_some_and(|servers| servers.iter().any(|s| s.as_str() == Some("rill")))));
}
