//! `textDocument/completion`: the fallback for clients without inline completion (Helix), answered within a short budget.
//!
//! Such clients wait for this answer before showing their menu, so it returns what has been decoded
//! when the budget ends. The suggestion is the first item, replacing the word before the cursor so
//! that the client's fuzzy filter keeps it; `isIncomplete` makes the client ask again as the user types.

use std::sync::Arc;
use std::time::Duration;

use tower_lsp::jsonrpc::Result;
use tower_lsp::lsp_types::*;

use crate::lsp::completion_driver::{drive, Trigger};
use crate::lsp::completion_input::snapshot;
use crate::lsp::session::Session;

/// Longest label shown in the menu.
const LABEL_CHARS: usize = 40;

pub async fn handle(
    session: &Arc<Session>,
    params: CompletionParams,
) -> Result<Option<CompletionResponse>> {
    if session.features().inline_completion {
        // The client shows our suggestions as ghost text already; a menu entry would duplicate them.
        return Ok(None);
    }
    let uri = params.text_document_position.text_document.uri;
    let snapshot = snapshot(session, &uri, params.text_document_position.position)?;
    let budget = Duration::from_millis(session.config().fallback_budget_ms);
    // Menu clients ask after their own idle timeout and hold the menu until this answer comes,
    // so the fallback never waits for a pause (`Trigger::Explicit`).
    let Some(answer) = drive(session, &uri, &snapshot, budget, None, Trigger::Explicit).await?
    else {
        return Ok(Some(CompletionResponse::List(CompletionList {
            is_incomplete: true,
            items: Vec::new(),
        })));
    };
    let word = crate::documents::trailing_word(&snapshot.cursor.line_prefix);
    let encoding = session.features().encoding;
    let word_units = match encoding {
        crate::documents::PositionEncoding::Utf8 => word.len(),
        crate::documents::PositionEncoding::Utf16 => word.encode_utf16().count(),
    } as u32;
    let start = Position::new(
        snapshot.position.line,
        snapshot.position.character.saturating_sub(word_units),
    );
    let range = Range::new(start, snapshot.position);
    // The best suggestion first, then the other candidates: the first menu items, in rank order.
    let items = std::iter::once(&answer.text)
        .chain(&answer.alternatives)
        .enumerate()
        .map(|(rank, text)| menu_item(word, text, range, rank))
        .collect();
    Ok(Some(CompletionResponse::List(CompletionList {
        is_incomplete: true,
        items,
    })))
}

/// The menu item for suggestion `text` at `rank`: it replaces the word before the cursor (`word`)
/// so that the client's fuzzy filter keeps it, and its label is the word with the suggestion's
/// first line, which reads as the line will (`re` + `turn total` shows `return total`, not
/// `turn total`).
fn menu_item(word: &str, text: &str, range: Range, rank: usize) -> CompletionItem {
    let first_line = text.lines().next().unwrap_or_default();
    let whole = format!("{word}{first_line}");
    let whole = whole.trim();
    let mut label: String = whole.chars().take(LABEL_CHARS).collect();
    if whole.chars().count() > LABEL_CHARS {
        label.push('…');
    }
    CompletionItem {
        label,
        kind: Some(CompletionItemKind::TEXT),
        detail: Some("rill".to_string()),
        sort_text: Some(rank.to_string()),
        filter_text: Some(format!("{word}{first_line}")),
        preselect: Some(rank == 0),
        text_edit: Some(CompletionTextEdit::Edit(TextEdit {
            range,
            new_text: format!("{word}{text}"),
        })),
        ..CompletionItem::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_label_reads_as_the_line_will_with_the_word_already_typed() {
        let range = Range::default();
        let item = menu_item("re", "turn total / len(xs)\n", range, 0);
        assert_eq!(item.label, "return total / len(xs)");
        assert_eq!(item.filter_text.as_deref(), Some("return total / len(xs)"));
        // Nothing typed yet: the suggestion alone, without its leading space.
        assert_eq!(menu_item("", " = total", range, 1).label, "= total");
        let long = menu_item("x", &"y".repeat(60), range, 0).label;
        assert_eq!(long.chars().count(), LABEL_CHARS + 1);
        assert!(long.starts_with("xyy") && long.ends_with('…'));
    }
}
