//! Guards memory from a client that stops reading: everything the server writes passes through a
//! bounded outbox in which streamed partial results are coalesced, and only they are ever dropped.
//!
//! tower-lsp 0.20 queues every notification in a channel that grows without bound while stdout is
//! blocked (each send clones the sender, and a fresh sender always has room). An editor that hangs
//! while a suggestion streams would let `rill/inlineCompletion/partial` notifications pile up.
//! tower-lsp writes into the duplex this module returns; a task splits the stream into frames and
//! queues them, and another writes them to the real stdout as fast as the client reads:
//!
//! - a partial result replaces the queued partial of the same request (partials are cumulative, so
//!   the newest says everything the older one did), and beyond [`MAX_PARTIALS`] queued partials the
//!   oldest is dropped;
//! - every other message (responses, other notifications, the server's requests) is kept, in
//!   order; past [`MAX_KEPT_BYTES`] of them the queue stops taking frames, which blocks tower-lsp's
//!   writer as a full pipe would;
//! - while the queue is congested ([`Congestion`]), the completion driver sends no intermediate partials at all,
//!   only each request's last one, so nothing piles up in tower-lsp's channel either;
//! - a partial never follows its request's response: tower-lsp writes notifications and responses
//!   from two queues, so a partial can reach the outbox after the response; it then goes before
//!   the response if that is still queued, and is dropped if the response has left.

use std::collections::{HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::io::{
    AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader, DuplexStream,
};
use tokio::sync::Notify;
use tokio::task::JoinHandle;

/// Bytes of kept (never dropped) messages the outbox holds before it stops taking frames.
pub const MAX_KEPT_BYTES: usize = 4 << 20;
/// Partial results the outbox holds at most (one per request, coalesced).
pub const MAX_PARTIALS: usize = 256;
/// Queued bytes from which the outbox counts as congested.
const CONGESTED_BYTES: usize = 256 << 10;
/// Most bytes written in one go: frames queued together leave in one write.
const WRITE_BATCH: usize = 256 << 10;
/// Responses up to this size are checked for the request they answer (completion answers are
/// small; a mirror of a large document is not worth parsing).
const SMALL_RESPONSE: usize = 64 << 10;
/// Ids of recent responses remembered, to drop partials that come after their response.
const RECENT_RESPONSES: usize = 4096;

/// Whether the client is behind on reading: streaming then skips intermediate partials. One per
/// server, set by its outbox.
#[derive(Debug, Clone, Default)]
pub struct Congestion(Arc<AtomicBool>);

impl Congestion {
    pub fn is_congested(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// Starts the outbox in front of `output` and returns the writer tower-lsp should use, the task
/// that writes to `output` (it ends once the writer is dropped and everything queued is out), and
/// the flag that says the client is behind.
pub fn filtered<W>(output: W) -> (DuplexStream, JoinHandle<()>, Congestion)
where
    W: AsyncWrite + Unpin + Send + 'static,
{
    let congestion = Congestion::default();
    let (server_side, frames) = tokio::io::duplex(64 << 10);
    let outbox = Arc::new(Outbox::new(congestion.clone()));
    tokio::spawn(split_frames(frames, outbox.clone()));
    let writer = tokio::spawn(write_frames(output, outbox));
    (server_side, writer, congestion)
}

/// One framed message on its way out.
struct Outgoing {
    /// Header and body, as written.
    bytes: Vec<u8>,
    /// For a partial result: the `requestId` it belongs to, as JSON text.
    partial_of: Option<String>,
    /// For a (small) response: the id it answers, as JSON text.
    response_to: Option<String>,
}

#[derive(Default)]
struct Queue {
    frames: VecDeque<Outgoing>,
    kept_bytes: usize,
    partials: usize,
    partial_bytes: usize,
    /// The client's end is gone: frames are discarded.
    closed: bool,
    /// The server has written its last frame: the writer ends once the queue is empty.
    input_done: bool,
    /// Partials replaced or dropped so far, for the log.
    coalesced: u64,
    /// Ids of the last [`RECENT_RESPONSES`] responses queued, oldest first, and as a set.
    responses: VecDeque<String>,
    responded: HashSet<String>,
}

struct Outbox {
    queue: Mutex<Queue>,
    /// Wakes the writer: a frame was queued.
    queued: Notify,
    /// Wakes a waiting producer: frames left.
    written: Notify,
    congested: Congestion,
}

impl Outbox {
    fn new(congested: Congestion) -> Self {
        Self {
            queue: Mutex::new(Queue::default()),
            queued: Notify::new(),
            written: Notify::new(),
            congested,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Queue> {
        // Every update keeps the counters consistent before it can panic, so a poisoned lock is safe.
        self.queue
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn update_congestion(&self, queue: &Queue) {
        let congested = queue.kept_bytes + queue.partial_bytes >= CONGESTED_BYTES;
        self.congested.0.store(congested, Ordering::Relaxed);
    }

    /// Queues a frame; waits while the kept messages are over [`MAX_KEPT_BYTES`] (partials never wait).
    async fn push(&self, frame: Outgoing) {
        if frame.partial_of.is_none() {
            loop {
                let written = self.written.notified();
                {
                    let queue = self.lock();
                    if queue.closed || queue.kept_bytes < MAX_KEPT_BYTES {
                        break;
                    }
                }
                written.await;
            }
        }
        let mut queue = self.lock();
        if queue.closed {
            return;
        }
        match &frame.partial_of {
            Some(request) => {
                let queued = queue
                    .frames
                    .iter()
                    .position(|queued| queued.partial_of.as_ref() == Some(request));
                let response = queue
                    .frames
                    .iter()
                    .position(|queued| queued.response_to.as_ref() == Some(request));
                if let Some(index) = queued {
                    // Cumulative text: the newer partial replaces the older in its place, which
                    // is still before the request's response.
                    let old = std::mem::replace(&mut queue.frames[index].bytes, frame.bytes);
                    queue.partial_bytes =
                        queue.partial_bytes - old.len() + queue.frames[index].bytes.len();
                    queue.coalesced += 1;
                } else if let Some(index) = response {
                    // Late: it goes out right before its request's response.
                    queue.partials += 1;
                    queue.partial_bytes += frame.bytes.len();
                    queue.frames.insert(index, frame);
                } else if queue.responded.contains(request) {
                    // Later still: the response has left, and nothing may follow it.
                    queue.coalesced += 1;
                } else {
                    if queue.partials >= MAX_PARTIALS {
                        if let Some(oldest) =
                            queue.frames.iter().position(|f| f.partial_of.is_some())
                        {
                            if let Some(dropped) = queue.frames.remove(oldest) {
                                queue.partials -= 1;
                                queue.partial_bytes -= dropped.bytes.len();
                                queue.coalesced += 1;
                            }
                        }
                    }
                    queue.partials += 1;
                    queue.partial_bytes += frame.bytes.len();
                    queue.frames.push_back(frame);
                }
            }
            None => {
                if let Some(id) = &frame.response_to {
                    if queue.responded.insert(id.clone()) {
                        queue.responses.push_back(id.clone());
                    }
                    if queue.responses.len() > RECENT_RESPONSES {
                        if let Some(oldest) = queue.responses.pop_front() {
                            queue.responded.remove(&oldest);
                        }
                    }
                }
                queue.kept_bytes += frame.bytes.len();
                queue.frames.push_back(frame);
            }
        }
        self.update_congestion(&queue);
        drop(queue);
        self.queued.notify_one();
    }

    /// Takes the frames at the front, up to [`WRITE_BATCH`] bytes (at least one frame), waiting
    /// for one if none is queued; `None` once closed.
    async fn pop_batch(&self) -> Option<Vec<u8>> {
        loop {
            let queued = self.queued.notified();
            {
                let mut queue = self.lock();
                if queue.closed || (queue.input_done && queue.frames.is_empty()) {
                    return None;
                }
                if !queue.frames.is_empty() {
                    let mut batch = Vec::new();
                    while let Some(frame) = queue.frames.front() {
                        if !batch.is_empty() && batch.len() + frame.bytes.len() > WRITE_BATCH {
                            break;
                        }
                        let Some(frame) = queue.frames.pop_front() else {
                            break;
                        };
                        if frame.partial_of.is_some() {
                            queue.partials -= 1;
                            queue.partial_bytes -= frame.bytes.len();
                        } else {
                            queue.kept_bytes -= frame.bytes.len();
                        }
                        batch.extend_from_slice(&frame.bytes);
                    }
                    self.update_congestion(&queue);
                    drop(queue);
                    self.written.notify_waiters();
                    return Some(batch);
                }
            }
            queued.await;
        }
    }

    /// The server has written its last frame.
    fn finish_input(&self) {
        self.lock().input_done = true;
        self.queued.notify_one();
    }

    /// The client's end is gone: drop what is queued and everything that comes.
    fn close(&self) {
        let mut queue = self.lock();
        queue.closed = true;
        queue.frames.clear();
        queue.kept_bytes = 0;
        queue.partials = 0;
        queue.partial_bytes = 0;
        self.congested.0.store(false, Ordering::Relaxed);
        drop(queue);
        self.written.notify_waiters();
    }
}

/// Reads tower-lsp's frames (`Content-Length: N\r\n\r\n` and N bytes) and queues them.
async fn split_frames<R: AsyncRead + Unpin>(frames: R, outbox: Arc<Outbox>) {
    let mut input = BufReader::new(frames);
    while let Some(bytes) = read_frame(&mut input).await {
        let partial_of = partial_request(&bytes);
        let response_to = partial_of.is_none().then(|| response_id(&bytes)).flatten();
        outbox
            .push(Outgoing {
                bytes,
                partial_of,
                response_to,
            })
            .await;
    }
    outbox.finish_input();
}

/// One whole frame, header included; `None` at the end. tower-lsp writes only well-formed frames.
async fn read_frame<R: AsyncRead + Unpin>(input: &mut BufReader<R>) -> Option<Vec<u8>> {
    let mut head = Vec::new();
    let mut length = None;
    loop {
        let mut line = String::new();
        if input.read_line(&mut line).await.ok()? == 0 {
            return None;
        }
        head.extend_from_slice(line.as_bytes());
        let trimmed = line.trim_end_matches(['\r', '\n']);
        if trimmed.is_empty() {
            break;
        }
        if let Some((name, value)) = trimmed.split_once(':') {
            if name.trim().eq_ignore_ascii_case("content-length") {
                length = value.trim().parse::<usize>().ok();
            }
        }
    }
    let length = length?;
    let start = head.len();
    head.resize(start + length, 0);
    input.read_exact(&mut head[start..]).await.ok()?;
    Some(head)
}

/// The `requestId` of a `rill/inlineCompletion/partial` frame, as JSON text; `None` for any
/// other message.
fn partial_request(frame: &[u8]) -> Option<String> {
    let method = crate::rill_protocol::PARTIAL_METHOD.as_bytes();
    if !frame.windows(method.len()).any(|window| window == method) {
        return None;
    }
    let body = frame
        .windows(4)
        .position(|window| window == b"\r\n\r\n")
        .map(|end| &frame[end + 4..])?;
    let message: serde_json::Value = serde_json::from_slice(body).ok()?;
    if message["method"] != crate::rill_protocol::PARTIAL_METHOD {
        return None;
    }
    Some(message["params"]["requestId"].to_string())
}

/// The id a small response frame answers, as JSON text; `None` for anything else.
fn response_id(frame: &[u8]) -> Option<String> {
    if frame.len() > SMALL_RESPONSE || frame.windows(8).any(|window| window == b"\"method\"") {
        return None;
    }
    let body = frame
        .windows(4)
        .position(|window| window == b"\r\n\r\n")
        .map(|end| &frame[end + 4..])?;
    let message: serde_json::Value = serde_json::from_slice(body).ok()?;
    let answers = message.get("result").is_some() || message.get("error").is_some();
    answers.then(|| message["id"].to_string())
}

/// Writes queued frames to `output` until it fails (the client is gone).
async fn write_frames<W: AsyncWrite + Unpin>(mut output: W, outbox: Arc<Outbox>) {
    let mut reported = 0;
    while let Some(batch) = outbox.pop_batch().await {
        if output.write_all(&batch).await.is_err() || output.flush().await.is_err() {
            tracing::debug!("stdout closed: dropping what the server still writes");
            outbox.close();
            return;
        }
        let coalesced = outbox.lock().coalesced;
        if coalesced > reported {
            tracing::debug!(
                "{coalesced} partial results coalesced or dropped while the client read slowly"
            );
            reported = coalesced;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn frame(message: serde_json::Value) -> Vec<u8> {
        let body = message.to_string();
        format!("Content-Length: {}\r\n\r\n{body}", body.len()).into_bytes()
    }

    fn partial(request: i64, text: &str) -> Vec<u8> {
        frame(json!({
            "jsonrpc": "2.0",
            "method": crate::rill_protocol::PARTIAL_METHOD,
            "params": { "requestId": request, "items": [{ "insertText": text }] }
        }))
    }

    #[test]
    fn partial_frames_are_recognized_by_their_request() {
        assert_eq!(partial_request(&partial(7, "x")).as_deref(), Some("7"));
        let response = frame(json!({ "jsonrpc": "2.0", "id": 7, "result": { "items": [] } }));
        assert_eq!(partial_request(&response), None);
    }

    #[tokio::test]
    async fn queued_partials_coalesce_per_request_and_responses_stay_in_order() {
        let outbox = Outbox::new(Congestion::default());
        let response = frame(json!({ "jsonrpc": "2.0", "id": 1, "result": null }));
        for (request, text) in [(1, "a"), (2, "b"), (1, "ab"), (1, "abc")] {
            let bytes = partial(request, text);
            let partial_of = partial_request(&bytes);
            outbox
                .push(Outgoing {
                    bytes,
                    partial_of,
                    response_to: None,
                })
                .await;
        }
        outbox
            .push(Outgoing {
                bytes: response.clone(),
                partial_of: None,
                response_to: response_id(&response),
            })
            .await;
        let batch = outbox.pop_batch().await.unwrap();
        let mut expected = partial(1, "abc");
        expected.extend(partial(2, "b"));
        expected.extend(response);
        assert_eq!(batch, expected);
        assert_eq!(outbox.lock().coalesced, 2);
    }

    #[tokio::test]
    async fn a_late_partial_goes_before_its_queued_response_or_is_dropped() {
        let outbox = Outbox::new(Congestion::default());
        let push = |bytes: Vec<u8>| {
            let partial_of = partial_request(&bytes);
            let response_to = response_id(&bytes);
            Outgoing {
                bytes,
                partial_of,
                response_to,
            }
        };
        let response = frame(json!({ "jsonrpc": "2.0", "result": { "items": [] }, "id": 4 }));
        outbox.push(push(response.clone())).await;
        outbox.push(push(partial(4, "late"))).await;
        let mut expected = partial(4, "late");
        expected.extend(response);
        assert_eq!(outbox.pop_batch().await.unwrap(), expected);
        // The response has left: a partial after it is dropped.
        outbox.push(push(partial(4, "later"))).await;
        outbox.finish_input();
        assert_eq!(outbox.pop_batch().await, None);
    }

    #[tokio::test]
    async fn frames_pass_through_to_the_output() {
        let (output, mut client) = tokio::io::duplex(1 << 16);
        let (mut server, writer, _) = filtered(output);
        let message = frame(json!({ "jsonrpc": "2.0", "id": 3, "result": "ok" }));
        server.write_all(&message).await.unwrap();
        let mut received = vec![0; message.len()];
        client.read_exact(&mut received).await.unwrap();
        assert_eq!(received, message);
        drop(server);
        writer.await.unwrap();
    }
}
