//! LSP base protocol framing: `Content-Length` headers around JSON bodies, read strictly.
//!
//! The reader is strict on purpose. Editors treat the server's stdout as nothing but frames, so a log
//! line or a malformed header there breaks them; the harness reports such bytes instead of skipping
//! them quietly.

use std::io::{self, BufRead, Write};

/// What reading the next frame produced.
pub enum Frame {
    /// A complete body (not yet parsed as JSON).
    Body(Vec<u8>),
    /// Bytes that are not a valid frame header, described for the failure message.
    Violation(String),
    /// The stream ended cleanly, between frames.
    Eof,
}

/// Reads one frame. After a violation the caller may keep reading: the reader resumes at the next line.
pub fn read_frame(reader: &mut impl BufRead) -> io::Result<Frame> {
    let mut content_length: Option<usize> = None;
    let mut first = true;
    loop {
        let mut line = Vec::new();
        let read = reader.read_until(b'\n', &mut line)?;
        if read == 0 {
            return Ok(if first {
                Frame::Eof
            } else {
                Frame::Violation("the stream ended inside a frame header".to_string())
            });
        }
        first = false;
        let Some(line) = line.strip_suffix(b"\r\n") else {
            return Ok(Frame::Violation(format!(
                "header line not ended by CRLF: {:?}",
                String::from_utf8_lossy(&line)
            )));
        };
        if line.is_empty() {
            break;
        }
        let text = String::from_utf8_lossy(line);
        let Some((name, value)) = text.split_once(':') else {
            return Ok(Frame::Violation(format!("not a header line: {text:?}")));
        };
        if name.eq_ignore_ascii_case("Content-Length") {
            match value.trim().parse() {
                Ok(length) => content_length = Some(length),
                Err(_) => return Ok(Frame::Violation(format!("bad Content-Length: {text:?}"))),
            }
        } else if !name.eq_ignore_ascii_case("Content-Type") {
            return Ok(Frame::Violation(format!("unknown header: {text:?}")));
        }
    }
    let Some(length) = content_length else {
        return Ok(Frame::Violation(
            "frame header without Content-Length".to_string(),
        ));
    };
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    Ok(Frame::Body(body))
}

/// Writes `body` as one frame and flushes, so that the server sees it at once.
pub fn write_frame(writer: &mut impl Write, body: &[u8]) -> io::Result<()> {
    write!(writer, "Content-Length: {}\r\n\r\n", body.len())?;
    writer.write_all(body)?;
    writer.flush()
}
