//! `palmsig bench synth`.

/// Arguments of `palmsig bench synth`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Run `palmsig bench synth`.
pub fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("`palmsig bench synth` is not built yet")
}
