//! [`EngineBiometrics`]: the real engine — `palmsig_vision` decode and quality gate,
//! `palmsig_codes` coding, `palmsig_index` 1:N gallery with the codes adapter. Each reference
//! capture of a palm is one gallery record; a match on any of them identifies the palm.
use super::{BioError, Biometrics, CaptureInput, CaptureRejected, Hit, ShardBest};
use palmsig_codes::{Algorithm, Calibration, Engine, Template};
use palmsig_index::{
    CodesScorer, Decision, GalleryRead, GalleryWrite, Index, Scorer, SearchParams,
};
use palmsig_vision::{Capture, NoExplain};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::RwLock;

#[derive(Debug, Default)]
struct Ids {
    /// palm id → gallery record ids.
    records: HashMap<String, Vec<u64>>,
    /// gallery record id → palm id.
    palms: HashMap<u64, String>,
}

/// The production [`Biometrics`].
pub struct EngineBiometrics {
    engine: Engine,
    index: Index<CodesScorer>,
    search: SearchParams,
    ids: RwLock<Ids>,
    next: AtomicU64,
}

impl std::fmt::Debug for EngineBiometrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EngineBiometrics")
            .field("algorithm", &self.engine.algorithm())
            .field("search", &self.search)
            .finish_non_exhaustive()
    }
}

impl EngineBiometrics {
    /// An empty gallery for `algorithm` with the index's default search settings (decision at
    /// its default FPIR), scoring with the built-in calibration.
    pub fn new(algorithm: Algorithm) -> Result<Self, BioError> {
        Self::with_engine(Engine::new(algorithm))
    }

    /// [`EngineBiometrics::new`] scoring with a deployment's calibration (a profile fitted for
    /// its sensor by `palmsig calibrate`).
    pub fn with_calibration(
        algorithm: Algorithm,
        calibration: Calibration,
    ) -> Result<Self, BioError> {
        Self::with_engine(Engine::with_calibration(algorithm, calibration))
    }

    /// [`EngineBiometrics::with_calibration`] for the generator's synthetic palms (tests, the
    /// service benchmark): their own profile (`palmsig_codes::CalibrationProfile::synthetic`),
    /// since the built-in real-sensor tables pass synthetic strangers.
    pub fn synthetic() -> Result<Self, BioError> {
        let p = palmsig_codes::CalibrationProfile::synthetic();
        Self::with_calibration(p.algorithm(), p.calibration().clone())
    }

    fn with_engine(engine: Engine) -> Result<Self, BioError> {
        let index = Index::new(CodesScorer::new(engine.matcher().clone()))
            .map_err(|e| BioError::Gallery(e.to_string()))?;
        Ok(Self {
            engine,
            index,
            search: SearchParams::default(),
            ids: RwLock::default(),
            next: AtomicU64::new(1),
        })
    }

    /// Override the search settings (shortlist, FPIR).
    pub fn with_search(mut self, search: SearchParams) -> Self {
        self.search = search;
        self
    }

    fn decode(
        bytes: Option<&[u8]>,
        what: &str,
    ) -> Result<Option<palmsig_core::GrayImage>, CaptureRejected> {
        bytes
            .map(|b| {
                palmsig_vision::decode(b).map_err(|e| CaptureRejected {
                    code: "bad_image".into(),
                    message: format!("{what} image: {e}"),
                })
            })
            .transpose()
    }
}

impl Biometrics for EngineBiometrics {
    fn extract(&self, c: &CaptureInput<'_>) -> Result<Vec<u8>, CaptureRejected> {
        let visible = Self::decode(c.visible, "visible")?;
        let nir = Self::decode(c.nir, "nir")?;
        let capture = Capture::hand(c.hand, visible, nir);
        let t = self
            .engine
            .extract(&capture, &mut NoExplain)
            .map_err(|e| CaptureRejected {
                code: e.code().to_string(),
                message: e.to_string(),
            })?;
        t.to_bytes().map_err(|e| CaptureRejected {
            code: "template_invalid".into(),
            message: e.to_string(),
        })
    }

    fn search(&self, probe: &[u8]) -> Result<Option<Hit>, BioError> {
        let t = Template::from_bytes(probe).map_err(|e| BioError::BadTemplate(e.to_string()))?;
        if self.index.is_empty() {
            return Ok(None);
        }
        let r = self
            .index
            .search(&t, &self.search)
            .map_err(|e| BioError::Gallery(e.to_string()))?;
        match r.decision {
            Decision::Match { id, score } => {
                let ids = self
                    .ids
                    .read()
                    .map_err(|_| BioError::Gallery("poisoned".into()))?;
                Ok(ids.palms.get(&id).map(|p| Hit {
                    palm_id: p.clone(),
                    score,
                }))
            }
            Decision::NoMatch => Ok(None),
        }
    }

    fn add(&self, palm_id: &str, references: &[Vec<u8>]) -> Result<(), BioError> {
        if references.is_empty() {
            return Err(BioError::BadTemplate("no reference template".into()));
        }
        let templates = references
            .iter()
            .map(|r| Template::from_bytes(r).map_err(|e| BioError::BadTemplate(e.to_string())))
            .collect::<Result<Vec<_>, _>>()?;
        self.remove(palm_id);
        let mut ids = self
            .ids
            .write()
            .map_err(|_| BioError::Gallery("poisoned".into()))?;
        let mut recs = Vec::with_capacity(templates.len());
        for t in &templates {
            let id = self.next.fetch_add(1, Ordering::Relaxed);
            if let Err(e) = self.index.insert(id, t) {
                for r in &recs {
                    let _ = self.index.remove(*r);
                }
                return Err(BioError::Gallery(e.to_string()));
            }
            ids.palms.insert(id, palm_id.to_string());
            recs.push(id);
        }
        ids.records.insert(palm_id.to_string(), recs);
        Ok(())
    }

    fn remove(&self, palm_id: &str) -> bool {
        let Ok(mut ids) = self.ids.write() else {
            return false;
        };
        let Some(recs) = ids.records.remove(palm_id) else {
            return false;
        };
        for r in recs {
            ids.palms.remove(&r);
            let _ = self.index.remove(r);
        }
        true
    }

    fn len(&self) -> usize {
        self.ids.read().map(|i| i.records.len()).unwrap_or(0)
    }

    fn best(&self, probe: &[u8]) -> Result<ShardBest, BioError> {
        let t = Template::from_bytes(probe).map_err(|e| BioError::BadTemplate(e.to_string()))?;
        if self.index.is_empty() {
            return Ok(ShardBest::default());
        }
        let r = self
            .index
            .search(&t, &self.search)
            .map_err(|e| BioError::Gallery(e.to_string()))?;
        let ids = self
            .ids
            .read()
            .map_err(|_| BioError::Gallery("poisoned".into()))?;
        let best = r.candidates.first().and_then(|c| {
            ids.palms.get(&c.id).map(|p| Hit {
                palm_id: p.clone(),
                score: c.score,
            })
        });
        Ok(ShardBest {
            best,
            records: r.gallery_size,
        })
    }

    fn accepts(&self, score: f32, records: usize) -> bool {
        let threshold = match self.index.impostor_max() {
            Some(m) => m.threshold(self.search.fpir, records),
            // As the index decides: FMR = FPIR / N.
            None => self
                .index
                .scorer()
                .threshold_for_fmr((self.search.fpir / records.max(1) as f64).min(1.0)),
        };
        score >= threshold
    }
}
