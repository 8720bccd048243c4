//! Stop sequences: finding user-given stop strings in streamed text, including across chunk boundaries.

use crate::error::{ModelError, Result};

/// Most stop sequences one matcher accepts; every chunk is checked against all of them.
const MAX_STOPS: usize = 16;

/// Watches streamed text for stop sequences. Text that might be the start of a stop sequence is held back until it is known.
#[derive(Debug, Clone)]
pub struct StopMatcher {
    stops: Vec<String>,
    /// Longest stop sequence in bytes; more than this minus one byte is never held back.
    longest: usize,
    /// Text received but not yet emitted, because it could be the start of a stop sequence.
    pending: String,
    /// Set once a stop sequence was found; everything after it is dropped.
    stopped: bool,
}

impl StopMatcher {
    /// Creates a matcher for the given stop sequences. Empty strings are rejected (they would match
    /// immediately), as are more than 16 sequences; both fail with `InvalidParameter` ("stop").
    pub fn new(stops: Vec<String>) -> Result<Self> {
        if stops.len() > MAX_STOPS {
            return Err(ModelError::InvalidParameter {
                parameter: "stop",
                reason: format!(
                    "at most {MAX_STOPS} stop sequences are allowed, got {}",
                    stops.len()
                ),
            });
        }
        if stops.iter().any(String::is_empty) {
            return Err(ModelError::InvalidParameter {
                parameter: "stop",
                reason: "stop sequences must not be empty".to_string(),
            });
        }
        let longest = stops.iter().map(String::len).max().unwrap_or(0);
        Ok(Self {
            stops,
            longest,
            pending: String::new(),
            stopped: false,
        })
    }

    /// Feed newly decoded text; returns (text safe to emit now, stopped: bool). When stopped, the returned text ends right before the stop sequence and nothing more must be fed.
    ///
    /// Text fed after a stop was found is ignored: the result is then empty and `stopped` stays true.
    pub fn push(&mut self, chunk: &str) -> (String, bool) {
        if self.stopped {
            return (String::new(), true);
        }
        if self.stops.is_empty() {
            return (chunk.to_string(), false);
        }
        self.pending.push_str(chunk);

        // The earliest occurrence wins, so that no text belonging to a stop sequence is emitted
        // even when one stop sequence contains another.
        let earliest = self
            .stops
            .iter()
            .filter_map(|stop| self.pending.find(stop.as_str()))
            .min();
        if let Some(at) = earliest {
            self.pending.truncate(at);
            self.stopped = true;
            return (std::mem::take(&mut self.pending), true);
        }

        // No stop sequence is complete, but the end of the text may begin one: hold back the
        // longest suffix that is a prefix of some stop sequence and emit the rest.
        let hold_from = self.held_back_start();
        let rest = self.pending.split_off(hold_from);
        (std::mem::replace(&mut self.pending, rest), false)
    }

    /// End of generation: returns held-back text.
    ///
    /// Returns an empty string after a stop sequence was found, because the text after it is dropped.
    pub fn finish(&mut self) -> String {
        std::mem::take(&mut self.pending)
    }

    /// Byte offset in `pending` where the longest suffix that begins some stop sequence starts, or
    /// `pending.len()` if no suffix does. The offset is always a character boundary, so the text is
    /// never split inside a multibyte character.
    fn held_back_start(&self) -> usize {
        let len = self.pending.len();
        // A complete stop sequence is not in `pending`, so a held-back suffix is shorter than the
        // longest stop sequence.
        let first = len.saturating_sub(self.longest.saturating_sub(1));
        (first..len)
            .filter(|&start| self.pending.is_char_boundary(start))
            .find(|&start| {
                let suffix = &self.pending[start..];
                self.stops.iter().any(|stop| stop.starts_with(suffix))
            })
            .unwrap_or(len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matcher(stops: &[&str]) -> StopMatcher {
        StopMatcher::new(stops.iter().map(|s| s.to_string()).collect()).unwrap()
    }

    /// Feeds every chunk and returns everything emitted (including `finish`) and whether it stopped.
    fn run(m: &mut StopMatcher, chunks: &[&str]) -> (String, bool) {
        let mut out = String::new();
        for chunk in chunks {
            let (text, stopped) = m.push(chunk);
            out.push_str(&text);
            if stopped {
                return (out, true);
            }
        }
        out.push_str(&m.finish());
        (out, false)
    }

    #[test]
    fn no_stops_is_passthrough() {
        let mut m = matcher(&[]);
        assert_eq!(m.push("hello "), ("hello ".to_string(), false));
        assert_eq!(m.push("\n\nworld"), ("\n\nworld".to_string(), false));
        assert_eq!(m.finish(), "");
    }

    #[test]
    fn stop_inside_one_chunk() {
        let mut m = matcher(&["END"]);
        assert_eq!(m.push("abcENDxyz"), ("abc".to_string(), true));
        assert_eq!(m.push("more"), (String::new(), true));
        assert_eq!(m.finish(), "");
    }

    #[test]
    fn stop_split_across_chunks() {
        let mut m = matcher(&["\n\ndef"]);
        assert_eq!(m.push("x = 1\n\nde"), ("x = 1".to_string(), false));
        assert_eq!(m.push("f"), (String::new(), true));

        let mut m = matcher(&["\n\ndef"]);
        assert_eq!(
            run(&mut m, &["a", "\n", "\n", "d", "e", "f g"]),
            ("a".to_string(), true)
        );
    }

    #[test]
    fn held_back_text_is_released_when_it_is_not_a_stop() {
        let mut m = matcher(&["\n\ndef"]);
        assert_eq!(m.push("a\n\nd"), ("a".to_string(), false));
        assert_eq!(m.push("o"), ("\n\ndo".to_string(), false));

        // Text still held back when generation ends comes out of `finish`.
        let mut m = matcher(&["\n\ndef"]);
        assert_eq!(m.push("b\n\nde"), ("b".to_string(), false));
        assert_eq!(m.finish(), "\n\nde");
        assert_eq!(m.finish(), "");
    }

    #[test]
    fn overlapping_prefixes() {
        // "aab" can only be recognised after releasing the first "a" of "aaab".
        let mut m = matcher(&["aab"]);
        assert_eq!(m.push("xa"), ("x".to_string(), false));
        assert_eq!(m.push("a"), (String::new(), false));
        assert_eq!(m.push("a"), ("a".to_string(), false));
        assert_eq!(m.push("b"), (String::new(), true));

        // Two stops sharing a prefix: the first complete one stops, and the earliest position wins.
        let mut m = matcher(&["abcd", "abx"]);
        assert_eq!(
            run(&mut m, &["1ab", "c", "x"]),
            ("1abcx".to_string(), false)
        );
        let mut m = matcher(&["abcd", "abx"]);
        assert_eq!(run(&mut m, &["1ab", "x2"]), ("1".to_string(), true));

        // One stop inside another: whichever starts first ends the text.
        let mut m = matcher(&["xbc", "b"]);
        assert_eq!(run(&mut m, &["ax", "bc"]), ("a".to_string(), true));
        let mut m = matcher(&["bcd", "c"]);
        assert_eq!(run(&mut m, &["ab", "cd"]), ("a".to_string(), true));
    }

    #[test]
    fn multibyte_characters_are_never_split() {
        let mut m = matcher(&["世界"]);
        assert_eq!(m.push("你好世"), ("你好".to_string(), false));
        assert_eq!(m.push("界!"), (String::new(), true));

        // A stop whose first character shares its leading byte with another character.
        let mut m = matcher(&["éa"]);
        let (out, stopped) = run(&mut m, &["cafè", "é", "b", "éa"]);
        assert_eq!((out.as_str(), stopped), ("cafèéb", true));

        // Every chunk of emitted text is valid on its own (it is a String), and concatenated it
        // is exactly the input when no stop occurs.
        let input = ["🙂", "é", "\n", "🙂\n", "x"];
        let mut m = matcher(&["🙂\n\n", "é\n\n"]);
        let (out, stopped) = run(&mut m, &input);
        assert!(!stopped);
        assert_eq!(out, input.concat());
    }

    #[test]
    fn emitted_text_equals_input_up_to_the_first_stop_for_any_chunking() {
        let text = "ab\n\nab\n\ncd\n\ndefgh";
        let stops = ["\n\ndef", "\n\ndx", "gh"];
        for size in 1..=text.len() {
            let chunks: Vec<&str> = text
                .as_bytes()
                .chunks(size)
                .map(|c| std::str::from_utf8(c).unwrap())
                .collect();
            let mut m = matcher(&stops);
            assert_eq!(
                run(&mut m, &chunks),
                ("ab\n\nab\n\ncd".to_string(), true),
                "chunk size {size}"
            );
        }
    }

    #[test]
    fn invalid_stop_lists_are_rejected() {
        let empty = StopMatcher::new(vec!["ok".to_string(), String::new()]);
        assert!(matches!(
            empty,
            Err(ModelError::InvalidParameter {
                parameter: "stop",
                ..
            })
        ));
        let too_many = StopMatcher::new((0..17).map(|i| i.to_string()).collect());
        assert!(matches!(
            too_many,
            Err(ModelError::InvalidParameter {
                parameter: "stop",
                ..
            })
        ));
        assert!(StopMatcher::new((0..16).map(|i| i.to_string()).collect()).is_ok());
    }
}
