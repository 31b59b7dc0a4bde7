//! `palmsig eval`.

/// Arguments of `palmsig eval`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Run `palmsig eval`.
pub fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("`palmsig eval` is not built yet")
}
