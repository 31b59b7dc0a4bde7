//! `palmsig synth`.

/// Arguments of `palmsig synth`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Run `palmsig synth`.
pub fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("`palmsig synth` is not built yet")
}
