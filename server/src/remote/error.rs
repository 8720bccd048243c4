//! Why a remote completion failed, classified so that the message tells the user what to check (the URL, the key, the model name, the server's health).

use std::time::Duration;

use super::sse::StreamError;

/// A failed remote request. Messages name the setting to check; none contains the API key.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RemoteError {
    #[error("cannot connect to {url}: {detail} (is the server running? check engine.baseUrl)")]
    Connect { url: String, detail: String },
    #[error("TLS with {url} failed: {detail}")]
    Tls { url: String, detail: String },
    #[error("{url} did not answer within {} ms (engine.timeoutMs)", .timeout.as_millis())]
    NoAnswer { url: String, timeout: Duration },
    #[error("{url} sent nothing for {} ms in the middle of a completion (engine.timeoutMs)", .timeout.as_millis())]
    Stalled { url: String, timeout: Duration },
    #[error("{url} refused the API key (HTTP {status}): {detail}; {hint}")]
    Unauthorized {
        url: String,
        status: u16,
        detail: String,
        hint: String,
    },
    #[error("{url} answered 404 Not Found: {detail} (check engine.baseUrl and engine.model)")]
    NotFound { url: String, detail: String },
    #[error("{url} is rate-limiting requests (HTTP 429): {detail}")]
    RateLimited { url: String, detail: String },
    #[error("{url} failed (HTTP {status}): {detail}")]
    Server {
        url: String,
        status: u16,
        detail: String,
    },
    #[error("{url} rejected the request (HTTP {status}): {detail}")]
    Rejected {
        url: String,
        status: u16,
        detail: String,
    },
    #[error("{url} sent a stream rill cannot read: {error}")]
    Malformed { url: String, error: String },
    #[error("{url} reported an error: {message}")]
    ServerReported { url: String, message: String },
    #[error("{url}: the stream ended before the completion did")]
    Truncated { url: String },
    #[error("request to {url} failed: {detail}")]
    Other { url: String, detail: String },
}

impl RemoteError {
    /// Classifies an error of `reqwest` (connecting, sending or reading the body).
    pub fn from_transport(url: &str, error: &reqwest::Error) -> Self {
        let detail = chain(error);
        let url = url.to_string();
        let lower = detail.to_ascii_lowercase();
        let tls = [
            "tls",
            "certificate",
            "handshake",
            "rustls",
            "corrupt message",
        ]
        .iter()
        .any(|word| lower.contains(word));
        if tls {
            Self::Tls { url, detail }
        } else if error.is_connect() {
            Self::Connect { url, detail }
        } else {
            Self::Other { url, detail }
        }
    }

    /// Classifies an HTTP error status with the body the server sent.
    pub fn from_status(url: &str, status: u16, body: &str, api_key_env: Option<&str>) -> Self {
        let url = url.to_string();
        let detail = body_message(body);
        match status {
            401 | 403 => {
                let hint = match api_key_env {
                    None => "set engine.apiKeyEnv to the name of an environment variable that holds the key".to_string(),
                    Some(name) if std::env::var_os(name).is_none() => {
                        format!("engine.apiKeyEnv names {name}, which is not set in rill's environment")
                    }
                    Some(name) => format!("check the key in {name} (engine.apiKeyEnv)"),
                };
                Self::Unauthorized {
                    url,
                    status,
                    detail,
                    hint,
                }
            }
            404 => Self::NotFound { url, detail },
            429 => Self::RateLimited { url, detail },
            500..=599 => Self::Server {
                url,
                status,
                detail,
            },
            _ => Self::Rejected {
                url,
                status,
                detail,
            },
        }
    }

    /// Classifies an error found in the event stream.
    pub fn from_stream(url: &str, error: &StreamError) -> Self {
        match error {
            StreamError::Server(message) => Self::ServerReported {
                url: url.to_string(),
                message: message.clone(),
            },
            other => Self::Malformed {
                url: url.to_string(),
                error: other.to_string(),
            },
        }
    }
}

/// An error and its sources, joined: reqwest's own message ("error sending request") says little
/// without the cause ("Connection refused").
fn chain(error: &dyn std::error::Error) -> String {
    let mut parts = vec![error.to_string()];
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !parts.iter().any(|part| part.contains(&text)) {
            parts.push(text);
        }
        source = cause.source();
    }
    parts.join(": ")
}

/// The message in an error body: OpenAI's `{"error": {"message"}}`, FastAPI's `{"detail"}`,
/// TGI's `{"error": "..."}`, else the body itself, shortened.
fn body_message(body: &str) -> String {
    let parsed: Option<serde_json::Value> = serde_json::from_str(body).ok();
    let from_json = parsed.as_ref().and_then(|value| {
        let error = value.get("error");
        error
            .and_then(|error| error.get("message"))
            .and_then(serde_json::Value::as_str)
            .or_else(|| error.and_then(serde_json::Value::as_str))
            .or_else(|| value.get("message").and_then(serde_json::Value::as_str))
            .map(str::to_string)
            .or_else(|| {
                value.get("detail").map(|detail| match detail {
                    serde_json::Value::String(text) => text.clone(),
                    other => other.to_string(),
                })
            })
    });
    let text = from_json.unwrap_or_else(|| body.trim().to_string());
    if text.is_empty() {
        return "no details".to_string();
    }
    let mut short: String = text.chars().take(300).collect();
    if short.len() < text.len() {
        short.push('…');
    }
    short
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_errors_name_what_to_check() {
        let url = "http://h/v1/completions";
        let body =
            r#"{"error":{"message":"The model `x` does not exist.","type":"NotFoundError"}}"#;
        let not_found = RemoteError::from_status(url, 404, body, None).to_string();
        assert!(not_found.contains("does not exist") && not_found.contains("engine.model"));
        let unauthorized =
            RemoteError::from_status(url, 401, "", Some("RILL_TEST_SURELY_UNSET_VARIABLE"))
                .to_string();
        assert!(
            unauthorized.contains("RILL_TEST_SURELY_UNSET_VARIABLE, which is not set"),
            "{unauthorized}"
        );
        let server = RemoteError::from_status(url, 503, r#"{"detail":"overloaded"}"#, None);
        assert!(server.to_string().contains("HTTP 503): overloaded"));
        let plain = RemoteError::from_status(url, 400, "bad prompt", None);
        assert!(plain
            .to_string()
            .contains("rejected the request (HTTP 400): bad prompt"));
    }
}
