//! Progress on stderr for the long commands (synth, eval, calibrate, bench): an indicatif bar
//! per stage, drawn only when stderr is a terminal (never in logs or pipes); stdout keeps the
//! command's result alone.
use indicatif::{ProgressBar, ProgressStyle};
use std::sync::Mutex;

/// A bar per stage; `stage` replaces the previous one.
#[derive(Debug, Default)]
pub(crate) struct Bar(Mutex<Option<ProgressBar>>);

impl Bar {
    /// No stage yet.
    pub(crate) fn new() -> Bar {
        Bar::default()
    }
}

impl palmsig_eval::Progress for Bar {
    fn stage(&self, name: &str, total: u64) {
        let pb = ProgressBar::new(total);
        if let Ok(style) = ProgressStyle::with_template(
            "{msg:>10} [{elapsed_precise}] {wide_bar} {pos}/{len} ({per_sec}, eta {eta})",
        ) {
            pb.set_style(style);
        }
        pb.set_message(name.to_string());
        if let Ok(mut g) = self.0.lock() {
            if let Some(old) = g.replace(pb) {
                old.finish_and_clear();
            }
        }
    }
    fn inc(&self, n: u64) {
        if let Ok(g) = self.0.lock() {
            if let Some(pb) = g.as_ref() {
                pb.inc(n);
            }
        }
    }
    fn finish(&self) {
        if let Ok(mut g) = self.0.lock() {
            if let Some(pb) = g.take() {
                pb.finish_and_clear();
            }
        }
    }
}
