//! `palmsig keys`: show the key-encryption keys, or rotate to a new one (re-wrapping every data
//! key in the database without touching templates or cards).
use anyhow::Context;
use palmsig_service::crypto::{new_kek_id, Kek, Keyring};
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
    let new_id = fresh_kek_id(&ring);
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

/// A new key id in the one format (`kek-YYYYMMDDHHMMSS`) that the ring does not hold yet: a
/// rotation in the second its previous key was made waits for the next second.
fn fresh_kek_id(ring: &Keyring) -> String {
    loop {
        let id = new_kek_id();
        if !ring.ids().contains(&id) {
            return id;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dated(id: &str) -> bool {
        id.strip_prefix("kek-")
            .is_some_and(|d| d.len() == 14 && d.bytes().all(|b| b.is_ascii_digit()))
    }

    /// The key made on first start and the keys made by rotation share one id format, and a
    /// rotation right after creation gets an id of its own.
    #[test]
    fn rotated_key_ids_have_the_format_of_the_first() {
        let dir = tempfile::tempdir().unwrap();
        let first = Keyring::load_or_create(&dir.path().join("keys.json")).unwrap();
        assert!(dated(first.active_id()), "{}", first.active_id());
        let common = Common {
            data: dir.path().to_path_buf(),
            database_url: None,
            key_file: Some(dir.path().join("keys.json")),
        };
        tokio::runtime::Runtime::new()
            .unwrap()
            .block_on(rotate(common, true))
            .unwrap();
        let ring = Keyring::load(&dir.path().join("keys.json")).unwrap();
        assert_ne!(ring.active_id(), first.active_id());
        assert!(dated(ring.active_id()), "{}", ring.active_id());
        assert_eq!(ring.ids().len(), 2, "--keep-old keeps the first key");
    }
}
