//! Reasoning chains as code actions: offering them (no model work), running one with streamed work-done progress and a real cancel, applying the result, and offering each kept step afterwards as its own action.
//!
//! A chain asks the model to plan a change as numbered steps (see `crate::reasoning::prompt`). While
//! it streams, every step title that completes is reported as progress; the user's cancel button
//! (`window/workDoneProgress/cancel`), `$/cancelRequest` and `reasoning.timeoutMs` all stop the
//! engine at its next forward pass. Afterwards the steps are checked (`crate::reasoning::steps`):
//! the combined edit of the kept steps is applied with `workspace/applyEdit`, and each step stays
//! available as a code action carrying only its own edit, offered only while the document holds
//! exactly the code that step starts from.

pub mod chains;

use std::ops::Range;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use rill_model::generate::GenerationParams;
use serde_json::json;
use tokio::sync::mpsc;
use tower_lsp::jsonrpc::Result;
use tower_lsp::lsp_types::{
    AnnotatedTextEdit, ChangeAnnotation, DocumentChanges, OneOf,
    OptionalVersionedTextDocumentIdentifier, TextDocumentEdit,
};
use tower_lsp::lsp_types::{
    ApplyWorkspaceEditParams, CodeAction, CodeActionDisabled, CodeActionKind, CodeActionOrCommand,
    Command, MessageType, NumberOrString, Range as LspRange, TextEdit, Url, WorkspaceEdit,
};

use super::errors::{internal, invalid_params, not_open};
use super::progress::WorkDone;
use super::session::{client_request, lock, Session};
use crate::config::{ApplyMode, Config};
use crate::documents::Document;
use crate::engine::prefer::{PreferInput, PreferJob};
use crate::engine::SequenceKey;
use crate::engine::{
    BackgroundJob, BackgroundKind, CancelOnDrop, CancelToken, CompletionJob, EngineEvent,
    EngineHandle,
};
use crate::reasoning::guards::{self, Proposal};
use crate::reasoning::parse::{completed_titles, parse_steps};
use crate::reasoning::prompt::{
    build_prompt, instruction_texts, BuiltPrompt, ReasoningRequest, ReasoningTask,
};
use crate::reasoning::steps::{
    applies_to, combined, held_state, plan_for_language, reasoning_as_comments, DroppedStep, Plan,
};
use crate::rill_protocol::{
    ReasonResult, ReasoningResultNotification, ReasoningResultParams, ReasoningStepReport,
    StepDropped, StepKept, StepWritten,
};
use chains::Chain;

/// The command every reasoning action runs.
pub const REASON_COMMAND: &str = "rill.reason";

/// Lines before the selection given to the model to understand it.
const CONTEXT_LINES: usize = 30;

/// Tokens a chain may write per step at most (title, rationale and the code after the step).
const TOKENS_PER_STEP: usize = 192;

/// Longest selection a chain reasons about: its prompt, and the cache the engine fills for it,
/// grow with the selection, and a small model cannot plan changes to more code than this anyway.
const MAX_SELECTION_BYTES: usize = 8 << 10;

/// Most bytes of the text before the selection shown as context (its last lines).
const MAX_CONTEXT_BYTES: usize = 4 << 10;

pub use crate::rill_protocol::ReasonArguments;

/// The reasoning actions for a selection or a diagnostic, plus the last chain's steps.
pub fn actions(
    session: &Session,
    uri: &Url,
    range: LspRange,
    problem: Option<&str>,
) -> Vec<CodeActionOrCommand> {
    let mut actions = Vec::new();
    if crate::lsp::gate::excluded(&session.config(), uri) {
        return actions;
    }
    if range.start != range.end || problem.is_some() {
        for task in ReasoningTask::ALL {
            let kind = if task == ReasoningTask::Fix && problem.is_some() {
                CodeActionKind::QUICKFIX
            } else {
                CodeActionKind::REFACTOR_REWRITE
            };
            let arguments = ReasonArguments {
                uri: uri.clone(),
                range,
                task,
                problem: problem.map(str::to_string),
            };
            actions.push(CodeActionOrCommand::CodeAction(CodeAction {
                title: task.title().to_string(),
                kind: Some(kind),
                command: Some(Command {
                    title: task.title().to_string(),
                    command: REASON_COMMAND.to_string(),
                    arguments: Some(vec![json!(arguments)]),
                }),
                ..CodeAction::default()
            }));
        }
    }
    actions.extend(step_actions(session, uri, range));
    actions
}

/// "Step k/n: …" for each kept step of the document's last chain (disabled, with the reason, when
/// the document does not hold the code it starts from), the dropped steps with their reasons, and
/// "insert the reasoning as comments".
fn step_actions(session: &Session, uri: &Url, range: LspRange) -> Vec<CodeActionOrCommand> {
    let Some(chain) = lock(&session.chains.last).get(uri).cloned() else {
        return Vec::new();
    };
    let encoding = session.features().encoding;
    let documents = lock(&session.documents);
    let Some(document) = documents.get(uri) else {
        return Vec::new();
    };
    let text = document.text();
    let longest = chain
        .plan
        .steps
        .iter()
        .map(|step| step.before.len().max(step.after.len()))
        .max()
        .unwrap_or(chain.original.len());
    let (asked_start, asked_end) = (
        document.byte_offset(range.start, encoding),
        document.byte_offset(range.end, encoding),
    );
    if asked_end < chain.start || asked_start > chain.start + longest {
        return Vec::new();
    }
    let rest = text.get(chain.start.min(text.len())..).unwrap_or("");
    let held = held_state(&chain.plan, &chain.original, rest, &chain.following);
    let mut actions = Vec::new();
    let total = chain.plan.steps.len();
    if chain.offered && held == Some(chain.original.as_str()) {
        if let Some(change) = combined(&chain.plan, &chain.original) {
            let bytes = chain.start + change.start..chain.start + change.end;
            actions.push(CodeActionOrCommand::CodeAction(CodeAction {
                title: apply_all_title(chain.task, total),
                kind: Some(CodeActionKind::REFACTOR_REWRITE),
                is_preferred: Some(true),
                edit: Some(single_edit(
                    uri,
                    TextEdit {
                        range: document.range_of_bytes(&bytes, encoding),
                        new_text: change.new_text,
                    },
                )),
                ..CodeAction::default()
            }));
        }
    }
    for (index, step) in chain.plan.steps.iter().enumerate() {
        let end = (chain.start + step.before.len()).min(text.len());
        // The state the document holds, when it is one of the chain's; else the text where this
        // step would go, which then reads as changed.
        let current = held.unwrap_or_else(|| text.get(chain.start.min(end)..end).unwrap_or(""));
        let title = format!("rill: step {}/{total}: {}", index + 1, step.title);
        let mut action = CodeAction {
            title,
            kind: Some(CodeActionKind::REFACTOR_REWRITE),
            ..CodeAction::default()
        };
        match applies_to(&chain.plan, index, current) {
            Ok(()) => {
                let bytes = chain.start + step.edit.start..chain.start + step.edit.end;
                action.edit = Some(single_edit(
                    uri,
                    TextEdit {
                        range: document.range_of_bytes(&bytes, encoding),
                        new_text: step.edit.new_text.clone(),
                    },
                ));
            }
            Err(reason) => action.disabled = Some(CodeActionDisabled { reason }),
        }
        actions.push(CodeActionOrCommand::CodeAction(action));
    }
    for dropped in &chain.plan.dropped {
        actions.push(CodeActionOrCommand::CodeAction(CodeAction {
            title: format!("rill: dropped step: {}", dropped.title),
            kind: Some(CodeActionKind::REFACTOR_REWRITE),
            disabled: Some(CodeActionDisabled {
                reason: dropped.reason.clone(),
            }),
            ..CodeAction::default()
        }));
    }
    if !chain.reasoning.is_empty() {
        let line_start = text[..chain.start.min(text.len())]
            .rfind('\n')
            .map_or(0, |newline| newline + 1);
        let indentation: String = text[line_start..]
            .chars()
            .take_while(|c| *c == ' ' || *c == '\t')
            .collect();
        let comments = reasoning_as_comments(&chain.reasoning, &chain.language_id, &indentation);
        actions.push(CodeActionOrCommand::CodeAction(CodeAction {
            title: format!(
                "rill: insert the reasoning ({}) as comments",
                chain.task.command_name()
            ),
            kind: Some(CodeActionKind::REFACTOR_REWRITE),
            edit: Some(single_edit(
                uri,
                TextEdit {
                    range: document.range_of_bytes(&(line_start..line_start), encoding),
                    new_text: comments,
                },
            )),
            ..CodeAction::default()
        }));
    }
    actions
}

/// The title of the code action that applies a whole offered chain.
fn apply_all_title(task: ReasoningTask, steps: usize) -> String {
    format!(
        "rill: apply the {steps}-step {} (the chain is in the log)",
        task.command_name()
    )
}

fn single_edit(uri: &Url, edit: TextEdit) -> WorkspaceEdit {
    WorkspaceEdit {
        changes: Some([(uri.clone(), vec![edit])].into_iter().collect()),
        ..WorkspaceEdit::default()
    }
}

/// Stops the chain reporting progress under `token` (the client's cancel button).
pub fn cancel_progress(session: &Session, token: &NumberOrString) {
    let key = match token {
        NumberOrString::String(text) => text.clone(),
        NumberOrString::Number(number) => number.to_string(),
    };
    if let Some(cancel) = lock(&session.chains.running).get(&key) {
        cancel.cancel();
    }
}

/// What a selection asks the model about.
struct Selection {
    bytes: Range<usize>,
    code: String,
    context_before: String,
    language_id: String,
    version: i32,
    /// The text after the selection, at most [`FOLLOWING_BYTES`].
    following: String,
}

/// How much of the text after a selection a chain keeps to recognise its own results later.
const FOLLOWING_BYTES: usize = 256;

fn selection(document: &Document, range: LspRange, session: &Session) -> Selection {
    let encoding = session.features().encoding;
    let text = document.text();
    let (first, second) = (
        document.byte_offset(range.start, encoding),
        document.byte_offset(range.end, encoding),
    );
    // A range whose end comes before its start selects the same text (as in `didChange`).
    let (start, mut end) = (first.min(second), first.max(second));
    // A selection ending at the start of a line does not include that line.
    if end > start && text.as_bytes()[end - 1] == b'\n' {
        end -= 1;
    }
    let start = text[..start].rfind('\n').map_or(0, |newline| newline + 1);
    let end = text[end..]
        .find('\n')
        .map_or(text.len(), |newline| end + newline + 1);
    let mut context_start = text[..start]
        .match_indices('\n')
        .rev()
        .nth(CONTEXT_LINES)
        .map_or(0, |(newline, _)| newline + 1);
    if start - context_start > MAX_CONTEXT_BYTES {
        // Very long lines: keep the end of the context, from a character boundary.
        context_start = start - MAX_CONTEXT_BYTES;
        while !text.is_char_boundary(context_start) {
            context_start += 1;
        }
    }
    let mut following_end = (end + FOLLOWING_BYTES).min(text.len());
    while !text.is_char_boundary(following_end) {
        following_end -= 1;
    }
    Selection {
        following: text[end..following_end].to_string(),
        bytes: start..end,
        code: text[start..end].to_string(),
        context_before: text[context_start..start].to_string(),
        language_id: document.language_id().to_string(),
        version: document.version(),
    }
}

/// Forgets a closed document's last chain: its steps are offered only while the document is open,
/// and a chain holds the selection's text.
pub fn forget(session: &Session, uri: &Url) {
    lock(&session.chains.last).remove(uri);
}

/// Runs a chain for `workspace/executeCommand` and answers with its summary.
pub async fn execute(session: &Arc<Session>, arguments: ReasonArguments) -> Result<ReasonResult> {
    let config = session.config();
    if crate::lsp::gate::excluded(&config, &arguments.uri) {
        return Err(tower_lsp::jsonrpc::Error::invalid_params(format!(
            "{} matches completion.exclude: its text is never sent to a model",
            arguments.uri
        )));
    }
    let engine = session
        .engine
        .get()
        .ok_or_else(|| internal("the engine has not started"))?;
    let selection = read_selection(session, &arguments)?;
    let request = ReasoningRequest {
        task: arguments.task,
        language_id: &selection.language_id,
        code: &selection.code,
        context_before: &selection.context_before,
        problem: arguments.problem.as_deref(),
        max_steps: config.reasoning_max_steps,
    };
    let prompt = prompt_for(engine, &request)?;

    let cancel = CancelToken::new();
    // Dropping this future ($/cancelRequest) must stop the engine too.
    let _stop_on_drop = CancelOnDrop(cancel.clone());
    let key = format!(
        "rill/reason/{}",
        session.chains.next.fetch_add(1, Ordering::Relaxed)
    );
    // Removes the entry on every way out, a dropped future included.
    let _running = session.chains.register(&key, &cancel);
    let progress = ChainProgress::start(session, &key, arguments.task.title()).await;
    let written =
        match write_chain(session, engine, &arguments.uri, &prompt, &progress, &cancel).await {
            Ok(written) => written,
            Err(WriteError::Cancelled) => {
                progress.end(session, "cancelled").await;
                return Ok(ReasonResult::cancelled());
            }
            Err(WriteError::Failed(reason)) => {
                progress.end(session, &format!("failed: {reason}")).await;
                return Err(internal(reason));
            }
        };
    let judged = judge(engine, &arguments, &request, &selection, &written, &cancel).await;
    finish(session, &arguments, &selection, written, judged, &progress).await
}

/// The selection the arguments name, read from the open document.
fn read_selection(session: &Session, arguments: &ReasonArguments) -> Result<Selection> {
    let selection = {
        let documents = lock(&session.documents);
        let document = documents
            .get(&arguments.uri)
            .ok_or_else(|| not_open(&arguments.uri))?;
        selection(document, arguments.range, session)
    };
    if selection.code.len() > MAX_SELECTION_BYTES {
        return Err(invalid_params(format!(
            "the selection is too long for a reasoning chain ({} KiB; at most {} KiB)",
            selection.code.len() >> 10,
            MAX_SELECTION_BYTES >> 10
        )));
    }
    Ok(selection)
}

/// The prompt for the loaded model: its chat template when it has one, the few-shot prompt
/// for base models otherwise.
fn prompt_for(engine: &EngineHandle, request: &ReasoningRequest<'_>) -> Result<BuiltPrompt> {
    let info = engine
        .model_info()
        .ok_or_else(|| internal("the model is still loading; try again in a moment"))?;
    let prompt = build_prompt(
        request,
        info.chat_template.as_deref(),
        &info.bos_text,
        &info.eos_text,
    )
    .map_err(|err| internal(err.to_string()))?;
    tracing::info!(
        "reasoning ({}) through {}",
        request.task.command_name(),
        if prompt.uses_chat_template {
            "the model's chat template"
        } else {
            "the few-shot prompt for base models"
        }
    );
    Ok(prompt)
}

/// What the model wrote.
struct Written {
    /// The output, with the prompt's output prefix in front.
    output: String,
    timed_out: bool,
}

/// Why no chain was written.
enum WriteError {
    /// The user cancelled it (progress cancel button, `$/cancelRequest`).
    Cancelled,
    Failed(String),
}

/// Runs the prompt on the engine, reporting each step title as it completes; stops at
/// `reasoning.timeoutMs` (keeping what was written) or once more steps than wanted were written.
async fn write_chain(
    session: &Session,
    engine: &EngineHandle,
    uri: &Url,
    prompt: &BuiltPrompt,
    progress: &ChainProgress,
    cancel: &CancelToken,
) -> std::result::Result<Written, WriteError> {
    let config = session.config();
    let max_steps = config.reasoning_max_steps;
    let (events, mut received) = mpsc::unbounded_channel();
    let job = CompletionJob {
        sequence: SequenceKey::reasoning(uri.as_str()),
        text_before_cursor: prompt.text.clone(),
        text_after_cursor: String::new(),
        context_tokens: usize::MAX,
        cross_file: Default::default(),
        raw_prompt: true,
        params: GenerationParams {
            max_tokens: TOKENS_PER_STEP * max_steps,
            stop: prompt.stop.clone(),
            ..GenerationParams::default()
        },
        quality: Default::default(),
        cancel: cancel.clone(),
        events,
    };
    if let Err(err) = engine.submit(job) {
        return Err(WriteError::Failed(format!("not started: {err}")));
    }
    let deadline = tokio::time::sleep(Duration::from_millis(config.reasoning_timeout_ms));
    tokio::pin!(deadline);
    let mut output = prompt.output_prefix.clone();
    let mut reported = 0;
    let mut timed_out = false;
    loop {
        tokio::select! {
            event = received.recv() => match event {
                Some(EngineEvent::Text(piece)) => {
                    output.push_str(&piece);
                    let titles = completed_titles(&output);
                    for (index, title) in titles.iter().enumerate().skip(reported) {
                        progress.report(session, index + 1, max_steps, title).await;
                    }
                    reported = reported.max(titles.len());
                    // Enough steps: the rest would be thrown away.
                    if reported > max_steps {
                        cancel.cancel();
                    }
                }
                Some(EngineEvent::Error(reason)) => return Err(WriteError::Failed(reason)),
                Some(EngineEvent::Candidates(_) | EngineEvent::Beginnings(_)) => {}
                Some(EngineEvent::Done(_)) | None => break,
            },
            () = &mut deadline => {
                timed_out = true;
                cancel.cancel();
                break;
            }
            () = cancel.cancelled(), if reported <= max_steps => break,
        }
    }
    if cancel.is_cancelled() && !timed_out && reported <= max_steps {
        return Err(WriteError::Cancelled);
    }
    Ok(Written { output, timed_out })
}

/// A chain's steps, the plan kept from them, and the guard that rejected its result, if one did.
struct Judged {
    parsed: crate::reasoning::parse::ParsedChain,
    plan: Plan,
    rejected: Option<String>,
}

/// Parses the steps, plans their edits and runs every guard, the model's check last.
async fn judge(
    engine: &EngineHandle,
    arguments: &ReasonArguments,
    request: &ReasoningRequest<'_>,
    selection: &Selection,
    written: &Written,
    cancel: &CancelToken,
) -> Judged {
    let parsed = parse_steps(&written.output, request.max_steps);
    for problem in &parsed.problems {
        tracing::info!("reasoning output: {problem}");
    }
    let mut plan = if arguments.task.edits_code() {
        plan_for_language(&selection.code, &parsed.steps, &selection.language_id)
    } else {
        Plan::default()
    };
    // Nothing is applied, or offered step by step, unless the result passes every guard.
    let mut rejected = guard(
        arguments.task,
        selection,
        &instruction_texts(request),
        &parsed,
        &mut plan,
    );
    if rejected.is_none() && !plan.steps.is_empty() {
        if let Err(rejection) = model_check(engine, &arguments.uri, selection, &plan, cancel).await
        {
            rejected = Some(reject(&mut plan, &rejection, &selection.language_id));
        }
    }
    Judged {
        parsed,
        plan,
        rejected,
    }
}

/// Keeps the chain for its step actions, applies (or offers) its result, tells the user, and
/// answers the command.
async fn finish(
    session: &Session,
    arguments: &ReasonArguments,
    selection: &Selection,
    written: Written,
    judged: Judged,
    progress: &ChainProgress,
) -> Result<ReasonResult> {
    let config = session.config();
    let Judged {
        parsed,
        plan,
        rejected,
    } = judged;
    let chain = Chain {
        task: arguments.task,
        language_id: selection.language_id.clone(),
        start: selection.bytes.start,
        original: selection.code.clone(),
        following: selection.following.clone(),
        plan: plan.clone(),
        offered: rejected.is_none() && !plan.steps.is_empty() && offer_only(session, &config),
        reasoning: parsed
            .steps
            .iter()
            .map(|step| (step.title.clone(), step.rationale.clone()))
            .collect(),
    };
    lock(&session.chains.last).insert(arguments.uri.clone(), chain);
    let applied = match &rejected {
        Some(reason) => Err(reason.clone()),
        None => apply_combined(session, &arguments.uri, selection, &plan, &config).await,
    };
    let summary = summary_message(
        arguments.task,
        &parsed.steps.len(),
        &plan,
        written.timed_out,
        applied.as_ref(),
    );
    progress.end(session, &summary).await;
    report(
        session,
        &arguments.uri,
        arguments.task,
        &summary,
        &parsed,
        &plan,
        applied.as_ref() == Ok(&Outcome::Applied),
        rejected.clone(),
    )
    .await;
    Ok(result_of(written, parsed, &plan, rejected, applied))
}

/// The command's answer.
fn result_of(
    written: Written,
    parsed: crate::reasoning::parse::ParsedChain,
    plan: &Plan,
    rejected: Option<String>,
    applied: std::result::Result<Outcome, String>,
) -> ReasonResult {
    ReasonResult {
        cancelled: false,
        timed_out: written.timed_out,
        steps: parsed
            .steps
            .iter()
            .map(|step| StepWritten {
                title: step.title.clone(),
                rationale: step.rationale.clone(),
                has_code: step.code.is_some(),
            })
            .collect(),
        kept: plan
            .steps
            .iter()
            .map(|step| StepKept {
                number: step.number,
                title: step.title.clone(),
                before: step.before.clone(),
                after: step.after.clone(),
            })
            .collect(),
        dropped: plan
            .dropped
            .iter()
            .map(|dropped| StepDropped {
                title: dropped.title.clone(),
                reason: dropped.reason.clone(),
            })
            .collect(),
        problems: parsed.problems,
        applied: applied.as_ref() == Ok(&Outcome::Applied),
        offered: applied.as_ref() == Ok(&Outcome::Offered),
        rejected_by: rejected,
        not_applied: applied.err(),
        output: written.output,
    }
}

/// Runs the guards on the chain's result. A rejected result keeps no step: each kept step moves
/// to the dropped ones with the reason, which is returned in words.
fn guard(
    task: ReasoningTask,
    selection: &Selection,
    instructions: &[String],
    parsed: &crate::reasoning::parse::ParsedChain,
    plan: &mut Plan,
) -> Option<String> {
    // An explanation is judged on everything it says; an edit on its kept steps and their result.
    let said = |steps: &mut dyn Iterator<Item = (&str, &str)>| -> String {
        steps
            .map(|(title, rationale)| format!("{title}\n{rationale}\n"))
            .collect()
    };
    let (step_text, result) = if task == ReasoningTask::Explain {
        let mut steps = parsed
            .steps
            .iter()
            .map(|step| (step.title.as_str(), step.rationale.as_str()));
        (said(&mut steps), selection.code.as_str())
    } else {
        let mut steps = plan
            .steps
            .iter()
            .map(|step| (step.title.as_str(), step.rationale.as_str()));
        (said(&mut steps), plan.steps.last()?.after.as_str())
    };
    let proposal = Proposal {
        task,
        language_id: &selection.language_id,
        original: &selection.code,
        result,
        step_text: &step_text,
        instructions,
    };
    let verdict = if task == ReasoningTask::Explain {
        guards::check_explanation(&proposal)
    } else {
        guards::check(&proposal)
    };
    Some(reject(plan, &verdict.err()?, &selection.language_id))
}

/// Moves every kept step of a rejected result to the dropped ones, with the reason in words.
fn reject(plan: &mut Plan, rejection: &guards::Rejection, language_id: &str) -> String {
    let reason = rejection.describe(language_id);
    tracing::info!("reasoning result rejected: {reason}");
    // Nothing of a rejected chain is applied or offered step by step.
    for step in plan.steps.drain(..) {
        plan.dropped.push(DroppedStep {
            title: step.title,
            reason: reason.clone(),
        });
    }
    reason
}

/// How long the model's check of a result may take: it scores about a thousand tokens.
const MODEL_CHECK_TIMEOUT: Duration = Duration::from_secs(20);

/// The last guard: the model scores the selection and the result in the file's context, and a
/// result it finds much less likely is rejected. The remote engine cannot score text, so there
/// the check is skipped (and logged); the preview still stands between the result and the file.
async fn model_check(
    engine: &crate::engine::EngineHandle,
    uri: &Url,
    selection: &Selection,
    plan: &Plan,
    cancel: &CancelToken,
) -> std::result::Result<(), guards::Rejection> {
    if engine.is_remote() {
        tracing::info!(
            "the remote engine cannot score text: the model's check of the result is skipped"
        );
        return Ok(());
    }
    let Some(result) = plan.steps.last().map(|step| step.after.clone()) else {
        return Ok(());
    };
    let (answer, mut answers) = mpsc::unbounded_channel();
    engine.submit_background(BackgroundJob {
        document: uri.to_string(),
        kind: BackgroundKind::Prefer(Box::new(PreferJob {
            input: PreferInput {
                context: selection.context_before.clone(),
                original: selection.code.clone(),
                result,
                following: selection.following.clone(),
            },
            cancel: cancel.clone(),
            answer,
        })),
    });
    let unchecked = |reason: String| guards::Rejection::Unchecked { reason };
    match tokio::time::timeout(MODEL_CHECK_TIMEOUT, answers.recv()).await {
        Ok(Some(Ok(Some(preference)))) => {
            tracing::info!(
                "the model scores the result {:.2} and the original {:.2} nats per token",
                -preference.result,
                -preference.original
            );
            guards::model_prefers(preference.original, preference.result)
        }
        Ok(Some(Ok(None))) => Err(unchecked("cancelled".to_string())),
        Ok(Some(Err(reason))) => Err(unchecked(reason)),
        Ok(None) => Err(unchecked("the engine stopped".to_string())),
        Err(_) => Err(unchecked(format!(
            "no answer within {} s",
            MODEL_CHECK_TIMEOUT.as_secs()
        ))),
    }
}

/// What became of a chain's kept steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// No step was kept.
    Nothing,
    /// The editor applied them (after its preview, where it has one).
    Applied,
    /// They wait as a code action: the editor cannot preview an edit and `reasoning.apply` is
    /// `preview`.
    Offered,
}

/// Whether a chain's result is only offered as a code action, never sent as an edit.
fn offer_only(session: &Session, config: &Config) -> bool {
    config.reasoning_apply == ApplyMode::Preview && !session.features().change_annotations
}

/// The label and id of the change annotation a previewed chain's edit carries.
const ANNOTATION_ID: &str = "rill-reasoning";

/// Applies the kept steps as one edit if the document still holds the selection the chain read:
/// for confirmation in the editor's preview (`reasoning.apply` `preview`, where the editor has
/// one), at once (`immediately`), or not at all but offered as a code action. Err(reason) when it
/// could not be applied.
async fn apply_combined(
    session: &Session,
    uri: &Url,
    selection: &Selection,
    plan: &Plan,
    config: &Config,
) -> std::result::Result<Outcome, String> {
    let Some(change) = combined(plan, &selection.code) else {
        return Ok(Outcome::Nothing);
    };
    if offer_only(session, config) {
        return Ok(Outcome::Offered);
    }
    let preview = config.reasoning_apply == ApplyMode::Preview;
    let edit = {
        let documents = lock(&session.documents);
        let document = documents
            .get(uri)
            .ok_or_else(|| "the document was closed".to_string())?;
        if document.version() != selection.version {
            return Err("the document changed while the model was reasoning".to_string());
        }
        let encoding = session.features().encoding;
        let bytes = selection.bytes.start + change.start..selection.bytes.start + change.end;
        let text_edit = TextEdit {
            range: document.range_of_bytes(&bytes, encoding),
            new_text: change.new_text.clone(),
        };
        if preview {
            annotated_edit(uri, document.version(), text_edit, plan.steps.len())
        } else {
            single_edit(uri, text_edit)
        }
    };
    let response = client_request::<tower_lsp::lsp_types::request::ApplyWorkspaceEdit>(
        session,
        ApplyWorkspaceEditParams {
            label: Some("rill: reasoning steps".to_string()),
            edit,
        },
    )
    .await
    .map_err(|err| format!("workspace/applyEdit failed: {err}"))?;
    if response.applied {
        Ok(Outcome::Applied)
    } else {
        Err(response
            .failure_reason
            .unwrap_or_else(|| "the editor declined the edit".to_string()))
    }
}

/// `edit` of document `uri` at `version` with a change annotation that needs confirmation, so that
/// the editor previews it (VS Code's refactor preview) before anything changes.
fn annotated_edit(uri: &Url, version: i32, edit: TextEdit, steps: usize) -> WorkspaceEdit {
    let annotation = ChangeAnnotation {
        label: format!("rill: {steps} reasoning step(s)"),
        needs_confirmation: Some(true),
        description: Some("The model's rewrite of the selection, step by step".to_string()),
    };
    WorkspaceEdit {
        document_changes: Some(DocumentChanges::Edits(vec![TextDocumentEdit {
            text_document: OptionalVersionedTextDocumentIdentifier {
                uri: uri.clone(),
                version: Some(version),
            },
            edits: vec![OneOf::Right(AnnotatedTextEdit {
                text_edit: edit,
                annotation_id: ANNOTATION_ID.to_string(),
            })],
        }])),
        change_annotations: Some(
            [(ANNOTATION_ID.to_string(), annotation)]
                .into_iter()
                .collect(),
        ),
        ..WorkspaceEdit::default()
    }
}

fn summary_message(
    task: ReasoningTask,
    parsed_steps: &usize,
    plan: &Plan,
    timed_out: bool,
    applied: std::result::Result<&Outcome, &String>,
) -> String {
    let mut message = if task.edits_code() {
        format!(
            "{} step(s), {} kept, {} dropped",
            parsed_steps,
            plan.steps.len(),
            plan.dropped.len()
        )
    } else {
        format!("{parsed_steps} step(s)")
    };
    if timed_out {
        message.push_str("; stopped at reasoning.timeoutMs, offering the steps so far");
    }
    match applied {
        Ok(Outcome::Applied) => message.push_str("; applied"),
        Ok(Outcome::Offered) => message.push_str(&format!(
            "; not applied yet: the code action \"{}\" applies it",
            apply_all_title(task, plan.steps.len())
        )),
        Ok(Outcome::Nothing) => {}
        Err(reason) if task.edits_code() => message.push_str(&format!("; not applied: {reason}")),
        Err(reason) => message.push_str(&format!("; not an explanation of this code: {reason}")),
    }
    message
}

/// Tells the user how the chain ended, where each editor can show it: one line with
/// `window/showMessage` (a status line holds it whole), the whole chain with `window/logMessage`
/// (Helix's log, VS Code's output channel) and as `rill/reasoningResult` (the VS Code panel and
/// the Neovim float render it).
#[allow(clippy::too_many_arguments)]
async fn report(
    session: &Session,
    uri: &Url,
    task: ReasoningTask,
    summary: &str,
    parsed: &crate::reasoning::parse::ParsedChain,
    plan: &Plan,
    applied: bool,
    rejected_by: Option<String>,
) {
    let details = explanation(task, parsed, plan);
    session
        .client
        .log_message(MessageType::INFO, format!("{details}\n{summary}"))
        .await;
    let dropped_because = |title: &str| {
        plan.dropped
            .iter()
            .find(|dropped| dropped.title == title)
            .map(|dropped| dropped.reason.clone())
    };
    let steps = parsed
        .steps
        .iter()
        .map(|step| ReasoningStepReport {
            number: step.number,
            title: step.title.clone(),
            rationale: step.rationale.clone(),
            kept: plan.steps.iter().any(|kept| kept.title == step.title),
            dropped_because: dropped_because(&step.title),
        })
        .collect();
    session
        .client
        .send_notification::<ReasoningResultNotification>(ReasoningResultParams {
            uri: uri.clone(),
            task,
            summary: summary.to_string(),
            steps,
            applied,
            rejected_by,
        })
        .await;
    if !parsed.steps.is_empty() {
        let short = task.title().trim_start_matches("rill: ");
        session
            .client
            .show_message(
                MessageType::INFO,
                format!("rill: {short}: {summary} (the whole chain is in the log)"),
            )
            .await;
    }
}

fn explanation(
    task: ReasoningTask,
    parsed: &crate::reasoning::parse::ParsedChain,
    plan: &Plan,
) -> String {
    let mut lines = vec![format!("{}:", task.title())];
    for step in &parsed.steps {
        lines.push(format!(
            "{}. {} — {}",
            step.number, step.title, step.rationale
        ));
    }
    for dropped in &plan.dropped {
        lines.push(format!("dropped \"{}\": {}", dropped.title, dropped.reason));
    }
    lines.join("\n")
}

/// A chain's progress: cancellable, one report per step written.
struct ChainProgress(WorkDone);

impl ChainProgress {
    async fn start(session: &Session, key: &str, title: &str) -> Self {
        Self(WorkDone::begin(session, key, title, true, "planning the steps…", Some(0)).await)
    }

    async fn report(&self, session: &Session, step: usize, max_steps: usize, title: &str) {
        let percentage = (step * 100 / max_steps.max(1)).min(100) as u32;
        self.0
            .report(session, format!("step {step}: {title}"), Some(percentage))
            .await;
    }

    async fn end(&self, session: &Session, message: &str) {
        self.0.end(session, message).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::EngineHandle;
    use tower_lsp::lsp_types::Position;

    /// A previewed chain's edit names the document's version and carries an annotation that needs
    /// confirmation, which is what makes VS Code show its refactor preview before applying.
    #[test]
    fn a_previewed_edit_needs_confirmation() {
        let uri = Url::parse("file:///a.py").unwrap();
        let edit = TextEdit {
            range: LspRange::new(Position::new(1, 0), Position::new(2, 0)),
            new_text: "    return total\n".to_string(),
        };
        let workspace_edit = annotated_edit(&uri, 7, edit.clone(), 2);
        assert!(workspace_edit.changes.is_none());
        let annotations = workspace_edit.change_annotations.expect("annotations");
        assert_eq!(annotations[ANNOTATION_ID].needs_confirmation, Some(true));
        let Some(DocumentChanges::Edits(edits)) = workspace_edit.document_changes else {
            panic!("document changes with edits");
        };
        assert_eq!(edits[0].text_document.uri, uri);
        assert_eq!(edits[0].text_document.version, Some(7));
        assert_eq!(
            edits[0].edits,
            vec![OneOf::Right(AnnotatedTextEdit {
                text_edit: edit,
                annotation_id: ANNOTATION_ID.to_string(),
            })]
        );
    }

    /// `$/cancelRequest` makes tower-lsp drop the request's future wherever it waits: the chain's
    /// entry among the running ones must go with it.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_chain_whose_request_is_dropped_leaves_no_running_entry() {
        // An engine that never answers the chain (the scripted fake, hanging).
        use crate::engine::fake::{FakeBackend, Reply, Script};
        let fake: Arc<dyn crate::engine::Backend> =
            Arc::new(FakeBackend::new(Script::default().otherwise(Reply::Hang)));
        let (service, _socket) = tower_lsp::LspService::new(|client| {
            crate::lsp::server::Backend::new(
                client,
                Default::default(),
                crate::backends::from_settings(),
                Default::default(),
                Default::default(),
            )
        });
        let session = service.inner().session.clone();
        assert!(session.set_engine(EngineHandle::with_backend(fake)));
        let uri = Url::parse("file:///e2e/chain.py").unwrap();
        lock(&session.documents).open(
            uri.clone(),
            "def f(x):\n    return x +\n",
            1,
            "python".to_string(),
        );
        let arguments = ReasonArguments {
            uri,
            range: LspRange::new(Position::new(0, 0), Position::new(1, 14)),
            task: ReasoningTask::Fix,
            problem: None,
        };
        let chain = execute(&session, arguments);
        let waited = tokio::time::timeout(Duration::from_millis(500), chain).await;
        assert!(
            waited.is_err(),
            "the chain should still wait for the server"
        );
        assert_eq!(
            session.chains.running(),
            0,
            "the dropped chain is still listed"
        );
    }
}
