//! `palmsig completions SHELL`: the shell completion script, generated from the command line's
//! own definition (so it never drifts).

/// Arguments of `palmsig completions`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// bash, zsh, fish, elvish or powershell.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// Print the completion script of `C` (the whole `palmsig` command line) for `args.shell`.
pub fn run<C: clap::CommandFactory>(args: Args) -> anyhow::Result<()> {
    let mut cmd = C::command();
    clap_complete::generate(args.shell, &mut cmd, "palmsig", &mut std::io::stdout());
    Ok(())
}
