//! Decoding the server-sent events of an OpenAI-compatible streaming completion into text pieces, tolerant of how the bytes are split and strict about what they say.

/// One decoded piece of a streamed completion.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamItem {
    /// More text of the first choice (possibly empty: some servers send keep-alive chunks).
    Text(String),
    /// The server finished the choice (`"stop"`, `"length"`…); text may come with it.
    Finished { text: String, reason: String },
    /// `data: [DONE]`: the stream is over.
    Done,
}

/// Why a stream could not be understood.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StreamError {
    #[error("the server sent an event that is not JSON: {0}")]
    NotJson(String),
    #[error("the server reported an error: {0}")]
    Server(String),
    #[error("the server sent a completion chunk without choices[0].text: {0}")]
    Shape(String),
    #[error("the server's stream is not UTF-8")]
    NotUtf8,
}

/// Splits a byte stream into SSE events and decodes their `data`.
///
/// Bytes may arrive split anywhere, even inside a UTF-8 character or between `\r` and `\n`;
/// events end at a blank line (LF or CRLF). Comment lines (`:` keep-alives) and fields other
/// than `data` are ignored; several `data` lines of one event are joined with `\n`, as the SSE
/// specification says.
#[derive(Debug, Default)]
pub struct SseDecoder {
    pending: Vec<u8>,
}

impl SseDecoder {
    /// Feeds more bytes and returns the items of every event they complete.
    pub fn push(&mut self, bytes: &[u8]) -> Vec<Result<StreamItem, StreamError>> {
        self.pending.extend_from_slice(bytes);
        let mut items = Vec::new();
        while let Some((event_end, next)) = find_event_end(&self.pending) {
            let event: Vec<u8> = self.pending.drain(..next).take(event_end).collect();
            if let Some(item) = decode_event(&event) {
                items.push(item);
            }
        }
        items
    }
}

/// The end of the first complete event in `bytes` and where the next one starts.
fn find_event_end(bytes: &[u8]) -> Option<(usize, usize)> {
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'\n' {
            let rest = &bytes[index + 1..];
            if rest.first() == Some(&b'\n') {
                return Some((index, index + 2));
            }
            if rest.starts_with(b"\r\n") {
                return Some((index, index + 3));
            }
        }
        index += 1;
    }
    None
}

fn decode_event(event: &[u8]) -> Option<Result<StreamItem, StreamError>> {
    let Ok(text) = std::str::from_utf8(event) else {
        return Some(Err(StreamError::NotUtf8));
    };
    let data: Vec<&str> = text
        .lines()
        .map(|line| line.trim_end_matches('\r'))
        .filter_map(|line| line.strip_prefix("data:"))
        .map(|value| value.strip_prefix(' ').unwrap_or(value))
        .collect();
    if data.is_empty() {
        return None;
    }
    Some(decode_data(&data.join("\n")))
}

fn decode_data(data: &str) -> Result<StreamItem, StreamError> {
    if data.trim() == "[DONE]" {
        return Ok(StreamItem::Done);
    }
    let value: serde_json::Value =
        serde_json::from_str(data).map_err(|_| StreamError::NotJson(shorten(data)))?;
    if let Some(error) = value.get("error") {
        let message = error
            .get("message")
            .and_then(|message| message.as_str())
            .map_or_else(|| error.to_string(), str::to_string);
        return Err(StreamError::Server(message));
    }
    let choice = value
        .get("choices")
        .and_then(|choices| choices.get(0))
        .ok_or_else(|| StreamError::Shape(shorten(data)))?;
    let text = choice
        .get("text")
        .and_then(|text| text.as_str())
        .ok_or_else(|| StreamError::Shape(shorten(data)))?
        .to_string();
    // TGI sends `"finish_reason": ""` on every chunk but the last; only a named reason ends the choice.
    match choice
        .get("finish_reason")
        .and_then(|reason| reason.as_str())
        .filter(|reason| !reason.is_empty())
    {
        Some(reason) => Ok(StreamItem::Finished {
            text,
            reason: reason.to_string(),
        }),
        None => Ok(StreamItem::Text(text)),
    }
}

/// At most 200 characters of a payload, for messages.
fn shorten(data: &str) -> String {
    let mut short: String = data.chars().take(200).collect();
    if short.len() < data.len() {
        short.push('…');
    }
    short
}
