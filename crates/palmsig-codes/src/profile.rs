//! [`CalibrationProfile`]: a [`Calibration`] fitted for one sensor, as a JSON file a deployment
//! loads (`palmsig … --profile FILE`) instead of the built-in tables.
//!
//! # Format (version [`params::PROFILE_FORMAT`])
//! ```json
//! {
//!   "format": 1,
//!   "algorithm": "compcode",
//!   "param_hash": "0x1234abcd5678ef00",
//!   "source": "palmsig calibrate: dev-set/manifest.csv (1200 captures) …",
//!   "calibration": {
//!     "surface": { "mu": 0.31, "sigma": 0.024, "weight": 7.5,
//!                  "tail": { "knots": [[-6.7, 0.0], [-0.08, 0.25], …], "slope": 2.37 } },
//!     "vein":    { … },
//!     "fused":   { "knots": [ … ], "slope": 1.75 }
//!   }
//! }
//! ```
//! `param_hash` is [`Algorithm::param_hash`] of the coder the profile was fitted with, written
//! `0x` + 16 hex digits (a plain decimal string is read too): distances of other coding
//! parameters have other distributions, so a profile is refused unless the hash is this
//! build's. Loading checks everything ([`Calibration::validate`]) and never panics: every
//! problem is a [`ProfileError`].

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::calibration::{Calibration, CalibrationError};
use crate::{params, Algorithm};

/// Why a calibration profile cannot be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ProfileError {
    /// The file could not be read or written.
    #[error("{path}: {message}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What failed.
        message: String,
    },
    /// The file is larger than any profile ([`params::PROFILE_MAX_BYTES`]).
    #[error("{path}: {bytes} bytes, a calibration profile is at most {max}")]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// Its size.
        bytes: u64,
        /// [`params::PROFILE_MAX_BYTES`].
        max: u64,
    },
    /// Not JSON, or not the fields of a profile.
    #[error("not a calibration profile: {0}")]
    Json(String),
    /// A format version this build does not read.
    #[error("calibration profile format {found}, this build reads format {supported}")]
    Format {
        /// The file's `format`.
        found: String,
        /// [`params::PROFILE_FORMAT`].
        supported: u32,
    },
    /// An algorithm name this build does not know.
    #[error("calibration profile for unknown algorithm {0:?}")]
    UnknownAlgorithm(String),
    /// `param_hash` is neither `0x` + hex nor decimal.
    #[error("calibration profile param_hash {0:?} is not a 64-bit hex (0x…) or decimal number")]
    BadParamHash(String),
    /// Fitted for other coding parameters than this build's.
    #[error("calibration profile fitted for {algorithm} parameters {found:016x}, this build codes with {expected:016x}: refit it with `palmsig calibrate`")]
    ParamMismatch {
        /// The profile's algorithm.
        algorithm: Algorithm,
        /// The profile's hash.
        found: u64,
        /// This build's.
        expected: u64,
    },
    /// A profile of one algorithm used for another.
    #[error("calibration profile is for {profile}, not {wanted}")]
    AlgorithmMismatch {
        /// The profile's algorithm.
        profile: Algorithm,
        /// The algorithm asked for.
        wanted: Algorithm,
    },
    /// The calibration's numbers are unusable.
    #[error("{0}")]
    Invalid(#[from] CalibrationError),
}

/// A validated calibration profile: a [`Calibration`] for one algorithm at this build's coding
/// parameters, with a note of what it was fitted on.
#[derive(Debug, Clone, PartialEq)]
pub struct CalibrationProfile {
    algorithm: Algorithm,
    source: String,
    calibration: Calibration,
}

/// The file's fields, as written.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProfileFile {
    format: u32,
    algorithm: String,
    param_hash: String,
    source: String,
    calibration: Calibration,
}

impl CalibrationProfile {
    /// A profile of `calibration` for `algorithm` (at this build's coding parameters); refused
    /// when the calibration does not validate.
    pub fn new(
        algorithm: Algorithm,
        calibration: Calibration,
        source: impl Into<String>,
    ) -> Result<CalibrationProfile, ProfileError> {
        calibration.validate()?;
        Ok(CalibrationProfile {
            algorithm,
            source: source.into(),
            calibration,
        })
    }

    /// The built-in calibration of `algorithm` as a profile.
    pub fn builtin(algorithm: Algorithm) -> CalibrationProfile {
        CalibrationProfile::embedded(algorithm)
    }

    /// Parse the profile embedded for `algorithm` (`calibration/<name>.json` in this crate; see
    /// [`crate::calibration`] for how it was fitted). The files are checked by this crate's
    /// tests, so a failure here is a build defect.
    pub(crate) fn embedded(algorithm: Algorithm) -> CalibrationProfile {
        let text = match algorithm {
            Algorithm::Bocv => include_str!("../calibration/bocv.json"),
            Algorithm::CompCode => include_str!("../calibration/compcode.json"),
            Algorithm::Ordinal => include_str!("../calibration/ordinal.json"),
        };
        match CalibrationProfile::from_json(text) {
            Ok(p) => p,
            Err(e) => unreachable!("embedded {} calibration profile: {e}", algorithm.name()),
        }
    }

    /// The algorithm it was fitted for.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// What it was fitted on (free text).
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The calibration.
    pub fn calibration(&self) -> &Calibration {
        &self.calibration
    }

    /// The calibration, if the profile is for `algorithm`.
    pub fn calibration_for(&self, algorithm: Algorithm) -> Result<&Calibration, ProfileError> {
        if algorithm != self.algorithm {
            return Err(ProfileError::AlgorithmMismatch {
                profile: self.algorithm,
                wanted: algorithm,
            });
        }
        Ok(&self.calibration)
    }

    /// The profile as pretty-printed JSON (see the module docs).
    pub fn to_json(&self) -> Result<String, ProfileError> {
        let file = ProfileFile {
            format: params::PROFILE_FORMAT,
            algorithm: self.algorithm.name().to_string(),
            param_hash: format!("0x{:016x}", self.algorithm.param_hash()),
            source: self.source.clone(),
            calibration: self.calibration.clone(),
        };
        serde_json::to_string_pretty(&file).map_err(|e| ProfileError::Json(e.to_string()))
    }

    /// Parse and check a profile: format version, algorithm, parameter hash (must be this
    /// build's), every number of the calibration.
    pub fn from_json(text: &str) -> Result<CalibrationProfile, ProfileError> {
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| ProfileError::Json(e.to_string()))?;
        let format = value
            .get("format")
            .ok_or_else(|| ProfileError::Json("missing field `format`".into()))?;
        if format.as_u64() != Some(u64::from(params::PROFILE_FORMAT)) {
            return Err(ProfileError::Format {
                found: format.to_string(),
                supported: params::PROFILE_FORMAT,
            });
        }
        let file: ProfileFile =
            serde_json::from_value(value).map_err(|e| ProfileError::Json(e.to_string()))?;
        let algorithm: Algorithm = file
            .algorithm
            .parse()
            .map_err(|_| ProfileError::UnknownAlgorithm(file.algorithm.clone()))?;
        let found = parse_hash(&file.param_hash)?;
        let expected = algorithm.param_hash();
        if found != expected {
            return Err(ProfileError::ParamMismatch {
                algorithm,
                found,
                expected,
            });
        }
        CalibrationProfile::new(algorithm, file.calibration, file.source)
    }

    /// The name under which [`CalibrationProfile::open`] gives [`CalibrationProfile::synthetic`].
    pub const SYNTHETIC: &'static str = "synthetic";

    /// The profile of the generator's hands (BOCV): `palmsig synth`'s realistic preset is a
    /// sensor of its own, whose impostors are far more alike than any real sensor's (mean
    /// best-pose distance 0.34 against 0.39, twice the spread): under the built-in real-sensor
    /// tables two thirds of synthetic impostor pairs pass the threshold for 1e-2. Tests, demos and
    /// evaluations on synthetic palms use this one, as a deployment uses its sensor's.
    pub fn synthetic() -> CalibrationProfile {
        match CalibrationProfile::from_json(include_str!("../calibration/synthetic-bocv.json")) {
            Ok(p) => p,
            Err(e) => unreachable!("embedded synthetic calibration profile: {e}"),
        }
    }

    /// A profile named on a command line: [`CalibrationProfile::SYNTHETIC`] for
    /// [`CalibrationProfile::synthetic`], anything else a file ([`CalibrationProfile::load`]).
    pub fn open(spec: &Path) -> Result<CalibrationProfile, ProfileError> {
        if spec == Path::new(Self::SYNTHETIC) {
            Ok(CalibrationProfile::synthetic())
        } else {
            CalibrationProfile::load(spec)
        }
    }

    /// Read and check a profile file ([`CalibrationProfile::from_json`]).
    pub fn load(path: &Path) -> Result<CalibrationProfile, ProfileError> {
        let io = |e: std::io::Error| ProfileError::Io {
            path: path.to_path_buf(),
            message: e.to_string(),
        };
        let bytes = std::fs::metadata(path).map_err(io)?.len();
        if bytes > params::PROFILE_MAX_BYTES {
            return Err(ProfileError::TooLarge {
                path: path.to_path_buf(),
                bytes,
                max: params::PROFILE_MAX_BYTES,
            });
        }
        let text = std::fs::read_to_string(path).map_err(io)?;
        CalibrationProfile::from_json(&text)
    }

    /// Write the profile as JSON.
    pub fn save(&self, path: &Path) -> Result<(), ProfileError> {
        std::fs::write(path, self.to_json()? + "\n").map_err(|e| ProfileError::Io {
            path: path.to_path_buf(),
            message: e.to_string(),
        })
    }
}

/// `0x` + hex, or decimal.
fn parse_hash(s: &str) -> Result<u64, ProfileError> {
    let t = s.trim();
    let parsed = match t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => t.parse::<u64>(),
    };
    parsed.map_err(|_| ProfileError::BadParamHash(s.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json_of(p: &CalibrationProfile) -> serde_json::Value {
        serde_json::from_str(&p.to_json().unwrap()).unwrap()
    }

    #[test]
    fn the_synthetic_profile_is_embedded_and_named() {
        let p = CalibrationProfile::open(Path::new("synthetic")).unwrap();
        assert_eq!(p, CalibrationProfile::synthetic());
        assert_eq!(p.algorithm(), Algorithm::Bocv);
        // Its impostors are more alike than the real sensors' built-in ones.
        let real = Calibration::builtin(Algorithm::Bocv);
        assert!(p.calibration().surface.mu < real.surface.mu - 0.02);
        assert!(CalibrationProfile::open(Path::new("no-such-file.json")).is_err());
    }

    #[test]
    fn builtin_round_trips_exactly() {
        for a in Algorithm::ALL {
            let p = CalibrationProfile::builtin(a);
            let back = CalibrationProfile::from_json(&p.to_json().unwrap()).unwrap();
            assert_eq!(back, p);
            assert_eq!(back.calibration_for(a).unwrap(), Calibration::builtin(a));
        }
    }

    #[test]
    fn hash_is_hex_or_decimal() {
        let p = CalibrationProfile::builtin(Algorithm::CompCode);
        let mut v = json_of(&p);
        v["param_hash"] = Algorithm::CompCode.param_hash().to_string().into();
        assert_eq!(CalibrationProfile::from_json(&v.to_string()).unwrap(), p);
        v["param_hash"] = "0xzz".into();
        assert!(matches!(
            CalibrationProfile::from_json(&v.to_string()),
            Err(ProfileError::BadParamHash(_))
        ));
    }

    #[test]
    fn other_parameters_algorithm_or_format_are_refused() {
        let p = CalibrationProfile::builtin(Algorithm::Bocv);
        let mut v = json_of(&p);
        v["param_hash"] = format!("0x{:016x}", Algorithm::Bocv.param_hash() ^ 1).into();
        assert!(matches!(
            CalibrationProfile::from_json(&v.to_string()),
            Err(ProfileError::ParamMismatch { .. })
        ));
        // The hash of another algorithm is another algorithm's parameters.
        v["param_hash"] = format!("0x{:016x}", Algorithm::CompCode.param_hash()).into();
        assert!(matches!(
            CalibrationProfile::from_json(&v.to_string()),
            Err(ProfileError::ParamMismatch { .. })
        ));
        let mut v = json_of(&p);
        v["format"] = 2.into();
        assert!(matches!(
            CalibrationProfile::from_json(&v.to_string()),
            Err(ProfileError::Format { .. })
        ));
        let mut v = json_of(&p);
        v["algorithm"] = "iris".into();
        assert!(matches!(
            CalibrationProfile::from_json(&v.to_string()),
            Err(ProfileError::UnknownAlgorithm(_))
        ));
        assert!(matches!(
            p.calibration_for(Algorithm::CompCode),
            Err(ProfileError::AlgorithmMismatch { .. })
        ));
        let mut v = json_of(&p);
        v["extra"] = 1.into();
        assert!(matches!(
            CalibrationProfile::from_json(&v.to_string()),
            Err(ProfileError::Json(_))
        ));
    }

    #[test]
    fn bad_numbers_are_typed_errors() {
        let p = CalibrationProfile::builtin(Algorithm::CompCode);
        let cases: Vec<(&str, serde_json::Value)> = vec![
            ("/calibration/surface/sigma", 0.0.into()),
            ("/calibration/surface/sigma", (-1.0).into()),
            ("/calibration/vein/mu", 3.0.into()),
            ("/calibration/vein/weight", (-0.5).into()),
            ("/calibration/fused/slope", 0.0.into()),
            ("/calibration/fused/knots/3/0", (-100.0).into()),
            ("/calibration/surface/tail/knots/2/1", 0.1.into()),
            (
                "/calibration/vein/tail/knots",
                serde_json::json!([[0.0, 0.0]]),
            ),
        ];
        for (ptr, val) in cases {
            let mut v = json_of(&p);
            *v.pointer_mut(ptr).unwrap() = val;
            let r = CalibrationProfile::from_json(&v.to_string());
            assert!(
                matches!(
                    r,
                    Err(ProfileError::Invalid(CalibrationError::Invalid { .. }))
                ),
                "{ptr}: {r:?}"
            );
        }
        // JSON has no NaN: a null where a number belongs is a parse error.
        let mut v = json_of(&p);
        *v.pointer_mut("/calibration/surface/mu").unwrap() = serde_json::Value::Null;
        assert!(matches!(
            CalibrationProfile::from_json(&v.to_string()),
            Err(ProfileError::Json(_))
        ));
    }

    #[test]
    fn load_and_save_files() {
        let dir = std::env::temp_dir().join(format!("psig-profile-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("p.json");
        let p = CalibrationProfile::builtin(Algorithm::Ordinal);
        p.save(&path).unwrap();
        assert_eq!(CalibrationProfile::load(&path).unwrap(), p);
        assert!(matches!(
            CalibrationProfile::load(&dir.join("absent.json")),
            Err(ProfileError::Io { .. })
        ));
        let big = dir.join("big.json");
        std::fs::write(&big, vec![b' '; params::PROFILE_MAX_BYTES as usize + 1]).unwrap();
        assert!(matches!(
            CalibrationProfile::load(&big),
            Err(ProfileError::TooLarge { .. })
        ));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
