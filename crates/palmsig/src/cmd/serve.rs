//! `palmsig serve`.

/// Arguments of `palmsig serve`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Run `palmsig serve`.
pub fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("`palmsig serve` is not built yet")
}
