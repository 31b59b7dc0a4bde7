//! `palmsig compare`.

/// Arguments of `palmsig compare`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Run `palmsig compare`.
pub fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("`palmsig compare` is not built yet")
}
