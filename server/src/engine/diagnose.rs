//! The engine's side of model diagnostics: scores regions of a document, turns the tokens the model disputes into flags and decodes the model's own rewrite of each.
//!
//! A job carries the document's text and the byte regions to score, in order. Each finished region
//! is reported at once, so the edited region is published before its look-ahead and the rest of the
//! document. Scoring yields to interactive work before each layer of its passes of [`SCORE_CHUNK`]
//! tokens and between head products; an interrupted job reports the whole lines it finished and
//! goes back to the inbox for the rest.

use std::ops::Range;
use std::sync::Arc;

use rill_model::score::{rewrite_span, score_tokens, tail_logprobs, TokenScore};
use rill_model::LoadedModel;
use tokio::sync::mpsc;

use super::key::SequenceKey;
use super::prompt::window_start;
use super::store::SequenceStore;
use super::CancelToken;
use crate::diagnostics::confirm::{
    common_tail, fixed_fragment, settle, tail_range, tail_start, CheckShape, Judged, Verdict,
};
use crate::diagnostics::names::{known_name, lexical_fixes, NameIndex};
use crate::diagnostics::prose::{inside, prose_ranges};
use crate::diagnostics::spans::worth_scoring;
use crate::diagnostics::{find_flags, Fix, Flag, ScoredToken, Thresholds};

/// Tokens per forward pass while scoring, as in background prefill (see `worker::BACKGROUND_CHUNK`:
/// a pass is stopped between layers, so its length does not delay interactive work). The output
/// head runs on at most 64 rows at once (`rill_model::score`), so an interactive request waits at
/// most one layer or one head product of up to 64 rows. 256-token passes scanned no faster (9.8–9.9
/// s against 9.4–9.6 s for the benchmark file).
pub const SCORE_CHUNK: usize = 128;

/// Most tokens of context a scan keeps before the region it scores. Documents up to this size are
/// scored with all of their text as context. A memory budget (`engine.cacheBudgetMb`) too small
/// for a scan sequence this long lowers it (see [`scan_budget`]).
pub const SCAN_CONTEXT: usize = 8192;

/// The scan budget never goes below this many tokens, whatever the memory budget.
const MIN_SCAN_CONTEXT: usize = 512;

/// Most rewrites decoded per region: each costs a few full forward passes.
const MAX_FIXES_PER_REGION: usize = 8;

/// Scoring work for one document version.
#[derive(Debug, Clone)]
pub struct DiagnoseJob {
    pub text: Arc<str>,
    /// The LSP language id, which says where comments and strings are (they are not scored).
    pub language_id: String,
    /// Byte ranges of `text` to score, most urgent first.
    pub regions: Vec<Range<usize>>,
    /// `completion.contextTokens` and `completion.maxTokens`: when the whole document fits the
    /// completion's prompt window, scoring shares the completion's cached sequence.
    pub context_tokens: usize,
    pub reserve_tokens: usize,
    pub thresholds: Thresholds,
    /// `diagnostics.minGain`: a flag stands only when the model's fix makes the text after it
    /// likelier by this many nats (see [`crate::diagnostics::confirm`]); `None` keeps every flag.
    pub min_gain: Option<f32>,
    /// The names of the other open documents: a flag on one of them is not a typo.
    pub open_names: Arc<NameIndex>,
    pub kind: DiagnoseKind,
    pub cancel: CancelToken,
    pub events: mpsc::UnboundedSender<DiagnoseEvent>,
}

pub use super::key::DiagnoseKind;

/// What the engine reports about a diagnostics job.
#[derive(Debug, Clone, PartialEq)]
pub enum DiagnoseEvent {
    /// `region` was scored; `flags` are all the flags that start inside it. A region with flags is
    /// reported twice: first without fixes, then with the fixes decoded.
    Scored {
        region: Range<usize>,
        flags: Vec<Flag>,
    },
    /// Every region was scored.
    Done,
    /// The job failed; nothing more follows.
    Failed(String),
}

/// How far a job got.
pub enum Progress {
    Finished,
    /// An interactive job is waiting: the regions left are in the job.
    Interrupted,
    Cancelled,
}

/// Tokens after BOS that the completion's cached sequence must share with the document before
/// scoring may use it: enough that a prompt with something else in front (cross-file chunks, FIM
/// tokens) is never taken for the document's own text.
pub const SHARED_START_TOKENS: usize = 16;

/// The key of the sequence a document is scored in. The edited region of a document that fits the
/// completion's prompt window is scored in the completion's own sequence when that sequence holds
/// the document's text from its start (`completion_holds_document`): its prefix is what completions
/// and pre-warming keep cached, so only the region is computed. Everything else (whole-document
/// scans, idle refreshes, documents longer than the window, and completion prompts that start with
/// cross-file chunks or FIM tokens) uses a separate scan sequence, because scoring from the top
/// would roll the completion's cache back to the start.
pub fn scan_key(
    document: &str,
    document_tokens: usize,
    completion_budget: usize,
    kind: DiagnoseKind,
    completion_holds_document: bool,
) -> SequenceKey {
    if kind == DiagnoseKind::EditedRegion
        && document_tokens <= completion_budget
        && completion_holds_document
    {
        SequenceKey::completion(document)
    } else {
        SequenceKey::scan(document)
    }
}

/// Whether the completion's cached sequence of `document` is BOS followed by the document's own
/// tokens (at least [`SHARED_START_TOKENS`] of them, or all it holds), rather than a prompt that
/// starts with cross-file chunks or FIM tokens.
fn completion_holds_document(
    loaded: &LoadedModel,
    store: &SequenceStore,
    document: &str,
    ids: &[u32],
) -> bool {
    store
        .cached_tokens(&SequenceKey::completion(document))
        .is_some_and(|cached| {
            let start = ids.len().min(SHARED_START_TOKENS);
            let mut expected = Vec::with_capacity(start + 1);
            expected.push(loaded.tokenizer.bos_id());
            expected.extend_from_slice(&ids[..start]);
            cached.len() > 1
                && rill_model::sequence::common_prefix(cached, &expected)
                    >= cached.len().min(expected.len())
        })
}

/// The document's tokens with their byte offsets.
pub(super) struct Tokenized {
    pub(super) ids: Vec<u32>,
    lengths: Vec<usize>,
    starts: Vec<usize>,
}

impl Tokenized {
    pub(super) fn new(loaded: &LoadedModel, text: &str) -> rill_model::Result<Self> {
        let ids = loaded.tokenizer.encode(text)?;
        // Document lengths, not `token_bytes` lengths: with a space prefix (Llama 2, CodeLlama)
        // the first token also carries a space that is not in the document.
        let lengths = loaded.tokenizer.document_lengths(&ids)?;
        let mut starts = Vec::with_capacity(ids.len());
        let mut offset = 0;
        for length in &lengths {
            starts.push(offset);
            offset += length;
        }
        Ok(Self {
            ids,
            lengths,
            starts,
        })
    }

    fn end(&self, index: usize) -> usize {
        self.starts[index] + self.lengths[index]
    }

    /// Token indices covering the byte range: from the token containing its start to the last
    /// token starting before its end.
    pub(super) fn covering(&self, bytes: &Range<usize>) -> Range<usize> {
        if bytes.is_empty() {
            return 0..0;
        }
        let first = self
            .starts
            .partition_point(|&start| start <= bytes.start)
            .saturating_sub(1);
        let last = self.starts.partition_point(|&start| start < bytes.end);
        first.min(last)..last
    }
}

/// Runs `job` until it is finished, cancelled or interrupted (then `job.regions` holds what is left).
pub fn run(
    loaded: &LoadedModel,
    store: &mut SequenceStore,
    document: &str,
    job: &mut DiagnoseJob,
    interrupted: &dyn Fn() -> bool,
) -> rill_model::Result<Progress> {
    let text = job.text.clone();
    let tokenized = Tokenized::new(loaded, &text)?;
    let context_length = loaded.model.config().context_length;
    let completion_budget = job
        .context_tokens
        .min(context_length.saturating_sub(job.reserve_tokens))
        .saturating_sub(1);
    let key = scan_key(
        document,
        tokenized.ids.len(),
        completion_budget,
        job.kind,
        completion_holds_document(loaded, store, document, &tokenized.ids),
    );
    let prose = prose_ranges(&text, &job.language_id);
    let names = NameIndex::new(&text, &prose);
    store.set_diagnosed(&key);
    let cancel = job.cancel.clone();
    let stop = || cancel.is_cancelled() || interrupted();
    while let Some(region) = job.regions.first().cloned() {
        if cancel.is_cancelled() {
            return Ok(Progress::Cancelled);
        }
        let region = region.start.min(text.len())..region.end.min(text.len());
        let covered = tokenized.covering(&region);
        let budget = scan_budget(loaded, store);
        if covered.len() > budget {
            // A block of very long lines (minified or generated text): scoring it whole would
            // need a cache beyond the memory budget, and it is not code the model judges well.
            tracing::debug!(
                "not scoring {} tokens of {document} at once (scan budget {budget})",
                covered.len()
            );
            job.regions.remove(0);
            let _ = job.events.send(DiagnoseEvent::Scored {
                region,
                flags: Vec::new(),
            });
            continue;
        }
        if covered.is_empty() {
            job.regions.remove(0);
            let _ = job.events.send(DiagnoseEvent::Scored {
                region,
                flags: Vec::new(),
            });
            continue;
        }
        let scan = score_region(
            loaded,
            store,
            &key,
            &text,
            &tokenized,
            &prose,
            covered.clone(),
            budget,
            &stop,
        )?;
        if cancel.is_cancelled() {
            return Ok(Progress::Cancelled);
        }
        let (window, tokens, scored) = (scan.window, scan.tokens, scan.scored);
        let complete = scan.reached >= covered.end;
        let done_until = if complete {
            region.end
        } else {
            // Report whole lines only: a flag's span may reach to the end of its word.
            // Byte-fallback tokens split a character, so `reached` may fall inside one: look for
            // the line break in bytes.
            let reached = tokenized.starts[scan.reached].min(text.len());
            text.as_bytes()[..reached]
                .iter()
                .rposition(|&byte| byte == b'\n')
                .map_or(0, |newline| newline + 1)
        };
        if done_until > region.start {
            let finished = region.start..done_until;
            // Names the file (or another open document) uses elsewhere are not typos: dropped
            // before anything is shown, as this costs no model time.
            let flags: Vec<Flag> = find_flags(&text, &scored, job.thresholds)
                .into_iter()
                .filter(|flag| finished.contains(&flag.range.start))
                .filter(|flag| !known_name(flag, &text, &names, &job.open_names))
                .collect();
            // The squiggles go out before they are judged (a few full passes each), so the user
            // sees them as soon as the region is scored; the judged flags, with their fixes,
            // follow in a second report that withdraws those the check rejects.
            if !flags.is_empty() {
                let _ = job.events.send(DiagnoseEvent::Scored {
                    region: finished.clone(),
                    flags: flags.clone(),
                });
            }
            let cancelled = || cancel.is_cancelled();
            let context = JudgeContext {
                key: &key,
                tokens: &tokens,
                tokenized: &tokenized,
                window,
                text: &text,
                names: &names,
                open_names: &job.open_names,
                shape: CheckShape::DEFAULT,
            };
            let verdicts = judge(loaded, store, &context, &flags, &cancelled)?;
            if cancel.is_cancelled() {
                return Ok(Progress::Cancelled);
            }
            let flags = judged(flags, verdicts, &text, job.min_gain);
            let _ = job.events.send(DiagnoseEvent::Scored {
                region: finished,
                flags,
            });
        }
        if complete {
            job.regions.remove(0);
        } else {
            job.regions[0].start = done_until.max(region.start);
            return Ok(Progress::Interrupted);
        }
    }
    let _ = job.events.send(DiagnoseEvent::Done);
    Ok(Progress::Finished)
}

/// The flags that stand after their verdicts (see [`settle`]), in order. A flag left without a
/// verdict (past the per-region limit) is kept only without a check.
fn judged(
    flags: Vec<Flag>,
    verdicts: Vec<Verdict>,
    text: &str,
    min_gain: Option<f32>,
) -> Vec<Flag> {
    let mut verdicts = verdicts.into_iter();
    let mut kept: Vec<Flag> = flags
        .into_iter()
        .filter_map(|flag| {
            let verdict = verdicts.next().unwrap_or_default();
            settle(flag, &verdict, text, min_gain, CheckShape::DEFAULT)
        })
        .collect();
    // A flag moved onto the word before it may now precede or meet another flag.
    kept.sort_by_key(|flag| flag.range.start);
    kept.dedup_by(|later, earlier| later.range.start < earlier.range.end);
    kept
}

/// One region's scores.
pub struct RegionScan {
    /// The first document token of the window (the sequence holds BOS and the tokens from here).
    window: usize,
    /// BOS and the window's tokens up to the region's end.
    tokens: Vec<u32>,
    pub scored: Vec<ScoredToken>,
    /// The first document token not yet scored (the region's end when it is complete).
    reached: usize,
}

/// Tokens a scan sequence may hold: [`SCAN_CONTEXT`] and the model's context, and half of the
/// store's memory budget, so that `engine.cacheBudgetMb` bounds what scoring a long document
/// costs too (at least [`MIN_SCAN_CONTEXT`]). At the default budget this is [`SCAN_CONTEXT`].
pub fn scan_budget(loaded: &LoadedModel, store: &SequenceStore) -> usize {
    let per_token = loaded.model.new_cache().bytes_per_token();
    let by_memory = store.sequence_cap(per_token).max(MIN_SCAN_CONTEXT);
    SCAN_CONTEXT
        .min(by_memory)
        .min(loaded.model.config().context_length)
        .saturating_sub(1)
}

/// Scores the document tokens `covered` in the sequence `key`, with as much of the text before
/// them as context as `scan_budget` (see [`scan_budget`]) allows.
#[allow(clippy::too_many_arguments)]
fn score_region(
    loaded: &LoadedModel,
    store: &mut SequenceStore,
    key: &SequenceKey,
    text: &str,
    tokenized: &Tokenized,
    prose: &[Range<usize>],
    covered: Range<usize>,
    scan_budget: usize,
    stop: &dyn Fn() -> bool,
) -> rill_model::Result<RegionScan> {
    let window = if covered.end <= scan_budget {
        0
    } else {
        // Long documents: the region keeps half the scan budget of anchored context before it.
        let before = &tokenized.lengths[..covered.start];
        // `window_start` reads bytes only, so the text need not be cut at the region (whose
        // first token may start inside a character split into byte tokens).
        window_start(text, before, scan_budget / 2)
    };
    let mut tokens = Vec::with_capacity(covered.end - window + 1);
    tokens.push(loaded.tokenizer.bos_id());
    tokens.extend_from_slice(&tokenized.ids[window..covered.end]);
    // Index `w` of `tokens` is document token `window + w - 1`.
    let to_window = |index: usize| index - window + 1;
    let wanted = |w: usize| {
        let start = tokenized.starts[window + w - 1];
        !inside(prose, start)
            && loaded
                .tokenizer
                .token_bytes(tokens[w])
                .is_ok_and(worth_scoring)
    };
    let sequence = store.sequence(key, &loaded.model);
    let outcome = score_tokens(
        &loaded.model,
        sequence,
        &tokens,
        to_window(covered.start)..to_window(covered.end),
        &wanted,
        SCORE_CHUNK,
        stop,
    )?;
    let scored = outcome
        .scores
        .iter()
        .map(|score| scored_token(loaded, tokenized, window, score))
        .collect::<rill_model::Result<_>>()?;
    Ok(RegionScan {
        window,
        tokens,
        scored,
        reached: window + outcome.reached - 1,
    })
}

/// A text ready to be scored region by region outside a job (benchmarks): its tokens with their
/// byte offsets and where its comments and strings are.
pub struct PreparedText {
    tokenized: Tokenized,
    prose: Vec<Range<usize>>,
    names: NameIndex,
}

impl PreparedText {
    pub fn new(loaded: &LoadedModel, text: &str, language_id: &str) -> rill_model::Result<Self> {
        let prose = prose_ranges(text, language_id);
        Ok(Self {
            tokenized: Tokenized::new(loaded, text)?,
            names: NameIndex::new(text, &prose),
            prose,
        })
    }
}

/// Scores the tokens of `text` covering the byte range `region` in the sequence `key`, exactly as
/// a diagnostics job scores a region (the same context window, the cached prefix reused): what
/// benchmarks replay edits with. `prepared` must be `text`'s.
pub fn score_text_region(
    loaded: &LoadedModel,
    store: &mut SequenceStore,
    key: &SequenceKey,
    text: &str,
    prepared: &PreparedText,
    region: Range<usize>,
) -> rill_model::Result<RegionScan> {
    let region = region.start.min(text.len())..region.end.min(text.len());
    let covered = prepared.tokenized.covering(&region);
    if covered.is_empty() {
        return Ok(RegionScan {
            window: 0,
            tokens: Vec::new(),
            scored: Vec::new(),
            reached: covered.end,
        });
    }
    let budget = scan_budget(loaded, store);
    score_region(
        loaded,
        store,
        key,
        text,
        &prepared.tokenized,
        &prepared.prose,
        covered,
        budget,
        &|| false,
    )
}

/// The verdict of the counterfactual check on each of `flags` (found in `scan`, the last region
/// scored in the sequence `key`), as a diagnostics job judges them: what benchmarks measure the
/// check with.
#[allow(clippy::too_many_arguments)]
pub fn judge_flags(
    loaded: &LoadedModel,
    store: &mut SequenceStore,
    key: &SequenceKey,
    text: &str,
    prepared: &PreparedText,
    scan: &RegionScan,
    flags: &[Flag],
    shape: CheckShape,
) -> rill_model::Result<Vec<Verdict>> {
    let context = JudgeContext {
        key,
        tokens: &scan.tokens,
        tokenized: &prepared.tokenized,
        window: scan.window,
        text,
        names: &prepared.names,
        open_names: &NameIndex::default(),
        shape,
    };
    judge(loaded, store, &context, flags, &|| false)
}

/// Scores every token of `text` worth scoring (no flags, no fixes): what benchmarks sweep
/// thresholds over. Uses the sequence `key` of `store`.
pub fn score_document(
    loaded: &LoadedModel,
    store: &mut SequenceStore,
    key: &SequenceKey,
    text: &str,
    language_id: &str,
) -> rill_model::Result<Vec<ScoredToken>> {
    let tokenized = Tokenized::new(loaded, text)?;
    let prose = prose_ranges(text, language_id);
    let mut scored = Vec::new();
    // Regions of half the scan budget keep every token's context between a half and a whole budget.
    let step = SCAN_CONTEXT / 2;
    let mut start = 0;
    while start < tokenized.ids.len() {
        let end = (start + step).min(tokenized.ids.len());
        let scan = score_region(
            loaded,
            store,
            key,
            text,
            &tokenized,
            &prose,
            start..end,
            SCAN_CONTEXT
                .min(loaded.model.config().context_length)
                .saturating_sub(1),
            &|| false,
        )?;
        scored.extend(scan.scored);
        start = end;
    }
    Ok(scored)
}

fn scored_token(
    loaded: &LoadedModel,
    tokenized: &Tokenized,
    window: usize,
    score: &TokenScore,
) -> rill_model::Result<ScoredToken> {
    let index = window + score.index - 1;
    let best = loaded.tokenizer.token_bytes(score.best)?;
    Ok(ScoredToken {
        range: tokenized.starts[index]..tokenized.end(index),
        logprob: score.logprob,
        best_text: String::from_utf8_lossy(best).into_owned(),
        best_prob: score.best_logprob.exp(),
    })
}

/// What judging the flags of a region needs besides the model.
struct JudgeContext<'a> {
    /// The sequence holding the region's window.
    key: &'a SequenceKey,
    /// BOS and the window's tokens up to the region's end.
    tokens: &'a [u32],
    tokenized: &'a Tokenized,
    window: usize,
    text: &'a str,
    names: &'a NameIndex,
    open_names: &'a NameIndex,
    shape: CheckShape,
}

/// Judges each flag (at most [`MAX_FIXES_PER_REGION`]; the rest get no verdict): decodes the
/// model's rewrite of it, adds the fixes the file's names suggest, and scores the text after each
/// fix with the fix and as written (see [`crate::diagnostics::confirm`]). All of it runs on one
/// copy of the prefix: the sequence itself keeps the whole region cached, for the next region and
/// for completions. Returns fewer verdicts than flags when cancelled.
fn judge(
    loaded: &LoadedModel,
    store: &mut SequenceStore,
    context: &JudgeContext<'_>,
    flags: &[Flag],
    cancelled: &dyn Fn() -> bool,
) -> rill_model::Result<Vec<Verdict>> {
    let (tokenized, window, text) = (context.tokenized, context.window, context.text);
    let in_window = |token: usize| token >= window && token + 1 < window + context.tokens.len();
    let mut verdicts = Vec::with_capacity(flags.len());
    for flag in flags.iter().take(MAX_FIXES_PER_REGION) {
        if cancelled() {
            break;
        }
        let lexical = lexical_fixes(flag, text, context.names, context.open_names);
        // The copy starts at the token holding the earliest byte any fix touches.
        let earliest = lexical
            .iter()
            .map(|fix| fix.replace.start)
            .fold(flag.range.start, usize::min);
        let first = tokenized.covering(&(earliest..earliest + 1)).start;
        // The model writes whole tokens: its rewrite starts at the token holding the span's start.
        let own = tokenized
            .covering(&(flag.range.start..flag.range.start + 1))
            .start;
        if !in_window(first) || !in_window(own) {
            verdicts.push(Verdict::default());
            continue;
        }
        let branch_at = first - window + 1;
        let Some(mut branch) = store.sequence(context.key, &loaded.model).fork(branch_at) else {
            verdicts.push(Verdict::default());
            continue;
        };
        let own_start = tokenized.starts[own];
        let rewrite = rewrite_span(
            &loaded.model,
            &loaded.tokenizer,
            &mut branch,
            context.tokens,
            own - window + 1,
            &text[own_start..],
            flag.range.end - own_start,
            cancelled,
        )?
        .and_then(|rewrite| minimal_fix(text, own_start, rewrite.replaces, &rewrite.text));
        let mut fixes: Vec<Fix> = rewrite.iter().cloned().collect();
        for fix in lexical {
            if !fixes.contains(&fix) {
                fixes.push(fix);
            }
        }
        let mut judged = Vec::with_capacity(fixes.len());
        for fix in fixes {
            if cancelled() {
                break;
            }
            let from = tokenized.starts[first];
            if let Some(profile) =
                counterfactual(loaded, &mut branch, branch_at, context, from, flag, &fix)?
            {
                judged.push(Judged {
                    gain: profile.iter().map(|(_, gain)| gain).sum(),
                    fix,
                    profile,
                });
            }
        }
        verdicts.push(Verdict { rewrite, judged });
    }
    Ok(verdicts)
}

/// How much likelier each token of the text after `fix` (see [`tail_start`]) is with the fix
/// than as written (nats), with where it ends (bytes after the tail's start); `None` when nothing
/// could be compared. `branch` holds the prefix up to the token at byte `from` in its first
/// `branch_at` tokens (it is rolled back there and extended twice).
fn counterfactual(
    loaded: &LoadedModel,
    branch: &mut rill_model::Sequence,
    branch_at: usize,
    context: &JudgeContext<'_>,
    from: usize,
    flag: &Flag,
    fix: &Fix,
) -> rill_model::Result<Option<Vec<(usize, f32)>>> {
    let (tokenized, text, shape) = (context.tokenized, context.text, context.shape);
    let tail = tail_range(text, tail_start(flag, fix), shape.lines);
    // The nearest `shape.tokens` tokens of the tail, cut at a token boundary of the document.
    let first_after = tokenized
        .starts
        .partition_point(|&start| start < tail.start);
    let capped = tokenized
        .starts
        .get(first_after + shape.tokens)
        .copied()
        .unwrap_or(text.len());
    let end = tail.end.min(capped).max(tail.start);
    if end == tail.start || fix.replace.end > end || fix.replace.start < from {
        return Ok(None);
    }
    let tokenizer = &loaded.tokenizer;
    let original = tokenizer.encode(&text[from..end])?;
    let lengths = tokenizer.document_lengths(&original)?;
    let fixed = tokenizer.encode(&fixed_fragment(text, from, end, fix))?;
    let compared = common_tail(&original, &lengths, &fixed, end - tail.start);
    if compared == 0 {
        return Ok(None);
    }
    let mut score = |fragment: &[u32]| -> rill_model::Result<Option<Vec<f32>>> {
        branch.truncate(branch_at);
        if branch.tokens().len() != branch_at {
            return Ok(None);
        }
        tail_logprobs(&loaded.model, branch, fragment, compared).map(Some)
    };
    let (Some(as_written), Some(with_fix)) = (score(&original)?, score(&fixed)?) else {
        return Ok(None);
    };
    // Where each compared token ends, counted from the fragment's end backwards.
    let mut ends = Vec::with_capacity(compared);
    let mut at = end - tail.start;
    for length in lengths.iter().rev().take(compared) {
        ends.push(at);
        at = at.saturating_sub(*length);
    }
    ends.reverse();
    Ok(Some(
        ends.into_iter()
            .zip(with_fix.iter().zip(&as_written))
            .map(|(end, (with_fix, as_written))| (end, with_fix - as_written))
            .collect(),
    ))
}

/// The fix replacing `text[start..start + replaces]` with `new_text`, without the leading
/// whitespace both share (a token's leading space is not part of the word it fixes); `None` when
/// it changes nothing.
fn minimal_fix(text: &str, start: usize, replaces: usize, new_text: &str) -> Option<Fix> {
    let old = text.get(start..start + replaces)?;
    if old == new_text {
        return None;
    }
    let shared = old
        .bytes()
        .zip(new_text.bytes())
        .take_while(|(a, b)| a == b && a.is_ascii_whitespace())
        .count();
    Some(Fix {
        replace: start + shared..start + replaces,
        text: new_text[shared..].to_string(),
    })
}
