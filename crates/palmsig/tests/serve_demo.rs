//! `palmsig serve` as a newcomer meets it: a failed start creates nothing; `--demo` keeps one
//! demo tenant however many runs, keeps its secrets off stdout (an owner-only file), prints only
//! URLs that answer, and leaves a scanner one activation code away.
#![cfg(unix)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn palmsig() -> Command {
    Command::new(env!("CARGO_BIN_EXE_palmsig"))
}

/// A request over a fresh connection: status and body.
fn http(addr: &str, method: &str, path: &str, auth: Option<&str>, body: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let auth = auth.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{auth}\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let status = out
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = out.split_once("\r\n\r\n").map_or("", |b| b.1).to_string();
    (status, body)
}

/// A running `serve --demo` and the lines it printed up to its "next:" line.
struct Served {
    child: Child,
    banner: Vec<String>,
}

impl Served {
    fn start(data: &Path) -> Served {
        let mut child = palmsig()
            .args(["serve", "--demo", "--listen", "127.0.0.1:0", "--data"])
            .arg(data)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let out = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut banner = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        while !banner
            .last()
            .is_some_and(|l: &String| l.starts_with("next:"))
        {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(l) => banner.push(l),
                Err(_) => {
                    let _ = child.kill();
                    panic!("no banner in time: {banner:?}");
                }
            }
        }
        Served { child, banner }
    }

    fn addr(&self) -> String {
        let first = &self.banner[0];
        first.rsplit("http://").next().unwrap().trim().to_string()
    }

    fn urls(&self) -> Vec<String> {
        self.banner
            .iter()
            .flat_map(|l| l.split_whitespace())
            .filter(|w| w.starts_with("http://"))
            .map(|w| w.trim_end_matches([',', '.', ';']).to_string())
            .collect()
    }

    fn activation_code(&self) -> String {
        let next = self.banner.last().unwrap();
        next.split_whitespace()
            .find(|w| w.len() == 12 && w.bytes().all(|b| b.is_ascii_digit()))
            .expect("an activation code on the next-step line")
            .to_string()
    }

    fn stop(mut self) {
        let pid = self.child.id().to_string();
        assert!(Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success());
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Some(s) = self.child.try_wait().unwrap() {
                assert!(s.success(), "{s}");
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        panic!("the service did not stop");
    }
}

#[test]
fn demo_is_idempotent_secret_free_and_ready_to_scan() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    for run in 0..2 {
        let s = Served::start(&data);
        let addr = s.addr();
        let text = s.banner.join("\n");
        for page in ["/account", "/console", "/scanner"] {
            assert!(text.contains(&format!("http://{addr}{page}")), "{text}");
        }
        for url in s.urls() {
            let path = url.trim_start_matches(&format!("http://{addr}"));
            let path = if path.is_empty() { "/" } else { path };
            let (status, _) = http(&addr, "GET", path, None, "");
            assert!(status != 404 && status != 0, "{url} answered {status}");
        }
        // Secrets: in an owner-only file the banner names, never on stdout.
        let file = data.join("demo-credentials.json");
        assert!(text.contains(&file.display().to_string()), "{text}");
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let creds: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
        for secret in ["client_secret", "device_key"] {
            let v = creds[secret].as_str().unwrap();
            assert!(!text.contains(v), "{secret} printed on stdout");
        }
        // The one next step works: the printed code activates a device.
        let key = device_public_key();
        let body = format!(
            r#"{{"activation_code":"{}","public_key":"{key}","version":"test/1"}}"#,
            s.activation_code()
        );
        let (status, answer) = http(&addr, "POST", "/v1/devices/activate", None, &body);
        assert!((200..300).contains(&status), "{status} {answer}");
        // One demo tenant, however many runs.
        let token = std::fs::read_to_string(data.join("admin-token")).unwrap();
        let (status, tenants) = http(&addr, "GET", "/v1/admin/tenants", Some(token.trim()), "");
        assert_eq!(status, 200, "{tenants}");
        assert_eq!(
            tenants.matches("Demo Store").count(),
            1,
            "run {run}: {tenants}"
        );
        assert!(
            text.contains(if run == 0 { "(created)" } else { "(reused)" }),
            "{text}"
        );
        s.stop();
    }
}

/// A fresh device public key (base64).
fn device_public_key() -> String {
    use base64::Engine as _;
    let key = palmsig_service::signing::generate_key();
    base64::engine::general_purpose::STANDARD.encode(key.verifying_key().to_bytes())
}

#[test]
fn a_failed_start_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().to_string();
    for listen in [
        port.as_str(),
        "no-such-host.invalid:80",
        "127.0.0.1:notaport",
    ] {
        let data = dir.path().join("data");
        let out = palmsig()
            .args(["serve", "--listen", listen, "--data"])
            .arg(&data)
            .env("RUST_BACKTRACE", "1")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{listen}");
        assert!(!data.exists(), "--listen {listen} left a data dir behind");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            err.trim().lines().count(),
            1,
            "one line, no backtrace: {err}"
        );
        assert!(err.contains(listen), "{err}");
    }
}
