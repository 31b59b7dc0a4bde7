//! `palmsig matcher`: one shard replica of a cluster, and the `--nats` flags of `serve` (see
//! docs/DEPLOY.md). The machinery lives in `palmsig-cluster`.
use anyhow::Context;
use palmsig_cluster::matcher::MatcherConfig;
use palmsig_cluster::Topology;
use palmsig_service::biometrics::{Biometrics, EngineBiometrics};
use palmsig_service::crypto::{Kek, Keyring, KEK_ENV};
use palmsig_service::gallery::Gallery;
use std::path::PathBuf;
use std::sync::Arc;

/// The cluster flags of `palmsig serve`.
#[derive(Debug, clap::Args)]
pub struct ClusterArgs {
    /// NATS URL (`nats://host:4222`, JetStream enabled): serve as a stateless API node whose
    /// gallery lives in `palmsig matcher` shards. Needs a PostgreSQL --database-url.
    #[arg(long)]
    pub nats: Option<String>,
    /// Shards of the cluster (with --nats); the same on every node and matcher.
    #[arg(long, default_value_t = 1)]
    pub shards: u32,
    /// Cluster name: the NATS subject prefix (with --nats).
    #[arg(long, default_value = "palmsig")]
    pub cluster: String,
}

impl ClusterArgs {
    /// The cluster gallery of an API node (and its outbox relay), or `None` without --nats.
    pub async fn api_gallery(
        &self,
        database_url: &str,
        bio: Arc<dyn Biometrics>,
    ) -> anyhow::Result<Option<Arc<dyn Gallery>>> {
        let Some(nats) = &self.nats else {
            return Ok(None);
        };
        anyhow::ensure!(
            database_url.starts_with("postgres"),
            "--nats needs a PostgreSQL --database-url (the system of record every node shares)"
        );
        let topo = Topology::new(&self.cluster, self.shards)?;
        let g = palmsig_cluster::start_api_node(database_url, nats, bio, topo)
            .await
            .context("joining the cluster")?;
        Ok(Some(Arc::new(g)))
    }

    /// `cluster NAME, N shards`.
    pub fn describe(&self) -> String {
        format!("cluster {}, {} shards", self.cluster, self.shards)
    }
}

/// Arguments of `palmsig matcher`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// PostgreSQL URL of the cluster's database.
    #[arg(long)]
    pub database_url: String,
    /// NATS URL (JetStream enabled).
    #[arg(long, default_value = "nats://127.0.0.1:4222")]
    pub nats: String,
    /// This shard and the shard count, `I/N` (0-based: `0/4` … `3/4`).
    #[arg(long)]
    pub shard: String,
    /// Replica name (several replicas of one shard share its searches).
    #[arg(long, default_value = "r1")]
    pub replica: String,
    /// Cluster name: the NATS subject prefix (as given to `serve --cluster`).
    #[arg(long, default_value = "palmsig")]
    pub cluster: String,
    /// Key file of the API nodes (the matcher only unwraps); or the key in `PALMSIG_KEK`.
    #[arg(long)]
    pub key_file: Option<PathBuf>,
    /// Coding algorithm, as given to `serve`.
    #[arg(long, default_value = "bocv")]
    pub algorithm: String,
    /// Calibration profile, as given to `serve`.
    #[arg(long)]
    pub profile: Option<PathBuf>,
}

/// `I/N` → (I, N), checked.
fn parse_shard(s: &str) -> anyhow::Result<(u32, u32)> {
    let (i, n) = s.split_once('/').context("--shard is I/N, e.g. 0/4")?;
    let (i, n): (u32, u32) = (i.trim().parse()?, n.trim().parse()?);
    anyhow::ensure!(i < n, "--shard {s}: I must be below N");
    Ok((i, n))
}

fn keyring(args: &Args) -> anyhow::Result<Keyring> {
    let mut ring = match &args.key_file {
        Some(p) => Some(
            Keyring::load(p).with_context(|| format!("loading the key file {}", p.display()))?,
        ),
        None => None,
    };
    if let Ok(s) = std::env::var(KEK_ENV) {
        let kek = Kek::parse(&s)?;
        match &mut ring {
            Some(r) => r.rotate_to(kek),
            None => ring = Some(Keyring::new(kek)),
        }
    }
    ring.with_context(|| format!("give --key-file or {KEK_ENV}"))
}

fn engine(args: &Args) -> anyhow::Result<Arc<dyn Biometrics>> {
    let algorithm: palmsig_codes::Algorithm = args
        .algorithm
        .parse()
        .map_err(|e| anyhow::anyhow!("--algorithm: {e}"))?;
    Ok(
        match super::calibrate::load_profile(args.profile.as_deref())? {
            Some(p) => Arc::new(EngineBiometrics::with_calibration(
                algorithm,
                p.calibration_for(algorithm)
                    .map_err(|e| anyhow::anyhow!("--profile: {e}"))?
                    .clone(),
            )?),
            None => Arc::new(EngineBiometrics::new(algorithm)?),
        },
    )
}

/// Run `palmsig matcher`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let (shard, shards) = parse_shard(&args.shard)?;
    let cfg = MatcherConfig {
        database_url: args.database_url.clone(),
        nats_url: args.nats.clone(),
        topology: Topology::new(&args.cluster, shards)?,
        shard,
        replica: args.replica.clone(),
    };
    let keys = keyring(&args)?;
    let bio = engine(&args)?;
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,sqlx=warn".into()),
        )
        .json()
        .init();
    tokio::runtime::Runtime::new()?.block_on(async move {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let run = palmsig_cluster::matcher::run(cfg, bio, keys, Some(tx));
        tokio::pin!(run);
        tokio::select! {
            r = &mut run => return r.context("matcher"),
            s = rx => if let Ok(s) = s {
                println!(
                    "matcher shard {shard}/{shards} replica {}: {} palms, loaded in {:.2} s, caught up in {:.3} s",
                    args.replica, s.palms, s.load.as_secs_f64(), s.catch_up.as_secs_f64()
                );
            },
        }
        run.await.context("matcher")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shard_flag() {
        assert_eq!(parse_shard("1/4").unwrap(), (1, 4));
        assert!(parse_shard("4/4").is_err());
        assert!(parse_shard("1").is_err());
        assert!(parse_shard("a/2").is_err());
    }
}
