//! Typed keys: which cached sequence of which document a job uses, and which pending background job a new one replaces.

use std::fmt;

/// What a document's sequence is for. A document has at most one sequence of each role; all of
/// them are freed with the document and counted with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// The prompt of completions at the cursor (pre-warmed, and shared with diagnostics when the
    /// whole document fits its window).
    Completion,
    /// Diagnostics scans of a document that does not share the completion's sequence.
    Scan,
    /// Reasoning chains and the model's check of their results: never the sequence the user is
    /// editing.
    Reasoning,
    /// Next edit suggestions: rewrites of lines away from the cursor, scored after their own
    /// context window.
    NextEdit,
}

/// The key of one cached sequence.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SequenceKey {
    /// The document's URI.
    pub document: String,
    pub role: Role,
}

impl SequenceKey {
    pub fn completion(document: impl Into<String>) -> Self {
        Self {
            document: document.into(),
            role: Role::Completion,
        }
    }

    pub fn scan(document: impl Into<String>) -> Self {
        Self {
            document: document.into(),
            role: Role::Scan,
        }
    }

    pub fn next_edit(document: impl Into<String>) -> Self {
        Self {
            document: document.into(),
            role: Role::NextEdit,
        }
    }

    pub fn reasoning(document: impl Into<String>) -> Self {
        Self {
            document: document.into(),
            role: Role::Reasoning,
        }
    }
}

impl fmt::Display for SequenceKey {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.role {
            Role::Completion => write!(formatter, "{}", self.document),
            Role::Scan => write!(formatter, "{} (diagnostics scan)", self.document),
            Role::Reasoning => write!(formatter, "{} (reasoning)", self.document),
            Role::NextEdit => write!(formatter, "{} (next edit)", self.document),
        }
    }
}

/// Why a document is scored, which decides when the job runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DiagnoseKind {
    /// The lines just edited: the user waits for them, so this runs before pre-warming.
    EditedRegion,
    /// A newly opened document, scored from the top. It runs with pre-warming, first when queued
    /// first: a document that fits the completion window is scored in the completion's own
    /// sequence, and scoring fills that cache as pre-warming would (the head is the only extra).
    Opened,
    /// The rest of a document after an edit, while the user is idle: after everything else.
    Refresh,
}

/// Which kind of background work a job is: a document has at most one pending job of each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Slot {
    Diagnose(DiagnoseKind),
    Prewarm,
    Prefer,
    NextEdit,
    Housekeeping,
}

/// The key of a pending background job.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BackgroundKey {
    pub document: String,
    pub slot: Slot,
}
