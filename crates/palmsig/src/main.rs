//! `palmsig`: the one binary of the palm identity platform.
//!
//! Each subcommand lives in its own module under `cmd/` with its clap `Args` and a `run`.
#![forbid(unsafe_code)]

mod cmd;
#[cfg(test)]
mod reference;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// What the exit status means (also in `--help` and the README).
const EXIT_CODES: &str = "Exit status: 0 success (identify: a match); 1 error (bad input, refused \
capture, I/O, an evaluation with nothing evaluated); 2 command-line usage error; 3 identify: no \
match in the gallery.";

/// palmsig — open palm identity: palm surface + vein recognition, 1:N search, and the service.
#[derive(Debug, Parser)]
#[command(name = "palmsig", version, about, long_about = None, after_help = EXIT_CODES)]
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
    /// Identify a palm (1:N) against a local gallery made by `enroll`; prints JSON (exit status
    /// 3 when nobody matches).
    Identify(cmd::identify::Args),
    /// Key management: create, show and rotate the key-encryption keys.
    Keys(cmd::keys::Args),
    /// Print a shell completion script (e.g. `palmsig completions bash > /etc/bash_completion.d/palmsig`).
    Completions(cmd::completions::Args),
    /// Run one matcher shard replica of a cluster (PostgreSQL + NATS JetStream).
    Matcher(cmd::matcher::Args),
}

/// How a command that ran to its end came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// It did what was asked.
    Done,
    /// `identify`: the probe matched nobody in the gallery.
    NoMatch,
}

impl Outcome {
    fn exit_code(self) -> ExitCode {
        match self {
            Outcome::Done => ExitCode::SUCCESS,
            Outcome::NoMatch => ExitCode::from(3),
        }
    }
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(outcome) => outcome.exit_code(),
        // A user error is not a crash: one line, no backtrace (RUST_BACKTRACE applies to panics).
        Err(e) => {
            eprintln!("palmsig: {}", error_line(&e));
            ExitCode::FAILURE
        }
    }
}

/// The error and its causes on one line, each cause once: a cause whose text its wrapper
/// already shows (`key file X: No such file (os error 2)` over the OS error) is not repeated.
fn error_line(e: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if line.contains(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line
}

/// Run a parsed command line (the tests drive whole commands through it).
fn run(cli: Cli) -> anyhow::Result<Outcome> {
    let done = |r: anyhow::Result<()>| r.map(|()| Outcome::Done);
    match cli.command {
        Command::Serve(a) => done(cmd::serve::run(a)),
        Command::Synth(a) => done(cmd::synth::run(a)),
        Command::Extract(a) => done(cmd::extract::run(a)),
        Command::Compare(a) => done(cmd::compare::run(a)),
        Command::Eval(a) => done(cmd::eval::run(a)),
        Command::Calibrate(a) => done(cmd::calibrate::run(a)),
        Command::Bench(a) => done(cmd::bench::run(a)),
        Command::Enroll(a) => done(cmd::enroll::run(a)),
        Command::Identify(a) => cmd::identify::run(a).map(|matched| match matched {
            true => Outcome::Done,
            false => Outcome::NoMatch,
        }),
        Command::Keys(a) => done(cmd::keys::run(a)),
        Command::Completions(a) => done(cmd::completions::run::<Cli>(a)),
        Command::Matcher(a) => done(cmd::matcher::run(a)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_line_names_each_cause_once() {
        let os = std::io::Error::from_raw_os_error(2);
        let text = os.to_string();
        let inner = palmsig_service::crypto::CryptoError::Io {
            path: "k.json".into(),
            source: os,
        };
        let e = anyhow::Error::new(inner).context("loading the key file");
        let line = error_line(&e);
        assert_eq!(line.matches(&text).count(), 1, "{line}");
        assert!(
            line.starts_with("loading the key file: key file k.json: "),
            "{line}"
        );
        let plain = anyhow::anyhow!("inner").context("outer");
        assert_eq!(error_line(&plain), "outer: inner");
    }

    /// `enroll --hand` offers only what it accepts; `identify --hand` also takes `unknown`.
    #[test]
    fn enroll_hand_offers_left_and_right_only() {
        let argv = |hand: &str, cmd: &str| {
            let mut v = vec!["palmsig", cmd, "--gallery", "g", "--hand", hand, "a.png"];
            if cmd == "enroll" {
                v.extend(["--id", "x"]);
            }
            Cli::try_parse_from(v)
        };
        let e = argv("unknown", "enroll").unwrap_err();
        assert_eq!(e.kind(), clap::error::ErrorKind::InvalidValue);
        assert!(
            e.to_string().contains("[possible values: left, right]"),
            "{e}"
        );
        assert!(argv("left", "enroll").is_ok());
        assert!(argv("unknown", "identify").is_ok());
    }

    #[test]
    fn the_command_line_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
