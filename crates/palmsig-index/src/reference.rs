//! Brute-force reference: every enrolled template scored, no coarse stage, plain `Vec`.
use crate::error::IndexError;
use crate::index::{decide, rank, threshold_for, Candidate, SearchParams, SearchResult};
use crate::scorer::Scorer;

/// A brute-force gallery: the specification the fast index is tested against.
#[derive(Debug)]
pub struct BruteForce<S: Scorer> {
    scorer: S,
    records: Vec<(u64, S::Template)>,
}

impl<S: Scorer> BruteForce<S> {
    /// Empty reference.
    pub fn new(scorer: S) -> Self {
        BruteForce {
            scorer,
            records: Vec::new(),
        }
    }

    /// Enrol or replace.
    pub fn upsert(&mut self, id: u64, t: S::Template) {
        self.records.retain(|(i, _)| *i != id);
        self.records.push((id, t));
    }

    /// Remove; returns whether it was present.
    pub fn remove(&mut self, id: u64) -> bool {
        let n = self.records.len();
        self.records.retain(|(i, _)| *i != id);
        n != self.records.len()
    }

    /// Enrolled hands.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether empty.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Score every record; rank; decide.
    pub fn search(
        &self,
        probe: &S::Template,
        p: &SearchParams,
    ) -> Result<SearchResult, IndexError> {
        let prepared = self.scorer.prepare(probe);
        let mut c: Vec<Candidate> = self
            .records
            .iter()
            .map(|(id, t)| Candidate {
                id: *id,
                score: self.scorer.score_prepared(&prepared, t),
            })
            .collect();
        let reranked = c.len();
        rank(&mut c);
        c.truncate(p.max_results);
        let threshold = threshold_for(&self.scorer, p.fpir, self.records.len());
        Ok(SearchResult {
            decision: decide(&c, threshold),
            candidates: c,
            threshold,
            gallery_size: self.records.len(),
            reranked,
        })
    }
}
