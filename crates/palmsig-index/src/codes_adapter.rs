//! Adapter for `palmsig_codes` templates (pending the codes API).
/// placeholder
#[derive(Debug)] pub struct CodesScorer;
