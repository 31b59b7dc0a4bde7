//! Crash-safe persistence: an append-only log of writes plus a checksummed snapshot.
//!
//! Directory layout: `snapshot` (flat, block-checksummed, one big sequential read to load) and
//! `log` (records appended after the snapshot). Every write is appended to the log and
//! `fsync`ed **before** it is applied and acknowledged, so an acknowledged record survives a
//! crash. [`Store::checkpoint`] writes a new snapshot (temp file, fsync, atomic rename, directory
//! fsync) then empties the log; a crash in between is harmless because log records carry
//! sequence numbers and those already in the snapshot are skipped on replay.
//!
//! On [`Store::open`] the log is replayed; damage is detected by framing and CRC-32 and reported
//! in [`Recovery::damage`], never a panic: a torn tail (an interrupted, hence unacknowledged,
//! append) is cut off; a corrupt record in the middle is skipped, the following records are
//! re-synchronised and kept, the damaged log is preserved beside the store for forensics and a
//! fresh snapshot is written. A damaged snapshot fails the open loudly (ignoring it would lose
//! acknowledged data).
//!
//! Templates (and their coarse codes) pass through a [`Sealer`] before touching the disk, so with
//! an encrypting sealer no plaintext template rests on disk. Enrolment ids are stored in clear.
//!
//! Log record: `magic u32 | body_len u32 | crc32(body) u32 | body`, body =
//! `seq u64 | op u8 | id u64 | sealed template` (op 1 = upsert, 2 = remove). Snapshot: a header
//! (magic, version, coarse layout, last seq, record count, CRC), blocks of up to
//! [`crate::params::SNAPSHOT_BLOCK_RECORDS`] records (`magic | n | len | crc32 | sealed payload`,
//! payload = ids, coarse codes, template lengths, template bytes), and a footer with counts.
use crate::error::{IndexError, PersistError};
use crate::index::{GalleryRead, Index};
use crate::params;
use crate::scorer::Scorer;
use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Seals records before they are written and opens them when read (e.g. AES-GCM under a key
/// held by the service).
pub trait Sealer: Send + Sync {
    /// Seal plaintext.
    fn seal(&self, plain: &[u8]) -> Vec<u8>;
    /// Open sealed bytes; an error means wrong key or tampering.
    fn open(&self, sealed: &[u8]) -> Result<Vec<u8>, String>;
}

/// The identity sealer (plaintext at rest; for stores whose disk is otherwise protected).
#[derive(Debug, Clone, Copy, Default)]
pub struct Plain;

impl Sealer for Plain {
    fn seal(&self, plain: &[u8]) -> Vec<u8> {
        plain.to_vec()
    }
    fn open(&self, sealed: &[u8]) -> Result<Vec<u8>, String> {
        Ok(sealed.to_vec())
    }
}

/// What kind of damage recovery found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DamageKind {
    /// Incomplete or invalid bytes running to the end of the log (an interrupted append).
    TornTail,
    /// Invalid bytes followed by valid records.
    Corrupt,
}

/// A damaged byte range of the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Damage {
    /// Kind.
    pub kind: DamageKind,
    /// Offset of the first damaged byte.
    pub offset: u64,
    /// Bytes skipped.
    pub len: u64,
    /// What was wrong.
    pub reason: String,
}

/// What [`Store::open`] restored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recovery {
    /// Records loaded from the snapshot.
    pub snapshot_records: usize,
    /// Sequence number the snapshot covers.
    pub snapshot_seq: u64,
    /// Log records applied.
    pub log_applied: usize,
    /// Log records skipped because the snapshot already holds them.
    pub log_superseded: usize,
    /// Damage found in the log (empty for a clean shutdown or crash between appends).
    pub damage: Vec<Damage>,
    /// Where a log with mid-file corruption was preserved.
    pub damaged_log: Option<PathBuf>,
}

const LOG_MAGIC: u32 = 0x5053_4C52; // "PSLR"
const LOG_HEADER: usize = 12;
const OP_UPSERT: u8 = 1;
const OP_REMOVE: u8 = 2;
const SNAP_MAGIC: &[u8; 8] = b"PSIXSNAP";
const SNAP_END: &[u8; 8] = b"PSIXEND!";
const SNAP_VERSION: u32 = 1;
const BLOCK_MAGIC: u32 = 0x5053_424B; // "PSBK"
const SNAP_HEADER: usize = 44;

struct LogWriter {
    file: File,
    seq: u64,
}

/// A persistent gallery: an [`Index`] whose writes are logged durably before they apply.
pub struct Store<S: Scorer> {
    dir: PathBuf,
    index: Index<S>,
    sealer: Box<dyn Sealer>,
    log: Mutex<LogWriter>,
}

impl<S: Scorer> std::fmt::Debug for Store<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> PersistError {
    let w = what.into();
    move |e| PersistError::io(w, e)
}

fn sync_dir(dir: &Path) -> Result<(), PersistError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io(format!("fsync directory {}", dir.display())))
}

fn u32_at(b: &[u8], o: usize) -> u32 {
    u32::from_le_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]])
}

fn u64_at(b: &[u8], o: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[o..o + 8]);
    u64::from_le_bytes(a)
}

/// A parsed log record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LogRecord {
    pub seq: u64,
    pub op: u8,
    pub id: u64,
    pub payload: Vec<u8>,
}

/// Encode one log record.
pub(crate) fn encode_record(seq: u64, op: u8, id: u64, payload: &[u8]) -> Vec<u8> {
    let mut body = Vec::with_capacity(17 + payload.len());
    body.extend_from_slice(&seq.to_le_bytes());
    body.push(op);
    body.extend_from_slice(&id.to_le_bytes());
    body.extend_from_slice(payload);
    let mut out = Vec::with_capacity(LOG_HEADER + body.len());
    out.extend_from_slice(&LOG_MAGIC.to_le_bytes());
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(&body).to_le_bytes());
    out.extend_from_slice(&body);
    out
}

/// Try to parse a record at `o`: `Ok((record, next offset))` or `Err(reason)`.
fn parse_at(b: &[u8], o: usize) -> Result<(LogRecord, usize), String> {
    if b.len() - o < LOG_HEADER {
        return Err(format!(
            "{} bytes, shorter than a record header",
            b.len() - o
        ));
    }
    if u32_at(b, o) != LOG_MAGIC {
        return Err("bad record magic".into());
    }
    let len = u32_at(b, o + 4) as usize;
    if !(17..=params::MAX_LOG_RECORD).contains(&len) {
        return Err(format!("record length {len} out of range"));
    }
    if b.len() - o - LOG_HEADER < len {
        return Err(format!(
            "record of {len} bytes truncated to {}",
            b.len() - o - LOG_HEADER
        ));
    }
    let body = &b[o + LOG_HEADER..o + LOG_HEADER + len];
    if crc32fast::hash(body) != u32_at(b, o + 8) {
        return Err("record checksum mismatch".into());
    }
    let op = body[8];
    if op != OP_UPSERT && op != OP_REMOVE {
        return Err(format!("unknown op {op}"));
    }
    Ok((
        LogRecord {
            seq: u64_at(body, 0),
            op,
            id: u64_at(body, 9),
            payload: body[17..].to_vec(),
        },
        o + LOG_HEADER + len,
    ))
}

/// Scan a log image: valid records in order, damaged ranges, and the end of the last valid
/// record.
pub(crate) fn scan_log(b: &[u8]) -> (Vec<LogRecord>, Vec<Damage>, usize) {
    let (mut recs, mut dmg) = (Vec::new(), Vec::new());
    let mut o = 0;
    let mut good_end = 0;
    while o < b.len() {
        match parse_at(b, o) {
            Ok((r, next)) => {
                recs.push(r);
                o = next;
                good_end = o;
            }
            Err(reason) => {
                // Re-synchronise: the next offset where a whole valid record parses.
                let start = o;
                let mut next = None;
                let magic = LOG_MAGIC.to_le_bytes();
                let mut p = o + 1;
                while p + LOG_HEADER <= b.len() {
                    if b[p..p + 4] == magic && parse_at(b, p).is_ok() {
                        next = Some(p);
                        break;
                    }
                    p += 1;
                }
                let end = next.unwrap_or(b.len());
                dmg.push(Damage {
                    kind: if next.is_some() {
                        DamageKind::Corrupt
                    } else {
                        DamageKind::TornTail
                    },
                    offset: start as u64,
                    len: (end - start) as u64,
                    reason,
                });
                o = end;
            }
        }
    }
    (recs, dmg, good_end)
}

impl<S: Scorer> Store<S> {
    /// Open (or create) the store in `dir`, restoring the snapshot and replaying the log.
    pub fn open(
        dir: impl AsRef<Path>,
        scorer: S,
        sealer: Option<Box<dyn Sealer>>,
    ) -> Result<(Store<S>, Recovery), PersistError> {
        let dir = dir.as_ref().to_path_buf();
        std::fs::create_dir_all(&dir).map_err(io(format!("create {}", dir.display())))?;
        let sealer = sealer.unwrap_or_else(|| Box::new(Plain));
        let index = Index::new(scorer)?;
        let mut rec = Recovery::default();
        let snap = dir.join("snapshot");
        let _ = std::fs::remove_file(dir.join("snapshot.tmp"));
        if snap.exists() {
            let (n, seq) = load_snapshot(&snap, &index, sealer.as_ref())?;
            rec.snapshot_records = n;
            rec.snapshot_seq = seq;
        }
        let log_path = dir.join("log");
        let mut bytes = Vec::new();
        if log_path.exists() {
            File::open(&log_path)
                .and_then(|mut f| f.read_to_end(&mut bytes))
                .map_err(io(format!("read {}", log_path.display())))?;
        }
        let (records, mut damage, good_end) = scan_log(&bytes);
        let mut seq = rec.snapshot_seq;
        for r in records {
            if r.seq <= rec.snapshot_seq {
                rec.log_superseded += 1;
                continue;
            }
            seq = seq.max(r.seq);
            match r.op {
                OP_REMOVE => {
                    crate::index::GalleryWrite::remove(&index, r.id)?;
                }
                _ => {
                    let plain = sealer.open(&r.payload).map_err(PersistError::Unseal)?;
                    if let Err(e) = index.upsert_encoded(r.id, &plain) {
                        damage.push(Damage {
                            kind: DamageKind::Corrupt,
                            offset: 0,
                            len: 0,
                            reason: format!("record seq {} for id {}: {e}", r.seq, r.id),
                        });
                        continue;
                    }
                }
            }
            rec.log_applied += 1;
        }
        let corrupt = damage.iter().any(|d| d.kind == DamageKind::Corrupt);
        rec.damage = damage;
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .read(true)
            .open(&log_path)
            .map_err(io(format!("open {}", log_path.display())))?;
        let store = Store {
            dir: dir.clone(),
            index,
            sealer,
            log: Mutex::new(LogWriter { file, seq }),
        };
        if corrupt {
            let kept = dir.join(format!("log.damaged.{}", seq));
            std::fs::copy(&log_path, &kept).map_err(io("preserve damaged log"))?;
            rec.damaged_log = Some(kept);
            store.checkpoint()?;
        } else if good_end < bytes.len() {
            // Torn tail: cut it off so new appends follow the last valid record.
            let g = store.lock();
            g.file
                .set_len(good_end as u64)
                .and_then(|_| g.file.sync_all())
                .map_err(io("truncate torn log tail"))?;
        }
        sync_dir(&dir)?;
        Ok((store, rec))
    }

    /// Create a store in an empty `dir` from an index built in memory (bulk load): writes its
    /// snapshot (sequence 0) and an empty log. Fails if `dir` already holds a store.
    pub fn create_from(
        dir: impl AsRef<Path>,
        index: Index<S>,
        sealer: Option<Box<dyn Sealer>>,
    ) -> Result<Store<S>, PersistError> {
        let dir = dir.as_ref().to_path_buf();
        std::fs::create_dir_all(&dir).map_err(io(format!("create {}", dir.display())))?;
        for f in ["snapshot", "log"] {
            if dir.join(f).exists() {
                return Err(PersistError::io(
                    format!("create store in {}", dir.display()),
                    std::io::Error::new(std::io::ErrorKind::AlreadyExists, format!("{f} exists")),
                ));
            }
        }
        let log_path = dir.join("log");
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .read(true)
            .open(&log_path)
            .map_err(io(format!("open {}", log_path.display())))?;
        let store = Store {
            dir,
            index,
            sealer: sealer.unwrap_or_else(|| Box::new(Plain)),
            log: Mutex::new(LogWriter { file, seq: 0 }),
        };
        store.checkpoint()?;
        Ok(store)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LogWriter> {
        self.log.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The in-memory index, for searches. Writes must go through the store to be persisted.
    pub fn index(&self) -> &Index<S> {
        &self.index
    }

    /// Sequence number of the last acknowledged write.
    pub fn last_seq(&self) -> u64 {
        self.lock().seq
    }

    fn append(
        &self,
        g: &mut LogWriter,
        op: u8,
        id: u64,
        payload: &[u8],
    ) -> Result<u64, PersistError> {
        let seq = g.seq + 1;
        let rec = encode_record(seq, op, id, payload);
        g.file
            .write_all(&rec)
            .and_then(|_| g.file.sync_data())
            .map_err(io("append to log"))?;
        g.seq = seq;
        Ok(seq)
    }

    fn put(&self, id: u64, t: &S::Template, must_exist: Option<bool>) -> Result<u64, PersistError> {
        let scorer = self.index.scorer();
        let bytes = scorer.encode(t).map_err(IndexError::from)?;
        if bytes.len() > params::MAX_TEMPLATE_BYTES {
            return Err(IndexError::TemplateTooLarge(bytes.len()).into());
        }
        let mut coarse = vec![0u64; scorer.coarse_words()];
        scorer.coarse(t, &mut coarse).map_err(IndexError::from)?;
        let sealed = self.sealer.seal(&bytes);
        let mut g = self.lock();
        match must_exist {
            Some(false) if self.index.contains(id) => {
                return Err(IndexError::DuplicateId(id).into())
            }
            Some(true) if !self.index.contains(id) => return Err(IndexError::UnknownId(id).into()),
            _ => {}
        }
        let seq = self.append(&mut g, OP_UPSERT, id, &sealed)?;
        self.index.upsert_raw(id, &coarse, &bytes)?;
        Ok(seq)
    }

    /// Enrol a new id durably; returns the write's sequence number once it is on disk.
    pub fn insert(&self, id: u64, t: &S::Template) -> Result<u64, PersistError> {
        self.put(id, t, Some(false))
    }

    /// Enrol or replace durably.
    pub fn upsert(&self, id: u64, t: &S::Template) -> Result<u64, PersistError> {
        self.put(id, t, None)
    }

    /// Replace an enrolled id's template durably.
    pub fn replace(&self, id: u64, t: &S::Template) -> Result<u64, PersistError> {
        self.put(id, t, Some(true))
    }

    /// Remove an id durably; `Ok(None)` if it was not enrolled (nothing written).
    pub fn remove(&self, id: u64) -> Result<Option<u64>, PersistError> {
        let mut g = self.lock();
        if !self.index.contains(id) {
            return Ok(None);
        }
        let seq = self.append(&mut g, OP_REMOVE, id, &[])?;
        crate::index::GalleryWrite::remove(&self.index, id)?;
        Ok(Some(seq))
    }

    /// Write a snapshot of the live gallery and empty the log (writers wait; readers don't).
    pub fn checkpoint(&self) -> Result<u64, PersistError> {
        let g = self.lock();
        let tmp = self.dir.join("snapshot.tmp");
        let n = write_snapshot(&tmp, &self.index, self.sealer.as_ref(), g.seq)?;
        std::fs::rename(&tmp, self.dir.join("snapshot")).map_err(io("rename snapshot"))?;
        sync_dir(&self.dir)?;
        g.file
            .set_len(0)
            .and_then(|_| g.file.sync_all())
            .map_err(io("truncate log after snapshot"))?;
        Ok(n)
    }
}

fn write_snapshot<S: Scorer>(
    path: &Path,
    index: &Index<S>,
    sealer: &dyn Sealer,
    seq: u64,
) -> Result<u64, PersistError> {
    let f = File::create(path).map_err(io(format!("create {}", path.display())))?;
    let mut w = BufWriter::with_capacity(1 << 20, f);
    let words = index.scorer().coarse_words();
    let count = index.len() as u64;
    let mut h = Vec::with_capacity(SNAP_HEADER);
    h.extend_from_slice(SNAP_MAGIC);
    h.extend_from_slice(&SNAP_VERSION.to_le_bytes());
    h.extend_from_slice(&(words as u32).to_le_bytes());
    h.extend_from_slice(&index.scorer().coarse_tag().to_le_bytes());
    h.extend_from_slice(&0u32.to_le_bytes());
    h.extend_from_slice(&seq.to_le_bytes());
    h.extend_from_slice(&count.to_le_bytes());
    let crc = crc32fast::hash(&h);
    h.extend_from_slice(&crc.to_le_bytes());
    let mut err = w.write_all(&h).err();
    let (mut ids, mut coarse, mut lens, mut data) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut blocks, mut written) = (0u64, 0u64);
    let mut flush = |ids: &mut Vec<u64>,
                     coarse: &mut Vec<u64>,
                     lens: &mut Vec<u32>,
                     data: &mut Vec<u8>,
                     w: &mut BufWriter<File>|
     -> std::io::Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let mut plain = Vec::with_capacity(ids.len() * (12 + words * 8) + data.len());
        ids.iter()
            .for_each(|x| plain.extend_from_slice(&x.to_le_bytes()));
        coarse
            .iter()
            .for_each(|x| plain.extend_from_slice(&x.to_le_bytes()));
        lens.iter()
            .for_each(|x| plain.extend_from_slice(&x.to_le_bytes()));
        plain.extend_from_slice(data);
        let sealed = sealer.seal(&plain);
        w.write_all(&BLOCK_MAGIC.to_le_bytes())?;
        w.write_all(&(ids.len() as u32).to_le_bytes())?;
        w.write_all(&(sealed.len() as u64).to_le_bytes())?;
        w.write_all(&crc32fast::hash(&sealed).to_le_bytes())?;
        w.write_all(&sealed)?;
        blocks += 1;
        written += ids.len() as u64;
        ids.clear();
        coarse.clear();
        lens.clear();
        data.clear();
        Ok(())
    };
    index.for_each_live(|id, c, b| {
        if err.is_some() {
            return;
        }
        ids.push(id);
        coarse.extend_from_slice(c);
        lens.push(b.len() as u32);
        data.extend_from_slice(b);
        if ids.len() >= params::SNAPSHOT_BLOCK_RECORDS {
            err = flush(&mut ids, &mut coarse, &mut lens, &mut data, &mut w).err();
        }
    });
    if err.is_none() {
        err = flush(&mut ids, &mut coarse, &mut lens, &mut data, &mut w).err();
    }
    if let Some(e) = err {
        return Err(PersistError::io("write snapshot", e));
    }
    let mut end = Vec::with_capacity(28);
    end.extend_from_slice(SNAP_END);
    end.extend_from_slice(&blocks.to_le_bytes());
    end.extend_from_slice(&written.to_le_bytes());
    let crc = crc32fast::hash(&end);
    end.extend_from_slice(&crc.to_le_bytes());
    w.write_all(&end).map_err(io("write snapshot"))?;
    let f = w
        .into_inner()
        .map_err(|e| PersistError::io("flush snapshot", e.into_error()))?;
    f.sync_all().map_err(io("fsync snapshot"))?;
    Ok(written)
}

fn load_snapshot<S: Scorer>(
    path: &Path,
    index: &Index<S>,
    sealer: &dyn Sealer,
) -> Result<(usize, u64), PersistError> {
    let bad = |reason: String| PersistError::SnapshotCorrupt {
        path: path.display().to_string(),
        reason,
    };
    // Streamed block by block into one reused buffer: sequential reads, no file-sized copy.
    let f = File::open(path).map_err(io(format!("open {}", path.display())))?;
    let file_len = f
        .metadata()
        .map_err(io(format!("stat {}", path.display())))?
        .len();
    let mut r = std::io::BufReader::with_capacity(1 << 16, f);
    let mut read = |buf: &mut [u8], at: u64| -> Result<(), PersistError> {
        r.read_exact(buf).map_err(|e| match e.kind() {
            std::io::ErrorKind::UnexpectedEof => bad(format!("truncated at offset {at}")),
            _ => PersistError::io(format!("read {}", path.display()), e),
        })
    };
    let mut h = [0u8; SNAP_HEADER];
    read(&mut h, 0)?;
    if &h[..8] != SNAP_MAGIC {
        return Err(bad("not a snapshot (magic)".into()));
    }
    if crc32fast::hash(&h[..SNAP_HEADER - 4]) != u32_at(&h, SNAP_HEADER - 4) {
        return Err(bad("header checksum mismatch".into()));
    }
    if u32_at(&h, 8) != SNAP_VERSION {
        return Err(bad(format!("unsupported version {}", u32_at(&h, 8))));
    }
    let words = u32_at(&h, 12) as usize;
    let recode =
        words != index.scorer().coarse_words() || u32_at(&h, 16) != index.scorer().coarse_tag();
    let seq = u64_at(&h, 24);
    let count = u64_at(&h, 32);
    let mut o = SNAP_HEADER as u64;
    let (mut blocks, mut n) = (0u64, 0u64);
    let mut buf = Vec::new();
    loop {
        let mut e = [0u8; 28];
        read(&mut e[..4], o)?;
        if e[..4] == SNAP_END[..4] {
            read(&mut e[4..], o)?;
            if &e[..8] != SNAP_END
                || crc32fast::hash(&e[..24]) != u32_at(&e, 24)
                || u64_at(&e, 8) != blocks
                || u64_at(&e, 16) != n
            {
                return Err(bad("footer does not match the blocks read".into()));
            }
            if o + 28 != file_len {
                return Err(bad(format!(
                    "{} bytes after the footer",
                    file_len as i128 - o as i128 - 28
                )));
            }
            break;
        }
        if u32_at(&e, 0) != BLOCK_MAGIC {
            return Err(bad(format!("bad block header at offset {o}")));
        }
        read(&mut e[4..20], o)?;
        let k = u32_at(&e, 4) as usize;
        let len = u64_at(&e, 8);
        if len > file_len.saturating_sub(o + 20) {
            return Err(bad(format!("block at offset {o} truncated")));
        }
        buf.resize(len as usize, 0);
        read(&mut buf, o)?;
        if crc32fast::hash(&buf) != u32_at(&e, 16) {
            return Err(bad(format!("block at offset {o}: checksum mismatch")));
        }
        let plain = sealer.open(&buf).map_err(PersistError::Unseal)?;
        if k.checked_mul(12 + words * 8)
            .is_none_or(|h| h > plain.len())
        {
            return Err(bad(format!("block at offset {o}: payload too short")));
        }
        let (ids, rest) = plain.split_at(k * 8);
        let (coarse, rest) = rest.split_at(k * words * 8);
        let (lens, data) = rest.split_at(k * 4);
        let ids_v: Vec<u64> = (0..k).map(|i| u64_at(ids, 8 * i)).collect();
        let lens_v: Vec<u32> = (0..k).map(|i| u32_at(lens, 4 * i)).collect();
        let total: usize = lens_v.iter().map(|&l| l as usize).sum();
        if total != data.len() {
            return Err(bad(format!(
                "block at offset {o}: template lengths do not add up"
            )));
        }
        if recode {
            let mut d = 0usize;
            for (i, &id) in ids_v.iter().enumerate() {
                let l = lens_v[i] as usize;
                index.upsert_encoded(id, &data[d..d + l])?;
                d += l;
            }
        } else {
            let c: Vec<u64> = coarse.chunks_exact(8).map(|b| u64_at(b, 0)).collect();
            index.upsert_raw_batch(&ids_v, &c, &lens_v, data)?;
        }
        n += k as u64;
        blocks += 1;
        o += 20 + len;
    }
    if n != count {
        return Err(bad(format!("header says {count} records, blocks hold {n}")));
    }
    Ok((n as usize, seq))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_at_every_offset_keeps_the_complete_prefix() {
        let recs: Vec<Vec<u8>> = (0..4u64)
            .map(|i| encode_record(i + 1, OP_UPSERT, i, &vec![i as u8; 10 + i as usize]))
            .collect();
        let log: Vec<u8> = recs.concat();
        let ends: Vec<usize> = recs
            .iter()
            .scan(0, |s, r| {
                *s += r.len();
                Some(*s)
            })
            .collect();
        for cut in 0..=log.len() {
            let (got, dmg, good) = scan_log(&log[..cut]);
            let complete = ends.iter().filter(|&&e| e <= cut).count();
            assert_eq!(got.len(), complete, "cut {cut}");
            assert_eq!(good, if complete == 0 { 0 } else { ends[complete - 1] });
            if good < cut {
                assert_eq!(dmg.len(), 1, "cut {cut}");
                assert_eq!(dmg[0].kind, DamageKind::TornTail);
            } else {
                assert!(dmg.is_empty());
            }
        }
    }

    #[test]
    fn corrupting_any_byte_loses_at_most_that_record() {
        let recs: Vec<Vec<u8>> = (0..4u64)
            .map(|i| encode_record(i + 1, OP_UPSERT, i, &[0xA0 | i as u8; 24]))
            .collect();
        let log: Vec<u8> = recs.concat();
        let rl = recs[0].len();
        for pos in 0..log.len() {
            let mut b = log.clone();
            b[pos] ^= 0x5A;
            let (got, dmg, _) = scan_log(&b);
            let hit = pos / rl;
            let seqs: Vec<u64> = got.iter().map(|r| r.seq).collect();
            let want: Vec<u64> = (1..=4).filter(|&s| s != hit as u64 + 1).collect();
            assert_eq!(seqs, want, "byte {pos}");
            assert_eq!(dmg.len(), 1, "byte {pos}");
            let kind = if hit == 3 {
                DamageKind::TornTail
            } else {
                DamageKind::Corrupt
            };
            assert_eq!(dmg[0].kind, kind, "byte {pos}");
        }
    }
}
