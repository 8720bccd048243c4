//! Temporary probe (to be deleted): timing of cold and warm fallback completions.
use rill_e2e::{Profile, Server, DEFAULT_TIMEOUT, PRIME_PY};
use serde_json::json;
#[test]
fn probe_t1() {
    probe(json!(1))
}
#[test]
fn probe_t2() {
    probe(json!(2))
}
fn probe(threads: serde_json::Value) {
    let mut server = Server::start_ready(Profile::helix().with_settings(
        json!({"rill": {"engine": {"threads": threads}, "completion": {"fallbackBudgetMs": 3000}}}),
    ));
    for uri in ["file:///a.py", "file:///b.py"] {
        server.open(uri, "python", PRIME_PY);
        let mark = server.mark();
        let id = server.completion(uri, 3, 0);
        let reply = server.reply(id, DEFAULT_TIMEOUT);
        let (_, status) = server.wait_for_notification_since(
            mark,
            "rill/status",
            |p| p.get("promptTokens").is_some(),
            DEFAULT_TIMEOUT,
        );
        eprintln!(
            "{uri}: {:?} {:?}\n  {status}",
            reply.at.duration_since(server.sent_at(id)),
            reply
                .outcome
                .map(|r| r["items"][0]["textEdit"]["newText"].clone())
        );
    }
    server.shutdown_and_exit();
}
