//! Decided first lines kept per document: a pre-warm that decided the first line ahead of the request (or a completion that just did) lets the next completion at the same prompt stream at once.
//!
//! A candidate search is deterministic: the same prompt, quality settings and generation
//! parameters give the same candidates. So its outcome can be computed while the user pauses and
//! reused by the request that follows, which then sends its first line without decoding it.

use std::collections::HashMap;

use rill_model::generate::GenerationParams;
use rill_model::lines::SearchOutcome;

use super::Quality;

/// One decided search: everything that shaped it, and what it found.
struct Entry {
    prompt: Vec<u32>,
    quality: Quality,
    params: GenerationParams,
    outcome: SearchOutcome,
}

/// The last decided search of each document (one entry per document, so memory stays bounded
/// by the number of open documents).
#[derive(Default)]
pub struct FirstLines {
    by_document: HashMap<String, Entry>,
}

impl FirstLines {
    /// The outcome of a search for exactly this prompt, quality and parameters, if one is kept.
    pub fn get(
        &self,
        document: &str,
        prompt: &[u32],
        quality: &Quality,
        params: &GenerationParams,
    ) -> Option<&SearchOutcome> {
        self.by_document
            .get(document)
            .filter(|entry| {
                entry.prompt == prompt && &entry.quality == quality && &entry.params == params
            })
            .map(|entry| &entry.outcome)
    }

    /// Keeps a decided search, replacing the document's previous one.
    pub fn put(
        &mut self,
        document: &str,
        prompt: &[u32],
        quality: &Quality,
        params: &GenerationParams,
        outcome: SearchOutcome,
    ) {
        self.by_document.insert(
            document.to_string(),
            Entry {
                prompt: prompt.to_vec(),
                quality: quality.clone(),
                params: params.clone(),
                outcome,
            },
        );
    }

    /// Documents with a kept search.
    pub fn len(&self) -> usize {
        self.by_document.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_document.is_empty()
    }

    pub fn forget(&mut self, document: &str) {
        self.by_document.remove(document);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(text: &str) -> SearchOutcome {
        SearchOutcome {
            candidates: vec![rill_model::lines::LineCandidate {
                tokens: vec![9],
                text: text.to_string(),
                skipped: 0,
                line_logprob: -0.1,
                line_tokens: 1,
                total_logprob: -0.1,
                following_logprob: 0.0,
                ended: false,
                cut: false,
            }],
            reused_tokens: 3,
            forward_passes: 7,
            ranked_by_following: false,
        }
    }

    #[test]
    fn only_the_same_prompt_quality_and_parameters_find_a_kept_search() {
        let mut kept = FirstLines::default();
        let quality = Quality {
            width: 3,
            ..Quality::default()
        };
        let params = GenerationParams::default();
        kept.put("a", &[1, 2, 3], &quality, &params, outcome("x = 1"));
        assert!(kept.get("a", &[1, 2, 3], &quality, &params).is_some());
        assert!(kept.get("a", &[1, 2], &quality, &params).is_none());
        assert!(kept.get("b", &[1, 2, 3], &quality, &params).is_none());
        let narrower = Quality {
            width: 1,
            ..quality.clone()
        };
        assert!(kept.get("a", &[1, 2, 3], &narrower, &params).is_none());
        let shorter = GenerationParams {
            max_tokens: 8,
            ..params.clone()
        };
        assert!(kept.get("a", &[1, 2, 3], &quality, &shorter).is_none());
        kept.put("a", &[1, 2, 4], &quality, &params, outcome("y"));
        assert!(kept.get("a", &[1, 2, 3], &quality, &params).is_none());
        kept.forget("a");
        assert!(kept.get("a", &[1, 2, 4], &quality, &params).is_none());
    }
}
