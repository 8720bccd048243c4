//! Guards tower-lsp from malformed input: frames whose body is not a JSON-RPC message are replaced
//! by a request that the server answers with the proper error, so one bad message loses nothing.
//!
//! tower-lsp 0.20 reads stdin through tokio-util's `FramedRead`, which ends the stream after the
//! first decode error; the server would then stop serving altogether. This filter sits between
//! stdin and tower-lsp, forwards well-formed frames byte for byte, and rewrites bad ones to
//! `rill/parseError` / `rill/invalidRequest` with a null id, which the shim (`shim.rs`) answers with -32700 / -32600.

use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWriteExt, BufReader, DuplexStream};

/// Largest body accepted; a larger Content-Length is treated as a corrupt header.
const MAX_BODY: usize = 256 << 20;

pub const PARSE_ERROR_METHOD: &str = "rill/parseError";
pub const INVALID_REQUEST_METHOD: &str = "rill/invalidRequest";

/// Starts the filter in front of `input` and returns the reader tower-lsp should use.
pub fn filtered(input: impl AsyncRead + Unpin + Send + 'static) -> DuplexStream {
    let (reader, mut writer) = tokio::io::duplex(1 << 20);
    tokio::spawn(async move {
        let mut input = BufReader::new(input);
        while let Some(body) = read_frame(&mut input).await {
            let body = sanitize(body);
            let frame = format!("Content-Length: {}\r\n\r\n", body.len());
            if writer.write_all(frame.as_bytes()).await.is_err()
                || writer.write_all(&body).await.is_err()
            {
                break;
            }
        }
        let _ = writer.shutdown().await;
    });
    reader
}

/// Reads one frame's body; `None` at end of input. Garbage between frames and headers without a
/// usable Content-Length are skipped with a log line, resynchronizing on the next header.
async fn read_frame<R: AsyncRead + Unpin>(input: &mut BufReader<R>) -> Option<Vec<u8>> {
    loop {
        let mut content_length = None;
        let mut saw_header = false;
        loop {
            let mut line = String::new();
            match input.read_line(&mut line).await {
                Ok(0) => return None,
                Ok(_) => {}
                Err(err) if err.kind() == std::io::ErrorKind::InvalidData => {
                    tracing::warn!("stdin: {err}; skipping a line that is not UTF-8");
                    continue;
                }
                // Any other error ends the input: reading on would poll a reader that has failed
                // (tokio's stdin panics when its blocking read was cancelled by the runtime's
                // shutdown after `exit`, and is polled again).
                Err(err) => {
                    tracing::debug!("stdin: {err}; input ends");
                    return None;
                }
            }
            let trimmed = line.trim_end_matches(['\r', '\n']);
            if trimmed.is_empty() {
                if saw_header {
                    break;
                }
                continue;
            }
            saw_header = true;
            if let Some((name, value)) = trimmed.split_once(':') {
                if name.trim().eq_ignore_ascii_case("content-length") {
                    content_length = value.trim().parse::<usize>().ok();
                }
            }
        }
        match content_length {
            Some(length) if length <= MAX_BODY => {
                let mut body = vec![0; length];
                if input.read_exact(&mut body).await.is_err() {
                    return None;
                }
                return Some(body);
            }
            _ => tracing::warn!("stdin: a header without a usable Content-Length was skipped"),
        }
    }
}

/// The body unchanged when it is a JSON-RPC message, else a stand-in request that yields the error.
fn sanitize(body: Vec<u8>) -> Vec<u8> {
    let value: Value = match serde_json::from_slice(&body) {
        Ok(value) => value,
        Err(err) => {
            tracing::warn!("malformed JSON from the client: {err}");
            return stand_in(PARSE_ERROR_METHOD, &err.to_string());
        }
    };
    let is_message = serde_json::from_value::<tower_lsp::jsonrpc::Request>(value.clone()).is_ok()
        || serde_json::from_value::<tower_lsp::jsonrpc::Response>(value).is_ok();
    if is_message {
        body
    } else {
        tracing::warn!("a client message is valid JSON but not a JSON-RPC message");
        stand_in(
            INVALID_REQUEST_METHOD,
            "not a JSON-RPC 2.0 request, notification or response",
        )
    }
}

fn stand_in(method: &str, reason: &str) -> Vec<u8> {
    json!({"jsonrpc": "2.0", "id": null, "method": method, "params": {"reason": reason}})
        .to_string()
        .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_messages_pass_unchanged_and_bad_ones_are_replaced() {
        let valid = br#"{"jsonrpc":"2.0","id":1,"method":"shutdown"}"#.to_vec();
        assert_eq!(sanitize(valid.clone()), valid);
        let broken: Value =
            serde_json::from_slice(&sanitize(b"{\"jsonrpc\": \"2.0\", \"id\": ".to_vec())).unwrap();
        assert_eq!(broken["method"], PARSE_ERROR_METHOD);
        assert!(broken["id"].is_null());
        let not_rpc: Value = serde_json::from_slice(&sanitize(br#"[1, 2, 3]"#.to_vec())).unwrap();
        assert_eq!(not_rpc["method"], INVALID_REQUEST_METHOD);
    }

    #[tokio::test]
    async fn frames_are_read_and_garbage_is_skipped() {
        let input = b"garbage\r\n\r\nContent-Length: 2\r\n\r\n{}Content-Type: x\r\nContent-Length: 4\r\n\r\nnull".to_vec();
        let mut reader = BufReader::new(&input[..]);
        assert_eq!(read_frame(&mut reader).await.unwrap(), b"{}");
        assert_eq!(read_frame(&mut reader).await.unwrap(), b"null");
        assert!(read_frame(&mut reader).await.is_none());
    }
}
