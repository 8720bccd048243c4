//! The OpenAI-compatible stream decoder on what real servers send: vLLM/llama.cpp-style chunks, keep-alive comments, CRLF, bytes split anywhere, errors and garbage.

use rill_server::remote::sse::{SseDecoder, StreamError, StreamItem};

fn chunk(text: &str) -> String {
    format!(
        "data: {{\"id\":\"cmpl-1\",\"object\":\"text_completion\",\"choices\":[{{\"index\":0,\"text\":{},\"finish_reason\":null}}]}}\n\n",
        serde_json::to_string(text).unwrap()
    )
}

fn stream() -> String {
    format!(
        ": keep-alive\n\n{}{}data: {{\"choices\":[{{\"text\":\"\",\"finish_reason\":\"stop\"}}]}}\n\ndata: [DONE]\n\n",
        chunk("def f(x):\n"),
        chunk("    return x ü")
    )
}

fn decode_all(decoder: &mut SseDecoder, pieces: &[&[u8]]) -> Vec<Result<StreamItem, StreamError>> {
    pieces
        .iter()
        .flat_map(|piece| decoder.push(piece))
        .collect()
}

#[test]
fn a_whole_stream_decodes_in_order() {
    let items = SseDecoder::default().push(stream().as_bytes());
    assert_eq!(
        items,
        vec![
            Ok(StreamItem::Text("def f(x):\n".into())),
            Ok(StreamItem::Text("    return x ü".into())),
            Ok(StreamItem::Finished {
                text: String::new(),
                reason: "stop".into()
            }),
            Ok(StreamItem::Done),
        ]
    );
}

#[test]
fn bytes_split_anywhere_give_the_same_items() {
    let bytes = stream().into_bytes();
    let whole = SseDecoder::default().push(&bytes);
    // Every split point, including inside the two-byte ü and between the blank-line newlines.
    for split in 0..bytes.len() {
        let mut decoder = SseDecoder::default();
        let items = decode_all(&mut decoder, &[&bytes[..split], &bytes[split..]]);
        assert_eq!(items, whole, "split at {split}");
    }
    // One byte at a time.
    let mut decoder = SseDecoder::default();
    let singles: Vec<&[u8]> = bytes.chunks(1).collect();
    assert_eq!(decode_all(&mut decoder, &singles), whole);
}

#[test]
fn crlf_streams_and_multi_line_data_decode() {
    let crlf = stream().replace('\n', "\r\n").replace("\\r\\n", "\\n");
    let items = SseDecoder::default().push(crlf.as_bytes());
    assert_eq!(items.len(), 4, "{items:?}");
    assert_eq!(items[3], Ok(StreamItem::Done));
    let multi = "data: {\"choices\":\ndata: [{\"text\":\"a\"}]}\n\n";
    assert_eq!(
        SseDecoder::default().push(multi.as_bytes()),
        vec![Ok(StreamItem::Text("a".into()))]
    );
}

#[test]
fn errors_and_garbage_are_reported_not_swallowed() {
    let mut decoder = SseDecoder::default();
    let items = decoder.push(b"data: {\"error\":{\"message\":\"model overloaded\"}}\n\ndata: <html>\n\ndata: {\"choices\":[]}\n\n");
    assert_eq!(
        items[0],
        Err(StreamError::Server("model overloaded".into()))
    );
    assert!(matches!(items[1], Err(StreamError::NotJson(_))));
    assert!(matches!(items[2], Err(StreamError::Shape(_))));
    // An unfinished event yields nothing until its blank line arrives.
    assert!(decoder
        .push(b"data: {\"choices\":[{\"text\":\"x\"}]}\n")
        .is_empty());
    assert_eq!(decoder.push(b"\n"), vec![Ok(StreamItem::Text("x".into()))]);
}

#[test]
fn an_empty_finish_reason_does_not_end_the_choice() {
    // Text Generation Inference's chunks carry `"finish_reason": ""` until the last one.
    let stream = "data: {\"choices\":[{\"index\":0,\"text\":\"a\",\"logprobs\":null,\"finish_reason\":\"\"}]}\n\ndata: {\"choices\":[{\"index\":0,\"text\":\"b\",\"logprobs\":null,\"finish_reason\":\"length\"}]}\n\n";
    assert_eq!(
        SseDecoder::default().push(stream.as_bytes()),
        vec![
            Ok(StreamItem::Text("a".into())),
            Ok(StreamItem::Finished {
                text: "b".into(),
                reason: "length".into()
            }),
        ]
    );
}
