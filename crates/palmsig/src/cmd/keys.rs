//! `palmsig keys`: show the key-encryption keys, or rotate to a new one (re-wrapping every data
//! key in the database without touching templates or cards).
use anyhow::Context;
use palmsig_service::crypto::{Kek, Keyring};
use std::path::PathBuf;

/// Arguments of `palmsig keys`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// What to do.
    #[command(subcommand)]
    pub action: Action,
}

/// `palmsig keys` actions.
#[derive(Debug, clap::Subcommand)]
pub enum Action {
    /// Print the key ids (never the keys) and which one is active.
    Show(Common),
    /// Create a new KEK, make it active, re-wrap every data key under it, then drop the old KEKs
    /// from the key file (unless `--keep-old`). Restart `palmsig serve` afterwards. Pending
    /// one-time codes (10 min) and device activation codes (24 h) are MACs under the KEK of
    /// their time: with `--keep-old` they stay valid until they expire; without, reissue them.
    Rotate {
        /// Data dir and database.
        #[command(flatten)]
        common: Common,
        /// Keep the old keys in the file.
        #[arg(long)]
        keep_old: bool,
    },
}

/// Where the keys and the database are.
#[derive(Debug, clap::Args)]
pub struct Common {
    /// Data directory of `palmsig serve`.
    #[arg(long, default_value = "palmsig-data")]
    pub data: PathBuf,
    /// PostgreSQL URL; default: the SQLite file in the data dir.
    #[arg(long)]
    pub database_url: Option<String>,
    /// Key file of `palmsig serve` (same default).
    #[arg(long)]
    pub key_file: Option<PathBuf>,
}

/// Run `palmsig keys`.
pub fn run(args: Args) -> anyhow::Result<()> {
    match args.action {
        Action::Show(c) => {
            let path = super::serve::key_file(&c.data, c.key_file.as_deref());
            let ring = Keyring::load(&path).context("loading the key file")?;
            println!(
                "{}",
                serde_json::json!({"active": ring.active_id(), "keys": ring.ids()})
            );
            Ok(())
        }
        Action::Rotate { common, keep_old } => {
            tokio::runtime::Runtime::new()?.block_on(rotate(common, keep_old))
        }
    }
}

async fn rotate(c: Common, keep_old: bool) -> anyhow::Result<()> {
    let path = super::serve::key_file(&c.data, c.key_file.as_deref());
    let mut ring = Keyring::load(&path).context("loading the key file")?;
    let new_id = format!("kek-{}", chrono_like_now());
    ring.rotate_to(Kek::generate(new_id.clone()));
    // Save first (old keys kept), so an interruption leaves every data key readable.
    ring.save(&path)?;
    let url = super::serve::database_url(&c.data, c.database_url.as_deref());
    let store = palmsig_service::store::connect(&url)
        .await
        .context("opening the database")?;
    let n = palmsig_service::state::rewrap_all(&store, &ring).await?;
    if !keep_old {
        ring.retire_inactive();
        ring.save(&path)?;
    }
    println!(
        "{}",
        serde_json::json!({"active": new_id, "rewrapped": n, "keys": ring.ids()})
    );
    Ok(())
}

fn chrono_like_now() -> String {
    let s = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    format!("{s}")
}
