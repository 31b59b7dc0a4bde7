//! Coding schemes and modality selection.

use crate::params;

/// A coding scheme. All share the same oriented-filter bank and grid; they differ in how the six
/// filter responses at a sample become bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Algorithm {
    /// Competitive code (Kong & Zhang 2004), phase-free: the orientation of maximum quadrature
    /// Gabor energy (winner-take-all over 6 orientations) in 3 bit-planes, so that the Hamming
    /// distance equals the circular orientation distance. 3 planes. (The classic dark-line even
    /// response flipped with 2-px shifts: synthetic ROI EER 24% → 14% with energy.)
    CompCode,
    /// Binary orientation co-occurrence vector (Guo et al. 2009): the sign of each of the 6 even
    /// (dark-line) responses. 6 planes. The default: on real scanners it held where the
    /// competitive code did not (cross-session EER on the 940 nm full-hand development set
    /// 0.7 % against 4 %, on the contactless visible ROIs 0.10 % against 0.70 %; the README's
    /// coder table), since the sign of each response survives faint, broad lines whose single
    /// strongest orientation does not.
    #[default]
    Bocv,
    /// Orthogonal ordinal code (Sun et al. 2005, OLOF style): for 3 orientation pairs 90° apart,
    /// which of the two even responses is darker. 3 planes.
    Ordinal,
}

impl Algorithm {
    /// Every algorithm, default first.
    pub const ALL: [Algorithm; 3] = [Algorithm::Bocv, Algorithm::CompCode, Algorithm::Ordinal];

    /// The CLI / report name.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::CompCode => "compcode",
            Algorithm::Bocv => "bocv",
            Algorithm::Ordinal => "ordinal",
        }
    }

    /// Stable id stored in templates.
    pub fn id(self) -> u8 {
        match self {
            Algorithm::CompCode => 1,
            Algorithm::Bocv => 2,
            Algorithm::Ordinal => 3,
        }
    }

    /// The algorithm with template id `id`.
    pub fn from_id(id: u8) -> Option<Algorithm> {
        Algorithm::ALL.into_iter().find(|a| a.id() == id)
    }

    /// Bit-planes per sample.
    pub fn planes(self) -> usize {
        match self {
            Algorithm::CompCode | Algorithm::Ordinal => 3,
            Algorithm::Bocv => 6,
        }
    }

    /// 64-bit FNV-1a hash of everything that determines the codes (algorithm, working sizes,
    /// filter parameters, grid): templates with a different hash are never compared.
    pub fn param_hash(self) -> u64 {
        // Computed once per algorithm: the matcher checks it on every comparison, and formatting
        // the description costs about a microsecond.
        static CELLS: [std::sync::OnceLock<u64>; 3] = [
            std::sync::OnceLock::new(),
            std::sync::OnceLock::new(),
            std::sync::OnceLock::new(),
        ];
        let i = Algorithm::ALL.iter().position(|&a| a == self).unwrap_or(0);
        *CELLS[i].get_or_init(|| self.compute_param_hash())
    }

    fn compute_param_hash(self) -> u64 {
        let desc = format!(
            "psig-v1;{};ws={};grid={};o={};sr={};sl={};ssa={};ssl={};vs={};vr={};vl={};vsa={};vsl={};nr={};nms={};dark={};bright={};sup={};lstd={};sst={};vst={};occ={},{},{},{};flat={},{};quiet={},{},{},{}",
            self.name(),
            params::WORK_SIZE,
            params::GRID,
            params::ORIENTATIONS,
            params::SURFACE_RADIUS,
            params::SURFACE_WAVELENGTH,
            params::SURFACE_SIGMA_ACROSS,
            params::SURFACE_SIGMA_ALONG,
            params::VEIN_SIZE,
            params::VEIN_RADIUS,
            params::VEIN_WAVELENGTH,
            params::VEIN_SIGMA_ACROSS,
            params::VEIN_SIGMA_ALONG,
            params::NORM_RADIUS,
            params::NORM_MIN_STD,
            params::INVALID_DARK,
            params::INVALID_BRIGHT,
            params::MIN_VALID_SUPPORT,
            params::MIN_LOCAL_STD,
            params::SURFACE_MIN_STRENGTH,
            params::VEIN_MIN_STRENGTH,
            params::OCCLUDER_MEAN_FRACTION,
            params::OCCLUDER_STD_FRACTION,
            params::OCCLUDER_RADIUS,
            params::OCCLUDER_GROW,
            params::OCCLUDER_FLAT_STD_FRACTION,
            params::OCCLUDER_FLAT_MIN_AREA,
            params::OCCLUDER_QUIET_RATIO,
            params::OCCLUDER_QUIET_MIN_AREA,
            params::OCCLUDER_QUIET_MAX_AREA,
            params::OCCLUDER_NOISE_FLOOR,
        );
        fnv1a64(desc.as_bytes())
    }
}

fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

impl std::fmt::Display for Algorithm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A name that is not a known algorithm or modality selection.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} {value:?}: expected one of {expected}")]
pub struct ParseNameError {
    /// What was being parsed.
    pub what: &'static str,
    /// The value given.
    pub value: String,
    /// Accepted values.
    pub expected: &'static str,
}

impl std::str::FromStr for Algorithm {
    type Err = ParseNameError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "compcode" | "comp" => Ok(Algorithm::CompCode),
            "bocv" => Ok(Algorithm::Bocv),
            "ordinal" | "olof" => Ok(Algorithm::Ordinal),
            _ => Err(ParseNameError {
                what: "algorithm",
                value: s.to_string(),
                expected: "compcode, bocv, ordinal",
            }),
        }
    }
}

/// Which score(s) a comparison is judged on (the eval's `--modality visible|nir|fused`).
///
/// `Visible` is the surface (palmprint) code — made from the visible image, or from the NIR image
/// when a capture has no visible one; `Nir` is the vein code; `Fused` combines both (falling back
/// to whichever exists).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ModalitySelection {
    /// Surface code only.
    Visible,
    /// Vein code only.
    Nir,
    /// Score-level fusion of both.
    #[default]
    Fused,
}

impl ModalitySelection {
    /// The CLI name.
    pub fn name(self) -> &'static str {
        match self {
            ModalitySelection::Visible => "visible",
            ModalitySelection::Nir => "nir",
            ModalitySelection::Fused => "fused",
        }
    }
}

impl std::fmt::Display for ModalitySelection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for ModalitySelection {
    type Err = ParseNameError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "visible" | "surface" => Ok(ModalitySelection::Visible),
            "nir" | "vein" => Ok(ModalitySelection::Nir),
            "fused" | "both" => Ok(ModalitySelection::Fused),
            _ => Err(ParseNameError {
                what: "modality",
                value: s.to_string(),
                expected: "visible, nir, fused",
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_ids_unique() {
        for a in Algorithm::ALL {
            assert_eq!(a.name().parse::<Algorithm>().unwrap(), a);
            assert_eq!(Algorithm::from_id(a.id()), Some(a));
        }
        assert!("sift".parse::<Algorithm>().is_err());
        assert_ne!(
            Algorithm::CompCode.param_hash(),
            Algorithm::Bocv.param_hash()
        );
        for m in [
            ModalitySelection::Visible,
            ModalitySelection::Nir,
            ModalitySelection::Fused,
        ] {
            assert_eq!(m.name().parse::<ModalitySelection>().unwrap(), m);
        }
        assert!("thermal".parse::<ModalitySelection>().is_err());
    }
}
