//! One module per subcommand; each owns its `Args` and `run`.
pub mod bench;
pub mod calibrate;
pub mod compare;
pub mod completions;
pub mod enroll;
pub mod eval;
pub mod extract;
pub mod identify;
pub mod keys;
pub mod matcher;
pub mod progress;
pub mod serve;
pub mod synth;
