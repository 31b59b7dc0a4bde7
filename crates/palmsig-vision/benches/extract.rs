//! Placeholder until the synthetic hand is wired in (replaced below).
fn main() {}
