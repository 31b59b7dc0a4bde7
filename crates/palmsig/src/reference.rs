//! `docs/CONFIG.md`, generated from the command line's definition: every subcommand, flag,
//! default and allowed value, plus the environment variables. A test fails when the file is out
//! of date; `PALMSIG_BLESS=1 cargo test -p palmsig config_reference` rewrites it.
use clap::Command;
use std::fmt::Write;

/// Environment variables: (name, who reads it, meaning).
const ENVIRONMENT: &[(&str, &str, &str)] = &[
    (
        "PALMSIG_KEK",
        "serve, keys, enroll, identify",
        "A key-encryption key `ID:BASE64KEY` (32 bytes) used as the active key instead of the key \
         file's; the file's keys still unwrap older data keys.",
    ),
    (
        "RUST_LOG",
        "serve",
        "Log filter of the service's JSON logs (default `info,sqlx=warn`).",
    ),
    (
        "RUST_BACKTRACE",
        "all",
        "Backtraces of crashes (panics) only: errors in what was asked (a missing file, a bad \
         flag) never print one.",
    ),
    (
        "PALMSIG_TEST_PG_URL",
        "tests",
        "PostgreSQL of the storage tests (default `postgres://postgres@127.0.0.1:5432/test`).",
    ),
    (
        "PALMSIG_SKIP_PG",
        "tests",
        "`1`: skip the PostgreSQL tests when no server answers (otherwise they fail).",
    ),
    (
        "PALMSIG_SKIP_BROWSER",
        "tests",
        "`1`: skip the headless-Chromium test of the web pages.",
    ),
    (
        "CHROMIUM",
        "tests",
        "The Chromium binary of the browser test (default `/usr/bin/chromium`).",
    ),
    (
        "PALMSIG_SCREENSHOTS",
        "tests",
        "Folder the browser test writes its screenshots to (e.g. `docs/screenshots`).",
    ),
    (
        "PALMSIG",
        "scripts/real-eval.sh",
        "The binary to run (default `target/release/palmsig`).",
    ),
];

/// The whole reference, Markdown.
pub fn config_reference(root: &Command) -> String {
    let mut s = String::from(
        "# Configuration reference\n\n\
         Every command, flag and environment variable of `palmsig`. Generated from the command \
         line's definition: `PALMSIG_BLESS=1 cargo test -p palmsig config_reference` rewrites \
         this file, and that test fails when it is out of date. The same text is in \
         `palmsig COMMAND --help`.\n\n## Environment variables\n\n\
         | variable | read by | meaning |\n|---|---|---|\n",
    );
    for (name, by, what) in ENVIRONMENT {
        let _ = writeln!(s, "| `{name}` | {by} | {} |", cell(what));
    }
    let _ = write!(s, "\n## Exit status\n\n{}\n", crate::EXIT_CODES);
    command(&mut s, root, "palmsig");
    s
}

fn command(s: &mut String, cmd: &Command, path: &str) {
    if path != "palmsig" {
        let _ = write!(s, "\n## `{path}`\n\n");
        if let Some(about) = cmd.get_long_about().or(cmd.get_about()) {
            let _ = writeln!(s, "{}\n", cell(&about.to_string()));
        }
        let args: Vec<_> = cmd.get_arguments().filter(|a| !a.is_hide_set()).collect();
        if !args.is_empty() {
            s.push_str("| argument | value | default | meaning |\n|---|---|---|---|\n");
            for a in args {
                let _ = writeln!(
                    s,
                    "| {} | {} | {} | {} |",
                    name(a),
                    value(a),
                    default(a),
                    cell(&a.get_help().map(|h| h.to_string()).unwrap_or_default())
                );
            }
        }
    }
    for sub in cmd.get_subcommands() {
        command(s, sub, &format!("{path} {}", sub.get_name()));
    }
}

fn name(a: &clap::Arg) -> String {
    match (a.get_long(), a.get_short()) {
        (Some(l), Some(c)) => format!("`--{l}`, `-{c}`"),
        (Some(l), None) => format!("`--{l}`"),
        (None, Some(c)) => format!("`-{c}`"),
        (None, None) => format!("`{}` (positional)", a.get_id().as_str().to_uppercase()),
    }
}

fn value(a: &clap::Arg) -> String {
    if !a.get_action().takes_values() {
        return "switch".into();
    }
    let possible: Vec<String> = a
        .get_possible_values()
        .iter()
        .filter(|p| !p.is_hide_set())
        .map(|p| format!("`{}`", p.get_name()))
        .collect();
    let mut v = if possible.is_empty() {
        a.get_value_names()
            .map(|n| {
                n.iter()
                    .map(|n| n.to_string())
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .unwrap_or_else(|| a.get_id().as_str().to_uppercase())
    } else {
        possible.join(", ")
    };
    if matches!(a.get_action(), clap::ArgAction::Append) {
        v.push_str(" (repeatable)");
    }
    if a.is_required_set() {
        v.push_str(", required");
    }
    v
}

fn default(a: &clap::Arg) -> String {
    let d: Vec<String> = a
        .get_default_values()
        .iter()
        .map(|v| format!("`{}`", v.to_string_lossy()))
        .collect();
    if d.is_empty() {
        "".into()
    } else {
        d.join(" ")
    }
}

/// One table cell: no line breaks, no column separators.
fn cell(s: &str) -> String {
    s.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .replace('|', "\\|")
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn config_reference_is_up_to_date() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/CONFIG.md");
        let want = config_reference(&crate::Cli::command());
        if std::env::var("PALMSIG_BLESS").as_deref() == Ok("1") {
            std::fs::write(path, &want).unwrap();
        }
        let have = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            have == want,
            "docs/CONFIG.md is out of date: PALMSIG_BLESS=1 cargo test -p palmsig config_reference"
        );
    }

    #[test]
    fn the_reference_lists_every_flag_and_the_kek_variable() {
        let doc = config_reference(&crate::Cli::command());
        for flag in [
            "`--listen`",
            "`--demo`",
            "`--gallery`",
            "`--manifest`",
            "`--keep-old`",
        ] {
            assert!(doc.contains(flag), "{flag} missing");
        }
        assert!(doc.contains("`PALMSIG_KEK`"));
        assert!(doc.contains("## `palmsig keys rotate`"));
        assert!(doc.contains("## `palmsig completions`"));
    }
}
