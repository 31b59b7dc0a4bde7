//! `palmsig extract`.

/// Arguments of `palmsig extract`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Run `palmsig extract`.
pub fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("`palmsig extract` is not built yet")
}
