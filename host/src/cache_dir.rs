//! The artifact cache on disk: how files are named, which files a host adopts at start, and
//! how an artifact's bytes are checked.
//!
//! An artifact's file name binds it to everything its bytes depend on:
//!
//! ```text
//! <code hash>_<prep-hash>_<engine fingerprint>_<checksum>.pvf
//!   64 hex      64 hex       32 hex               64 hex
//! ```
//!
//! At start the host keeps ("adopts") each artifact whose name parses, whose fingerprint is the
//! running binary's and whose size is plausible, and deletes every other file of its own
//! (artifacts of other engines, names it cannot parse, worker dirs). Files it does not own are
//! left alone. Adoption reads only directory entries: checksums are verified lazily, before
//! the first use of each adopted artifact (see `docs/architecture.md`, "Artifact cache").
//!
//! One host at a time: a host holds an exclusive advisory lock ([`CacheDirLock`], `flock(2)`
//! on [`LOCK_FILE_NAME`]) for its whole life, taken before anything is deleted or adopted, so
//! a second host (or a `pvf cache` command that deletes) never wipes a running host's files.

use crate::artifacts::ArtifactId;
use pvf_common::{
    ValidationCodeHash, engine::EngineFingerprint, executor_params::ExecutorParamsPrepHash,
    framing::MAX_JOB_REPLY_FRAME_LEN, prepare::ArtifactChecksum,
};
use std::{
    fs, io,
    path::{Path, PathBuf},
    time::{Duration, SystemTime},
};

/// Extension of artifact files; files with it are ours to delete.
pub const ARTIFACT_EXTENSION: &str = "pvf";
/// Prefix of per-worker directories in the cache dir.
pub const WORKER_DIR_PREFIX: &str = "worker-dir";
/// The lock file in the cache dir: whoever holds an exclusive `flock(2)` on it owns the dir,
/// and writes its pid into it. The holder deletes it when it lets go; a process that locked a
/// file deleted meanwhile notices (the path no longer names its file) and tries again. The
/// host's start-up sweep ignores it like any foreign file.
pub const LOCK_FILE_NAME: &str = ".lock";
/// Prefix of artifacts written by the reference and by older hosts.
const LEGACY_ARTIFACT_PREFIX: &str = "wasmtime_";
/// A job cannot deliver an artifact larger than its reply frame.
pub const MAX_ARTIFACT_SIZE: u64 = MAX_JOB_REPLY_FRAME_LEN;
/// An artifact's modification time records when it was last needed, at this granularity.
/// Coarse on purpose: pruning works in days, and executions should not cost a syscall each.
pub const LAST_USED_RESOLUTION: Duration = Duration::from_secs(60 * 60);

/// What an artifact's file name says about its bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ArtifactFileName {
    /// The code and executor parameters it was compiled from.
    pub id: ArtifactId,
    /// The engine that compiled it.
    pub fingerprint: EngineFingerprint,
    /// The digest of its bytes.
    pub checksum: ArtifactChecksum,
}

impl ArtifactFileName {
    /// The file name, without a directory.
    pub fn file_name(&self) -> String {
        format!(
            "{}_{}_{}_{}.{ARTIFACT_EXTENSION}",
            hex::encode(self.id.code_hash.0),
            hex::encode(self.id.executor_params_prep_hash.0),
            self.fingerprint,
            hex::encode(self.checksum.0),
        )
    }

    /// The artifact's path in `cache_path`.
    pub fn path_in(&self, cache_path: &Path) -> PathBuf {
        cache_path.join(self.file_name())
    }

    /// Reads a file name back; `None` if it is not one of ours in the current format.
    pub fn parse(file_name: &str) -> Option<Self> {
        let stem = file_name.strip_suffix(&format!(".{ARTIFACT_EXTENSION}"))?;
        let mut parts = stem.split('_');
        let code_hash = decode_hex::<32>(parts.next()?)?;
        let prep_hash = decode_hex::<32>(parts.next()?)?;
        let fingerprint = decode_hex::<16>(parts.next()?)?;
        let checksum = decode_hex::<32>(parts.next()?)?;
        if parts.next().is_some() {
            return None;
        }
        Some(Self {
            id: ArtifactId {
                code_hash: ValidationCodeHash(code_hash),
                executor_params_prep_hash: ExecutorParamsPrepHash(prep_hash),
            },
            fingerprint: EngineFingerprint(fingerprint),
            checksum: ArtifactChecksum(checksum),
        })
    }
}

fn decode_hex<const N: usize>(s: &str) -> Option<[u8; N]> {
    // Lower case only, so that one artifact has exactly one name.
    if s.len() != 2 * N || s.bytes().any(|b| b.is_ascii_uppercase()) {
        return None;
    }
    let mut out = [0; N];
    hex::decode_to_slice(s, &mut out).ok()?;
    Some(out)
}

/// An artifact the host keeps from an earlier run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdoptedArtifact {
    /// What its name says.
    pub name: ArtifactFileName,
    /// Where it is.
    pub path: PathBuf,
    /// Its size in bytes.
    pub size: u64,
    /// When it was last needed (its modification time).
    pub last_used: SystemTime,
}

/// What the host makes of one entry of the cache dir.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EntryVerdict {
    /// An artifact to keep.
    Adopt(AdoptedArtifact),
    /// A file or dir of ours to delete, and why.
    Remove {
        /// The entry.
        path: PathBuf,
        /// Its size in bytes (0 for a dir).
        size: u64,
        /// Why it goes.
        reason: RemoveReason,
    },
}

/// Why an entry of ours is deleted at start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RemoveReason {
    /// A worker dir left by a host that did not shut down cleanly.
    WorkerDir,
    /// An artifact name of an older format (random names, the reference's `wasmtime_…`).
    UnknownName,
    /// Compiled by another engine, binary version or machine.
    OtherFingerprint,
    /// Empty, or larger than any job can produce: certainly damaged.
    ImplausibleSize,
    /// Another file holds the same artifact and is newer.
    Duplicate,
}

impl RemoveReason {
    /// A short label for tables and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::WorkerDir => "stale worker dir",
            Self::UnknownName => "unknown name",
            Self::OtherFingerprint => "other engine fingerprint",
            Self::ImplausibleSize => "implausible size",
            Self::Duplicate => "duplicate",
        }
    }
}

/// Classifies every entry of `cache_path` that belongs to us, without reading any file's
/// contents. Foreign entries are not listed. `fingerprint` is the running engine's.
pub fn scan(cache_path: &Path, fingerprint: EngineFingerprint) -> io::Result<Vec<EntryVerdict>> {
    let mut verdicts = Vec::new();
    for entry in fs::read_dir(cache_path)? {
        let entry = entry?;
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let file_type = entry.file_type()?;
        if file_type.is_dir() && name.starts_with(WORKER_DIR_PREFIX) {
            let reason = RemoveReason::WorkerDir;
            verdicts.push(EntryVerdict::Remove {
                path,
                size: 0,
                reason,
            });
            continue;
        }
        let ours = path.extension().is_some_and(|e| e == ARTIFACT_EXTENSION)
            || name.starts_with(LEGACY_ARTIFACT_PREFIX);
        if !file_type.is_file() || !ours {
            continue;
        }
        let meta = entry.metadata()?;
        let size = meta.len();
        let remove = |reason| EntryVerdict::Remove {
            path: path.clone(),
            size,
            reason,
        };
        verdicts.push(match ArtifactFileName::parse(&name) {
            None => remove(RemoveReason::UnknownName),
            Some(parsed) if parsed.fingerprint != fingerprint => {
                remove(RemoveReason::OtherFingerprint)
            }
            Some(_) if size == 0 || size > MAX_ARTIFACT_SIZE => {
                remove(RemoveReason::ImplausibleSize)
            }
            Some(parsed) => EntryVerdict::Adopt(AdoptedArtifact {
                name: parsed,
                path: path.clone(),
                size,
                last_used: meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
            }),
        });
    }
    demote_duplicates(&mut verdicts);
    Ok(verdicts)
}

/// Two files for one artifact id (possible only by hand or across a checksum change): keep
/// the newest.
fn demote_duplicates(verdicts: &mut [EntryVerdict]) {
    let mut newest: std::collections::HashMap<ArtifactId, (SystemTime, usize)> = Default::default();
    let mut duplicates = Vec::new();
    for (index, verdict) in verdicts.iter().enumerate() {
        let EntryVerdict::Adopt(artifact) = verdict else {
            continue;
        };
        match newest.entry(artifact.name.id) {
            std::collections::hash_map::Entry::Vacant(slot) => {
                slot.insert((artifact.last_used, index));
            }
            std::collections::hash_map::Entry::Occupied(mut slot) => {
                let (time, kept) = *slot.get();
                if artifact.last_used > time {
                    duplicates.push(kept);
                    slot.insert((artifact.last_used, index));
                } else {
                    duplicates.push(index);
                }
            }
        }
    }
    for index in duplicates {
        if let EntryVerdict::Adopt(artifact) = &verdicts[index] {
            verdicts[index] = EntryVerdict::Remove {
                path: artifact.path.clone(),
                size: artifact.size,
                reason: RemoveReason::Duplicate,
            };
        }
    }
}

/// Creates the cache dir if needed, deletes the entries of ours that [`scan`] rejects, and
/// returns the artifacts to adopt. A file that cannot be deleted is logged and skipped.
pub fn adopt(
    cache_path: &Path,
    fingerprint: EngineFingerprint,
) -> io::Result<Vec<AdoptedArtifact>> {
    fs::create_dir_all(cache_path)?;
    let mut adopted = Vec::new();
    for verdict in scan(cache_path, fingerprint)? {
        match verdict {
            EntryVerdict::Adopt(artifact) => adopted.push(artifact),
            EntryVerdict::Remove { path, reason, .. } => {
                tracing::info!(target: pvf_common::LOG_TARGET, ?path, reason = reason.as_str(), "removing a cache entry");
                let removed = if reason == RemoveReason::WorkerDir {
                    fs::remove_dir_all(&path)
                } else {
                    fs::remove_file(&path)
                };
                if let Err(e) = removed {
                    tracing::warn!(target: pvf_common::LOG_TARGET, ?path, "cannot remove a stale cache entry: {e}");
                }
            }
        }
    }
    Ok(adopted)
}

/// Removes every worker dir in `cache_path`. Only for when no worker of ours runs: at shutdown,
/// after every worker was killed and reaped.
pub fn remove_worker_dirs(cache_path: &Path) -> io::Result<()> {
    for entry in fs::read_dir(cache_path)? {
        let entry = entry?;
        let is_worker_dir = entry.file_type()?.is_dir()
            && entry
                .file_name()
                .to_string_lossy()
                .starts_with(WORKER_DIR_PREFIX);
        if is_worker_dir {
            fs::remove_dir_all(entry.path())?;
        }
    }
    Ok(())
}

/// How often a waiting [`CacheDirLock::acquire`] tries the lock again.
const LOCK_POLL_INTERVAL: Duration = Duration::from_millis(50);

/// The exclusive lock on a cache dir, held until dropped. The file is opened close-on-exec,
/// so workers never inherit it (an inherited descriptor would keep the dir locked after the
/// host is gone).
#[derive(Debug)]
pub struct CacheDirLock {
    file: fs::File,
    path: PathBuf,
}

/// Why a [`CacheDirLock`] could not be taken.
#[derive(Debug)]
pub enum LockError {
    /// Another process holds the lock (after waiting, if asked to wait).
    Held {
        /// The pid the holder wrote into the lock file, if it could be read.
        holder: Option<u32>,
    },
    /// The dir or the lock file could not be created or locked.
    Io(io::Error),
}

impl CacheDirLock {
    /// Creates `cache_path` if needed and locks it. `wait`: `None` fails at once if another
    /// process holds the lock; `Some(d)` tries again until `d` has passed.
    pub fn acquire(cache_path: &Path, wait: Option<Duration>) -> Result<Self, LockError> {
        use std::os::unix::fs::MetadataExt;
        fs::create_dir_all(cache_path).map_err(LockError::Io)?;
        let path = cache_path.join(LOCK_FILE_NAME);
        let deadline = wait.and_then(|w| std::time::Instant::now().checked_add(w));
        loop {
            // No truncation before the lock is ours: the holder's pid is in there.
            let file = fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path)
                .map_err(LockError::Io)?;
            match file.try_lock() {
                Ok(()) => {
                    // The previous holder deletes the file as it lets go: a lock on a deleted
                    // file locks nothing anyone else will open.
                    let ours = file.metadata().map_err(LockError::Io)?;
                    let current = match fs::metadata(&path) {
                        Ok(meta) => meta,
                        Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                        Err(e) => return Err(LockError::Io(e)),
                    };
                    if (ours.dev(), ours.ino()) != (current.dev(), current.ino()) {
                        continue;
                    }
                    let lock = Self { file, path };
                    if let Err(e) = lock.record_pid() {
                        tracing::warn!(target: pvf_common::LOG_TARGET, path = ?lock.path, "cannot write our pid into the cache-dir lock file: {e}");
                    }
                    return Ok(lock);
                }
                Err(fs::TryLockError::WouldBlock) => {
                    let keep_waiting = match (wait, deadline) {
                        (None, _) => false,
                        // A wait too long to represent: wait for ever.
                        (Some(_), None) => true,
                        (Some(_), Some(deadline)) => std::time::Instant::now() < deadline,
                    };
                    if !keep_waiting {
                        return Err(LockError::Held {
                            holder: read_holder(&path),
                        });
                    }
                    std::thread::sleep(LOCK_POLL_INTERVAL);
                }
                Err(fs::TryLockError::Error(e)) => return Err(LockError::Io(e)),
            }
        }
    }

    fn record_pid(&self) -> io::Result<()> {
        use std::io::{Seek, Write};
        let mut file = &self.file;
        file.set_len(0)?;
        file.seek(io::SeekFrom::Start(0))?;
        writeln!(file, "{}", std::process::id())?;
        file.flush()
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for CacheDirLock {
    fn drop(&mut self) {
        // Deleted while still locked, so that nobody locks this file after us (they would
        // find the path gone and make a new one); the lock goes with the descriptor.
        if let Err(e) = fs::remove_file(&self.path)
            && e.kind() != io::ErrorKind::NotFound
        {
            tracing::debug!(target: pvf_common::LOG_TARGET, path = ?self.path, "cannot remove the cache-dir lock file: {e}");
        }
    }
}

/// The pid recorded in a lock file, if any (a holder that has just taken the lock may not
/// have written it yet).
pub fn read_holder(lock_path: &Path) -> Option<u32> {
    fs::read_to_string(lock_path).ok()?.trim().parse().ok()
}

/// Whether the file's bytes match `checksum`. Reads the whole file.
pub fn verify(path: &Path, checksum: &ArtifactChecksum) -> io::Result<bool> {
    let bytes = fs::read(path)?;
    Ok(ArtifactChecksum::of(&bytes) == *checksum)
}

/// Records "needed now" in the file's modification time, if the recorded time is older than
/// [`LAST_USED_RESOLUTION`]. Returns the time now on record. Failures are ignored: the time
/// only orders pruning.
pub fn touch(path: &Path, recorded: SystemTime) -> SystemTime {
    let now = SystemTime::now();
    let stale = now
        .duration_since(recorded)
        .is_ok_and(|age| age >= LAST_USED_RESOLUTION);
    if !stale {
        return recorded;
    }
    let touched = fs::File::open(path).and_then(|file| file.set_modified(now));
    if let Err(e) = touched {
        tracing::debug!(target: pvf_common::LOG_TARGET, ?path, "cannot record an artifact's last use: {e}");
    }
    now
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(code: u8, fingerprint: EngineFingerprint) -> ArtifactFileName {
        ArtifactFileName {
            id: ArtifactId {
                code_hash: ValidationCodeHash([code; 32]),
                executor_params_prep_hash: pvf_common::ExecutorParams::new().prep_hash(),
            },
            fingerprint,
            checksum: ArtifactChecksum::of(&[code]),
        }
    }

    #[test]
    fn the_lock_is_exclusive_names_its_holder_and_is_not_inherited() {
        let dir = tempfile::tempdir().unwrap();
        let cache = dir.path().join("new/cache");
        let held = CacheDirLock::acquire(&cache, None).unwrap();
        assert!(cache.is_dir());
        assert_eq!(held.path(), cache.join(LOCK_FILE_NAME));
        assert_eq!(read_holder(held.path()), Some(std::process::id()));
        // flock(2) locks belong to the open file description: a second open in this process
        // conflicts like another process would.
        match CacheDirLock::acquire(&cache, None) {
            Err(LockError::Held { holder }) => assert_eq!(holder, Some(std::process::id())),
            other => panic!("{other:?}"),
        }
        let started = std::time::Instant::now();
        let waited = CacheDirLock::acquire(&cache, Some(Duration::from_millis(150)));
        assert!(matches!(waited, Err(LockError::Held { .. })), "{waited:?}");
        assert!(started.elapsed() >= Duration::from_millis(150));

        use std::os::fd::AsRawFd;
        let fdinfo =
            fs::read_to_string(format!("/proc/self/fdinfo/{}", held.file.as_raw_fd())).unwrap();
        let flags = fdinfo
            .lines()
            .find_map(|l| l.strip_prefix("flags:"))
            .map(|f| u32::from_str_radix(f.trim(), 8).unwrap())
            .unwrap();
        const O_CLOEXEC: u32 = 0o2000000;
        assert_ne!(
            flags & O_CLOEXEC,
            0,
            "the lock fd would be inherited by workers"
        );

        // The lock file is not ours to adopt or delete.
        assert!(
            adopt(&cache, EngineFingerprint::current())
                .unwrap()
                .is_empty()
        );
        assert!(held.path().is_file());

        let waiter = {
            let cache = cache.clone();
            std::thread::spawn(move || CacheDirLock::acquire(&cache, Some(Duration::from_secs(30))))
        };
        std::thread::sleep(Duration::from_millis(100));
        drop(held);
        let next = waiter.join().unwrap().expect("free once dropped");
        assert_eq!(read_holder(next.path()), Some(std::process::id()));
        let lock_path = next.path().to_path_buf();
        drop(next);
        assert!(!lock_path.exists(), "the lock file goes with the lock");
        assert!(fs::read_dir(&cache).unwrap().next().is_none());
    }

    #[test]
    fn the_lock_stays_exclusive_while_holders_delete_it_on_release() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let dir = tempfile::tempdir().unwrap();
        let inside = std::sync::Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..6)
            .map(|_| {
                let (cache, inside) = (dir.path().to_path_buf(), inside.clone());
                std::thread::spawn(move || {
                    for _ in 0..15 {
                        let lock = CacheDirLock::acquire(&cache, Some(Duration::from_secs(60)))
                            .expect("acquired in turn");
                        assert_eq!(inside.fetch_add(1, Ordering::SeqCst), 0, "two holders");
                        std::thread::sleep(Duration::from_millis(1));
                        inside.fetch_sub(1, Ordering::SeqCst);
                        drop(lock);
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        assert!(!dir.path().join(LOCK_FILE_NAME).exists());
    }

    #[test]
    fn names_round_trip_and_fit_in_a_file_name() {
        let original = name(7, EngineFingerprint::current());
        let file_name = original.file_name();
        assert!(file_name.len() <= 255, "{}", file_name.len());
        assert_eq!(ArtifactFileName::parse(&file_name), Some(original));
        assert_eq!(ArtifactFileName::parse(&file_name.to_uppercase()), None);
        assert_eq!(
            ArtifactFileName::parse(&file_name.replace(".pvf", "")),
            None
        );
        assert_eq!(ArtifactFileName::parse(&format!("x{file_name}")), None);
        assert_eq!(
            ArtifactFileName::parse(&format!("0x{}.pvf", "ab".repeat(64))),
            None
        );
    }

    #[test]
    fn scan_adopts_only_what_provably_matches() {
        let dir = tempfile::tempdir().unwrap();
        let current = EngineFingerprint::current();
        let mut other = current;
        other.0[0] ^= 1;
        let write = |file_name: &str, bytes: &[u8]| {
            let path = dir.path().join(file_name);
            fs::write(&path, bytes).unwrap();
            path
        };
        let good = write(&name(1, current).file_name(), b"artifact");
        let other_engine = write(&name(2, other).file_name(), b"artifact");
        let empty = write(&name(3, current).file_name(), b"");
        let random_name = write(&format!("0x{}.pvf", "ab".repeat(64)), b"x");
        let legacy = write("wasmtime_polkadot_v1.0.0_0xab", b"x");
        let foreign = write("keep-me.txt", b"x");
        let worker_dir = dir.path().join("worker-dir-prepare-abc");
        fs::create_dir(&worker_dir).unwrap();
        fs::write(
            worker_dir.join(pvf_common::wire_names::TMP_ARTIFACT_FILE_NAME),
            b"x",
        )
        .unwrap();

        let adopted = adopt(dir.path(), current).unwrap();
        assert_eq!(adopted.len(), 1);
        assert_eq!(adopted[0].path, good);
        assert_eq!(adopted[0].name, name(1, current));
        assert_eq!(adopted[0].size, 8);
        for gone in [&other_engine, &empty, &random_name, &legacy, &worker_dir] {
            assert!(!gone.exists(), "{gone:?} should be removed");
        }
        assert!(good.exists() && foreign.exists());
        let fresh = dir.path().join("new/nested");
        assert!(adopt(&fresh, current).unwrap().is_empty());
        assert!(fresh.is_dir());
    }

    #[test]
    fn of_two_files_for_one_artifact_the_newer_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let current = EngineFingerprint::current();
        let older = name(1, current);
        let mut newer = older;
        newer.checksum = ArtifactChecksum([9; 32]);
        let (older_path, newer_path) = (older.path_in(dir.path()), newer.path_in(dir.path()));
        fs::write(&older_path, b"a").unwrap();
        fs::write(&newer_path, b"b").unwrap();
        let past = SystemTime::now() - Duration::from_secs(3600);
        fs::File::open(&older_path)
            .unwrap()
            .set_modified(past)
            .unwrap();
        let adopted = adopt(dir.path(), current).unwrap();
        assert_eq!(adopted.len(), 1);
        assert_eq!(adopted[0].path, newer_path);
        assert!(!older_path.exists());
    }

    #[test]
    fn touch_records_last_use_at_a_coarse_resolution() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.pvf");
        fs::write(&path, b"a").unwrap();
        let long_ago = SystemTime::now() - Duration::from_secs(3 * 24 * 3600);
        fs::File::open(&path)
            .unwrap()
            .set_modified(long_ago)
            .unwrap();
        let recent = SystemTime::now() - Duration::from_secs(60);
        assert_eq!(
            touch(&path, recent),
            recent,
            "within the resolution: no write"
        );
        assert_eq!(fs::metadata(&path).unwrap().modified().unwrap(), long_ago);
        let recorded = touch(&path, long_ago);
        assert!(recorded > recent);
        assert!(fs::metadata(&path).unwrap().modified().unwrap() > recent);
    }

    #[test]
    fn verify_detects_truncation_and_flipped_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.pvf");
        let bytes = b"some artifact bytes".to_vec();
        let checksum = ArtifactChecksum::of(&bytes);
        fs::write(&path, &bytes).unwrap();
        assert!(verify(&path, &checksum).unwrap());
        fs::write(&path, &bytes[..10]).unwrap();
        assert!(!verify(&path, &checksum).unwrap());
        let mut flipped = bytes.clone();
        flipped[3] ^= 0x10;
        fs::write(&path, &flipped).unwrap();
        assert!(!verify(&path, &checksum).unwrap());
        fs::remove_file(&path).unwrap();
        assert!(verify(&path, &checksum).is_err());
    }
}
