//! `palmsig`: the one binary of the palm identity platform.
//!
//! Each subcommand lives in its own module under `cmd/` with its clap `Args` and a `run`.
#![forbid(unsafe_code)]

mod cmd;

use clap::{Parser, Subcommand};

/// palmsig — open palm identity: palm surface + vein recognition, 1:N search, and the service.
#[derive(Debug, Parser)]
#[command(name = "palmsig", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the palm identity service (HTTP API and web pages).
    Serve(cmd::serve::Args),
    /// Generate a synthetic palm data set (visible + NIR captures, manifest, ground truth).
    Synth(cmd::synth::Args),
    /// Extract a palm signature template from capture image(s).
    Extract(cmd::extract::Args),
    /// Compare two captures or templates: score and decision.
    Compare(cmd::compare::Args),
    /// Evaluate the engine on a manifest (ISO/IEC 19795-1 metrics, DET curve, report).
    Eval(cmd::eval::Args),
    /// Fit a calibration profile (score -> false-match rate) for a sensor on its manifests.
    Calibrate(cmd::calibrate::Args),
    /// Benchmarks of the hot paths (printing JSON).
    Bench(cmd::bench::Args),
    /// Enrol a person's palm into a local encrypted gallery (several captures, duplicate check).
    Enroll(cmd::enroll::Args),
    /// Identify a palm (1:N) against a local gallery made by `enroll`; prints JSON.
    Identify(cmd::identify::Args),
    /// Key management: create, show and rotate the key-encryption keys.
    Keys(cmd::keys::Args),
    /// Run one matcher shard replica of a cluster (PostgreSQL + NATS JetStream).
    Matcher(cmd::matcher::Args),
}

fn main() -> anyhow::Result<()> {
    run(Cli::parse())
}

/// Run a parsed command line (the tests drive whole commands through it).
fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(a) => cmd::serve::run(a),
        Command::Synth(a) => cmd::synth::run(a),
        Command::Extract(a) => cmd::extract::run(a),
        Command::Compare(a) => cmd::compare::run(a),
        Command::Eval(a) => cmd::eval::run(a),
        Command::Calibrate(a) => cmd::calibrate::run(a),
        Command::Bench(a) => cmd::bench::run(a),
        Command::Enroll(a) => cmd::enroll::run(a),
        Command::Identify(a) => cmd::identify::run(a),
        Command::Keys(a) => cmd::keys::run(a),
        Command::Matcher(a) => cmd::matcher::run(a),
    }
}
