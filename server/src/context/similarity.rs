//! How much two pieces of code overlap, measured on their sets of lines, and the two thresholds built on it: a new chunk evicts near-copies of itself, and chunks much like the cursor's surroundings are left out of the prompt.

use std::collections::HashSet;

/// A new chunk evicts ring chunks that overlap it by more than this: they show the same code.
pub const EVICT_ABOVE: f64 = 0.9;

/// Chunks that overlap the cursor's surroundings by more than this are left out of the prompt:
/// the prompt already has that code, and a second copy only pulls the model into repeating it.
pub const SURROUNDINGS_ABOVE: f64 = 0.5;

/// The Dice similarity of two line sets: twice the shared lines over the sum of their sizes, 0
/// when both are empty. 1 means the same lines, 0 no line in common.
pub fn similarity(a: &HashSet<u64>, b: &HashSet<u64>) -> f64 {
    let total = a.len() + b.len();
    if total == 0 {
        return 0.0;
    }
    let (small, large) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    let shared = small.iter().filter(|line| large.contains(line)).count();
    2.0 * shared as f64 / total as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::chunk::line_set;

    #[test]
    fn same_disjoint_and_partial_overlaps() {
        let a = line_set("a\nb\nc\nd\n");
        assert_eq!(similarity(&a, &a), 1.0);
        assert_eq!(similarity(&a, &line_set("e\nf\n")), 0.0);
        // Two of four lines shared with a two-line set: 2 * 2 / 6.
        assert!((similarity(&a, &line_set("a\nb\n")) - 4.0 / 6.0).abs() < 1e-9);
        assert_eq!(similarity(&HashSet::new(), &HashSet::new()), 0.0);
    }

    #[test]
    fn a_chunk_shifted_by_one_line_of_many_is_a_near_copy() {
        let lines: Vec<String> = (0..65).map(|i| format!("statement_{i}()")).collect();
        let first = line_set(&lines[..64].join("\n"));
        let shifted = line_set(&lines[1..].join("\n"));
        assert!(similarity(&first, &shifted) > EVICT_ABOVE);
        let half = line_set(&lines[32..].join("\n"));
        assert!(similarity(&first, &half) < EVICT_ABOVE);
    }
}
