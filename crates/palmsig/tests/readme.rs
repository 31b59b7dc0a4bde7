//! The README's first tour runs verbatim: the shell block between `readme-cli-begin` and
//! `readme-cli-end` is run with bash (`-e`: every command must succeed unless the block says
//! otherwise) in an empty folder, with this build's `palmsig` first on PATH.
use std::process::Command;

fn tour() -> String {
    let readme = include_str!("../../../README.md");
    let block = readme
        .split("<!-- readme-cli-begin -->")
        .nth(1)
        .and_then(|s| s.split("<!-- readme-cli-end -->").next())
        .expect("README.md marks its CLI tour");
    let body = block
        .trim()
        .strip_prefix("```sh")
        .and_then(|s| s.strip_suffix("```"))
        .expect("the tour is one ```sh block");
    body.to_string()
}

#[test]
fn the_readme_tour_runs_verbatim() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("tour.sh");
    std::fs::write(&script, tour()).unwrap();
    let bin = std::path::Path::new(env!("CARGO_BIN_EXE_palmsig"));
    let path = format!(
        "{}:{}",
        bin.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = Command::new("bash")
        .arg("-e")
        .arg(&script)
        .current_dir(dir.path())
        .env("PATH", path)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "tour failed\n{stdout}\n{stderr}");
    for file in [
        "synth-4/manifest.csv",
        "eval-out/report.json",
        "a.psig",
        "b.psig",
    ] {
        assert!(dir.path().join(file).exists(), "{file} missing");
    }
    assert!(stdout.contains(r#""decision":"accept""#), "{stdout}");
    assert!(
        stdout.contains(r#""id":"s0001""#),
        "s0001 not identified:\n{stdout}"
    );
    assert!(stdout.contains("no match (exit status 3)"), "{stdout}");
}
