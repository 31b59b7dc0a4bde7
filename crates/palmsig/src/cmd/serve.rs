//! `palmsig serve`: the palm identity service (HTTP API).
use anyhow::Context;
use palmsig_service::biometrics::EngineBiometrics;
use palmsig_service::clock::SystemClock;
use palmsig_service::crypto::{random_token, Keyring};
use palmsig_service::otp::{check_dev_listen, DevOutbox, LogOnlySender, OtpSender};
use palmsig_service::payments::SimulatedProcessor;
use palmsig_service::state::{AppState, Config};
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
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: String,
    /// Seed a demo tenant, site, activated device and API client, and print their credentials.
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
fn otp_sender(args: &Args) -> anyhow::Result<Arc<dyn OtpSender>> {
    if !args.dev {
        return Ok(Arc::new(LogOnlySender));
    }
    use std::net::ToSocketAddrs;
    let addrs: Vec<_> = args
        .listen
        .to_socket_addrs()
        .with_context(|| format!("resolving --listen {}", args.listen))?
        .collect();
    check_dev_listen(&addrs)?;
    Ok(Arc::new(DevOutbox::new()))
}

/// Run `palmsig serve`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let engine = engine_setup(&args)?;
    let sender = otp_sender(&args)?;
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,sqlx=warn".into()),
        )
        .json()
        .init();
    tokio::runtime::Runtime::new()?.block_on(serve(args, engine, sender))
}

/// The engine's algorithm, calibration and its description for the operator.
type EngineSetup = (
    palmsig_codes::Algorithm,
    Option<palmsig_codes::Calibration>,
    String,
);

async fn serve(args: Args, engine: EngineSetup, sender: Arc<dyn OtpSender>) -> anyhow::Result<()> {
    let (algorithm, calibration, calibration_label) = engine;
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
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("binding {}", args.listen))?;
    let addr = listener.local_addr()?;
    println!("palmsig service on http://{addr}");
    println!("  data dir:   {}", args.data.display());
    println!("  database:   {}", state.store.backend());
    println!("  key id:     {}", state.keys.active_id());
    match &args.cluster.nats {
        Some(n) => println!(
            "  gallery:    matcher shards over {n} ({})",
            args.cluster.describe()
        ),
        None => println!("  gallery:    {loaded} palms"),
    }
    println!("  calibration: {}", state.config.calibration);
    println!("  API:        http://{addr}/v1   OpenAPI: http://{addr}/openapi.json");
    println!(
        "  health:     http://{addr}/healthz  http://{addr}/readyz  metrics: http://{addr}/metrics"
    );
    if args.dev {
        println!(
            "  dev outbox: http://{addr}/v1/dev/outbox (operator token; codes also on the pages)"
        );
    }
    println!(
        "  operator token: in {}",
        args.data.join("admin-token").display()
    );
    if args.demo {
        let d = palmsig_service::demo::seed(&state).await?;
        println!("demo credentials:\n{}", serde_json::to_string_pretty(&d)?);
    }
    // Housekeeping: webhook deliveries due (every second), retention and nonce purge (hourly).
    palmsig_service::ops::retention::spawn_housekeeping(state.clone());
    let stop = shutdown_signal()?;
    axum::serve(listener, palmsig_service::app(state.clone()))
        .with_graceful_shutdown(stop)
        .await?;
    // First attempts in flight finish; retries stay queued in the database for the next start.
    palmsig_service::webhook::wait_in_flight(&state).await;
    tracing::info!("palmsig service stopped cleanly");
    Ok(())
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM (what service managers and containers send), after
/// which axum stops accepting and drains the requests in flight. The handlers are installed
/// before serving starts, so a SIGTERM right after startup is not the default kill.
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    #[cfg(unix)]
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("installing the SIGTERM handler")?;
    Ok(async move {
        #[cfg(unix)]
        let term = term.recv();
        #[cfg(not(unix))]
        let term = std::future::pending::<Option<()>>();
        let name = tokio::select! {
            _ = tokio::signal::ctrl_c() => "SIGINT",
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

    #[test]
    fn no_dev_outbox_by_default() {
        let sender = otp_sender(&args(&[])).unwrap();
        assert!(sender.outbox().is_none(), "codes kept without --dev");
    }

    #[test]
    fn dev_outbox_only_on_loopback() {
        let sender = otp_sender(&args(&["--dev", "--listen", "127.0.0.1:0"])).unwrap();
        assert!(sender.outbox().is_some());
        let e = otp_sender(&args(&["--dev", "--listen", "0.0.0.0:8080"])).unwrap_err();
        assert!(
            e.downcast_ref::<palmsig_service::otp::DevModeError>()
                .is_some(),
            "{e}"
        );
    }
}
