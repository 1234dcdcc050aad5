//! The artifact table: which PVFs are being prepared, prepared, or failed.
//!
//! An artifact is identified by [`ArtifactId`] (code hash + prep-hash of the executor
//! parameters). Its file in the cache dir is named by `cache_dir.rs`, which depends on this
//! file and not the reverse.

use pvf_common::{
    PrecheckResult, PrepareError, PrepareResult, PvfPrepData, ValidationCodeHash,
    executor_params::ExecutorParamsPrepHash,
    prepare::{ArtifactChecksum, PrepareStats},
};
use std::{
    collections::HashMap,
    path::PathBuf,
    time::{Duration, SystemTime},
};
use tokio::sync::oneshot;

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
        /// Whether its bytes are known to match `checksum`: true when this host prepared it,
        /// false when adopted from an earlier run until a check.
        verified: bool,
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

    /// Sets the state of `id`.
    pub fn set(&mut self, id: ArtifactId, state: ArtifactState) {
        self.inner.insert(id, state);
    }

    /// Adds an artifact kept from an earlier run, unverified. Pre-check and prepare requests
    /// verify one before answering from it; execute workers verify every artifact they load.
    pub fn insert_adopted(
        &mut self,
        id: ArtifactId,
        path: PathBuf,
        size: u64,
        checksum: ArtifactChecksum,
        last_used: SystemTime,
    ) {
        let state = ArtifactState::Prepared {
            path,
            size,
            checksum,
            stats: PrepareStats::default(),
            last_time_needed: last_used,
            verified: false,
        };
        self.inner.insert(id, state);
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
            verified: true,
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
}
