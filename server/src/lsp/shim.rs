//! A thin tower layer around the LSP service for what lsp-types 0.94 and tower-lsp 0.20 cannot
//! express: it keeps the client's raw `initialize` params (unknown capabilities such as
//! `textDocument.inlineCompletion` are otherwise dropped), adds `inlineCompletionProvider` to the
//! server's capabilities, lets only one `initialize` through, accepts `{}` and `null` as the params
//! of parameterless requests, and answers the stand-ins for malformed input in every state.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use futures_util::FutureExt;
use serde_json::Value;
use tower::Service;
use tower_lsp::jsonrpc::{Error, ErrorCode, Id, Request, Response};

use super::stdin_filter::{INVALID_REQUEST_METHOD, PARSE_ERROR_METHOD};

/// Requests without params. tower-lsp answers any `params` member of theirs with -32602
/// "Unexpected params", but clients send `{}` or `null` for them too.
const PARAMETERLESS_REQUESTS: &[&str] = &["shutdown", "rill/cacheStatus", "rill/stats"];

/// The raw JSON params of `initialize`, shared with the backend.
#[derive(Clone, Default)]
pub struct RawInitialize(Arc<Mutex<Option<Value>>>);

impl RawInitialize {
    pub fn get(&self) -> Option<Value> {
        self.0.lock().ok().and_then(|raw| raw.clone())
    }

    fn set(&self, value: Value) {
        if let Ok(mut raw) = self.0.lock() {
            *raw = Some(value);
        }
    }
}

pub struct InitializeShim<S> {
    inner: S,
    raw: RawInitialize,
    /// Receives the exit code when `exit` arrives: 0 after `shutdown`, 1 without it.
    exit: Arc<tokio::sync::watch::Sender<Option<i32>>>,
    /// Set once `shutdown` has been answered without error: `exit` then ends with code 0.
    shut_down: Arc<AtomicBool>,
    initialize: Arc<Mutex<InitializeState>>,
}

/// Where the one `initialize` of a connection is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum InitializeState {
    NotYet,
    /// Sent to the server, not answered yet.
    Running,
    /// Answered with a result: every later `initialize` is an error.
    Done,
}

impl<S> InitializeShim<S> {
    pub fn new(
        inner: S,
        raw: RawInitialize,
        exit: tokio::sync::watch::Sender<Option<i32>>,
    ) -> Self {
        Self {
            inner,
            raw,
            exit: Arc::new(exit),
            shut_down: Arc::new(AtomicBool::new(false)),
            initialize: Arc::new(Mutex::new(InitializeState::NotYet)),
        }
    }
}

impl<S> Service<Request> for InitializeShim<S>
where
    S: Service<Request, Response = Option<Response>>,
    S::Future: Send + 'static,
{
    type Response = Option<Response>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Option<Response>, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let request = without_empty_params(with_request_id_in_params(request));
        match request.method() {
            "exit" => {
                // The spec's exit codes: 0 after `shutdown`, 1 without it. tower-lsp stops serving
                // but keeps reading its input, so whoever serves stops on this signal instead.
                let code = if self.shut_down.load(Ordering::Acquire) {
                    0
                } else {
                    1
                };
                self.exit.send_replace(Some(code));
            }
            PARSE_ERROR_METHOD | INVALID_REQUEST_METHOD => {
                // Malformed input is answered the same before `initialize` and after `shutdown`
                // (tower-lsp would answer -32002 or -32600 instead).
                let response = stand_in_error(&request);
                return Box::pin(async move { Ok(Some(response)) });
            }
            _ => {}
        }
        let is_initialize = request.method() == "initialize";
        let is_shutdown = request.method() == "shutdown";
        if is_initialize {
            let mut state = lock(&self.initialize);
            if *state != InitializeState::NotYet {
                // tower-lsp refuses a second `initialize` only once the first has been answered;
                // one sent right behind the first would run too and apply its options again.
                tracing::warn!("a second `initialize` was refused");
                let id = request.id().cloned();
                return Box::pin(async move {
                    Ok(id.map(|id| {
                        Response::from_error(
                            id,
                            Error {
                                code: ErrorCode::InvalidRequest,
                                message: "the server is already initialized".into(),
                                data: None,
                            },
                        )
                    }))
                });
            }
            *state = InitializeState::Running;
            if let Some(params) = request.params() {
                self.raw.set(params.clone());
            }
        }
        let (id, method) = (request.id().cloned(), request.method().to_string());
        let future = self.inner.call(request);
        let initialize = self.initialize.clone();
        let shut_down = self.shut_down.clone();
        Box::pin(async move {
            // A panic in a handler fails that request alone: unwinding further would take down
            // the task that serves every message (and with it the whole server).
            let response = match std::panic::AssertUnwindSafe(future).catch_unwind().await {
                Ok(response) => response?,
                Err(panic) => {
                    let reason = panic
                        .downcast_ref::<&str>()
                        .map(|reason| reason.to_string())
                        .or_else(|| panic.downcast_ref::<String>().cloned())
                        .unwrap_or_else(|| "unknown panic".to_string());
                    tracing::error!("the handler of {method} panicked: {reason}");
                    return Ok(id.map(|id| {
                        Response::from_error(
                            id,
                            Error {
                                code: ErrorCode::InternalError,
                                message: format!(
                                    "internal error while handling {method}: {reason}"
                                )
                                .into(),
                                data: None,
                            },
                        )
                    }));
                }
            };
            if is_shutdown && response.as_ref().is_some_and(Response::is_ok) {
                shut_down.store(true, Ordering::Release);
            }
            if !is_initialize {
                return Ok(response);
            }
            // A failed `initialize` (bad params) may be sent again.
            let succeeded = response.as_ref().is_some_and(Response::is_ok);
            *lock(&initialize) = if succeeded {
                InitializeState::Done
            } else {
                InitializeState::NotYet
            };
            Ok(response.map(|response| {
                let (id, body) = response.into_parts();
                let body = body.map(|mut result| {
                    if let Some(capabilities) = result
                        .get_mut("capabilities")
                        .and_then(Value::as_object_mut)
                    {
                        let (key, value) = crate::protocol::inline_completion_capability();
                        capabilities.insert(key, value);
                    }
                    result
                });
                Response::from_parts(id, body)
            }))
        })
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The error a stand-in for malformed input stands for: -32700 or -32600, with a null id.
fn stand_in_error(request: &Request) -> Response {
    let reason = request
        .params()
        .and_then(|params| params["reason"].as_str())
        .map(str::to_string);
    let (code, message) = if request.method() == PARSE_ERROR_METHOD {
        (
            ErrorCode::ParseError,
            format!(
                "Parse error: {}",
                reason.as_deref().unwrap_or("invalid JSON")
            ),
        )
    } else {
        (
            ErrorCode::InvalidRequest,
            format!(
                "Invalid request: {}",
                reason.as_deref().unwrap_or("not JSON-RPC")
            ),
        )
    };
    Response::from_error(
        Id::Null,
        Error {
            code,
            message: message.into(),
            data: None,
        },
    )
}

/// Drops `{}` and `null` params of the requests that take none (see [`PARAMETERLESS_REQUESTS`]).
fn without_empty_params(request: Request) -> Request {
    let empty = match request.params() {
        Some(Value::Null) => true,
        Some(Value::Object(map)) => map.is_empty(),
        _ => false,
    };
    if !empty || !PARAMETERLESS_REQUESTS.contains(&request.method()) {
        return request;
    }
    let (method, id, _) = request.into_parts();
    rebuild(method, id, None)
}

/// Copies the JSON-RPC id of an inline completion request into its params as `rillRequestId`:
/// partial-result notifications must name their request, and tower-lsp hands handlers only params.
fn with_request_id_in_params(request: Request) -> Request {
    if request.method() != crate::protocol::INLINE_COMPLETION_METHOD {
        return request;
    }
    let (method, id, params) = request.into_parts();
    let Some(id) = id else {
        return rebuild(method, None, params);
    };
    let params = match params {
        Some(Value::Object(mut map)) => {
            if let Ok(id_value) = serde_json::to_value(&id) {
                map.insert("rillRequestId".to_string(), id_value);
            }
            Some(Value::Object(map))
        }
        other => other,
    };
    rebuild(method, Some(id), params)
}

fn rebuild(
    method: std::borrow::Cow<'static, str>,
    id: Option<tower_lsp::jsonrpc::Id>,
    params: Option<Value>,
) -> Request {
    let mut builder = Request::build(method);
    if let Some(id) = id {
        builder = builder.id(id);
    }
    if let Some(params) = params {
        builder = builder.params(params);
    }
    builder.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An inner service whose handler panics on one method and answers every other request.
    #[derive(Clone)]
    struct PanicsOn(&'static str);

    impl Service<Request> for PanicsOn {
        type Response = Option<Response>;
        type Error = std::convert::Infallible;
        type Future = Pin<Box<dyn Future<Output = Result<Option<Response>, Self::Error>> + Send>>;

        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, request: Request) -> Self::Future {
            let panics = request.method() == self.0;
            let id = request.id().cloned();
            Box::pin(async move {
                assert!(!panics, "a handler bug");
                Ok(id.map(|id| Response::from_ok(id, Value::Null)))
            })
        }
    }

    fn request(method: &'static str, id: i64) -> Request {
        Request::build(method).id(id).finish()
    }

    /// Found by the fuzz campaign: a panicking handler unwound the task that serves every message,
    /// and the server hung. It now fails that request alone.
    #[tokio::test]
    async fn a_panicking_handler_fails_its_request_and_the_next_is_served() {
        let mut shim = InitializeShim::new(
            PanicsOn("rill/broken"),
            RawInitialize::default(),
            tokio::sync::watch::channel(None).0,
        );
        let failed = shim
            .call(request("rill/broken", 1))
            .await
            .unwrap()
            .expect("a response");
        let error = failed.error().expect("an error response");
        assert_eq!(error.code, ErrorCode::InternalError);
        assert!(error.message.contains("a handler bug"), "{}", error.message);
        let next = shim
            .call(request("rill/fine", 2))
            .await
            .unwrap()
            .expect("a response");
        assert!(next.is_ok());
    }
}
