//! `palmsig bench identify`.

/// Arguments of `palmsig bench identify`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Run `palmsig bench identify`.
pub fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("`palmsig bench identify` is not built yet")
}
