//! What a completion at a position starts from: the document around the cursor (`Snapshot`), the quality techniques it uses and its generation parameters; shared by the request path and the pre-warm, which prepares exactly what the next request will ask for.

use std::time::Duration;

use rill_model::generate::GenerationParams;
use rill_model::sampling::SamplingParams;
use tower_lsp::jsonrpc;
use tower_lsp::lsp_types::{Position, Url};

use super::errors::not_open;
use super::session::{lock, Session};
use crate::comments;
use crate::config::Config;
use crate::documents::{DocumentSnapshot, PositionEncoding};
use crate::engine::{Lookahead, Quality};
use crate::postprocess::CursorContext;

/// Lines after the cursor that post-processing looks at.
const FOLLOWING_LINES: usize = 20;
/// Lines before the cursor's line that tell whether code is expected there.
const PREVIOUS_LINES: usize = 3;
/// Non-blank lines after the cursor's line that candidate first lines are ranked against.
const RANKING_LINES: usize = 2;
/// Generations started closer together than this are one typing burst (see [`quality`]).
const TYPING_GAP: Duration = Duration::from_millis(500);
/// The smallest time budget that waits for the candidate search (see [`quality`]).
const SEARCH_BUDGET: Duration = Duration::from_millis(1000);
/// Candidates searched when they are ranked by the text after the cursor.
const SUFFIX_CHOICE_WIDTH: usize = 3;
/// The document around the cursor, copied under the documents lock.
pub struct Snapshot {
    pub version: i32,
    pub position: Position,
    pub text_before_cursor: String,
    /// The document text after the cursor, which fill-in-the-middle prompts show the model.
    pub text_after_cursor: String,
    pub cursor: CursorContext,
    /// The document's language id.
    pub language_id: String,
    /// Up to [`PREVIOUS_LINES`] lines before the cursor's line, without terminators.
    pub previous_lines: Vec<String>,
}

/// What a completion needs from the open document, or why it cannot have it. Under the documents
/// lock only the rope is cloned (O(1)); the text is copied out of the clone after the lock is gone.
pub fn snapshot(session: &Session, uri: &Url, position: Position) -> jsonrpc::Result<Snapshot> {
    let encoding = session.features().encoding;
    let (document, char_index) = {
        let mut documents = lock(&session.documents);
        if documents.get(uri).is_some() {
            // Pre-warming at start-up goes most recently used first.
            documents.touch(uri);
        }
        let document = documents.get(uri).ok_or_else(|| not_open(uri))?;
        // Out-of-range positions are clamped, as the spec asks; report the clamped one back.
        let char_index = document.char_index(position, encoding);
        (document.snapshot(), char_index)
    };
    let snapshot = Snapshot::at(&document, char_index, encoding);
    lock(&session.last_cursor).insert(uri.clone(), snapshot.position);
    Ok(snapshot)
}

/// The snapshot a completion at `position` (the end of the document when `None`) would take, for
/// the pre-warm: it neither records a cursor nor changes the documents' recency.
pub fn peek_snapshot(session: &Session, uri: &Url, position: Option<Position>) -> Option<Snapshot> {
    let encoding = session.features().encoding;
    let (document, char_index) = {
        let documents = lock(&session.documents);
        let document = documents.get(uri)?;
        let char_index = position.map_or(document.rope().len_chars(), |position| {
            document.char_index(position, encoding)
        });
        (document.snapshot(), char_index)
    };
    Some(Snapshot::at(&document, char_index, encoding))
}

impl Snapshot {
    /// Copies the text around `char_index` out of a document snapshot (outside the lock).
    fn at(document: &DocumentSnapshot, char_index: usize, encoding: PositionEncoding) -> Self {
        let rope = &document.rope;
        let position = document.position(char_index, encoding);
        let line_index = rope.char_to_line(char_index);
        let line_start = rope.line_to_char(line_index);
        let line = rope.line(line_index).to_string();
        let line = line.trim_end_matches(['\n', '\r']);
        let split = line
            .char_indices()
            .nth(char_index - line_start)
            .map_or(line.len(), |(offset, _)| offset);
        let lines = |range: std::ops::Range<usize>| -> Vec<String> {
            range
                .map(|index| {
                    rope.line(index)
                        .to_string()
                        .trim_end_matches(['\n', '\r'])
                        .to_string()
                })
                .collect()
        };
        Snapshot {
            language_id: document.language_id.clone(),
            previous_lines: lines(line_index.saturating_sub(PREVIOUS_LINES)..line_index),
            version: document.version,
            position,
            text_before_cursor: rope.slice(..char_index).to_string(),
            text_after_cursor: rope.slice(char_index..).to_string(),
            cursor: CursorContext {
                line_prefix: line[..split].to_string(),
                line_suffix: line[split..].to_string(),
                following_lines: lines(
                    line_index + 1..rope.len_lines().min(line_index + 1 + FOLLOWING_LINES),
                ),
            },
        }
    }
}

/// What a completion at `snapshot` after a pause would search with, for the pre-warm to decide its
/// first line ahead (see `engine::first_lines`); `None` when that completion would not search.
pub fn lookahead(snapshot: &Snapshot, config: &Config) -> Option<Lookahead> {
    let budget = Duration::from_millis(config.timeout_ms);
    let lookahead = Lookahead {
        quality: quality(snapshot, config, budget, None),
        params: generation_params(config),
    };
    (lookahead.quality.searches() && lookahead.params.sampling.temperature == 0.0)
        .then_some(lookahead)
}

/// The quality techniques for a completion at `snapshot` (see [`crate::engine::Quality`]).
///
/// A request whose budget is below [`SEARCH_BUDGET`] (the menu fallback's 300 ms) cannot wait for
/// a whole first line and its alternatives: it streams the healed greedy continuation as it is
/// decoded, and answers with what is there when the budget ends.
///
/// So does a request in the middle of a typing burst (the previous generation of the document
/// started less than [`TYPING_GAP`] ago): the search holds its text back until the first line is
/// decided, and held text cannot be adopted by the next keystroke's request, whereas streamed text
/// can (typed-ahead). The search runs on the first keystroke after a pause, where the user looks.
pub fn quality(
    snapshot: &Snapshot,
    config: &Config,
    budget: Duration,
    since_previous: Option<Duration>,
) -> Quality {
    let comment_markers = comments::markers(&snapshot.language_id);
    let typing = since_previous.is_some_and(|gap| gap < TYPING_GAP);
    if budget < SEARCH_BUDGET || typing {
        return Quality {
            heal: config.token_healing,
            width: 1,
            following: String::new(),
            comments: crate::config::CommentPolicy::Off,
            comment_markers,
            code_expected: false,
        };
    }
    let previous: Vec<&str> = snapshot.previous_lines.iter().map(String::as_str).collect();
    let following = if config.suffix_choice {
        following_text(&snapshot.text_after_cursor)
    } else {
        String::new()
    };
    // Ranking by the following text needs something to rank: a few candidates even when the
    // answer offers one.
    let width = if config.suffix_choice {
        config.candidates.max(SUFFIX_CHOICE_WIDTH)
    } else {
        config.candidates
    };
    Quality {
        heal: config.token_healing,
        width,
        following,
        comments: config.code_over_comment,
        comment_markers,
        code_expected: comments::code_expected(
            &snapshot.cursor.line_prefix,
            &previous,
            comment_markers,
        ),
    }
}

/// The document after the cursor's line, from its line break through the next
/// [`RANKING_LINES`] non-blank lines; empty at the end of the document.
fn following_text(text_after_cursor: &str) -> String {
    let Some(newline) = text_after_cursor.find('\n') else {
        return String::new();
    };
    let rest = &text_after_cursor[newline..];
    let mut end = rest.len();
    let mut seen = 0;
    for (offset, _) in rest.match_indices('\n').skip(1) {
        let line = &rest[..offset];
        let last = line.rsplit('\n').next().unwrap_or_default();
        if !last.trim().is_empty() {
            seen += 1;
            if seen == RANKING_LINES {
                end = offset;
                break;
            }
        }
    }
    let following = &rest[..end];
    if following.trim().is_empty() {
        String::new()
    } else {
        following.to_string()
    }
}

pub fn generation_params(config: &Config) -> GenerationParams {
    GenerationParams {
        max_tokens: config.max_tokens,
        sampling: SamplingParams {
            temperature: config.temperature,
            top_k: config.top_k,
            top_p: config.top_p,
            repeat_penalty: config.repetition_penalty,
            ..SamplingParams::greedy()
        },
        stop: Vec::new(),
        ..GenerationParams::default()
    }
}
