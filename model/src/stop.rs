//! Stop sequences: finding user-given stop strings in streamed text, including across chunk boundaries.

use crate::error::{ModelError, Result};

/// Most stop sequences one request may give.
pub const MAX_STOP_SEQUENCES: usize = 16;

/// Watches streamed text for stop sequences. Text that might be the start of a stop sequence is
/// held back until the next chunk shows whether it is one.
#[derive(Debug, Clone)]
pub struct StopMatcher {
    stops: Vec<String>,
    held: String,
    stopped: bool,
}

impl StopMatcher {
    /// A matcher for `stops`; empty strings and more than [`MAX_STOP_SEQUENCES`] are rejected.
    pub fn new(stops: Vec<String>) -> Result<Self> {
        if stops.len() > MAX_STOP_SEQUENCES {
            return Err(ModelError::InvalidParameter {
                parameter: "stop",
                reason: format!("at most {MAX_STOP_SEQUENCES} stop sequences, got {}", stops.len()),
            });
        }
        if stops.iter().any(String::is_empty) {
            return Err(ModelError::InvalidParameter {
                parameter: "stop",
                reason: "stop sequences must not be empty".to_string(),
            });
        }
        Ok(Self {
            stops,
            held: String::new(),
            stopped: false,
        })
    }

    /// Feeds newly decoded text. Returns the text that is safe to emit and whether a stop
    /// sequence was found; after a stop, the text ends right before it and later input is ignored.
    pub fn push(&mut self, chunk: &str) -> (String, bool) {
        if self.stopped {
            return (String::new(), true);
        }
        self.held.push_str(chunk);
        if let Some(at) = self.stops.iter().filter_map(|stop| self.held.find(stop.as_str())).min() {
            self.stopped = true;
            let out = self.held[..at].to_string();
            self.held.clear();
            return (out, true);
        }
        // Keep back the longest tail of the text that is a proper prefix of some stop sequence.
        let keep = self
            .stops
            .iter()
            .map(|stop| longest_suffix_that_prefixes(&self.held, stop))
            .max()
            .unwrap_or(0);
        let split = self.held.len() - keep;
        let out = self.held[..split].to_string();
        self.held.drain(..split);
        (out, false)
    }

    /// End of generation: whatever was held back is ordinary text after all.
    pub fn finish(&mut self) -> String {
        std::mem::take(&mut self.held)
    }
}

/// Length in bytes of the longest suffix of `text` that is a proper prefix of `stop`, cut at
/// character boundaries so held text never splits a character.
fn longest_suffix_that_prefixes(text: &str, stop: &str) -> usize {
    let longest = (stop.len() - 1).min(text.len());
    (1..=longest)
        .rev()
        .find(|&len| {
            let start = text.len() - len;
            text.is_char_boundary(start) && stop.starts_with(&text[start..])
        })
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(stops: &[&str], chunks: &[&str]) -> (String, bool) {
        let mut matcher = StopMatcher::new(stops.iter().map(|s| s.to_string()).collect()).unwrap();
        let mut out = String::new();
        for chunk in chunks {
            let (text, stopped) = matcher.push(chunk);
            out.push_str(&text);
            if stopped {
                return (out, true);
            }
        }
        out.push_str(&matcher.finish());
        (out, false)
    }

    #[test]
    fn stop_split_across_chunks() {
        assert_eq!(run(&["\n\ndef"], &["x = 1", "\n\nde", "f main"]), ("x = 1".to_string(), true));
    }

    #[test]
    fn held_text_is_released_when_it_is_not_a_stop() {
        let mut matcher = StopMatcher::new(vec!["\n\ndef".to_string()]).unwrap();
        assert_eq!(matcher.push("a\n\nd"), ("a".to_string(), false));
        assert_eq!(matcher.push("x"), ("\n\ndx".to_string(), false));
    }

    #[test]
    fn overlapping_prefixes_and_earliest_stop_win() {
        assert_eq!(run(&["aab"], &["aa", "aab"]), ("aa".to_string(), true));
        assert_eq!(run(&["cd", "b"], &["abcd"]), ("a".to_string(), true));
    }

    #[test]
    fn multibyte_characters_are_never_split() {
        assert_eq!(run(&["🦀🦀"], &["x🦀", "y"]), ("x🦀y".to_string(), false));
        assert_eq!(run(&["é!"], &["café", "!"]), ("caf".to_string(), true));
    }

    #[test]
    fn no_stops_pass_through_and_bad_stops_are_rejected() {
        assert_eq!(run(&[], &["a", "b"]), ("ab".to_string(), false));
        assert!(StopMatcher::new(vec![String::new()]).is_err());
        assert!(StopMatcher::new(vec!["x".to_string(); 17]).is_err());
    }
}
