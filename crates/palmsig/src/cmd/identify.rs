//! `palmsig identify`.

/// Arguments of `palmsig identify`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Run `palmsig identify`.
pub fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("`palmsig identify` is not built yet")
}
