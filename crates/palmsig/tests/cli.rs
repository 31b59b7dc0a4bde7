//! Exit status and messages of the command line, as a shell sees them.
use std::process::{Command, Output};

fn palmsig(args: &[&str], dir: &std::path::Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_palmsig"))
        .args(args)
        .current_dir(dir)
        .env("RUST_BACKTRACE", "1")
        .output()
        .unwrap()
}

/// An evaluation whose every image path is wrong measured nothing: status 1 and one line
/// saying so, not a report of zeros with status 0.
#[test]
fn an_eval_with_nothing_evaluated_fails() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("m.csv"),
        "capture,subject,hand,session,kind,visible,nir\n\
         c1,s1,left,1,hand,img/missing1.png,\n\
         c2,s1,left,2,hand,img/missing2.png,\n\
         c3,s2,left,1,hand,img/missing3.png,\n",
    )
    .unwrap();
    let out = palmsig(&["eval", "--manifest", "m.csv", "--out", "ev"], dir.path());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let last = err.trim().lines().last().unwrap_or("");
    assert!(
        last.starts_with("palmsig: nothing could be evaluated"),
        "{err}"
    );
    assert!(last.contains("file_missing: 3"), "{err}");
    assert!(!err.contains("backtrace"), "{err}");
}

#[test]
fn usage_errors_exit_2_and_completions_are_printed() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(palmsig(&["frobnicate"], dir.path()).status.code(), Some(2));
    for shell in ["bash", "zsh", "fish"] {
        let out = palmsig(&["completions", shell], dir.path());
        assert!(out.status.success(), "{shell}");
        let script = String::from_utf8_lossy(&out.stdout);
        assert!(
            script.contains("enroll") && script.contains("gallery"),
            "{shell}"
        );
    }
}
