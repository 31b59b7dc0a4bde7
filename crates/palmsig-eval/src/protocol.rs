//! The evaluation protocols and how they split a manifest's captures.
//!
//! * [`Protocol::AllPairs`]: every unordered pair of distinct captures once (`n(n−1)/2`); same
//!   class = genuine. In `scores.txt` the later row of the pair (manifest order) is the probe and
//!   the earlier one's class is the claimed class.
//! * [`Protocol::CrossSession`]: per class, the captures of its first session — session labels
//!   sorted by [`session_cmp`] (numeric-aware: `2` before `10`; an empty label is one session) —
//!   form the gallery, all others are probes. Headline: every probe against every gallery
//!   capture (capture vs capture); closed-set rank-1 with a class's score = its best gallery
//!   capture; `enrolment`: every probe against each class enrolled once from all its gallery
//!   captures (`compare_reference`).
//! * [`Protocol::OpenSet`]: a seeded fraction of classes (rounded, at least one when the fraction
//!   is positive and there are two classes or more, never all) is held out. Enrolled classes keep
//!   the cross-session gallery/probe split; a class with a single session instead enrols its first
//!   `⌈n/2⌉` captures (manifest order) and probes with the rest. Each probe of an enrolled class
//!   is a mated search, every capture of a held-out class a non-mated search; a search compares
//!   the probe with each enrolled class's multi-capture reference.

use palmsig_core::Rng;

use crate::manifest::{session_cmp, Manifest};

/// An evaluation protocol.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Protocol {
    /// Every unordered pair of captures.
    AllPairs,
    /// First session = gallery, other sessions = probes.
    CrossSession,
    /// Some classes held out of the gallery.
    OpenSet {
        /// Fraction of classes held out, in `[0, 1)`.
        fraction: f64,
        /// Seed of the choice.
        seed: u64,
    },
}

impl Protocol {
    /// The protocol's name as written in the report: `all-pairs`, `cross-session`, `open-set`.
    pub fn name(&self) -> &'static str {
        match self {
            Protocol::AllPairs => "all-pairs",
            Protocol::CrossSession => "cross-session",
            Protocol::OpenSet { .. } => "open-set",
        }
    }
}

/// Role of a capture in a gallery/probe protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Enrolled (part of its class's reference).
    Gallery,
    /// Searched / verified against the gallery (mated when its class is enrolled).
    Probe,
}

/// The first session label of each class (numeric-aware order), indexed by class.
fn first_sessions(m: &Manifest) -> Vec<Option<&str>> {
    let mut first: Vec<Option<&str>> = vec![None; m.classes.len()];
    for c in &m.captures {
        let f = &mut first[c.class as usize];
        match f {
            Some(s) if session_cmp(&c.session, s) != std::cmp::Ordering::Less => {}
            _ => *f = Some(&c.session),
        }
    }
    first
}

/// Cross-session roles, one per capture: gallery iff the capture is in its class's first session.
pub fn cross_session_roles(m: &Manifest) -> Vec<Role> {
    let first = first_sessions(m);
    m.captures
        .iter()
        .map(|c| {
            if first[c.class as usize] == Some(c.session.as_str()) {
                Role::Gallery
            } else {
                Role::Probe
            }
        })
        .collect()
}

/// The classes held out by the open-set protocol (sorted class indices).
pub fn held_out_classes(n_classes: usize, fraction: f64, seed: u64) -> Vec<u32> {
    if n_classes < 2 || fraction <= 0.0 {
        return Vec::new();
    }
    let k = ((fraction * n_classes as f64).round() as usize).clamp(1, n_classes - 1);
    let mut order: Vec<u32> = (0..n_classes as u32).collect();
    let mut rng = Rng::new(seed);
    for i in (1..order.len()).rev() {
        let j = rng.below(i as u64 + 1) as usize;
        order.swap(i, j);
    }
    let mut held: Vec<u32> = order[..k].to_vec();
    held.sort_unstable();
    held
}

/// Open-set roles, one per capture, and the held-out flag per class.
pub fn open_set_roles(m: &Manifest, fraction: f64, seed: u64) -> (Vec<Role>, Vec<bool>) {
    let mut held = vec![false; m.classes.len()];
    for c in held_out_classes(m.classes.len(), fraction, seed) {
        held[c as usize] = true;
    }
    let mut roles = cross_session_roles(m);
    // Classes with a single session: first ⌈n/2⌉ captures enrol, the rest probe.
    let mut total = vec![0usize; m.classes.len()];
    let mut probes = vec![0usize; m.classes.len()];
    for (c, r) in m.captures.iter().zip(&roles) {
        total[c.class as usize] += 1;
        probes[c.class as usize] += usize::from(*r == Role::Probe);
    }
    let mut seen = vec![0usize; m.classes.len()];
    for (c, r) in m.captures.iter().zip(roles.iter_mut()) {
        let k = c.class as usize;
        if held[k] {
            *r = Role::Probe;
        } else if probes[k] == 0 {
            *r = if seen[k] < total[k].div_ceil(2) {
                Role::Gallery
            } else {
                Role::Probe
            };
            seen[k] += 1;
        }
    }
    (roles, held)
}
