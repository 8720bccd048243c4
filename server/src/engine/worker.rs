//! The engine thread's loop: loads the model, then takes work from the inbox in priority order and keeps every document's cache within the memory budget.

use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rill_model::generate::{generate, FinishReason, GenerationParams};
use rill_model::lines::{self, LineSearch};
use rill_model::sequence::common_prefix;
use rill_model::{LoadOptions, LoadedModel};
use tokio::sync::watch;

use super::diagnose::{self, DiagnoseEvent, DiagnoseJob, Progress};
use super::first_lines::FirstLines;
use super::inbox::{Inbox, Work};
use super::key::SequenceKey;
use super::prefer::{self, PreferJob};
use super::store::{CacheBudgets, CacheReport, SequenceStore};
use super::{
    prompt, BackgroundJob, BackgroundKind, Candidate, CompletionJob, CompletionStats, EngineEvent,
    Lookahead, Quality,
};
use super::{EngineState, ModelInfo};

/// Tokens per forward pass of background prefill. An interactive request (or the rescoring of an
/// edited region) waits at most one layer of a pass (about 10 ms on two cores), because passes
/// ask before each layer whether to stop; so passes can be as long as prefill likes them:
/// 128-token passes prefill 750–790 tokens/s here against 650 for 32-token ones.
pub const BACKGROUND_CHUNK: usize = 128;

/// A candidate search branches at the first step of the first line whose best token has a
/// probability below this (see `benches/README.md`, suggestion quality).
const BRANCH_BELOW: f32 = 0.5;
/// An alternative at the branch step needs at least this probability.
const MIN_ALTERNATIVE: f32 = 0.05;
/// Tokens one candidate line may take at most.
const MAX_LINE_TOKENS: usize = 48;
/// Tokens of the following text scored per candidate: the next line or so, enough to tell which
/// candidate fits, while every scored token costs a row of the output head.
const FOLLOWING_TOKENS: usize = 16;
/// How long a completion may spend on alternatives and on ranking them, counted from the job's
/// start (a prompt that needs prefilling leaves less): the first text must not wait long for
/// them. Past it, what was found is used.
const EXPLORE_BUDGET: Duration = Duration::from_millis(1000);
/// How long a completion may hold its first line back at most, counted from the job's start: on
/// a slow or busy machine the greedy text so far then streams (undecided, ungated) so the request's
/// budget (2 s by default) still shows something.
const DECIDE_BUDGET: Duration = Duration::from_millis(1500);
/// Comment lines a candidate decodes past when code is expected.
const MAX_SKIPPED_LINES: usize = 2;

/// Test hook: a completion job whose text before the cursor contains this variable's value
/// panics inside the engine, so end-to-end tests can check that a panic fails that job's request
/// only. Read once when the engine starts; unset (as in any real use) it costs nothing.
pub const PANIC_HOOK_VARIABLE: &str = "RILL_TEST_PANIC_ON";

struct Engine {
    loaded: LoadedModel,
    store: SequenceStore,
    /// The prompt layout's special tokens, found once in the vocabulary.
    specials: prompt::Specials,
    /// [`PANIC_HOOK_VARIABLE`]'s value, when set and not empty.
    panic_on: Option<String>,
    /// The last decided first line of each document's completion sequence.
    first_lines: FirstLines,
}

pub(super) fn run(
    model_path: Option<PathBuf>,
    inbox: &Inbox,
    state: watch::Sender<EngineState>,
    report: &Mutex<CacheReport>,
    model_info: &std::sync::OnceLock<ModelInfo>,
    cache_budgets: CacheBudgets,
) {
    let started = Instant::now();
    let loaded = rill_model::paths::resolve_model_path(model_path.as_deref())
        .and_then(|path| LoadedModel::load(&path, LoadOptions::default()));
    let mut engine = match loaded {
        Ok(loaded) => {
            tracing::info!("model loaded in {:.2} s", started.elapsed().as_secs_f64());
            let tokenizer = &loaded.tokenizer;
            let _ = model_info.set(ModelInfo {
                chat_template: loaded.chat_template.clone(),
                bos_text: tokenizer.control_text(tokenizer.bos_id()).to_string(),
                eos_text: tokenizer.control_text(tokenizer.eos_id()).to_string(),
            });
            let specials = prompt::Specials::of(tokenizer);
            tracing::info!("prompt layout: {}", specials.describe());
            let _ = state.send(EngineState::Ready);
            let panic_on = std::env::var(PANIC_HOOK_VARIABLE)
                .ok()
                .filter(|marker| !marker.is_empty());
            if let Some(marker) = &panic_on {
                tracing::warn!(
                    "test hook {PANIC_HOOK_VARIABLE} is set: completions after {marker:?} panic"
                );
            }
            Some(Engine {
                specials,
                loaded,
                store: SequenceStore::for_engine(cache_budgets),
                panic_on,
                first_lines: FirstLines::default(),
            })
        }
        Err(err) => {
            tracing::error!("cannot load the model: {err}");
            let _ = state.send(EngineState::Failed(err.to_string()));
            None
        }
    };
    // The model's work during completion jobs, which `rill/cacheStatus` reports apart.
    let mut completion_work = rill_model::Work::default();
    loop {
        let work = inbox.next();
        let Some(engine) = engine.as_mut() else {
            match work {
                Work::Shutdown => break,
                Work::Complete(job) => {
                    let message = match &*state.borrow() {
                        EngineState::Failed(reason) => {
                            format!("the model is not available: {reason}")
                        }
                        _ => "the model is not available".to_string(),
                    };
                    let _ = job.events.send(EngineEvent::Error(message));
                }
                Work::Background(_) => {
                    inbox.take_forgotten();
                    inbox.take_cache_budget();
                }
            }
            continue;
        };
        for document in inbox.take_forgotten() {
            engine.store.remove_document(&document);
            engine.first_lines.forget(&document);
        }
        if let Some(budgets) = inbox.take_cache_budget() {
            engine.store.set_budgets(budgets);
        }
        let reply = match work {
            Work::Shutdown => break,
            Work::Complete(job) => {
                engine.store.set_editing(&job.sequence);
                let before = engine.loaded.model.work();
                let event = engine.handle(&job);
                let after = engine.loaded.model.work();
                let (passes, tokens) = (after.passes - before.passes, after.tokens - before.tokens);
                tracing::debug!("completion job: {passes} passes, {tokens} tokens");
                completion_work.passes += passes;
                completion_work.tokens += tokens;
                Some((job, event))
            }
            Work::Background(job) => {
                if matches!(job.kind, BackgroundKind::Prewarm { .. }) {
                    engine
                        .store
                        .set_prewarmed(&SequenceKey::completion(job.document.as_str()));
                }
                engine.background(job, inbox);
                None
            }
        };
        engine.store.enforce();
        if let Ok(mut shared) = report.lock() {
            *shared = CacheReport {
                first_lines_ahead: engine.first_lines.len(),
                work: engine.loaded.model.work(),
                completion_work,
                ..engine.store.report()
            };
        }
        // The last event goes out after the report is updated, so a status sent on it is current.
        if let Some((job, event)) = reply {
            let _ = job.events.send(event);
        }
        // Tokenizing and scoring whole documents leave freed small blocks behind, whose pages
        // glibc would keep resident for good; handing them back costs about a millisecond, so it
        // waits until the engine has nothing to do.
        if inbox.is_idle() {
            rill_model::runtime::trim();
        }
    }
    tracing::debug!("engine thread stopped");
}

impl Engine {
    /// Runs a completion job and returns its last event (done or failed).
    fn handle(&mut self, job: &CompletionJob) -> EngineEvent {
        if job.cancel.is_cancelled() {
            return EngineEvent::Done(CompletionStats::cancelled());
        }
        let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| self.complete(job)));
        match outcome {
            Ok(Ok(stats)) => EngineEvent::Done(stats),
            Ok(Err(err)) => EngineEvent::Error(err.to_string()),
            Err(panic) => {
                // The sequence may hold a half-written cache: start that document afresh.
                self.store.remove(&job.sequence);
                let reason = panic_message(&*panic);
                tracing::error!("engine panicked on a completion job: {reason}");
                EngineEvent::Error(format!("internal error in the engine: {reason}"))
            }
        }
    }

    fn complete(&mut self, job: &CompletionJob) -> rill_model::Result<CompletionStats> {
        if let Some(marker) = &self.panic_on {
            if job.text_before_cursor.contains(marker.as_str()) {
                panic!("injected by the test hook {PANIC_HOOK_VARIABLE}");
            }
        }
        let (prompt, params) = if job.raw_prompt {
            let prompt = self.build_raw_prompt(&job.text_before_cursor, job.params.max_tokens)?;
            (prompt, job.params.clone())
        } else {
            self.completion_prompt(
                &prompt::PromptRequest {
                    text_before_cursor: &job.text_before_cursor,
                    text_after_cursor: &job.text_after_cursor,
                    context_tokens: job.context_tokens,
                    reserve_tokens: job.params.max_tokens,
                    context_length: self.loaded.model.config().context_length,
                    cross_file: &job.cross_file,
                    heal: job.quality.heal,
                },
                &job.params,
            )?
        };
        // Candidates are ranked on greedy likelihoods; sampled decoding streams as it goes.
        if !job.raw_prompt && searches(&job.quality, &params) {
            return self.complete_with_candidates(job, &prompt, params);
        }
        self.generate_into(job, &prompt, &params)
    }

    /// Runs `generate` for `prompt` and streams its text.
    fn generate_into(
        &mut self,
        job: &CompletionJob,
        prompt: &[u32],
        params: &GenerationParams,
    ) -> rill_model::Result<CompletionStats> {
        let (model, tokenizer) = (&self.loaded.model, &self.loaded.tokenizer);
        let sequence = self.store.sequence(&job.sequence, model);
        let cancelled = || job.cancel.is_cancelled();
        let generation = generate(
            model,
            tokenizer,
            sequence,
            prompt,
            params,
            &cancelled,
            |text| {
                // Text decoded after cancellation must never reach the client.
                if !job.cancel.is_cancelled() {
                    let _ = job.events.send(EngineEvent::Text(text.to_string()));
                }
            },
        )?;
        Ok(CompletionStats {
            prompt_tokens: generation.prompt_tokens,
            reused_tokens: generation.reused_tokens,
            generated_tokens: generation.tokens.len(),
            time_to_first_token: generation.time_to_first_token,
            tokens_per_second: generation.tokens_per_second(),
            cancelled: generation.finish == FinishReason::Cancelled || job.cancel.is_cancelled(),
            forward_passes: generation.forward_passes,
            accepted_draft_tokens: generation.accepted_tokens,
            first_line_ahead: false,
        })
    }

    /// Decodes the candidate first lines, reports them, streams the best one and continues it
    /// with `generate` (see [`rill_model::lines`]).
    fn complete_with_candidates(
        &mut self,
        job: &CompletionJob,
        prompt: &[u32],
        mut params: GenerationParams,
    ) -> rill_model::Result<CompletionStats> {
        let started = Instant::now();
        let quality = &job.quality;
        let document = job.sequence.document.as_str();
        let kept = (job.sequence == SequenceKey::completion(document))
            .then(|| self.first_lines.get(document, prompt, quality, &params))
            .flatten()
            .cloned();
        let ahead = kept.is_some();
        let outcome = match kept {
            Some(mut outcome) => {
                tracing::debug!("first line decided ahead by the pre-warm");
                outcome.reused_tokens = prompt.len();
                outcome.forward_passes = 0;
                outcome
            }
            None => {
                let Some(outcome) = self.search_first_line(
                    &job.sequence,
                    prompt,
                    quality,
                    &params,
                    started,
                    &|| job.cancel.is_cancelled(),
                    &|beginnings| {
                        let _ = job
                            .events
                            .send(EngineEvent::Beginnings(beginnings.to_vec()));
                    },
                )?
                else {
                    return Ok(CompletionStats::cancelled());
                };
                outcome
            }
        };
        let markers = quality.comment_markers;
        let drop_comments =
            quality.code_expected && quality.comments == crate::config::CommentPolicy::Drop;
        let candidates: Vec<_> = outcome
            .candidates
            .into_iter()
            .filter(|candidate| {
                let first_line = candidate.shown().split('\n').next().unwrap_or_default();
                !(drop_comments && crate::comments::is_comment_line(first_line, markers))
            })
            .collect();
        let first_token_after = started.elapsed();
        let stats = |generated: usize, cancelled: bool| CompletionStats {
            prompt_tokens: prompt.len(),
            reused_tokens: outcome.reused_tokens,
            generated_tokens: generated,
            time_to_first_token: first_token_after,
            tokens_per_second: 0.0,
            cancelled,
            forward_passes: outcome.forward_passes,
            accepted_draft_tokens: 0,
            first_line_ahead: ahead,
        };
        if job.cancel.is_cancelled() {
            return Ok(stats(0, true));
        }
        // A line cut for time was not decided: no candidates, no confidence to gate on.
        if !candidates.first().is_some_and(|best| best.cut) {
            let _ = job.events.send(EngineEvent::Candidates(
                candidates
                    .iter()
                    .map(|candidate| Candidate {
                        text: candidate.shown().to_string(),
                        confidence: candidate.confidence(),
                    })
                    .collect(),
            ));
        }
        let Some(best) = candidates.into_iter().next() else {
            return Ok(stats(0, false));
        };
        let shown = best.shown().to_string();
        if !shown.is_empty() {
            let _ = job.events.send(EngineEvent::Text(shown.clone()));
        }
        let left = params.max_tokens.saturating_sub(best.tokens.len());
        if best.ended || left == 0 {
            return Ok(stats(best.tokens.len(), false));
        }
        // The rest continues the chosen line; its prompt is the prompt and the line's tokens, so
        // the cache keeps everything the search computed for it.
        let mut continued = prompt.to_vec();
        continued.extend_from_slice(&best.tokens);
        params.max_tokens = left;
        params.heal = String::new();
        let mut rest = self.generate_into(job, &continued, &params)?;
        rest.prompt_tokens = prompt.len();
        rest.reused_tokens = outcome.reused_tokens;
        rest.generated_tokens += best.tokens.len();
        rest.time_to_first_token = first_token_after;
        rest.forward_passes += outcome.forward_passes;
        rest.first_line_ahead = ahead;
        Ok(rest)
    }

    /// Searches the candidate first lines for `prompt` in `key`'s sequence; a decided outcome of the
    /// document's completion sequence is kept for the next request at the same prompt. `None`
    /// when `cancelled` stopped it. `beginnings` hears what the shown text will begin with one of,
    /// while the search runs (see [`LineSearch::beginnings`]).
    #[allow(clippy::too_many_arguments)]
    fn search_first_line(
        &mut self,
        key: &SequenceKey,
        prompt: &[u32],
        quality: &Quality,
        params: &GenerationParams,
        started: Instant,
        cancelled: &dyn Fn() -> bool,
        beginnings: &dyn Fn(&[String]),
    ) -> rill_model::Result<Option<lines::SearchOutcome>> {
        let markers = quality.comment_markers;
        let skip_comments =
            quality.code_expected && quality.comments == crate::config::CommentPolicy::Continue;
        let skip_line =
            |line: &str| skip_comments && crate::comments::is_comment_line(line, markers);
        let search = LineSearch {
            heal: &params.heal,
            width: quality.width.max(1),
            branch_below: BRANCH_BELOW,
            min_alternative: MIN_ALTERNATIVE,
            max_tokens: params.max_tokens.min(MAX_LINE_TOKENS),
            stop_tokens: &params.stop_tokens,
            following: &quality.following,
            following_tokens: FOLLOWING_TOKENS,
            skip_line: &skip_line,
            max_skipped: MAX_SKIPPED_LINES,
            explore_until: Some(started + EXPLORE_BUDGET),
            decide_by: Some(started + DECIDE_BUDGET),
            // A skipped line is text but not shown text: what the search begins with then says
            // nothing about what is shown.
            beginnings: if skip_comments { &|_| {} } else { beginnings },
        };
        let (model, tokenizer) = (&self.loaded.model, &self.loaded.tokenizer);
        let sequence = self.store.sequence(key, model);
        let outcome = lines::search(model, tokenizer, sequence, prompt, &search, cancelled)?;
        let document = key.document.as_str();
        if let Some(outcome) = &outcome {
            let decided = outcome.candidates.first().is_some_and(|best| !best.cut);
            if decided && *key == SequenceKey::completion(document) {
                self.first_lines
                    .put(document, prompt, quality, params, outcome.clone());
            }
        }
        Ok(outcome)
    }

    /// The prompt of a completion and its generation parameters as the prompt shapes them (a FIM
    /// model's end-of-middle token stops it; a healed prompt constrains its first tokens).
    fn completion_prompt(
        &self,
        request: &prompt::PromptRequest,
        params: &GenerationParams,
    ) -> rill_model::Result<(Vec<u32>, GenerationParams)> {
        let prompt = self.build_prompt(request)?;
        let mut params = params.clone();
        params.stop_tokens.extend(prompt.stop_tokens);
        params.heal = prompt.heal;
        if !params.heal.is_empty() {
            tracing::debug!("prompt healed over {:?}", params.heal);
        }
        Ok((prompt.tokens, params))
    }

    /// Runs background work until it is done or an interactive job arrives; interrupted work goes
    /// back to the inbox and continues from where it stopped (its prefix stays cached).
    fn background(&mut self, job: BackgroundJob, inbox: &Inbox) {
        let job = match job.kind {
            BackgroundKind::Diagnose(diagnose) => {
                self.diagnose(job.document, diagnose, inbox);
                return;
            }
            BackgroundKind::Prefer(prefer) => {
                self.prefer(&SequenceKey::reasoning(job.document.as_str()), &prefer);
                return;
            }
            BackgroundKind::NextEdit(next_edit) => {
                self.next_edit(job.document, next_edit, inbox);
                return;
            }
            kind => BackgroundJob { kind, ..job },
        };
        let BackgroundKind::Prewarm {
            text_before_cursor,
            text_after_cursor,
            context_tokens,
            reserve_tokens,
            cross_file,
            heal,
            lookahead,
        } = &job.kind
        else {
            return;
        };
        let prewarmed = SequenceKey::completion(job.document.as_str());
        let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| {
            // Exactly the prompt the completion at the same place will build.
            let request = prompt::PromptRequest {
                text_before_cursor,
                text_after_cursor,
                context_tokens: *context_tokens,
                reserve_tokens: *reserve_tokens,
                context_length: self.loaded.model.config().context_length,
                cross_file,
                heal: *heal,
            };
            let interrupted = || inbox.interactive_waiting() || inbox.urgent_background_waiting(1);
            let (prompt, params) = match lookahead.as_deref() {
                Some(Lookahead { params, .. }) => self.completion_prompt(&request, params)?,
                None => (
                    self.build_prompt(&request)?.tokens,
                    GenerationParams::default(),
                ),
            };
            let model = &self.loaded.model;
            let cached = self
                .store
                .cached_tokens(&prewarmed)
                .is_some_and(|cached| common_prefix(cached, &prompt) + 1 >= prompt.len());
            if !cached {
                let sequence = self.store.sequence(&prewarmed, model);
                let synced =
                    sequence.sync_yielding(model, &prompt, BACKGROUND_CHUNK, &interrupted)?;
                if synced.is_none() {
                    return Ok(false);
                }
            }
            // The completion that follows a pause searches its first line before showing any
            // text; deciding it now lets that request stream at once.
            let Some(Lookahead { quality, .. }) = lookahead.as_deref() else {
                return Ok(true);
            };
            let document = job.document.as_str();
            if !searches(quality, &params)
                || self
                    .first_lines
                    .get(document, &prompt, quality, &params)
                    .is_some()
            {
                return Ok(true);
            }
            let searched = self.search_first_line(
                &prewarmed,
                &prompt,
                quality,
                &params,
                Instant::now(),
                &interrupted,
                &|_| {},
            )?;
            Ok::<_, rill_model::ModelError>(searched.is_some())
        }));
        match outcome {
            Ok(Ok(true)) => tracing::debug!("pre-warmed {}", job.document),
            Ok(Ok(false)) => inbox.resume_background(job),
            Ok(Err(err)) => tracing::warn!("pre-warming {} failed: {err}", job.document),
            Err(panic) => {
                self.store.remove(&prewarmed);
                tracing::error!(
                    "engine panicked while pre-warming {}: {}",
                    job.document,
                    panic_message(&*panic)
                );
            }
        }
    }

    /// Looks for the next edit; interrupted by interactive work, it goes back to the inbox and
    /// starts over (its context stays cached), unless an edit cancelled it.
    fn next_edit(
        &mut self,
        document: String,
        job: Box<super::next_edit::NextEditJob>,
        inbox: &Inbox,
    ) {
        if job.cancel.is_cancelled() {
            return;
        }
        let key = SequenceKey::next_edit(document.as_str());
        let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| {
            let stop = || {
                job.cancel.is_cancelled()
                    || inbox.interactive_waiting()
                    || inbox.urgent_background_waiting(1)
            };
            super::next_edit::run(&self.loaded, &mut self.store, &key, &job, &stop)
        }));
        match outcome {
            Ok(Ok(super::next_edit::Outcome::Done(proposal))) => {
                let _ = job.answer.send(Ok(proposal));
            }
            Ok(Ok(super::next_edit::Outcome::Stopped)) => {
                if !job.cancel.is_cancelled() {
                    inbox.resume_background(BackgroundJob {
                        document,
                        kind: BackgroundKind::NextEdit(job),
                    });
                }
            }
            Ok(Err(err)) => {
                tracing::warn!("next edit for {document} failed: {err}");
                let _ = job.answer.send(Err(err.to_string()));
            }
            Err(panic) => {
                self.store.remove(&key);
                let reason = panic_message(&*panic);
                tracing::error!("engine panicked looking for a next edit in {document}: {reason}");
                let _ = job.answer.send(Err(format!("internal error: {reason}")));
            }
        }
    }

    /// Compares a reasoning chain's result with the selection it rewrites.
    fn prefer(&mut self, key: &SequenceKey, job: &PreferJob) {
        let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| {
            prefer::compare(&self.loaded, &mut self.store, key, &job.input, &|| {
                job.cancel.is_cancelled()
            })
        }));
        let answer = match outcome {
            Ok(result) => result.map_err(|err| err.to_string()),
            Err(panic) => {
                self.store.remove(key);
                let reason = panic_message(&*panic);
                tracing::error!("engine panicked while comparing a reasoning result: {reason}");
                Err(format!("internal error: {reason}"))
            }
        };
        let _ = job.answer.send(answer);
    }

    /// Scores a document for diagnostics until done, cancelled or interrupted by interactive work.
    fn diagnose(&mut self, document: String, mut job: Box<DiagnoseJob>, inbox: &Inbox) {
        let priority = BackgroundJob {
            document: String::new(),
            kind: BackgroundKind::Diagnose(job.clone()),
        }
        .priority();
        let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| {
            let interrupted =
                || inbox.interactive_waiting() || inbox.urgent_background_waiting(priority);
            diagnose::run(
                &self.loaded,
                &mut self.store,
                &document,
                &mut job,
                &interrupted,
            )
        }));
        match outcome {
            Ok(Ok(Progress::Finished | Progress::Cancelled)) => {}
            Ok(Ok(Progress::Interrupted)) => inbox.resume_background(BackgroundJob {
                document,
                kind: BackgroundKind::Diagnose(job),
            }),
            Ok(Err(err)) => {
                tracing::warn!("scoring {document} failed: {err}");
                let _ = job.events.send(DiagnoseEvent::Failed(err.to_string()));
            }
            Err(panic) => {
                self.store.remove_document(&document);
                let reason = panic_message(&*panic);
                tracing::error!("engine panicked while scoring {document}: {reason}");
                let _ = job
                    .events
                    .send(DiagnoseEvent::Failed(format!("internal error: {reason}")));
            }
        }
    }

    /// A prompt written for the model: control tokens as spelled, BOS in front unless the text
    /// starts with it, and its start dropped if it would leave no room for `reserve` tokens in
    /// the model's context or in one sequence's share of the memory budget.
    fn build_raw_prompt(&self, text: &str, reserve: usize) -> rill_model::Result<Vec<u32>> {
        let tokenizer = &self.loaded.tokenizer;
        let mut tokens = tokenizer.encode_with_control(text)?;
        if tokens.first() != Some(&tokenizer.bos_id()) {
            tokens.insert(0, tokenizer.bos_id());
        }
        let per_token = self.loaded.model.new_cache().bytes_per_token();
        let room = self
            .loaded
            .model
            .config()
            .context_length
            .min(self.store.sequence_cap(per_token))
            .saturating_sub(reserve)
            .max(2);
        if tokens.len() > room {
            let excess = tokens.len() - room;
            tokens.drain(1..1 + excess);
        }
        Ok(tokens)
    }

    fn build_prompt(&self, request: &prompt::PromptRequest) -> rill_model::Result<prompt::Prompt> {
        prompt::build(&self.loaded.tokenizer, &self.specials, request)
    }
}

/// Whether a completion decides its first line by a candidate search before showing text:
/// candidates are ranked on greedy likelihoods, while sampled decoding streams as it goes.
fn searches(quality: &Quality, params: &GenerationParams) -> bool {
    quality.searches() && params.sampling.temperature == 0.0
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_string())
}
