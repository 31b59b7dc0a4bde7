//! The workspace's one SIMD module: bit-code kernels with runtime CPU dispatch.
//!
//! * [`scan_min`] — the 1:N coarse scan: masked Hamming distance of every gallery record to one
//!   or more probe codes (used by `palmsig-index`).
//! * [`shift`] — the template matcher's masked Hamming shift search on 32×32 multi-plane codes
//!   (used by `palmsig-codes`): coarse pass over all shifts, rigid re-scoring of the best ones and
//!   an elastic per-block refinement, on plain `u32` rows (one row = one `u32`, bit `x` = column
//!   `x`), so this crate knows nothing of templates.
//!
//! Every operation has several implementations, picked at run time with [`Kernel`]: explicit
//! AVX-512 (`VPOPCNTD`/`VPOPCNTB`, `VPERMB`, masked permutes) for the shift search; AVX2
//! (nibble-lookup popcount) for the scan; and plain Rust compiled once per instruction set
//! (`#[target_feature]` copies for AVX2 and `popcnt`, plus the portable baseline) for the rest.
//! All give identical integer results (and identical floats where a float is computed: the
//! same IEEE operations in the same order, lane by lane), which the tests check on random
//! inputs for every kernel the CPU has.
//!
//! This is the only place in the workspace allowed `unsafe` (the crate root denies it elsewhere):
//! calls of `#[target_feature]` functions, made only after [`Kernel::is_available`] said yes,
//! and SIMD loads and stores whose bounds are checked or follow from fixed array sizes. Every
//! `unsafe fn` has a `# Safety` section and every `unsafe` block a `Safety:` comment.

// Unsafe operations inside an `unsafe fn` still need their own block (and `Safety:` note).
#![deny(unsafe_op_in_unsafe_fn)]

mod scan;
pub mod shift;

pub use scan::{scan_min, MAX_SCAN_WORDS};

/// A kernel family (one implementation of every operation of this module).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kernel {
    /// Plain Rust `count_ones` (no CPU feature assumed).
    Portable,
    /// Scalar `popcnt` instruction.
    Popcnt,
    /// AVX2 (nibble-lookup popcount) with `popcnt`.
    Avx2,
    /// AVX-512 F/BW/VL with `VPOPCNTDQ`, `BITALG` (byte popcount) and `VBMI` (byte permute).
    Avx512,
}

impl Kernel {
    /// Every kernel, slowest first.
    pub const ALL: [Kernel; 4] = [
        Kernel::Portable,
        Kernel::Popcnt,
        Kernel::Avx2,
        Kernel::Avx512,
    ];

    /// The fastest kernel this CPU supports.
    pub fn detect() -> Kernel {
        Kernel::ALL
            .into_iter()
            .rev()
            .find(|k| k.is_available())
            .unwrap_or(Kernel::Portable)
    }

    /// Every kernel this CPU can run, slowest first.
    pub fn available() -> Vec<Kernel> {
        Kernel::ALL
            .into_iter()
            .filter(|k| k.is_available())
            .collect()
    }

    /// Whether this CPU can run the kernel (`std` caches the CPUID answer: cheap).
    pub fn is_available(self) -> bool {
        match self {
            Kernel::Portable => true,
            #[cfg(target_arch = "x86_64")]
            Kernel::Popcnt => std::arch::is_x86_feature_detected!("popcnt"),
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx2 => {
                std::arch::is_x86_feature_detected!("avx2")
                    && std::arch::is_x86_feature_detected!("popcnt")
            }
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx512 => {
                std::arch::is_x86_feature_detected!("avx512f")
                    && std::arch::is_x86_feature_detected!("avx512bw")
                    && std::arch::is_x86_feature_detected!("avx512vl")
                    && std::arch::is_x86_feature_detected!("avx512vpopcntdq")
                    && std::arch::is_x86_feature_detected!("avx512bitalg")
                    && std::arch::is_x86_feature_detected!("avx512vbmi")
                    && std::arch::is_x86_feature_detected!("avx2")
                    && std::arch::is_x86_feature_detected!("popcnt")
            }
            #[cfg(not(target_arch = "x86_64"))]
            _ => false,
        }
    }

    /// Short name (for reports).
    pub fn name(self) -> &'static str {
        match self {
            Kernel::Portable => "portable",
            Kernel::Popcnt => "popcnt",
            Kernel::Avx2 => "avx2",
            Kernel::Avx512 => "avx512",
        }
    }

    /// The kernel named `name` (as [`Kernel::name`] spells it).
    pub fn from_name(name: &str) -> Option<Kernel> {
        Kernel::ALL.into_iter().find(|k| k.name() == name)
    }
}

impl std::fmt::Display for Kernel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
