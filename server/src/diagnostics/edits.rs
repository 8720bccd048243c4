//! The flags of one document kept in step with its text: edits move later flags, drop the ones they touch, and rescoring replaces a region's flags.

use std::ops::Range;

use super::spans::Flag;

/// One edit in byte offsets: `old` in the text before the edit became `new_len` bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ByteEdit {
    pub old: Range<usize>,
    pub new_len: usize,
}

/// The current flags of a document, in order and not overlapping.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FlagSet {
    flags: Vec<Flag>,
}

impl FlagSet {
    pub fn flags(&self) -> &[Flag] {
        &self.flags
    }

    /// Moves flags after the edit by its length change and drops those it touches (their text is
    /// no longer what the model scored). Flags before the edit stay: their scores depend only on
    /// the text before them.
    pub fn apply_edit(&mut self, edit: &ByteEdit) {
        let delta = edit.new_len as isize - edit.old.len() as isize;
        let shift = |offset: usize| (offset as isize + delta) as usize;
        self.flags.retain_mut(|flag| {
            if flag.range.end < edit.old.start {
                return true;
            }
            if flag.range.start <= edit.old.end {
                return false;
            }
            flag.range = shift(flag.range.start)..shift(flag.range.end);
            if let Some(fix) = &mut flag.fix {
                fix.replace = shift(fix.replace.start)..shift(fix.replace.end);
            }
            true
        });
    }

    /// Replaces the flags that start inside `region` with `fresh` (flags found by scoring it).
    pub fn replace_region(&mut self, region: Range<usize>, fresh: Vec<Flag>) {
        self.flags
            .retain(|flag| !(region.start <= flag.range.start && flag.range.start < region.end));
        self.flags.extend(fresh);
        self.flags.sort_by_key(|flag| flag.range.start);
        // A fresh flag snapped across the region's edge may overlap an old one: keep the earlier.
        let mut kept: Vec<Flag> = Vec::with_capacity(self.flags.len());
        for flag in std::mem::take(&mut self.flags) {
            if kept
                .last()
                .is_some_and(|last| flag.range.start < last.range.end)
            {
                continue;
            }
            kept.push(flag);
        }
        self.flags = kept;
    }

    /// Drops every flag (a full rescoring follows: after `didOpen` or a settings change).
    pub fn clear(&mut self) {
        self.flags.clear();
    }
}
