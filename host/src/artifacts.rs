//! The artifact table: which PVFs are being prepared, prepared, or failed, and the cache dir
//! that holds the compiled files.
//!
//! An artifact is identified by [`ArtifactId`] (code hash + prep-hash of the executor
//! parameters) and stored under a random name, so an old file can never be mistaken for a new
//! one and re-preparation never collides with a file still in use.

use pvf_common::{
    PrecheckResult, PrepareError, PrepareResult, PvfPrepData, ValidationCodeHash,
    executor_params::ExecutorParamsPrepHash,
    prepare::{ArtifactChecksum, PrepareStats},
};
use std::{
    collections::HashMap,
    path::{Path, PathBuf},
    time::{Duration, SystemTime},
};
use tokio::sync::oneshot;

/// Extension of artifact files; files with it are ours to delete.
pub const ARTIFACT_EXTENSION: &str = "pvf";
/// Prefix of per-worker directories in the cache dir.
pub const WORKER_DIR_PREFIX: &str = "worker-dir";
/// Prefix of artifacts written by older hosts.
const LEGACY_ARTIFACT_PREFIX: &str = "wasmtime_";

/// Identifies an artifact: the code and the executor parameters that shape compilation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ArtifactId {
    /// BLAKE2-256 of the code blob as given.
    pub code_hash: ValidationCodeHash,
    /// Hash of the executor parameters that change compiled bytes.
    pub executor_params_prep_hash: ExecutorParamsPrepHash,
}

impl ArtifactId {
    /// The artifact a PVF compiles to.
    pub fn from_pvf(pvf: &PvfPrepData) -> Self {
        Self {
            code_hash: pvf.code_hash(),
            executor_params_prep_hash: pvf.executor_params().prep_hash(),
        }
    }
}

/// A fresh, random artifact path in `cache_path`: `0x` + 128 hex chars + `.pvf`.
pub fn random_artifact_path(cache_path: &Path) -> PathBuf {
    let bytes: [u8; 64] = rand::random();
    cache_path.join(format!("0x{}.{ARTIFACT_EXTENSION}", hex::encode(bytes)))
}

/// Who waits for a preparation to finish.
#[derive(Debug, Default)]
pub struct Waiters {
    /// Pre-check callers: they learn only whether it worked.
    pub precheck: Vec<oneshot::Sender<PrecheckResult>>,
    /// Prepare callers: they learn where the artifact is.
    pub prepare: Vec<oneshot::Sender<PrepareResult>>,
}

impl Waiters {
    /// Answers everyone and empties the lists. Dropped receivers are skipped.
    pub fn answer(self, result: &PrepareResult) {
        for tx in self.precheck {
            let _ = tx.send(result.as_ref().map(|_| ()).map_err(Clone::clone));
        }
        for tx in self.prepare {
            let _ = tx.send(result.clone());
        }
    }
}

/// Where an artifact is in its life.
#[derive(Debug)]
pub enum ArtifactState {
    /// A job is queued or running; these callers wait for it.
    Preparing {
        /// Callers to answer when the job concludes.
        waiters: Waiters,
        /// Failures before this attempt (for the retry limit).
        num_failures: u32,
    },
    /// The artifact is on disk.
    Prepared {
        /// The artifact file.
        path: PathBuf,
        /// Size of the file, in bytes.
        size: u64,
        /// Digest of the file's bytes.
        checksum: ArtifactChecksum,
        /// Statistics of the preparation.
        stats: PrepareStats,
        /// When it was last pre-checked, prepared or named in a heads-up (for pruning).
        last_time_needed: SystemTime,
    },
    /// Preparation failed.
    FailedToProcess {
        /// When it failed.
        last_time_failed: SystemTime,
        /// How many attempts failed in a row.
        num_failures: u32,
        /// The last error.
        error: PrepareError,
    },
}

/// When failed preparations may be retried.
#[derive(Clone, Copy, Debug)]
pub struct RetryPolicy {
    /// Minimum time between a failure and its retry.
    pub cooldown: Duration,
    /// Retries allowed after the first failure.
    pub max_retries: u32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            cooldown: Duration::from_secs(15 * 60),
            max_retries: 5,
        }
    }
}

impl RetryPolicy {
    /// Whether a preparation that failed with `error` may run again now. Deterministic errors
    /// never retry; others retry after the cooldown, a limited number of times.
    pub fn can_retry(
        &self,
        last_time_failed: SystemTime,
        num_failures: u32,
        error: &PrepareError,
    ) -> bool {
        if error.is_deterministic() {
            return false;
        }
        let cooled_down = SystemTime::now()
            .duration_since(last_time_failed)
            .map(|elapsed| elapsed >= self.cooldown)
            .unwrap_or(false);
        cooled_down && num_failures <= self.max_retries
    }
}

/// Bounds on the cache's size.
#[derive(Clone, Copy, Debug)]
pub struct ArtifactsCleanupConfig {
    /// Prune least-recently-needed artifacts while their total size exceeds this many bytes.
    pub cache_limit: u64,
    /// Never prune an artifact needed more recently than this.
    pub min_stale_time: Duration,
}

impl Default for ArtifactsCleanupConfig {
    fn default() -> Self {
        Self {
            cache_limit: 10 * 1024 * 1024 * 1024,
            min_stale_time: Duration::from_secs(24 * 60 * 60),
        }
    }
}

/// The artifact table.
#[derive(Debug, Default)]
pub struct Artifacts {
    inner: HashMap<ArtifactId, ArtifactState>,
}

impl Artifacts {
    /// The state of an artifact, if known.
    pub fn artifact_state(&self, id: &ArtifactId) -> Option<&ArtifactState> {
        self.inner.get(id)
    }

    /// The state of an artifact, if known, for changing it.
    pub fn artifact_state_mut(&mut self, id: &ArtifactId) -> Option<&mut ArtifactState> {
        self.inner.get_mut(id)
    }

    /// Records that a preparation of `id` has been queued.
    pub fn insert_preparing(&mut self, id: ArtifactId, waiters: Waiters, num_failures: u32) {
        self.inner.insert(
            id,
            ArtifactState::Preparing {
                waiters,
                num_failures,
            },
        );
    }

    /// Removes an artifact from the table and returns its file, if it had one.
    pub fn remove(&mut self, id: &ArtifactId) -> Option<PathBuf> {
        match self.inner.remove(id) {
            Some(ArtifactState::Prepared { path, .. }) => Some(path),
            _ => None,
        }
    }

    /// Total bytes and number of prepared artifacts.
    pub fn disk_usage(&self) -> (u64, usize) {
        self.inner
            .values()
            .fold((0, 0), |(bytes, count), state| match state {
                ArtifactState::Prepared { size, .. } => (bytes + size, count + 1),
                _ => (bytes, count),
            })
    }

    /// Evicts least-recently-needed artifacts while the cache exceeds its limit, but never one
    /// needed within `min_stale_time`. Returns the evicted ids and files to delete.
    pub fn prune(&mut self, config: &ArtifactsCleanupConfig) -> Vec<(ArtifactId, PathBuf)> {
        let now = SystemTime::now();
        let (mut total, _) = self.disk_usage();
        let mut prepared: Vec<(ArtifactId, SystemTime, u64)> = self
            .inner
            .iter()
            .filter_map(|(id, state)| match state {
                ArtifactState::Prepared {
                    last_time_needed,
                    size,
                    ..
                } => Some((*id, *last_time_needed, *size)),
                _ => None,
            })
            .collect();
        prepared.sort_by_key(|(_, last_needed, _)| *last_needed);
        let mut pruned = Vec::new();
        for (id, last_needed, size) in prepared {
            if total <= config.cache_limit {
                break;
            }
            let stale = now
                .duration_since(last_needed)
                .map(|d| d >= config.min_stale_time)
                .unwrap_or(false);
            if !stale {
                break;
            }
            if let Some(path) = self.remove(&id) {
                total -= size;
                pruned.push((id, path));
            }
        }
        pruned
    }
}

/// Creates the cache dir if needed and deletes what earlier hosts left in it: artifact files
/// and worker dirs. Other files are left alone, in case the operator shares the directory.
pub async fn init_cache_dir(cache_path: &Path) -> std::io::Result<()> {
    tokio::fs::create_dir_all(cache_path).await?;
    let mut entries = tokio::fs::read_dir(cache_path).await?;
    while let Some(entry) = entries.next_entry().await? {
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let file_type = entry.file_type().await?;
        let result = if file_type.is_dir() && name.starts_with(WORKER_DIR_PREFIX) {
            tokio::fs::remove_dir_all(&path).await
        } else if file_type.is_file()
            && (path.extension().is_some_and(|e| e == ARTIFACT_EXTENSION)
                || name.starts_with(LEGACY_ARTIFACT_PREFIX))
        {
            tokio::fs::remove_file(&path).await
        } else {
            continue;
        };
        if let Err(e) = result {
            tracing::warn!(target: pvf_common::LOG_TARGET, ?path, "cannot remove a stale cache entry: {e}");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u8) -> ArtifactId {
        ArtifactId {
            code_hash: ValidationCodeHash([n; 32]),
            executor_params_prep_hash: pvf_common::ExecutorParams::new().prep_hash(),
        }
    }

    fn prepared(size: u64, ago: Duration) -> ArtifactState {
        ArtifactState::Prepared {
            path: PathBuf::from(format!("/a{size}")),
            size,
            checksum: ArtifactChecksum([0; 32]),
            stats: PrepareStats::default(),
            last_time_needed: SystemTime::now() - ago,
        }
    }

    const DAY: Duration = Duration::from_secs(24 * 3600);

    #[test]
    fn prunes_least_recently_needed_until_under_the_limit() {
        let mut artifacts = Artifacts::default();
        artifacts.inner.insert(id(1), prepared(100, DAY * 3));
        artifacts.inner.insert(id(2), prepared(100, DAY * 2));
        artifacts.inner.insert(id(3), prepared(100, DAY * 4));
        let config = ArtifactsCleanupConfig {
            cache_limit: 150,
            min_stale_time: DAY,
        };
        let pruned: Vec<_> = artifacts
            .prune(&config)
            .into_iter()
            .map(|(id, _)| id)
            .collect();
        assert_eq!(pruned, vec![id(3), id(1)]);
        assert_eq!(artifacts.disk_usage(), (100, 1));
    }

    #[test]
    fn never_prunes_recently_needed_artifacts() {
        let mut artifacts = Artifacts::default();
        artifacts.inner.insert(id(1), prepared(100, DAY * 3));
        artifacts
            .inner
            .insert(id(2), prepared(100, Duration::from_secs(60)));
        artifacts
            .inner
            .insert(id(3), prepared(100, Duration::from_secs(30)));
        let config = ArtifactsCleanupConfig {
            cache_limit: 10,
            min_stale_time: DAY,
        };
        let pruned: Vec<_> = artifacts
            .prune(&config)
            .into_iter()
            .map(|(id, _)| id)
            .collect();
        assert_eq!(pruned, vec![id(1)]);
        assert_eq!(artifacts.disk_usage(), (200, 2));
    }

    #[test]
    fn under_the_limit_nothing_is_pruned() {
        let mut artifacts = Artifacts::default();
        artifacts.inner.insert(id(1), prepared(100, DAY * 30));
        let config = ArtifactsCleanupConfig {
            cache_limit: 100,
            min_stale_time: DAY,
        };
        assert!(artifacts.prune(&config).is_empty());
    }

    #[test]
    fn retry_rules() {
        let policy = RetryPolicy {
            cooldown: Duration::from_millis(200),
            max_retries: 5,
        };
        let long_ago = SystemTime::now() - Duration::from_secs(1);
        let just_now = SystemTime::now();
        assert!(policy.can_retry(long_ago, 1, &PrepareError::TimedOut));
        assert!(policy.can_retry(long_ago, 5, &PrepareError::IoErr("x".into())));
        assert!(
            !policy.can_retry(long_ago, 6, &PrepareError::TimedOut),
            "retry limit"
        );
        assert!(
            !policy.can_retry(just_now, 1, &PrepareError::TimedOut),
            "cooldown"
        );
        assert!(
            !policy.can_retry(long_ago, 1, &PrepareError::Prevalidation("x".into())),
            "deterministic"
        );
        assert!(
            !policy.can_retry(long_ago, 1, &PrepareError::OutOfMemory),
            "deterministic"
        );
    }

    #[tokio::test]
    async fn startup_wipe_removes_only_our_leftovers() {
        let dir = tempfile::tempdir().unwrap();
        let stale_artifact = dir.path().join("0xabc.pvf");
        let legacy = dir.path().join("wasmtime_old");
        let worker_dir = dir.path().join("worker-dir-prepare-xyz");
        let foreign = dir.path().join("keep-me.txt");
        let foreign_dir = dir.path().join("keep-dir");
        std::fs::write(&stale_artifact, b"x").unwrap();
        std::fs::write(&legacy, b"x").unwrap();
        std::fs::create_dir(&worker_dir).unwrap();
        std::fs::write(worker_dir.join("tmp-artifact"), b"x").unwrap();
        std::fs::write(&foreign, b"x").unwrap();
        std::fs::create_dir(&foreign_dir).unwrap();
        init_cache_dir(dir.path()).await.unwrap();
        assert!(!stale_artifact.exists() && !legacy.exists() && !worker_dir.exists());
        assert!(foreign.exists() && foreign_dir.exists());
        let fresh = dir.path().join("new/nested");
        init_cache_dir(&fresh).await.unwrap();
        assert!(fresh.is_dir());
    }
}
