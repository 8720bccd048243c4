//! Exponential backoff over failure episodes: the first failure starts an episode (reported once), each failed retry doubles the wait up to a limit, and the first success ends it.

use std::time::{Duration, Instant};

/// The first wait after a failure.
pub const INITIAL_DELAY: Duration = Duration::from_secs(1);
/// The longest wait between retries.
pub const MAX_DELAY: Duration = Duration::from_secs(60);

/// Whether the server may be asked now, and how failures and successes change that.
#[derive(Debug, Clone)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    episode: Option<Episode>,
}

#[derive(Debug, Clone)]
struct Episode {
    delay: Duration,
    retry_at: Instant,
    reason: String,
}

/// What a failure meant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// The first failure after a success (or ever): report it.
    NewEpisode,
    /// A retry failed again: the wait doubled; already reported.
    Retried,
    /// A request started before the episode failed too: nothing changes.
    AlreadyKnown,
}

impl Default for Backoff {
    fn default() -> Self {
        Self::new(INITIAL_DELAY, MAX_DELAY)
    }
}

impl Backoff {
    pub fn new(initial: Duration, max: Duration) -> Self {
        Self {
            initial,
            max: max.max(initial),
            episode: None,
        }
    }

    /// While backing off: why, and how long until the next request may go.
    pub fn blocked(&self, now: Instant) -> Option<(&str, Duration)> {
        let episode = self.episode.as_ref()?;
        (now < episode.retry_at).then(|| (episode.reason.as_str(), episode.retry_at - now))
    }

    /// Whether a failure episode is going on (backing off or retrying).
    pub fn failing(&self) -> bool {
        self.episode.is_some()
    }

    /// Records a failed request that started at `started`.
    pub fn record_failure(&mut self, started: Instant, now: Instant, reason: &str) -> Failure {
        match &mut self.episode {
            None => {
                self.episode = Some(Episode {
                    delay: self.initial,
                    retry_at: now + self.initial,
                    reason: reason.to_string(),
                });
                Failure::NewEpisode
            }
            // Requests in flight when the episode began fail one after another: only a request
            // sent after the wait (a retry) doubles it.
            Some(episode) if started < episode.retry_at => Failure::AlreadyKnown,
            Some(episode) => {
                episode.delay = (episode.delay * 2).min(self.max);
                episode.retry_at = now + episode.delay;
                episode.reason = reason.to_string();
                Failure::Retried
            }
        }
    }

    /// Records a request that worked; true when it ended a failure episode.
    pub fn record_success(&mut self) -> bool {
        self.episode.take().is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_double_up_to_the_limit_and_a_success_clears_them() {
        let mut backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(4));
        let start = Instant::now();
        assert!(backoff.blocked(start).is_none());
        assert_eq!(
            backoff.record_failure(start, start, "refused"),
            Failure::NewEpisode
        );
        let (reason, wait) = backoff.blocked(start).expect("backing off");
        assert_eq!((reason, wait), ("refused", Duration::from_secs(1)));

        let mut now = start;
        let mut waits = Vec::new();
        for _ in 0..4 {
            let (_, wait) = backoff.blocked(now).expect("backing off");
            now += wait;
            assert!(backoff.blocked(now).is_none(), "the retry may go");
            assert_eq!(backoff.record_failure(now, now, "again"), Failure::Retried);
            waits.push(backoff.blocked(now).expect("backing off").1.as_secs());
        }
        assert_eq!(waits, [2, 4, 4, 4]);

        assert!(backoff.record_success());
        assert!(backoff.blocked(now).is_none());
        assert!(
            !backoff.record_success(),
            "only the first success ends the episode"
        );
    }

    #[test]
    fn failures_of_requests_sent_before_the_episode_change_nothing() {
        let mut backoff = Backoff::default();
        let sent = Instant::now();
        let failed = sent + Duration::from_millis(10);
        backoff.record_failure(sent, failed, "first");
        assert_eq!(
            backoff.record_failure(sent, failed + Duration::from_millis(5), "second"),
            Failure::AlreadyKnown
        );
        assert_eq!(
            backoff.blocked(failed).expect("backing off").1,
            INITIAL_DELAY
        );
    }
}
