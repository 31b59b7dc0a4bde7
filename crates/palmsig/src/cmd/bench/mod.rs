//! `palmsig bench …`: benchmarks that print JSON. One module per benchmark.
pub mod compare;
pub mod extract;
pub mod identify;
pub mod service;
pub mod synth;

use clap::Subcommand;

/// Arguments of `palmsig bench`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    which: Which,
}

#[derive(Debug, Subcommand)]
enum Which {
    /// 1:N identification over a gallery (latency, recall, memory, load time).
    Identify(identify::Args),
    /// Template extraction and comparison speed.
    Extract(extract::Args),
    /// Template comparison throughput per matcher kernel (prepared and unprepared probes).
    Compare(compare::Args),
    /// Synthetic capture generation speed.
    Synth(synth::Args),
    /// Service latency (enrol, identify) at a gallery size, through the HTTP router.
    Service(service::Args),
}

/// Run `palmsig bench`.
pub fn run(args: Args) -> anyhow::Result<()> {
    match args.which {
        Which::Identify(a) => identify::run(a),
        Which::Extract(a) => extract::run(a),
        Which::Compare(a) => compare::run(a),
        Which::Synth(a) => synth::run(a),
        Which::Service(a) => service::run(a),
    }
}

/// CPU time of the calling thread (s), from Linux's `/proc/thread-self/schedstat` (ns
/// resolution); `None` elsewhere. On a shared, loaded machine wall time includes waiting for a
/// core, CPU time does not; the benches report both.
pub(crate) fn thread_cpu_s() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: f64 = s.split_whitespace().next()?.parse().ok()?;
    Some(ns * 1e-9)
}
