//! `palmsig keys`.

/// Arguments of `palmsig keys`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Run `palmsig keys`.
pub fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("`palmsig keys` is not built yet")
}
