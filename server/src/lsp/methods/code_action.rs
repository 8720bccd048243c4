//! `textDocument/codeAction`: the model's quick fix for each of its diagnostics in the range, the reasoning actions, and the steps of the document's last reasoning chain; none of it runs the model.

use std::sync::Arc;

use tower_lsp::jsonrpc::Result;
use tower_lsp::lsp_types::{
    CodeAction, CodeActionKind, CodeActionOrCommand, CodeActionParams, CodeActionResponse,
    NumberOrString, TextEdit, WorkspaceEdit,
};

use crate::lsp::diagnostics::{self, to_diagnostic};
use crate::lsp::errors::not_open;
use crate::lsp::reasoning;
use crate::lsp::session::{lock, Session};

pub fn handle(
    session: &Arc<Session>,
    params: CodeActionParams,
) -> Result<Option<CodeActionResponse>> {
    let uri = params.text_document.uri.clone();
    let encoding = session.features().encoding;
    let flags = session.diagnostics.flags(&uri);
    let mut actions: Vec<CodeActionOrCommand> = Vec::new();
    {
        let documents = lock(&session.documents);
        let document = documents.get(&uri).ok_or_else(|| not_open(&uri))?;
        let start = document.byte_offset(params.range.start, encoding);
        let end = document.byte_offset(params.range.end, encoding);
        let text = document.text();
        for flag in &flags {
            // A flag is offered when the range touches it (a cursor inside it is an empty range).
            if flag.range.end < start || flag.range.start > end {
                continue;
            }
            let Some(fix) = &flag.fix else {
                continue;
            };
            let edit = TextEdit {
                range: document.range_of_bytes(&fix.replace, encoding),
                new_text: fix.text.clone(),
            };
            actions.push(CodeActionOrCommand::CodeAction(CodeAction {
                title: diagnostics::fix_title(flag, fix, &text),
                kind: Some(CodeActionKind::QUICKFIX),
                diagnostics: Some(vec![to_diagnostic(document, flag, encoding)]),
                edit: Some(WorkspaceEdit {
                    changes: Some([(uri.clone(), vec![edit])].into_iter().collect()),
                    ..WorkspaceEdit::default()
                }),
                is_preferred: Some(true),
                ..CodeAction::default()
            }));
        }
    }
    let on_diagnostic = params.context.diagnostics.iter().find(|diagnostic| {
        diagnostic.source.as_deref() == Some("rill")
            && diagnostic.code == Some(NumberOrString::String(diagnostics::CODE.to_string()))
    });
    if let Some(action) = next_edit_action(session, &uri) {
        actions.push(action);
    }
    actions.extend(reasoning::actions(
        session,
        &uri,
        params.range,
        on_diagnostic.map(|diagnostic| diagnostic.message.as_str()),
    ));
    if let Some(only) = &params.context.only {
        actions.retain(|action| match action {
            CodeActionOrCommand::CodeAction(action) => action.kind.as_ref().is_some_and(|kind| {
                only.iter()
                    .any(|wanted| kind.as_str().starts_with(wanted.as_str()))
            }),
            CodeActionOrCommand::Command(_) => false,
        });
    }
    Ok(Some(actions))
}

/// The document's next edit, offered wherever the cursor is: for editors without a jump marker
/// (Helix), the code action menu is where it shows.
fn next_edit_action(
    session: &Session,
    uri: &tower_lsp::lsp_types::Url,
) -> Option<CodeActionOrCommand> {
    let version = lock(&session.documents).get(uri)?.version();
    let offer = session.next_edits.offer(uri, version)?;
    let shown: String = offer.line_after.trim().chars().take(60).collect();
    Some(CodeActionOrCommand::CodeAction(CodeAction {
        title: format!(
            "rill: next edit (line {}): {shown}",
            offer.range.start.line + 1
        ),
        kind: Some(CodeActionKind::REFACTOR_REWRITE),
        edit: Some(WorkspaceEdit {
            changes: Some(
                [(
                    uri.clone(),
                    vec![TextEdit {
                        range: offer.range,
                        new_text: offer.new_text,
                    }],
                )]
                .into_iter()
                .collect(),
            ),
            ..WorkspaceEdit::default()
        }),
        ..CodeAction::default()
    }))
}
