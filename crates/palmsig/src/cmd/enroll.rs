//! `palmsig enroll`.

/// Arguments of `palmsig enroll`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Run `palmsig enroll`.
pub fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("`palmsig enroll` is not built yet")
}
