//! A thin tower layer around the LSP service for what lsp-types 0.94 cannot express: it keeps the
//! client's raw `initialize` params (unknown capabilities such as `textDocument.inlineCompletion`
//! are otherwise dropped) and adds `inlineCompletionProvider` to the server's capabilities.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use serde_json::Value;
use tower::Service;
use tower_lsp::jsonrpc::{Request, Response};

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
    shutdown_requested: bool,
}

impl<S> InitializeShim<S> {
    pub fn new(inner: S, raw: RawInitialize) -> Self {
        Self {
            inner,
            raw,
            shutdown_requested: false,
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
        let request = with_request_id_in_params(request);
        match request.method() {
            "shutdown" => self.shutdown_requested = true,
            "exit" => exit_soon(self.shutdown_requested),
            _ => {}
        }
        let is_initialize = request.method() == "initialize";
        if is_initialize {
            if let Some(params) = request.params() {
                self.raw.set(params.clone());
            }
        }
        let future = self.inner.call(request);
        Box::pin(async move {
            let response = future.await?;
            if !is_initialize {
                return Ok(response);
            }
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

/// Ends the process shortly after `exit`: tower-lsp stops serving but keeps reading stdin, and a
/// client that waits for the process to end before closing the pipe would wait forever. The exit
/// code is 0 after `shutdown` and 1 without it, as the specification asks.
fn exit_soon(shutdown_requested: bool) {
    let code = if shutdown_requested { 0 } else { 1 };
    std::thread::spawn(move || {
        // Give the writer a moment to flush responses still in flight.
        std::thread::sleep(std::time::Duration::from_millis(50));
        std::process::exit(code);
    });
}
