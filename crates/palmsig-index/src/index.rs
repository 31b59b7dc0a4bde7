//! The in-memory gallery: segmented flat storage, coarse scan, exact re-rank, FPIR decision.
use crate::calib::ImpostorMax;
use crate::error::IndexError;
use crate::params;
use crate::scorer::{CoarseProbe, Scorer};
use crate::simd::{self, Kernel};
use std::collections::{BinaryHeap, HashMap};
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

/// Search settings.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchParams {
    /// Coarse candidates re-ranked by the full matcher.
    pub shortlist: usize,
    /// Ranked candidates returned.
    pub max_results: usize,
    /// Target false-positive identification rate of the decision.
    pub fpir: f64,
    /// Re-rank every enrolled hand (the exact answer; for references and recall measurement).
    pub exhaustive: bool,
}

impl Default for SearchParams {
    fn default() -> Self {
        SearchParams {
            shortlist: params::DEFAULT_SHORTLIST,
            max_results: params::DEFAULT_MAX_RESULTS,
            fpir: params::DEFAULT_FPIR,
            exhaustive: false,
        }
    }
}

impl SearchParams {
    /// Exhaustive settings: every enrolled hand is scored.
    pub fn exhaustive() -> Self {
        SearchParams {
            exhaustive: true,
            ..SearchParams::default()
        }
    }

    fn check(&self) -> Result<(), IndexError> {
        if self.shortlist == 0 || self.max_results == 0 {
            return Err(IndexError::BadParam(
                "shortlist and max_results must be >= 1".into(),
            ));
        }
        if !(self.fpir > 0.0 && self.fpir <= 1.0) {
            return Err(IndexError::BadParam(format!(
                "fpir {} not in (0, 1]",
                self.fpir
            )));
        }
        Ok(())
    }
}

/// A ranked candidate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Candidate {
    /// Enrolment id.
    pub id: u64,
    /// Full matcher score (higher = more similar).
    pub score: f32,
}

/// The identification decision.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Decision {
    /// The best candidate scored at or above the threshold.
    Match {
        /// Enrolment id.
        id: u64,
        /// Its score.
        score: f32,
    },
    /// Nobody scored at or above the threshold.
    NoMatch,
}

/// Result of a search.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchResult {
    /// Best candidates, by score (descending), ties by id (ascending).
    pub candidates: Vec<Candidate>,
    /// Decision at the threshold.
    pub decision: Decision,
    /// Score threshold used: the scorer's threshold at `FMR = FPIR / gallery size`.
    pub threshold: f32,
    /// Live enrolled hands searched.
    pub gallery_size: usize,
    /// Hands re-ranked by the full matcher.
    pub reranked: usize,
}

/// Order: score descending, then id ascending (the reference uses the same).
pub(crate) fn rank(c: &mut [Candidate]) {
    c.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.id.cmp(&b.id)));
}

/// Decision threshold for a gallery of `n` live hands at `fpir`.
pub fn threshold_for<S: Scorer + ?Sized>(scorer: &S, fpir: f64, n: usize) -> f32 {
    scorer.threshold_for_fmr((fpir / n.max(1) as f64).min(1.0))
}

pub(crate) fn decide(c: &[Candidate], threshold: f32) -> Decision {
    match c.first() {
        Some(b) if b.score >= threshold => Decision::Match {
            id: b.id,
            score: b.score,
        },
        _ => Decision::NoMatch,
    }
}

/// Read side of a gallery (searches, lookups). Safe to call from many threads while writing.
pub trait GalleryRead {
    /// Template type.
    type Template;
    /// Live enrolled hands.
    fn len(&self) -> usize;
    /// Whether the gallery is empty.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Whether `id` is enrolled.
    fn contains(&self, id: u64) -> bool;
    /// Identify a probe.
    fn search(&self, probe: &Self::Template, p: &SearchParams) -> Result<SearchResult, IndexError>;
}

/// Write side of a gallery.
pub trait GalleryWrite {
    /// Template type.
    type Template;
    /// Enrol a new id (error if present).
    fn insert(&self, id: u64, t: &Self::Template) -> Result<(), IndexError>;
    /// Enrol or replace.
    fn upsert(&self, id: u64, t: &Self::Template) -> Result<(), IndexError>;
    /// Replace the template of an enrolled id (error if absent).
    fn replace(&self, id: u64, t: &Self::Template) -> Result<(), IndexError>;
    /// Remove (tombstone) an id; returns whether it was enrolled.
    fn remove(&self, id: u64) -> Result<bool, IndexError>;
    /// Drop tombstoned records from storage; returns records reclaimed.
    fn compact(&self) -> usize;
}

#[derive(Debug, Default)]
struct Segment {
    ids: Vec<u64>,
    coarse: Vec<u64>,
    offs: Vec<u32>,
    data: Vec<u8>,
    dead: Vec<u64>,
    n_dead: usize,
}

impl Segment {
    fn new(words: usize, tpl_hint: usize) -> Segment {
        let n = params::SEGMENT_RECORDS;
        let mut offs = Vec::with_capacity(n + 1);
        offs.push(0);
        Segment {
            ids: Vec::with_capacity(n),
            coarse: Vec::with_capacity(n * words),
            offs,
            data: Vec::with_capacity(n * tpl_hint),
            dead: Vec::with_capacity(n / 64 + 1),
            n_dead: 0,
        }
    }
    fn len(&self) -> usize {
        self.ids.len()
    }
    fn is_dead(&self, i: usize) -> bool {
        self.dead[i / 64] >> (i % 64) & 1 == 1
    }
    fn bytes(&self, i: usize) -> &[u8] {
        &self.data[self.offs[i] as usize..self.offs[i + 1] as usize]
    }
    fn push(&mut self, id: u64, coarse: &[u64], bytes: &[u8]) {
        let i = self.ids.len();
        self.ids.push(id);
        self.coarse.extend_from_slice(coarse);
        self.data.extend_from_slice(bytes);
        self.offs.push(self.data.len() as u32);
        if i / 64 >= self.dead.len() {
            self.dead.push(0);
        }
    }
    fn kill(&mut self, i: usize) {
        self.dead[i / 64] |= 1 << (i % 64);
        self.n_dead += 1;
    }
    fn mem(&self) -> usize {
        self.ids.capacity() * 8
            + self.coarse.capacity() * 8
            + self.offs.capacity() * 4
            + self.data.capacity()
            + self.dead.capacity() * 8
    }
}

/// Hasher for enrolment ids (assigned by the service, not chosen by an attacker): one
/// multiply-xorshift instead of SipHash, which matters when loading a million ids.
#[derive(Debug, Default, Clone, Copy)]
pub struct IdHasher(u64);

impl std::hash::Hasher for IdHasher {
    fn finish(&self) -> u64 {
        let x = self.0.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        x ^ (x >> 29)
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ b as u64).wrapping_mul(0x100_0000_01B3);
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 ^= v;
    }
}

type IdMap = HashMap<u64, (u32, u32), std::hash::BuildHasherDefault<IdHasher>>;

#[derive(Debug, Default)]
struct Inner {
    segs: Vec<Segment>,
    loc: IdMap,
}

/// The gallery index, generic over a [`Scorer`].
///
/// Storage is a list of segments of flat arrays (ids, coarse codes, encoded templates), so one
/// scan streams contiguous memory; removals set tombstones, [`GalleryWrite::compact`] reclaims
/// them segment by segment. A `RwLock` guards the storage: searches share it; a write holds it
/// for one append (no reallocation beyond one segment) or one segment's compaction.
#[derive(Debug)]
pub struct Index<S: Scorer> {
    scorer: S,
    kernel: Kernel,
    words: usize,
    inner: RwLock<Inner>,
    impostor_max: RwLock<Option<ImpostorMax>>,
}

impl<S: Scorer> Index<S> {
    /// An empty index with the fastest scan kernel of this CPU.
    pub fn new(scorer: S) -> Result<Self, IndexError> {
        let words = scorer.coarse_words();
        if words == 0 || words > params::MAX_COARSE_WORDS {
            return Err(IndexError::BadCoarseSize(words));
        }
        Ok(Index {
            scorer,
            kernel: Kernel::detect(),
            words,
            inner: RwLock::new(Inner::default()),
            impostor_max: RwLock::new(None),
        })
    }

    /// Use a specific scan kernel (falls back to portable where unsupported).
    pub fn with_kernel(mut self, k: Kernel) -> Self {
        self.kernel = k;
        self
    }

    /// The scan kernel in use.
    pub fn kernel(&self) -> Kernel {
        self.kernel
    }

    /// The scorer.
    pub fn scorer(&self) -> &S {
        &self.scorer
    }

    /// Decide with a gallery-level impostor-max calibration instead of the scorer's per-comparison
    /// `threshold_for_fmr(FPIR / N)` (`None` restores the latter).
    pub fn set_impostor_max(&self, m: Option<ImpostorMax>) {
        *self.impostor_max.write().unwrap_or_else(|e| e.into_inner()) = m;
    }

    /// The impostor-max calibration in use, if any.
    pub fn impostor_max(&self) -> Option<ImpostorMax> {
        *self.impostor_max.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Fit and install an impostor-max calibration from non-mated probes (people not enrolled):
    /// each is searched with `p` and its best score kept.
    pub fn calibrate_impostor_max(
        &self,
        non_mated: &[S::Template],
        p: &SearchParams,
    ) -> Result<ImpostorMax, IndexError> {
        let mut top = Vec::with_capacity(non_mated.len());
        for t in non_mated {
            if let Some(c) = self.search(t, p)?.candidates.first() {
                top.push(c.score);
            }
        }
        let m = ImpostorMax::fit(&top, self.len()).ok_or_else(|| {
            IndexError::BadParam(format!(
                "impostor-max fit needs >= 20 non-mated searches with spread, got {}",
                top.len()
            ))
        })?;
        self.set_impostor_max(Some(m));
        Ok(m)
    }

    fn read(&self) -> RwLockReadGuard<'_, Inner> {
        self.inner.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, Inner> {
        self.inner.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Heap bytes held by the index (arrays and id map, by capacity).
    pub fn memory_bytes(&self) -> usize {
        let g = self.read();
        let map = g.loc.capacity() * (8 + 8 + 1) + std::mem::size_of::<Inner>();
        g.segs.iter().map(Segment::mem).sum::<usize>() + map
    }

    /// Tombstoned records not yet compacted.
    pub fn tombstones(&self) -> usize {
        self.read().segs.iter().map(|s| s.n_dead).sum()
    }

    /// The encoded template of `id`.
    pub fn get_encoded(&self, id: u64) -> Option<Vec<u8>> {
        let g = self.read();
        let &(s, i) = g.loc.get(&id)?;
        Some(g.segs[s as usize].bytes(i as usize).to_vec())
    }

    /// The template of `id`.
    pub fn get(&self, id: u64) -> Option<Result<S::Template, IndexError>> {
        self.get_encoded(id)
            .map(|b| self.scorer.decode(&b).map_err(IndexError::from))
    }

    /// Enrolled ids (unordered).
    pub fn ids(&self) -> Vec<u64> {
        self.read().loc.keys().copied().collect()
    }

    /// Visit every live record: `(id, coarse code, encoded template)`.
    pub fn for_each_live(&self, mut f: impl FnMut(u64, &[u64], &[u8])) {
        let g = self.read();
        for s in &g.segs {
            for i in 0..s.len() {
                if !s.is_dead(i) {
                    f(
                        s.ids[i],
                        &s.coarse[i * self.words..(i + 1) * self.words],
                        s.bytes(i),
                    );
                }
            }
        }
    }

    /// Prepare an insert outside the lock: coarse code + encoding.
    fn prepare(&self, t: &S::Template) -> Result<(Vec<u64>, Vec<u8>), IndexError> {
        let bytes = self.scorer.encode(t)?;
        if bytes.len() > params::MAX_TEMPLATE_BYTES {
            return Err(IndexError::TemplateTooLarge(bytes.len()));
        }
        let mut c = vec![0u64; self.words];
        self.scorer.coarse(t, &mut c)?;
        Ok((c, bytes))
    }

    fn push_locked(&self, g: &mut Inner, id: u64, coarse: &[u64], bytes: &[u8]) {
        let need_new = g
            .segs
            .last()
            .is_none_or(|s| s.len() >= params::SEGMENT_RECORDS);
        if need_new {
            g.segs.push(Segment::new(self.words, bytes.len()));
        }
        let si = g.segs.len() - 1;
        let seg = &mut g.segs[si];
        let slot = seg.len();
        seg.push(id, coarse, bytes);
        g.loc.insert(id, (si as u32, slot as u32));
    }

    fn kill_locked(g: &mut Inner, id: u64) -> bool {
        match g.loc.remove(&id) {
            Some((s, i)) => {
                g.segs[s as usize].kill(i as usize);
                true
            }
            None => false,
        }
    }

    /// Insert a record whose coarse code and encoding are already known (loading a snapshot).
    /// Validates sizes; replaces an existing id.
    pub fn upsert_raw(&self, id: u64, coarse: &[u64], bytes: &[u8]) -> Result<(), IndexError> {
        if coarse.len() != self.words {
            return Err(IndexError::BadCoarseSize(coarse.len()));
        }
        if bytes.len() > params::MAX_TEMPLATE_BYTES {
            return Err(IndexError::TemplateTooLarge(bytes.len()));
        }
        let mut g = self.write();
        Self::kill_locked(&mut g, id);
        self.push_locked(&mut g, id, coarse, bytes);
        Ok(())
    }

    /// Insert many records with known coarse codes under one write-lock acquisition (snapshot
    /// loading): `coarse` holds `ids.len()` codes, `lens` the template lengths, `data` the
    /// templates back to back. Existing ids are replaced.
    pub fn upsert_raw_batch(
        &self,
        ids: &[u64],
        coarse: &[u64],
        lens: &[u32],
        data: &[u8],
    ) -> Result<(), IndexError> {
        let total: usize = lens.iter().map(|&l| l as usize).sum();
        if coarse.len() != ids.len() * self.words || lens.len() != ids.len() || total != data.len()
        {
            return Err(IndexError::BadParam("inconsistent batch lengths".into()));
        }
        if let Some(&l) = lens
            .iter()
            .find(|&&l| l as usize > params::MAX_TEMPLATE_BYTES)
        {
            return Err(IndexError::TemplateTooLarge(l as usize));
        }
        let mut g = self.write();
        g.loc.reserve(ids.len());
        let mut d = 0;
        for (i, &id) in ids.iter().enumerate() {
            let l = lens[i] as usize;
            Self::kill_locked(&mut g, id);
            self.push_locked(
                &mut g,
                id,
                &coarse[i * self.words..(i + 1) * self.words],
                &data[d..d + l],
            );
            d += l;
        }
        Ok(())
    }

    /// Upsert from an encoded template (decoded to validate and to compute the coarse code).
    pub fn upsert_encoded(&self, id: u64, bytes: &[u8]) -> Result<(), IndexError> {
        let t = self.scorer.decode(bytes)?;
        self.upsert(id, &t)
    }

    /// The coarse shortlist of a probe: `(id, coarse distance)` of up to `k` live records with
    /// the smallest distances, ascending (ties by storage order).
    pub fn shortlist(&self, probe: &S::Template, k: usize) -> Result<Vec<(u64, u32)>, IndexError> {
        let cp = self.scorer.coarse_probe(probe)?;
        let g = self.read();
        let sl = self.shortlist_locked(&g, &cp, k)?;
        Ok(sl
            .into_iter()
            .map(|(d, s, i)| (g.segs[s as usize].ids[i as usize], d as u32))
            .collect())
    }

    fn shortlist_locked(
        &self,
        g: &Inner,
        cp: &CoarseProbe,
        k: usize,
    ) -> Result<Vec<(u16, u32, u32)>, IndexError> {
        if cp.words != self.words || cp.count() == 0 || cp.masks.len() != cp.codes.len() {
            return Err(IndexError::BadCoarseSize(cp.words));
        }
        let mut heap: BinaryHeap<(u16, u32, u32)> = BinaryHeap::with_capacity(k + 1);
        let mut buf = vec![0u16; params::SCAN_CHUNK];
        let w = self.words;
        for (si, s) in g.segs.iter().enumerate() {
            let n = s.len();
            let mut start = 0;
            while start < n {
                let end = (start + params::SCAN_CHUNK).min(n);
                let out = &mut buf[..end - start];
                simd::scan_min(
                    self.kernel,
                    w,
                    &s.coarse[start * w..end * w],
                    &cp.codes,
                    &cp.masks,
                    out,
                );
                let mut worst = if heap.len() >= k {
                    heap.peek().map_or(u16::MAX, |t| t.0)
                } else {
                    u16::MAX
                };
                for (j, &d) in out.iter().enumerate() {
                    if d > worst || (d == worst && heap.len() >= k) {
                        continue;
                    }
                    let i = start + j;
                    if s.is_dead(i) {
                        continue;
                    }
                    heap.push((d, si as u32, i as u32));
                    if heap.len() > k {
                        heap.pop();
                    }
                    if heap.len() >= k {
                        worst = heap.peek().map_or(u16::MAX, |t| t.0);
                    }
                }
                start = end;
            }
        }
        Ok(heap.into_sorted_vec())
    }
}

impl<S: Scorer> GalleryRead for Index<S> {
    type Template = S::Template;

    fn len(&self) -> usize {
        self.read().loc.len()
    }

    fn contains(&self, id: u64) -> bool {
        self.read().loc.contains_key(&id)
    }

    fn search(&self, probe: &S::Template, p: &SearchParams) -> Result<SearchResult, IndexError> {
        p.check()?;
        let cp = if p.exhaustive {
            None
        } else {
            Some(self.scorer.coarse_probe(probe)?)
        };
        // Prepared once, outside the read lock: every re-ranked candidate reuses it.
        let prepared = self.scorer.prepare(probe);
        let g = self.read();
        let n = g.loc.len();
        let mut cands = Vec::new();
        let mut score = |s: &Segment, i: usize| -> Result<(), IndexError> {
            let sc = self.scorer.score_encoded(&prepared, s.bytes(i))?;
            cands.push(Candidate {
                id: s.ids[i],
                score: sc,
            });
            Ok(())
        };
        match cp {
            Some(cp) if p.shortlist < n => {
                for (_, si, i) in self.shortlist_locked(&g, &cp, p.shortlist)? {
                    score(&g.segs[si as usize], i as usize)?;
                }
            }
            _ => {
                for s in &g.segs {
                    for i in (0..s.len()).filter(|&i| !s.is_dead(i)) {
                        score(s, i)?;
                    }
                }
            }
        }
        drop(g);
        let reranked = cands.len();
        rank(&mut cands);
        cands.truncate(p.max_results);
        let threshold = match self.impostor_max() {
            Some(m) => m.threshold(p.fpir, n),
            None => threshold_for(&self.scorer, p.fpir, n),
        };
        Ok(SearchResult {
            decision: decide(&cands, threshold),
            candidates: cands,
            threshold,
            gallery_size: n,
            reranked,
        })
    }
}

impl<S: Scorer> GalleryWrite for Index<S> {
    type Template = S::Template;

    fn insert(&self, id: u64, t: &S::Template) -> Result<(), IndexError> {
        let (c, b) = self.prepare(t)?;
        let mut g = self.write();
        if g.loc.contains_key(&id) {
            return Err(IndexError::DuplicateId(id));
        }
        self.push_locked(&mut g, id, &c, &b);
        Ok(())
    }

    fn upsert(&self, id: u64, t: &S::Template) -> Result<(), IndexError> {
        let (c, b) = self.prepare(t)?;
        let mut g = self.write();
        Self::kill_locked(&mut g, id);
        self.push_locked(&mut g, id, &c, &b);
        Ok(())
    }

    fn replace(&self, id: u64, t: &S::Template) -> Result<(), IndexError> {
        let (c, b) = self.prepare(t)?;
        let mut g = self.write();
        if !Self::kill_locked(&mut g, id) {
            return Err(IndexError::UnknownId(id));
        }
        self.push_locked(&mut g, id, &c, &b);
        Ok(())
    }

    fn remove(&self, id: u64) -> Result<bool, IndexError> {
        Ok(Self::kill_locked(&mut self.write(), id))
    }

    fn compact(&self) -> usize {
        let mut reclaimed = 0;
        let nsegs = self.read().segs.len();
        // One segment per write-lock acquisition: readers wait for at most one segment's copy.
        for si in 0..nsegs {
            let mut g = self.write();
            let Some(old) = g.segs.get(si) else { break };
            if old.n_dead == 0 {
                continue;
            }
            let mut new = Segment::new(self.words, 0);
            let w = self.words;
            for i in (0..old.len()).filter(|&i| !old.is_dead(i)) {
                new.push(old.ids[i], &old.coarse[i * w..(i + 1) * w], old.bytes(i));
            }
            reclaimed += old.n_dead;
            new.data.shrink_to_fit();
            for (slot, id) in new.ids.iter().enumerate() {
                g.loc.insert(*id, (si as u32, slot as u32));
            }
            g.segs[si] = new;
        }
        // Drop empty segments (all but the last, which takes appends), renumbering locations.
        let mut g = self.write();
        let before = g.segs.len();
        let last = before.saturating_sub(1);
        let mut keep = Vec::with_capacity(before);
        for (i, s) in std::mem::take(&mut g.segs).into_iter().enumerate() {
            if s.len() > 0 || i == last {
                keep.push(s);
            }
        }
        if keep.len() != before {
            for (si, s) in keep.iter().enumerate() {
                for i in (0..s.len()).filter(|&i| !s.is_dead(i)) {
                    g.loc.insert(s.ids[i], (si as u32, i as u32));
                }
            }
        }
        g.segs = keep;
        reclaimed
    }
}
