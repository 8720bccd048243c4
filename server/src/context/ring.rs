//! The ring of cross-file chunks: new chunks wait until the user is idle, then join the list prompts use, evicting near-copies of themselves and the oldest chunks beyond the limit.
//!
//! Prompts put the chunks in front of the document, so the list they use must not change while
//! the user types: every change moves the start of the prompt and throws away the cached prefix.
//! Chunks picked on opens, edits and views therefore only queue up ([`Ring::queue`]), and the
//! list changes in [`Ring::refresh`], which the server calls once typing has paused. A queued
//! chunk replaces a queued near-copy of itself, so the chunk around a line being edited is queued
//! once however many keystrokes it takes.

use std::collections::HashSet;
use std::sync::Arc;

use super::chunk::Chunk;
use super::similarity::{similarity, EVICT_ABOVE, SURROUNDINGS_ABOVE};

/// The chunks, waiting and in use.
#[derive(Debug, Default)]
pub struct Ring {
    /// Chunks waiting for the next refresh, oldest first.
    pending: Vec<Chunk>,
    /// The chunks prompts use, oldest first.
    active: Vec<Arc<Chunk>>,
    /// Documents closed since the last refresh: their chunks leave the list then.
    closed: HashSet<String>,
    /// The document the user was in at the last refresh, and the line set of its cursor's
    /// surroundings then: chunks much like those lines are left out of that document's prompts.
    focus: Option<(String, HashSet<u64>)>,
}

impl Ring {
    /// Queues a chunk for the next refresh. It replaces queued near-copies of itself (the same
    /// region, picked again after an edit), and at most `max_chunks` chunks wait.
    pub fn queue(&mut self, chunk: Chunk, max_chunks: usize) {
        self.closed.remove(&chunk.document);
        self.pending
            .retain(|queued| similarity(&queued.lines, &chunk.lines) <= EVICT_ABOVE);
        self.pending.push(chunk);
        let excess = self.pending.len().saturating_sub(max_chunks);
        self.pending.drain(..excess);
    }

    /// Forgets a closed document: its queued chunks at once, its chunks in use at the next refresh.
    pub fn close(&mut self, document: &str) {
        self.pending.retain(|chunk| chunk.document != document);
        self.closed.insert(document.to_string());
    }

    /// Moves the queued chunks into the list prompts use (each evicting the chunks it nearly
    /// copies), drops the chunks of closed documents and the oldest beyond `max_chunks`, and
    /// records where the user is now (`focus`: the document and its cursor's surroundings).
    /// Returns whether the list changed.
    pub fn refresh(&mut self, focus: Option<(String, HashSet<u64>)>, max_chunks: usize) -> bool {
        let before: Vec<*const Chunk> = self.active.iter().map(Arc::as_ptr).collect();
        let closed = std::mem::take(&mut self.closed);
        self.active
            .retain(|chunk| !closed.contains(&chunk.document));
        for chunk in self.pending.drain(..) {
            self.active
                .retain(|old| similarity(&old.lines, &chunk.lines) <= EVICT_ABOVE);
            self.active.push(Arc::new(chunk));
        }
        let excess = self.active.len().saturating_sub(max_chunks);
        self.active.drain(..excess);
        self.focus = focus;
        let after: Vec<*const Chunk> = self.active.iter().map(Arc::as_ptr).collect();
        before != after
    }

    /// The chunks a prompt in `document` uses, oldest first: none of its own (the prompt has the
    /// document itself), and, when it is the document the user was in at the last refresh, none
    /// much like the cursor's surroundings then. Between two refreshes the answer for a document
    /// never changes.
    pub fn select(&self, document: &str) -> Vec<Arc<Chunk>> {
        let surroundings = self
            .focus
            .as_ref()
            .filter(|(focused, _)| focused == document)
            .map(|(_, lines)| lines);
        self.active
            .iter()
            .filter(|chunk| chunk.document != document)
            .filter(|chunk| {
                surroundings
                    .is_none_or(|lines| similarity(&chunk.lines, lines) <= SURROUNDINGS_ABOVE)
            })
            .cloned()
            .collect()
    }

    /// The chunks in use, oldest first.
    pub fn active(&self) -> &[Arc<Chunk>] {
        &self.active
    }

    /// How many chunks wait for the next refresh.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::chunk::line_set;

    /// A chunk of `count` distinct lines named after `tag`, starting at `first`.
    fn chunk(document: &str, tag: &str, first: usize, count: usize) -> Chunk {
        let text: String = (first..first + count)
            .map(|i| format!("{tag}_{i} = {i}\n"))
            .collect();
        Chunk::new(document, first, &text)
    }

    /// The ring's chunks in use as `document:first_line`, oldest first.
    fn describe(ring: &Ring) -> Vec<String> {
        ring.active()
            .iter()
            .map(|chunk| format!("{}:{}", chunk.document, chunk.first_line))
            .collect()
    }

    #[test]
    fn queued_chunks_wait_for_the_refresh() {
        let mut ring = Ring::default();
        ring.queue(chunk("a", "a", 0, 10), 16);
        assert!(
            ring.select("b").is_empty(),
            "nothing is used before the refresh"
        );
        assert!(ring.refresh(None, 16));
        assert_eq!(describe(&ring), ["a:0"]);
        assert!(
            !ring.refresh(None, 16),
            "a refresh with nothing queued changes nothing"
        );
    }

    #[test]
    fn a_queued_chunk_replaces_a_queued_near_copy() {
        let mut ring = Ring::default();
        // Typing in the same region picks the same lines again, shifted by one.
        ring.queue(chunk("a", "a", 0, 64), 16);
        ring.queue(chunk("a", "a", 1, 64), 16);
        ring.queue(chunk("a", "other", 0, 64), 16);
        assert_eq!(ring.pending(), 2);
        ring.refresh(None, 16);
        assert_eq!(describe(&ring), ["a:1", "a:0"]);
    }

    #[test]
    fn a_new_chunk_evicts_near_copies_in_use_and_goes_last() {
        let mut ring = Ring::default();
        ring.queue(chunk("a", "a", 0, 64), 16);
        ring.queue(chunk("b", "b", 0, 64), 16);
        ring.refresh(None, 16);
        ring.queue(chunk("a", "a", 2, 64), 16);
        ring.refresh(None, 16);
        assert_eq!(describe(&ring), ["b:0", "a:2"]);
        // Half the lines in common is not a near-copy: both stay.
        ring.queue(chunk("a", "a", 34, 64), 16);
        ring.refresh(None, 16);
        assert_eq!(describe(&ring), ["b:0", "a:2", "a:34"]);
    }

    #[test]
    fn the_oldest_chunks_leave_beyond_the_limit() {
        let mut ring = Ring::default();
        for (index, tag) in ["p", "q", "r", "s"].iter().enumerate() {
            ring.queue(chunk(&format!("doc{index}"), tag, 0, 8), 3);
        }
        ring.refresh(None, 3);
        assert_eq!(describe(&ring), ["doc1:0", "doc2:0", "doc3:0"]);
    }

    #[test]
    fn prompts_leave_out_their_own_document_and_their_surroundings() {
        let mut ring = Ring::default();
        ring.queue(chunk("a", "a", 0, 20), 16);
        ring.queue(chunk("b", "b", 0, 20), 16);
        ring.queue(chunk("c", "copy", 0, 20), 16);
        // The user is in `a`, looking at code that `c` nearly copies.
        let surroundings = line_set(&chunk("a", "copy", 5, 20).text);
        ring.refresh(Some(("a".to_string(), surroundings)), 16);
        let names = |chunks: Vec<Arc<Chunk>>| -> Vec<String> {
            chunks.iter().map(|c| c.document.clone()).collect()
        };
        assert_eq!(names(ring.select("a")), ["b"]);
        // Another document is not filtered by `a`'s surroundings.
        assert_eq!(names(ring.select("b")), ["a", "c"]);
    }

    #[test]
    fn closed_documents_leave_at_the_next_refresh() {
        let mut ring = Ring::default();
        ring.queue(chunk("a", "a", 0, 8), 16);
        ring.queue(chunk("b", "b", 0, 8), 16);
        ring.refresh(None, 16);
        ring.queue(chunk("a", "a2", 0, 8), 16);
        ring.close("a");
        assert_eq!(ring.pending(), 0);
        assert_eq!(
            ring.select("b").len(),
            1,
            "the list changes only at a refresh"
        );
        assert!(ring.refresh(None, 16));
        assert_eq!(describe(&ring), ["b:0"]);
    }

    #[test]
    fn the_selection_is_stable_between_refreshes_while_chunks_queue() {
        let mut ring = Ring::default();
        ring.queue(chunk("a", "a", 0, 30), 16);
        ring.refresh(None, 16);
        let before = ring.select("b");
        for line in 0..50 {
            ring.queue(chunk("b", "b", line, 30), 16);
            assert_eq!(ring.select("b"), before);
        }
    }
}
