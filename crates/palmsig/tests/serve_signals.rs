//! `palmsig serve` as a process: SIGTERM (what service managers send) and SIGINT stop it
//! cleanly.
#![cfg(unix)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Lines of the child's stdout, read on a thread.
fn lines_of(child: &mut Child) -> mpsc::Receiver<String> {
    let out = child.stdout.take().expect("piped stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// Wait (bounded) for a line containing `needle`; returns it.
fn wait_line(rx: &mpsc::Receiver<String>, needle: &str, until: Instant) -> Option<String> {
    while let Some(left) = until.checked_duration_since(Instant::now()) {
        match rx.recv_timeout(left) {
            Ok(l) if l.contains(needle) => return Some(l),
            Ok(_) => {}
            Err(_) => return None,
        }
    }
    None
}

fn wait_exit(child: &mut Child, until: Instant) -> Option<std::process::ExitStatus> {
    while Instant::now() < until {
        if let Some(s) = child.try_wait().expect("try_wait") {
            return Some(s);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}

#[test]
fn sigterm_stops_cleanly() {
    stops_cleanly_on("TERM");
}

#[test]
fn sigint_stops_cleanly() {
    stops_cleanly_on("INT");
}

/// Start the service on a free loopback port, send `SIG{signal}` once it is up, and expect exit
/// status 0 with the drain and stop log lines, all within 18 s.
fn stops_cleanly_on(signal: &str) {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_palmsig"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        // The key file goes beside the data dir: both inside the temporary dir.
        .arg(dir.path().join("data"))
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let rx = lines_of(&mut child);
    let deadline = Instant::now() + Duration::from_secs(18);
    let ready = wait_line(&rx, "operator token:", deadline);
    if ready.is_none() {
        let _ = child.kill();
        panic!("the service did not start in time");
    }
    let pid = child.id().to_string();
    let sent = Command::new("kill")
        .args([&format!("-{signal}"), &pid])
        .status()
        .unwrap();
    assert!(sent.success());
    let status = wait_exit(&mut child, deadline);
    let Some(status) = status else {
        let _ = child.kill();
        panic!("still running after SIG{signal}");
    };
    assert!(status.success(), "exit after SIG{signal}: {status:?}");
    // The child has exited: its stdout is closed, so the reader thread ends and this returns.
    let rest: Vec<String> = rx.iter().collect();
    assert!(
        rest.iter()
            .any(|l| l.contains(&format!("SIG{signal}")) && l.contains("draining")),
        "{rest:?}"
    );
    assert!(
        rest.iter().any(|l| l.contains("stopped cleanly")),
        "{rest:?}"
    );
}
