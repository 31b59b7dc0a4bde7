//! `palmsig serve`: the palm identity service (HTTP API).
use anyhow::Context;
use palmsig_service::biometrics::EngineBiometrics;
use palmsig_service::clock::SystemClock;
use palmsig_service::crypto::{random_token, Keyring};
use palmsig_service::otp::{check_dev_listen, DevOutbox, LogOnlySender, OtpSender};
use palmsig_service::payments::SimulatedProcessor;
use palmsig_service::state::{AppState, Config};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Arguments of `palmsig serve`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Data directory (created if missing): key file, operator token, SQLite database.
    #[arg(long, default_value = "palmsig-data")]
    pub data: PathBuf,
    /// PostgreSQL URL (`postgres://…`); default: SQLite file `DATA/palmsig.db`.
    #[arg(long)]
    pub database_url: Option<String>,
    /// Key file (key-encryption keys); default `DATA-keys/keys.json` beside the data dir (or
    /// `DATA/keys.json` where an older installation has it). `PALMSIG_KEK=ID:BASE64` supplies
    /// the active key from the environment instead.
    #[arg(long)]
    pub key_file: Option<PathBuf>,
    /// Address to listen on: HOST:PORT with an IP address or a host name (`localhost:8080`);
    /// without a port, 8080.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: String,
    /// Demo: a "Demo Store" tenant with a site, an activated device and an API client (one,
    /// however many runs), their secrets in DATA/demo-credentials.json (mode 0600), and a web
    /// scanner whose activation code is printed.
    #[arg(long)]
    pub demo: bool,
    /// Coding algorithm: compcode, bocv, ordinal.
    #[arg(long, default_value = "bocv")]
    pub algorithm: String,
    /// Delete palm data unused for this many days.
    #[arg(long, default_value_t = 730)]
    pub retention_days: i64,
    /// An enrolment not completed within this many minutes expires: the cards it added (and the
    /// person, if it created them) are removed.
    #[arg(long, default_value_t = 15)]
    pub enrolment_ttl_minutes: i64,
    /// Mark the portal cookie `Secure` (serve behind TLS).
    #[arg(long)]
    pub secure_cookies: bool,
    /// Local development: keep one-time codes in a dev outbox (`GET /v1/dev/outbox`, operator
    /// token) and show them on the pages. Refused unless --listen is a loopback address. Without
    /// it, codes are only logged as sent (the code itself never).
    #[arg(long)]
    pub dev: bool,
    /// Calibration profile (`palmsig calibrate`, fitted for this deployment's sensor) to score
    /// with instead of the built-in real-sensor tables, or `synthetic` for the generator's palms.
    /// A profile that cannot be used stops the service before anything is created. With `--demo`
    /// and no profile, `synthetic` (the demo's scanner simulator hovers synthetic palms).
    #[arg(long)]
    pub profile: Option<PathBuf>,
    /// Run as a stateless API node of a cluster (see docs/DEPLOY.md).
    #[command(flatten)]
    pub cluster: super::matcher::ClusterArgs,
}

/// The engine's algorithm and calibration (with its description for the operator), checked
/// before the service creates anything.
fn engine_setup(args: &Args) -> anyhow::Result<EngineSetup> {
    let algorithm: palmsig_codes::Algorithm = args
        .algorithm
        .parse()
        .map_err(|e| anyhow::anyhow!("--algorithm: {e}"))?;
    let demo_default = (args.demo && args.profile.is_none())
        .then(|| PathBuf::from(palmsig_codes::CalibrationProfile::SYNTHETIC));
    let spec = args.profile.clone().or(demo_default);
    let Some(profile) = super::calibrate::load_profile(spec.as_deref())? else {
        return Ok((algorithm, None, "built-in".into()));
    };
    let calibration = profile
        .calibration_for(algorithm)
        .map_err(|e| anyhow::anyhow!("--profile: {e}"))?
        .clone();
    let label = format!(
        "profile {} ({})",
        spec.as_deref().unwrap_or(Path::new("")).display(),
        profile.source()
    );
    Ok((algorithm, Some(calibration), label))
}

/// The key file of `data` (see `palmsig_service::crypto::locate_key_file`); warns loudly on
/// stderr when it sits inside the data dir.
pub fn key_file(data: &Path, explicit: Option<&Path>) -> PathBuf {
    let loc = palmsig_service::crypto::locate_key_file(data, explicit);
    if loc.inside_data {
        eprintln!(
            "WARNING: the key file {} is inside the data dir {}: one copy of that folder holds the \
             sealed data and the key that opens it. Move the key file out (--key-file PATH) or \
             supply the key in PALMSIG_KEK.",
            loc.path.display(),
            data.display()
        );
    }
    loc.path
}

/// The database URL for `data` and an optional explicit URL.
pub fn database_url(data: &Path, explicit: Option<&str>) -> String {
    explicit
        .map(str::to_string)
        .unwrap_or_else(|| format!("sqlite:{}", data.join("palmsig.db").display()))
}

fn admin_token(data: &Path) -> anyhow::Result<String> {
    let p = data.join("admin-token");
    if let Ok(t) = std::fs::read_to_string(&p) {
        return Ok(t.trim().to_string());
    }
    let t = random_token("adm");
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    use std::io::Write;
    opts.open(&p)
        .and_then(|mut f| f.write_all(t.as_bytes()))
        .with_context(|| format!("writing {}", p.display()))?;
    Ok(t)
}

/// The one-time-code sender: the dev outbox only with `--dev` on a loopback address (checked
/// before anything is created), otherwise the log-only sender.
fn otp_sender(args: &Args, bound: &[SocketAddr]) -> anyhow::Result<Arc<dyn OtpSender>> {
    if !args.dev {
        return Ok(Arc::new(LogOnlySender));
    }
    check_dev_listen(bound)?;
    Ok(Arc::new(DevOutbox::new()))
}

/// Port of a `--listen` without one.
const DEFAULT_PORT: u16 = 8080;

/// The addresses `--listen` names: `IP:PORT`, `[IPv6]:PORT`, `HOST:PORT` (resolved), or any of
/// them without the port ([`DEFAULT_PORT`]).
fn listen_addrs(listen: &str) -> anyhow::Result<Vec<SocketAddr>> {
    use std::net::{IpAddr, ToSocketAddrs};
    let bad = || {
        format!("--listen {listen:?}: not an address (HOST:PORT, e.g. 127.0.0.1:8080 or localhost:8080)")
    };
    if let Ok(a) = listen.parse::<SocketAddr>() {
        return Ok(vec![a]);
    }
    let bare = listen.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, DEFAULT_PORT)]);
    }
    let addrs: Vec<SocketAddr> = if listen.contains(':') {
        listen.to_socket_addrs()
    } else {
        (listen, DEFAULT_PORT).to_socket_addrs()
    }
    .with_context(bad)?
    .collect();
    anyhow::ensure!(!addrs.is_empty(), "{}", bad());
    Ok(addrs)
}

/// Bind `--listen` before anything is created: a port in use or a bad address leaves no data
/// dir, key or database behind.
fn bind(listen: &str) -> anyhow::Result<std::net::TcpListener> {
    let addrs = listen_addrs(listen)?;
    let l = std::net::TcpListener::bind(&addrs[..])
        .with_context(|| format!("cannot listen on {listen}"))?;
    l.set_nonblocking(true)?;
    Ok(l)
}

/// Run `palmsig serve`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let engine = engine_setup(&args)?;
    let listener = bind(&args.listen)?;
    let sender = otp_sender(&args, &[listener.local_addr()?])?;
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,sqlx=warn".into()),
        )
        .json()
        .init();
    tokio::runtime::Runtime::new()?.block_on(serve(args, engine, sender, listener))
}

/// The engine's algorithm, calibration and its description for the operator.
type EngineSetup = (
    palmsig_codes::Algorithm,
    Option<palmsig_codes::Calibration>,
    String,
);

async fn serve(
    args: Args,
    engine: EngineSetup,
    sender: Arc<dyn OtpSender>,
    listener: std::net::TcpListener,
) -> anyhow::Result<()> {
    let (algorithm, calibration, calibration_label) = engine;
    let listener = tokio::net::TcpListener::from_std(listener)?;
    std::fs::create_dir_all(&args.data)
        .with_context(|| format!("creating {}", args.data.display()))?;
    let key_file = key_file(&args.data, args.key_file.as_deref());
    let keys = Keyring::load_or_create(&key_file).context("loading the key file")?;
    let token = admin_token(&args.data)?;
    let url = database_url(&args.data, args.database_url.as_deref());
    let store = palmsig_service::store::connect(&url)
        .await
        .context("opening the database")?;
    let bio: Arc<dyn palmsig_service::biometrics::Biometrics> = Arc::new(match calibration {
        Some(c) => EngineBiometrics::with_calibration(algorithm, c)?,
        None => EngineBiometrics::new(algorithm)?,
    });
    let cluster_gallery = args.cluster.api_gallery(&url, bio.clone()).await?;
    let mut config = Config::new(token.clone());
    config.calibration = calibration_label;
    config.retention_ms = args.retention_days.max(1) * 24 * 3600 * 1000;
    config.secure_cookies = args.secure_cookies;
    config.enrolment_ttl_ms = args.enrolment_ttl_minutes.max(1) * 60 * 1000;
    config.dev_outbox = args.dev;
    config.dev_webhooks = args.dev;
    let state = AppState::new(
        store,
        keys,
        bio,
        Arc::new(SystemClock),
        sender,
        Arc::new(SimulatedProcessor),
        config,
    );
    let state = match cluster_gallery {
        Some(g) => state.with_gallery(g),
        None => state,
    };
    let loaded = state.rebuild_index().await.context("loading the gallery")?;
    let demo = match args.demo {
        true => Some(palmsig_service::demo::prepare(&state, &args.data).await?),
        false => None,
    };
    // Handlers first: the banner tells scripts the service is up, and a signal sent then must
    // drain, not kill.
    let stop = shutdown_signal()?;
    let addr = listener.local_addr()?;
    banner(&args, &state, addr, loaded, demo.as_ref());
    // Housekeeping: webhook deliveries due (every second), retention and nonce purge (hourly).
    palmsig_service::ops::retention::spawn_housekeeping(state.clone());
    axum::serve(listener, palmsig_service::app(state.clone()))
        .with_graceful_shutdown(stop)
        .await?;
    // First attempts in flight finish; retries stay queued in the database for the next start.
    palmsig_service::webhook::wait_in_flight(&state).await;
    tracing::info!("palmsig service stopped cleanly");
    Ok(())
}

/// What the service prints once it listens: where everything is (every URL answers), and with
/// `--demo` the one next step.
fn banner(
    args: &Args,
    state: &AppState,
    addr: SocketAddr,
    gallery: usize,
    demo: Option<&palmsig_service::demo::DemoSetup>,
) {
    let url = format!("http://{addr}");
    println!("palmsig service on {url}");
    println!("  pages:       {url}/account  {url}/console  {url}/scanner");
    println!("  API:         the /v1 routes, described at {url}/openapi.json");
    println!("  health:      {url}/healthz  {url}/readyz  metrics: {url}/metrics");
    if args.dev {
        println!("  dev outbox:  {url}/v1/dev/outbox (operator token; codes also on the pages)");
    }
    println!("  data dir:    {}", args.data.display());
    println!("  database:    {}", state.store.backend());
    println!("  key id:      {}", state.keys.active_id());
    match &args.cluster.nats {
        Some(n) => println!(
            "  gallery:     matcher shards over {n} ({})",
            args.cluster.describe()
        ),
        None => println!("  gallery:     {gallery} palms"),
    }
    println!("  calibration: {}", state.config.calibration);
    println!(
        "  operator token: in {}",
        args.data.join("admin-token").display()
    );
    if let Some(d) = demo {
        let how = if d.created { "created" } else { "reused" };
        println!(
            "demo: tenant {} ({how}); client id, secret and device key in {} (owner-only)",
            d.credentials.tenant_id,
            d.file.display()
        );
        println!(
            "next: open {url}/scanner and type the activation code {} (single use, 24 h), then enrol at the kiosk and hover to pay",
            d.scanner_code
        );
    }
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM (what service managers and containers send), after
/// which axum stops accepting and drains the requests in flight. Both handlers are installed
/// before the banner is printed, so a signal right after startup is not the default kill.
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    // Both streams are created here, not on first poll (`tokio::signal::ctrl_c()` only
    // registers when polled, which left SIGINT fatal until serving began).
    #[cfg(unix)]
    let (mut term, mut int) = {
        use tokio::signal::unix::{signal, SignalKind};
        (
            signal(SignalKind::terminate()).context("installing the SIGTERM handler")?,
            signal(SignalKind::interrupt()).context("installing the SIGINT handler")?,
        )
    };
    Ok(async move {
        #[cfg(unix)]
        let (term, int) = (term.recv(), int.recv());
        #[cfg(not(unix))]
        let (term, int) = (
            std::future::pending::<Option<()>>(),
            tokio::signal::ctrl_c(),
        );
        let name = tokio::select! {
            _ = int => "SIGINT",
            _ = term => "SIGTERM",
        };
        tracing::info!(
            signal = name,
            "shutdown requested: draining requests in flight"
        );
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, clap::Parser)]
    struct Cli {
        #[command(flatten)]
        serve: Args,
    }

    fn args(argv: &[&str]) -> Args {
        Cli::try_parse_from(std::iter::once("serve").chain(argv.iter().copied()))
            .unwrap()
            .serve
    }

    fn addrs(listen: &str) -> Vec<SocketAddr> {
        listen_addrs(listen).unwrap()
    }

    #[test]
    fn no_dev_outbox_by_default() {
        let sender = otp_sender(&args(&[]), &addrs("127.0.0.1:0")).unwrap();
        assert!(sender.outbox().is_none(), "codes kept without --dev");
    }

    #[test]
    fn dev_outbox_only_on_loopback() {
        let sender = otp_sender(&args(&["--dev"]), &addrs("127.0.0.1:0")).unwrap();
        assert!(sender.outbox().is_some());
        let e = otp_sender(&args(&["--dev"]), &addrs("0.0.0.0:8080")).unwrap_err();
        assert!(
            e.downcast_ref::<palmsig_service::otp::DevModeError>()
                .is_some(),
            "{e}"
        );
    }

    #[test]
    fn listen_takes_host_names_and_a_default_port() {
        assert_eq!(
            addrs("127.0.0.1:9000"),
            vec!["127.0.0.1:9000".parse().unwrap()]
        );
        assert_eq!(addrs("127.0.0.1"), vec!["127.0.0.1:8080".parse().unwrap()]);
        assert_eq!(addrs("[::1]"), vec!["[::1]:8080".parse().unwrap()]);
        let local = addrs("localhost:9000");
        assert!(
            local
                .iter()
                .all(|a| a.ip().is_loopback() && a.port() == 9000),
            "{local:?}"
        );
        let bare = addrs("localhost");
        assert!(bare.iter().all(|a| a.port() == DEFAULT_PORT), "{bare:?}");
        let e = listen_addrs("no such host:x").unwrap_err().to_string();
        assert!(e.contains("HOST:PORT"), "{e}");
    }
}
