//! Where the next edit probably is: other occurrences of what the edit replaced (propagation), lines that use what it changed (the calls of a function whose parameters changed), and the lines right below it.
//!
//! Propagation targets carry their replacement, found without the model; the others only say
//! which line the model should rewrite. Targets come nearest first, after the edit before
//! before it, inside a window of lines around the edit so huge files cost no more than small
//! ones.

use std::ops::Range;

use super::Hunk;

/// Lines on each side of the edit that targets are looked for in.
pub const WINDOW_LINES: usize = 200;
/// Lines below the edit that are tried as rewrite targets.
const BELOW_LINES: usize = 2;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetKind {
    /// Another occurrence of what the edit replaced; the same replacement applies there.
    Propagation,
    /// A line that uses what the edit changed (a call of the function whose parameters changed):
    /// the model rewrites it.
    Usage,
    /// A line right below the edit: the model rewrites it, and it is kept only when clearly likelier.
    Below,
}

/// A place to propose the next edit at.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    pub kind: TargetKind,
    /// Byte range of the target's line, without its line break.
    pub line: Range<usize>,
    /// For propagation: the byte range to replace and its new text.
    pub replace: Option<(Range<usize>, String)>,
    /// Why this place, in words.
    pub reason: String,
}

/// The targets for `hunk` in `text` (the text after the edit), best first, at most `max`.
/// `prose` holds the byte ranges of comments and strings: a renamed identifier is propagated
/// through code only (a mention in a comment is the author's to reword).
pub fn targets(text: &str, hunk: &Hunk, prose: &[Range<usize>], max: usize) -> Vec<Target> {
    let window = window(text, hunk.after_range.clone());
    let mut found = Vec::new();
    if let Some(change) = propagated_change(text, hunk) {
        for site in occurrences(text, &change.from, window.clone(), change.whole_word) {
            // An attribute (`.width`) is renamed where it is an attribute; a plain name where it is
            // not, so renaming the local `width` leaves `self.width` alone and vice versa.
            let dotted = text[..site.start].ends_with('.');
            if overlaps(&site, &hunk.after_range)
                || (change.whole_word
                    && (dotted != change.attribute
                        || crate::diagnostics::prose::inside(prose, site.start)))
            {
                continue;
            }
            let line = line_around(text, site.start);
            found.push(Target {
                kind: TargetKind::Propagation,
                line,
                replace: Some((site, change.to.clone())),
                reason: format!("{} → {}", change.from, change.to),
            });
        }
    }
    if let Some(name) = called_name(text, hunk) {
        let edited_line = line_around(text, hunk.after_range.start);
        let removed = removed_argument(text, hunk, &edited_line, &name);
        let call = format!("{name}(");
        for site in occurrences(text, &call, window.clone(), true) {
            let line = line_around(text, site.start);
            if line == edited_line || found.iter().any(|target| target.line == line) {
                continue;
            }
            // A removed parameter is removed from each call with as many arguments as the
            // definition had: no model needed. Other changes are the model's to rewrite.
            let replace = removed.and_then(|(index, count)| {
                let (inside, arguments) = arguments_at(text, site.end - 1)?;
                (arguments.len() == count).then(|| {
                    let kept: Vec<&str> = arguments
                        .iter()
                        .enumerate()
                        .filter(|(i, _)| *i != index)
                        .map(|(_, range)| text[range.clone()].trim())
                        .collect();
                    (inside, kept.join(", "))
                })
            });
            found.push(Target {
                kind: TargetKind::Usage,
                line,
                replace,
                reason: format!("the parameters of {name} changed"),
            });
        }
    }
    order_by_distance(&mut found, hunk.after_range.end);
    let mut below = lines_below(text, hunk.after_range.end, BELOW_LINES, window.end)
        .into_iter()
        .filter(|line| !found.iter().any(|target| &target.line == line))
        .map(|line| Target {
            kind: TargetKind::Below,
            line,
            replace: None,
            reason: "the line below the edit".to_string(),
        })
        .collect();
    found.append(&mut below);
    found.truncate(max);
    found
}

/// What the edit changed that recurs elsewhere verbatim: a renamed identifier or a changed literal.
struct Change {
    from: String,
    to: String,
    /// Identifiers and numbers match whole words only; quoted literals match as written.
    whole_word: bool,
    /// The renamed word follows a `.`: an attribute or method.
    attribute: bool,
}

fn propagated_change(text: &str, hunk: &Hunk) -> Option<Change> {
    let (from, to) = (hunk.before.as_str(), hunk.after.as_str());
    if from.is_empty() || to.is_empty() || from == to {
        return None;
    }
    let word = |s: &str| s.chars().all(|c| c.is_alphanumeric() || c == '_');
    if !(word(from) && word(to)) {
        return None;
    }
    // Inside quotes the change is a literal (a key, a message): match it with its quotes, so that
    // a key "name" does not rename the variable name.
    let before = text[..hunk.after_range.start].chars().next_back();
    let after = text[hunk.after_range.end..].chars().next();
    if let (Some(open), Some(close)) = (before, after) {
        if open == close && matches!(open, '"' | '\'' | '`') {
            return Some(Change {
                from: format!("{open}{from}{open}"),
                to: format!("{open}{to}{open}"),
                whole_word: false,
                attribute: false,
            });
        }
    }
    Some(Change {
        from: from.to_string(),
        to: to.to_string(),
        whole_word: true,
        attribute: before == Some('.'),
    })
}

/// The function whose argument list the edit is inside of, on the edited line: `name(` with the
/// edit between its parentheses.
fn called_name(text: &str, hunk: &Hunk) -> Option<String> {
    let line = line_around(text, hunk.after_range.start);
    let line_text = &text[line.clone()];
    let edit_start = hunk.after_range.start - line.start;
    // The nearest unclosed '(' before the edit.
    let mut depth = 0usize;
    let mut open = None;
    for (index, c) in line_text[..edit_start.min(line_text.len())]
        .char_indices()
        .rev()
    {
        match c {
            ')' => depth += 1,
            '(' if depth == 0 => {
                open = Some(index);
                break;
            }
            '(' => depth -= 1,
            _ => {}
        }
    }
    let open = open?;
    let name = crate::documents::trailing_word(&line_text[..open]).to_string();
    let keyword = matches!(
        name.as_str(),
        "if" | "for" | "while" | "return" | "print" | "match" | "switch" | "elif" | "and" | "or"
    );
    (!name.is_empty() && !name.starts_with(|c: char| c.is_ascii_digit()) && !keyword)
        .then_some(name)
}

/// Which parameter the edit removed from the parameter list of `name` on the edited line, and how
/// many there were: `Some((index, count))` when exactly one top-level parameter went away.
fn removed_argument(
    text: &str,
    hunk: &Hunk,
    edited_line: &Range<usize>,
    name: &str,
) -> Option<(usize, usize)> {
    // Only an edit inside the one line: a hunk across lines is no parameter list's change.
    if hunk.after_range.start < edited_line.start || hunk.after_range.end > edited_line.end {
        return None;
    }
    let new_line = &text[edited_line.clone()];
    let old_line = format!(
        "{}{}{}",
        &text[edited_line.start..hunk.after_range.start],
        hunk.before,
        &text[hunk.after_range.end..edited_line.end]
    );
    let call = format!("{name}(");
    let parameters = |line: &str| -> Option<Vec<String>> {
        let open = line.find(&call)? + call.len() - 1;
        let (_, arguments) = arguments_at(line, open)?;
        Some(
            arguments
                .iter()
                .map(|range| line[range.clone()].trim().to_string())
                .collect(),
        )
    };
    let (before, after) = (parameters(&old_line)?, parameters(new_line)?);
    if before.len() != after.len() + 1 {
        return None;
    }
    let index = (0..before.len()).find(|&i| {
        let mut kept = before.clone();
        kept.remove(i);
        kept == after
    })?;
    Some((index, before.len()))
}

/// The argument list whose '(' is at byte `open` of `text`: the range between the parentheses and
/// each top-level argument's range; `None` when the parenthesis does not close on its line.
fn arguments_at(text: &str, open: usize) -> Option<(Range<usize>, Vec<Range<usize>>)> {
    if text.as_bytes().get(open) != Some(&b'(') {
        return None;
    }
    let mut depth = 0usize;
    let mut quote: Option<char> = None;
    let mut arguments = Vec::new();
    let mut start = open + 1;
    for (offset, c) in text[open + 1..].char_indices() {
        let at = open + 1 + offset;
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '(' | '[' | '{') => depth += 1,
            (None, ')') if depth == 0 => {
                if !text[start..at].trim().is_empty() || !arguments.is_empty() {
                    arguments.push(start..at);
                }
                return Some((open + 1..at, arguments));
            }
            (None, ')' | ']' | '}') => depth = depth.saturating_sub(1),
            (None, ',') if depth == 0 => {
                arguments.push(start..at);
                start = at + 1;
            }
            (None, '\n') => return None,
            _ => {}
        }
    }
    None
}

/// Byte ranges of `needle` in `text` inside `window`, as a whole word when asked.
fn occurrences(
    text: &str,
    needle: &str,
    window: Range<usize>,
    whole_word: bool,
) -> Vec<Range<usize>> {
    let is_word = |c: char| c.is_alphanumeric() || c == '_';
    let mut found = Vec::new();
    let haystack = &text[window.clone()];
    for (offset, _) in haystack.match_indices(needle) {
        let start = window.start + offset;
        let end = start + needle.len();
        if whole_word {
            let first = needle.chars().next().is_some_and(is_word);
            let last = needle.chars().next_back().is_some_and(is_word);
            let before = text[..start].chars().next_back().is_some_and(is_word);
            let after = text[end..].chars().next().is_some_and(is_word);
            if (first && before) || (last && after) {
                continue;
            }
        }
        found.push(start..end);
    }
    found
}

fn overlaps(a: &Range<usize>, b: &Range<usize>) -> bool {
    a.start < b.end.max(b.start + 1) && b.start < a.end
}

/// Nearest first after `at`, then nearest first before it.
fn order_by_distance(targets: &mut [Target], at: usize) {
    targets.sort_by_key(|target| {
        let start = target.line.start;
        let kind = match target.kind {
            TargetKind::Propagation => 0,
            TargetKind::Usage => 1,
            TargetKind::Below => 2,
        };
        if start >= at {
            (kind, 0, start - at)
        } else {
            (kind, 1, at - start)
        }
    });
}

/// The byte range of the line holding `at`, without its line break.
pub fn line_around(text: &str, at: usize) -> Range<usize> {
    let at = at.min(text.len());
    let start = text[..at].rfind('\n').map_or(0, |index| index + 1);
    let end = text[at..].find('\n').map_or(text.len(), |index| at + index);
    let end = if text[start..end].ends_with('\r') {
        end - 1
    } else {
        end
    };
    start..end
}

/// Up to `count` non-blank lines starting after the line holding `at`.
fn lines_below(text: &str, at: usize, count: usize, limit: usize) -> Vec<Range<usize>> {
    let mut lines = Vec::new();
    let mut next = line_around(text, at).end;
    while lines.len() < count {
        let Some(offset) = text[next..].find('\n') else {
            break;
        };
        let start = next + offset + 1;
        if start >= limit.min(text.len()) {
            break;
        }
        let line = line_around(text, start);
        if !text[line.clone()].trim().is_empty() {
            lines.push(line.clone());
        }
        next = line.end;
    }
    lines
}

/// [`WINDOW_LINES`] lines on each side of `edit`, as a byte range.
fn window(text: &str, edit: Range<usize>) -> Range<usize> {
    let start = text[..edit.start.min(text.len())]
        .rmatch_indices('\n')
        .nth(WINDOW_LINES)
        .map_or(0, |(index, _)| index + 1);
    let end = text[edit.end.min(text.len())..]
        .match_indices('\n')
        .nth(WINDOW_LINES)
        .map_or(text.len(), |(index, _)| edit.end + index);
    start..end
}

#[cfg(test)]
mod tests {
    use super::*;

    fn targets_for(old: &str, new: &str) -> Vec<(TargetKind, String, Option<String>)> {
        let hunk = Hunk::between(old, new).unwrap();
        targets(
            new,
            &hunk,
            &crate::diagnostics::prose::prose_ranges(new, "python"),
            8,
        )
        .into_iter()
        .map(|target| {
            let replaced = target.replace.as_ref().map(|(range, to)| {
                let mut line = new[target.line.clone()].to_string();
                let local = range.start - target.line.start..range.end - target.line.start;
                line.replace_range(local, to);
                line
            });
            (target.kind, new[target.line].to_string(), replaced)
        })
        .collect()
    }

    #[test]
    fn an_edit_across_lines_that_starts_in_a_call_is_not_read_as_a_removed_argument() {
        // Found by the random-message campaign: the hunk ends lines after the one it starts on.
        let old = "def scale(value, factor):\n    return value * 15\n\nscale(1, 2)\n";
        let new =
            "def scale(value):\n    return value * 15 + 🦀_6\nx_33 = [65686]\n\nscale(1, 2)\n";
        for (kind, line, _) in targets_for(old, new) {
            assert!(new.contains(&line), "{kind:?} {line:?}");
        }
    }

    #[test]
    fn a_renamed_variable_propagates_to_its_other_uses_nearest_after_first() {
        let old = "total = 0\nfor x in xs:\n    total += x\nprint(total)\n";
        let new = "sum_ = 0\nfor x in xs:\n    total += x\nprint(total)\n";
        let found = targets_for(old, new);
        assert_eq!(found[0].0, TargetKind::Propagation);
        assert_eq!(found[0].2.as_deref(), Some("    sum_ += x"));
        assert_eq!(found[1].2.as_deref(), Some("print(sum_)"));
    }

    #[test]
    fn a_renamed_name_is_not_propagated_into_comments_or_strings() {
        let old = "n = 1\n# n counts\ns = \"n\"\nprint(n)\n";
        let new = "k = 1\n# n counts\ns = \"n\"\nprint(n)\n";
        let found = targets_for(old, new);
        assert_eq!(found[0].2.as_deref(), Some("print(k)"), "{found:?}");
    }

    #[test]
    fn a_renamed_name_does_not_match_inside_longer_names() {
        let old = "n = 1\nnumber = n + n_max\n";
        let new = "k = 1\nnumber = n + n_max\n";
        let found = targets_for(old, new);
        let propagated: Vec<_> = found
            .iter()
            .filter(|target| target.0 == TargetKind::Propagation)
            .collect();
        assert_eq!(propagated.len(), 1, "{found:?}");
        assert_eq!(propagated[0].2.as_deref(), Some("number = k + n_max"));
    }

    #[test]
    fn attributes_and_plain_names_are_renamed_apart() {
        let old = "self.width = width\nw = width + self.width\n";
        let new = "self.size = width\nw = width + self.width\n";
        let found = targets_for(old, new);
        assert_eq!(
            found[0].2.as_deref(),
            Some("w = width + self.size"),
            "{found:?}"
        );
        let new = "self.width = size\nw = width + self.width\n";
        let found = targets_for(old, new);
        assert_eq!(
            found[0].2.as_deref(),
            Some("w = size + self.width"),
            "{found:?}"
        );
    }

    #[test]
    fn a_changed_key_propagates_with_its_quotes_only() {
        let old = "a = d[\"name\"]\nname = 1\nb = d[\"name\"]\n";
        let new = "a = d[\"title\"]\nname = 1\nb = d[\"name\"]\n";
        let found = targets_for(old, new);
        assert_eq!(found[0].2.as_deref(), Some("b = d[\"title\"]"));
        assert!(found
            .iter()
            .all(|target| target.1 != "name = 1" || target.0 == TargetKind::Below));
    }

    #[test]
    fn a_changed_parameter_list_targets_the_calls() {
        let old = "def area(w, h):\n    return w * h\n\nx = area(2, 3)\ny = 1\n";
        let new = "def area(w, h, d):\n    return w * h\n\nx = area(2, 3)\ny = 1\n";
        let found = targets_for(old, new);
        assert_eq!(found[0].0, TargetKind::Usage, "{found:?}");
        assert_eq!(found[0].1, "x = area(2, 3)");
        assert!(found.iter().any(|target| target.0 == TargetKind::Below));
    }

    #[test]
    fn a_removed_parameter_is_removed_from_the_calls_that_pass_it() {
        let old =
            "def area(w, h, d):\n    return w * h\n\nx = area(2, f(3, 4), 5)\ny = area(1, 2)\n";
        let new = "def area(w, h):\n    return w * h\n\nx = area(2, f(3, 4), 5)\ny = area(1, 2)\n";
        let found = targets_for(old, new);
        assert_eq!(found[0].0, TargetKind::Usage, "{found:?}");
        assert_eq!(found[0].2.as_deref(), Some("x = area(2, f(3, 4))"));
        // A call that does not pass it is left to the model.
        assert_eq!(found[1].1, "y = area(1, 2)");
        assert_eq!(found[1].2, None);
        let old = "def f(a, b):\n    pass\nf(1, 2)\n";
        let new = "def f(b):\n    pass\nf(1, 2)\n";
        assert_eq!(targets_for(old, new)[0].2.as_deref(), Some("f(2)"));
    }

    #[test]
    fn lines_below_come_last_and_skip_blank_lines() {
        let old = "a = 1\n\nb = 2\nc = 3\nd = 4\n";
        let new = "a = 5\n\nb = 2\nc = 3\nd = 4\n";
        let found = targets_for(old, new);
        let below: Vec<_> = found.iter().map(|target| target.1.as_str()).collect();
        assert_eq!(below, ["b = 2", "c = 3"]);
    }

    #[test]
    fn the_window_limits_huge_files() {
        let mut old = String::from("value = 1\n");
        for _ in 0..(WINDOW_LINES * 3) {
            old.push_str("pass\n");
        }
        old.push_str("print(value)\n");
        let new = old.replacen("value = 1", "amount = 1", 1);
        assert!(targets_for(&old, &new)
            .iter()
            .all(|target| target.0 != TargetKind::Propagation));
    }

    #[test]
    fn crlf_lines_exclude_the_carriage_return() {
        let text = "a = 1\r\nb = 2\r\n";
        assert_eq!(&text[line_around(text, 8)], "b = 2");
    }
}
