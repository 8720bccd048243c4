//! Adaptive triggering: how long an automatic completion waits before it starts new model work, from the user's typing rhythm and the model's measured latency.
//!
//! Editors ask for a suggestion on every keystroke. Suggestions the typed text still matches
//! (typed-ahead, the cache) cost nothing and are served at once; what costs is a new generation
//! started in the middle of a word while the user keeps typing, because the next keystroke
//! usually makes it stale before anyone reads it. So a request that needs new model work in the
//! middle of a word waits for about one and a half of the user's own keystroke intervals, less
//! the time the model takes to show its first text (but never less than 1.2 intervals), so that
//! a suggestion after a pause still appears about when the user's rhythm says the pause began. At
//! a word boundary (after a space, an operator, a bracket, a new line), where suggestions are read,
//! and on explicit requests, it does not wait. Tabby's client debounce weighs the same two
//! figures; doing it here, once, serves every editor alike. The other half of saving model work,
//! stopping what a keystroke made useless (including a first-line search the typed text
//! contradicts), is `suggestions::Suggestions::stop_unreachable`.

use std::time::{Duration, Instant};

/// A gap between two edits longer than this is a pause, not part of the typing rhythm.
const LONGEST_TYPING_GAP: Duration = Duration::from_millis(1000);
/// Gaps seen before the rhythm is trusted; until then nothing waits.
const WARM_UP_GAPS: u32 = 3;
/// Weight of the newest sample in the moving averages.
const SMOOTHING: f64 = 0.2;
/// How many of the user's keystroke intervals without a keystroke make a pause in a word.
const PAUSE_INTERVALS: f64 = 1.5;
/// The model's latency shortens the wait to no less than this many intervals: a request must not
/// start before the user's next keystroke would usually have come, or it only starts work that
/// keystroke throws away.
const LEAST_INTERVALS: f64 = 1.2;

/// The configured bounds of the wait (`completion.adaptiveDelay`, `completion.delayMinMs`,
/// `completion.delayMaxMs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounds {
    pub adaptive: bool,
    pub min: Duration,
    pub max: Duration,
}

/// Where the cursor is, as far as waiting is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    /// Right after a letter, digit or `_` with no word character after it: the user is most
    /// likely still typing the word.
    InWord,
    /// Anywhere else: after a space, an operator, a bracket or at the start of a line.
    Boundary,
}

impl Place {
    /// The place of a cursor between `before` (the text before it on its line) and `after`.
    pub fn of(before: &str, after: &str) -> Self {
        let word = |c: char| c.is_alphanumeric() || c == '_';
        let in_word =
            before.chars().next_back().is_some_and(word) && !after.chars().next().is_some_and(word);
        if in_word {
            Self::InWord
        } else {
            Self::Boundary
        }
    }
}

/// The user's typing rhythm and the model's latency, as moving averages.
#[derive(Debug, Default)]
pub struct Rhythm {
    last_edit: Option<Instant>,
    gaps: u32,
    /// Average gap between two edits that were part of typing, in milliseconds.
    interval_ms: Option<f64>,
    /// Average time from a request to the first text of a new generation, in milliseconds.
    latency_ms: Option<f64>,
}

impl Rhythm {
    /// Notes an edit made at `at`.
    pub fn on_edit(&mut self, at: Instant) {
        if let Some(last) = self.last_edit.replace(at) {
            let gap = at.saturating_duration_since(last);
            if gap <= LONGEST_TYPING_GAP {
                self.gaps = self.gaps.saturating_add(1);
                average(&mut self.interval_ms, millis(gap));
            }
        }
    }

    /// Notes how long a new generation took to show its first text.
    pub fn on_model_latency(&mut self, latency: Duration) {
        average(&mut self.latency_ms, millis(latency));
    }

    /// How long an automatic request at `place` waits before starting new model work.
    pub fn delay(&self, place: Place, bounds: Bounds) -> Duration {
        let max = bounds.max.max(bounds.min);
        let adaptive = match (bounds.adaptive, place, self.interval_ms) {
            (true, Place::InWord, Some(interval)) if self.gaps >= WARM_UP_GAPS => {
                let latency = self.latency_ms.unwrap_or(0.0);
                let wait = (PAUSE_INTERVALS * interval - latency).max(LEAST_INTERVALS * interval);
                Duration::from_micros((wait.max(0.0) * 1000.0).round() as u64)
            }
            _ => Duration::ZERO,
        };
        adaptive.clamp(bounds.min, max)
    }

    /// The averages, for `rill/status`-like reports and tests: (keystroke interval, model latency).
    pub fn averages(&self) -> (Option<Duration>, Option<Duration>) {
        let duration = |ms: f64| Duration::from_micros((ms * 1000.0).round() as u64);
        (
            self.interval_ms
                .filter(|_| self.gaps >= WARM_UP_GAPS)
                .map(duration),
            self.latency_ms.map(duration),
        )
    }
}

fn average(slot: &mut Option<f64>, sample: f64) {
    *slot = Some(match *slot {
        Some(mean) => mean + SMOOTHING * (sample - mean),
        None => sample,
    });
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    const ON: Bounds = Bounds {
        adaptive: true,
        min: Duration::ZERO,
        max: Duration::from_millis(400),
    };

    fn typed(gap_ms: u64, keys: u32) -> Rhythm {
        let mut rhythm = Rhythm::default();
        let start = Instant::now();
        for key in 0..keys {
            rhythm.on_edit(start + Duration::from_millis(gap_ms * u64::from(key)));
        }
        rhythm
    }

    #[test]
    fn words_and_boundaries() {
        assert_eq!(Place::of("let total", ""), Place::InWord);
        assert_eq!(Place::of("let total", ")"), Place::InWord);
        assert_eq!(Place::of("let to", "tal"), Place::Boundary);
        assert_eq!(Place::of("let total ", ""), Place::Boundary);
        assert_eq!(Place::of("foo(", ""), Place::Boundary);
        assert_eq!(Place::of("", ""), Place::Boundary);
        assert_eq!(Place::of("naïve_ß", ""), Place::InWord);
    }

    #[test]
    fn in_a_word_it_waits_one_and_a_half_intervals_less_the_model_latency() {
        let mut rhythm = typed(100, 10);
        assert_eq!(rhythm.delay(Place::InWord, ON), Duration::from_millis(150));
        rhythm.on_model_latency(Duration::from_millis(20));
        assert_eq!(rhythm.delay(Place::InWord, ON), Duration::from_millis(130));
        // Never less than 1.2 intervals: the next keystroke usually comes before that.
        rhythm.on_model_latency(Duration::from_millis(900));
        assert_eq!(rhythm.delay(Place::InWord, ON), Duration::from_millis(120));
        // At a boundary, where suggestions are read, nothing waits.
        assert_eq!(rhythm.delay(Place::Boundary, ON), Duration::ZERO);
    }

    #[test]
    fn a_slow_typist_meets_the_bounds() {
        let rhythm = typed(100, 10);
        let slow = typed(900, 10);
        assert_eq!(slow.delay(Place::InWord, ON), Duration::from_millis(400));
        let floor = Bounds {
            min: Duration::from_millis(30),
            ..ON
        };
        assert_eq!(
            rhythm.delay(Place::Boundary, floor),
            Duration::from_millis(30)
        );
    }

    #[test]
    fn pauses_do_not_count_and_nothing_waits_before_the_rhythm_is_known() {
        assert_eq!(typed(100, 3).delay(Place::InWord, ON), Duration::ZERO);
        // Gaps above a second are pauses: they neither count nor move the average.
        let mut rhythm = typed(100, 10);
        rhythm.on_edit(Instant::now() + Duration::from_secs(60));
        assert_eq!(rhythm.delay(Place::InWord, ON), Duration::from_millis(150));
    }

    #[test]
    fn switched_off_only_the_minimum_remains_and_absurd_bounds_are_ordered() {
        let rhythm = typed(100, 10);
        let off = Bounds {
            adaptive: false,
            min: Duration::from_millis(20),
            max: Duration::from_millis(400),
        };
        assert_eq!(rhythm.delay(Place::InWord, off), Duration::from_millis(20));
        let crossed = Bounds {
            adaptive: true,
            min: Duration::from_millis(300),
            max: Duration::from_millis(100),
        };
        assert_eq!(
            rhythm.delay(Place::InWord, crossed),
            Duration::from_millis(300)
        );
    }
}
