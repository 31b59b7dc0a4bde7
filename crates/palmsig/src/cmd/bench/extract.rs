//! `palmsig bench extract`.

/// Arguments of `palmsig bench extract`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Run `palmsig bench extract`.
pub fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("`palmsig bench extract` is not built yet")
}
