//! Lifecycle end to end: initialize, the negotiated capabilities, model loading (status and progress),
//! shutdown and exit, for each editor profile.

use std::time::Duration;

use rill_e2e::{Profile, Server, DEFAULT_TIMEOUT};
use serde_json::{json, Value};

/// Runs the whole lifecycle for one editor and checks what every editor relies on.
fn check_lifecycle(profile: Profile, expected_encoding: &str) {
    let mut server = Server::spawn(profile);
    let result = server.initialize();
    let capabilities = &result["capabilities"];
    assert_eq!(
        capabilities["positionEncoding"], expected_encoding,
        "negotiated encoding; capabilities: {capabilities}"
    );
    let change = match &capabilities["textDocumentSync"] {
        Value::Object(sync) => sync.get("change").cloned().unwrap_or(Value::Null),
        other => other.clone(),
    };
    assert_eq!(
        change,
        json!(2),
        "incremental sync; capabilities: {capabilities}"
    );
    assert!(
        capabilities["completionProvider"].is_object(),
        "completionProvider; capabilities: {capabilities}"
    );
    let inline = &capabilities["inlineCompletionProvider"];
    assert!(
        !inline.is_null() && *inline != json!(false),
        "inlineCompletionProvider; capabilities: {capabilities}"
    );

    let ready = server.wait_until_ready();
    let statuses = server.notifications("rill/status");
    if server.profile().capabilities["experimental"]["rillStatus"] == json!(true) {
        let loading = statuses
            .iter()
            .position(|(_, status)| status["state"] == "loading");
        let ready_at = statuses
            .iter()
            .position(|(_, status)| status["state"] == "ready");
        assert!(
            loading.is_some() && loading < ready_at,
            "rill/status must say loading before ready; got {statuses:?}"
        );
    } else {
        // Clients that did not ask for rill's notifications (Helix logs each as unhandled) read
        // the ready line in their log instead.
        assert!(statuses.is_empty(), "unasked rill/status: {statuses:?}");
        let ready_lines = server.notifications("window/logMessage");
        assert!(
            ready_lines
                .iter()
                .any(|(_, params)| params["message"] == rill_e2e::READY_LOG_MESSAGE),
            "window/logMessage \"rill: ready\"; got {ready_lines:?}"
        );
    }
    eprintln!("[{}] ready: {ready}", server.profile().name);

    if server.profile().capabilities["window"]["workDoneProgress"] == json!(true) {
        let creates = server.server_requests("window/workDoneProgress/create");
        assert!(
            creates
                .iter()
                .any(|params| params["token"] == "rill/loadModel"),
            "window/workDoneProgress/create for rill/loadModel; got {creates:?}"
        );
        let (_, end) = server.wait_for_notification(
            "$/progress",
            |params| params["token"] == "rill/loadModel" && params["value"]["kind"] == "end",
            DEFAULT_TIMEOUT,
        );
        let progress = server.notifications("$/progress");
        assert_eq!(
            progress
                .first()
                .map(|(_, params)| params["value"]["kind"].clone()),
            Some(json!("begin")),
            "progress must begin before it ends: {progress:?}"
        );
        eprintln!("[{}] progress end: {end}", server.profile().name);
    } else {
        assert!(
            server
                .server_requests("window/workDoneProgress/create")
                .is_empty(),
            "no progress tokens for a client without workDoneProgress"
        );
        assert!(server.notifications("$/progress").is_empty());
    }

    let status = server.shutdown_and_exit();
    assert_eq!(
        status.code(),
        Some(0),
        "exit status after shutdown and exit"
    );
}

#[test]
fn vscode_negotiates_utf16_and_loads_with_progress() {
    check_lifecycle(Profile::vscode(), "utf-16");
}

#[test]
fn helix_negotiates_utf8_and_loads() {
    check_lifecycle(Profile::helix(), "utf-8");
}

#[test]
fn neovim_like_client_without_progress_loads() {
    check_lifecycle(Profile::neovim_like(), "utf-8");
}

/// An editor that crashes closes the server's stdin without `exit`; the server must not linger,
/// holding the model's memory and threads.
#[test]
fn closing_stdin_ends_the_server() {
    let mut server = Server::start(Profile::helix());
    server.wait_until_ready();
    server.close_stdin();
    assert!(
        server.wait_for_exit(Duration::from_secs(10)).is_some(),
        "the server was still running 10 s after its stdin closed"
    );
}

/// The spec asks for exit code 1 when `exit` comes without a `shutdown` first.
#[test]
fn exit_without_shutdown_exits_with_code_1() {
    let mut server = Server::start(Profile::helix());
    server.notify("exit", Value::Null);
    let status = server
        .wait_for_exit(Duration::from_secs(10))
        .expect("the server did not exit within 10 s of exit");
    assert_eq!(status.code(), Some(1), "exit status without shutdown");
}

/// JSON-RPC error code of an invalid request (LSP's answer to anything after `shutdown`).
const INVALID_REQUEST: i64 = -32600;

fn error_code(server: &Server, id: i64) -> Option<i64> {
    server
        .response(id, DEFAULT_TIMEOUT)
        .err()
        .map(|error| error.code)
}

/// The specification sends `initialized` once. Each repeat used to start another engine, which
/// loaded another copy of the model and never freed it (+340 MB per repeat).
#[test]
fn repeated_initialized_is_ignored_and_loads_no_second_model() {
    let mut server = Server::start_ready(Profile::vscode());
    let before = server.rss_bytes().expect("the server's VmRSS");
    for _ in 0..5 {
        server.notify("initialized", json!({}));
    }
    // Long enough for a second model to load on a busy machine, were one started.
    std::thread::sleep(Duration::from_secs(6));
    let after = server.rss_bytes().expect("the server's VmRSS");
    let stderr = server.stderr();
    eprintln!("VmRSS {} MB before, {} MB after", before >> 20, after >> 20);
    assert_eq!(
        stderr.matches("model loaded in").count(),
        1,
        "the model was loaded more than once"
    );
    assert!(
        after < before + (100 << 20),
        "memory grew from {} MB to {} MB",
        before >> 20,
        after >> 20
    );
    assert_eq!(
        stderr.matches("ignoring a repeated `initialized`").count(),
        5,
        "each repeat is logged"
    );
    assert_eq!(server.shutdown_and_exit().code(), Some(0));
}

/// A second `initialize`, even one sent right behind the first (before its answer), is an
/// error and changes nothing: neither the position encoding nor the settings it carries.
#[test]
fn a_second_initialize_is_refused_and_changes_nothing() {
    let mut server = Server::spawn(Profile::vscode());
    let first = server.request("initialize", server.profile().initialize_params());
    let mut second_params = Profile::helix()
        .with_initialization_options(json!({ "enable": false }))
        .initialize_params();
    second_params["capabilities"]["general"]["positionEncodings"] = json!(["utf-8"]);
    let second = server.request("initialize", second_params);
    let result = server
        .response(first, DEFAULT_TIMEOUT)
        .expect("the first initialize succeeds");
    assert_eq!(result["capabilities"]["positionEncoding"], "utf-16");
    assert_eq!(error_code(&server, second), Some(INVALID_REQUEST));
    server.notify("initialized", json!({}));
    server.wait_until_ready();
    server.open(rill_e2e::PRIME_URI, "python", rill_e2e::PRIME_PY);
    // `enable: false` from the refused initialize would answer every completion empty.
    let id = server.inline_completion(rill_e2e::PRIME_URI, 3, 0);
    let items = server.reply(id, DEFAULT_TIMEOUT).inline_items();
    assert!(!items.is_empty(), "completions are still on");
    // A third one, after the first was answered, is refused too.
    let third = server.request("initialize", server.profile().initialize_params());
    assert_eq!(error_code(&server, third), Some(INVALID_REQUEST));
    assert_eq!(server.shutdown_and_exit().code(), Some(0));
}
