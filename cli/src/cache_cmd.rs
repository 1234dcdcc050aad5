//! `pvf cache list|verify|prune`: what an artifact cache holds, whether its bytes are sound,
//! and trimming it by size or age.
//!
//! `list`, `verify` and `prune --dry-run` only read, and run beside a host. Commands that delete
//! (`prune`, `verify --remove-corrupt`) take the cache dir's lock first, as a host does at
//! start ([`cache_dir::CacheDirLock`]): they fail while a host holds the dir, or wait for it
//! with `--wait-for-cache-lock`. Worker dirs are never touched here.

use crate::table::size;
use clap::{Args, Subcommand};
use pvf_common::engine::EngineFingerprint;
use pvf_host::cache_dir::{self, AdoptedArtifact, ArtifactFileName, EntryVerdict, RemoveReason};
use std::{
    path::{Path, PathBuf},
    process::ExitCode,
    time::{Duration, SystemTime},
};

/// The cache subcommands.
#[derive(Subcommand)]
pub enum CacheCommand {
    /// List every artifact: code hash, prep-hash, size, last use, fingerprint match.
    List(ListArgs),
    /// Read every artifact of this engine and check its bytes against its checksum.
    Verify(VerifyArgs),
    /// Remove artifacts not used for a while, or the least recently used beyond a size.
    Prune(PruneArgs),
}

/// The cache dir argument.
#[derive(Args)]
pub struct CacheDirArg {
    /// The host's cache dir (the node's `--pvf-cache-dir`, or `pvf prepare --cache-dir`).
    #[arg(long)]
    pub cache_dir: PathBuf,
}

/// Arguments of `pvf cache list`.
#[derive(Args)]
pub struct ListArgs {
    #[command(flatten)]
    dir: CacheDirArg,
    /// Print one JSON document instead of the table (see the operator guide for its fields).
    #[arg(long)]
    json: bool,
}

/// `--wait-for-cache-lock`, for every command that locks a cache dir (a host's start, or a
/// cache command that deletes). Flatten it into a command's arguments and call
/// [`CacheLockArg::apply`] on its host `Config`.
#[derive(Args, Clone, Copy, Debug, Default)]
pub struct CacheLockArg {
    /// If another process (a node, another `pvf`) holds the cache dir's lock, wait until it
    /// lets go instead of failing at once.
    #[arg(long)]
    pub wait_for_cache_lock: bool,
}

impl CacheLockArg {
    /// How long to wait for the lock: for ever if asked, else not at all.
    pub fn wait(self) -> Option<Duration> {
        self.wait_for_cache_lock.then_some(Duration::MAX)
    }

    /// Sets the host's [`pvf_host::Config::cache_lock_wait`].
    pub fn apply(self, config: &mut pvf_host::Config) {
        config.cache_lock_wait = self.wait();
    }

    /// Locks `cache` for a command that deletes from it; the lock is held until dropped.
    fn lock(self, cache: &Path) -> Result<cache_dir::CacheDirLock, String> {
        // Locking creates the dir; a command on a dir that is not there has nothing to do.
        if !cache.is_dir() {
            return Err(format!(
                "cannot read the cache dir {}: not a directory",
                cache.display()
            ));
        }
        cache_dir::CacheDirLock::acquire(cache, self.wait()).map_err(|e| match e {
            cache_dir::LockError::Held { holder } => format!(
                "the cache dir {} is in use by a validation host ({}); nothing was removed. Stop that process and run this again, or pass --wait-for-cache-lock to wait for it (read-only: `pvf cache list`, `verify`, `prune --dry-run`)",
                cache.display(),
                pvf_host::LockHolder(holder),
            ),
            cache_dir::LockError::Io(e) => {
                format!("cannot lock the cache dir {}: {e}", cache.display())
            }
        })
    }
}

/// Arguments of `pvf cache verify`.
#[derive(Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    dir: CacheDirArg,
    #[command(flatten)]
    lock: CacheLockArg,
    /// Delete artifacts whose bytes do not match (the host would prepare them again anyway).
    #[arg(long)]
    remove_corrupt: bool,
    /// Print one JSON document instead of the lines (see the operator guide for its fields).
    #[arg(long)]
    json: bool,
}

/// Arguments of `pvf cache prune`.
#[derive(Args)]
pub struct PruneArgs {
    #[command(flatten)]
    dir: CacheDirArg,
    #[command(flatten)]
    lock: CacheLockArg,
    /// Remove artifacts last used longer ago than this (e.g. `7d`, `12h`, `30m`).
    #[arg(long, value_parser = parse_duration)]
    older_than: Option<Duration>,
    /// Then remove least-recently-used artifacts until the rest fit (e.g. `10GiB`, `500MiB`).
    #[arg(long, value_parser = parse_size)]
    max_size: Option<u64>,
    /// Also remove files the host would not adopt (other engines, unknown names).
    #[arg(long)]
    stale: bool,
    /// Print what would be removed, remove nothing.
    #[arg(long)]
    dry_run: bool,
}

/// Runs a cache subcommand.
pub fn run(command: CacheCommand) -> ExitCode {
    let result = match command {
        CacheCommand::List(args) => list(&args.dir.cache_dir, args.json),
        CacheCommand::Verify(args) => verify(
            &args.dir.cache_dir,
            args.remove_corrupt,
            args.lock,
            args.json,
        ),
        CacheCommand::Prune(args) => prune(&args),
    };
    result.unwrap_or_else(|e| {
        eprintln!("error: {e}");
        ExitCode::from(2)
    })
}

fn scan(cache: &Path) -> Result<Vec<EntryVerdict>, String> {
    cache_dir::scan(cache, EngineFingerprint::current())
        .map_err(|e| format!("cannot read the cache dir {}: {e}", cache.display()))
}

fn age(time: SystemTime) -> String {
    let secs = SystemTime::now()
        .duration_since(time)
        .unwrap_or_default()
        .as_secs();
    match secs {
        s if s >= 86_400 => format!("{:.1} d ago", s as f64 / 86_400.0),
        s if s >= 3_600 => format!("{:.1} h ago", s as f64 / 3_600.0),
        s => format!("{} min ago", s / 60),
    }
}

fn short(bytes: &[u8]) -> String {
    format!("0x{}…", hex::encode(&bytes[..6]))
}

/// Seconds since the Unix epoch, for JSON.
fn unix_secs(time: SystemTime) -> Option<u64> {
    time.duration_since(SystemTime::UNIX_EPOCH)
        .ok()
        .map(|d| d.as_secs())
}

/// A stable snake_case name of why the host deletes a file at start, for JSON.
fn reason_key(reason: RemoveReason) -> &'static str {
    match reason {
        RemoveReason::WorkerDir => "worker_dir",
        RemoveReason::UnknownName => "unknown_name",
        RemoveReason::OtherFingerprint => "other_engine_fingerprint",
        RemoveReason::ImplausibleSize => "implausible_size",
        RemoveReason::Duplicate => "duplicate",
    }
}

/// What an artifact's file name says, for JSON (`null`s if it is not a name of ours).
fn name_json(file: &str) -> serde_json::Value {
    let name = ArtifactFileName::parse(file);
    serde_json::json!({
        "code_hash": name.map(|n| format!("0x{}", hex::encode(n.id.code_hash.0))),
        "executor_params_prep_hash":
            name.map(|n| format!("0x{}", hex::encode(n.id.executor_params_prep_hash.0))),
        "engine_fingerprint": name.map(|n| n.fingerprint.to_string()),
        "checksum": name.map(|n| format!("0x{}", hex::encode(n.checksum.0))),
    })
}

/// Prints one JSON document.
fn print_json(json: &serde_json::Value) -> Result<(), String> {
    let text = serde_json::to_string_pretty(json).map_err(|e| format!("cannot print JSON: {e}"))?;
    println!("{text}");
    Ok(())
}

fn list(cache: &Path, json: bool) -> Result<ExitCode, String> {
    let verdicts = scan(cache)?;
    if !json {
        println!("cache dir: {}", cache.display());
        println!("engine fingerprint: {}", EngineFingerprint::current());
        println!(
            "{:<17} {:<17} {:>10} {:>12}  fingerprint",
            "code hash", "prep-hash", "size", "last used"
        );
    }
    let (mut adopted, mut total) = (0, 0);
    let (mut stale, mut stale_total) = (0, 0);
    let mut entries = Vec::new();
    for verdict in &verdicts {
        // The scan read an adopted artifact's mtime already; only rejected files need a stat.
        let (path, bytes, modified, reason) = match verdict {
            EntryVerdict::Adopt(a) => {
                adopted += 1;
                total += a.size;
                (&a.path, a.size, Some(a.last_used), None)
            }
            EntryVerdict::Remove {
                reason: RemoveReason::WorkerDir,
                ..
            } => continue,
            EntryVerdict::Remove { path, size, reason } => {
                stale += 1;
                stale_total += size;
                (
                    path,
                    *size,
                    std::fs::metadata(path).and_then(|m| m.modified()).ok(),
                    Some(*reason),
                )
            }
        };
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("?");
        if json {
            let mut entry = serde_json::json!({
                "file": name,
                "path": path.display().to_string(),
                "size": bytes,
                "last_used_unix_s": modified.and_then(unix_secs),
                "status": if reason.is_none() { "usable" } else { "stale" },
                "stale_reason": reason.map(reason_key),
            });
            if let (Some(object), serde_json::Value::Object(parsed)) =
                (entry.as_object_mut(), name_json(name))
            {
                object.extend(parsed);
            }
            entries.push(entry);
            continue;
        }
        let (code, prep) = ArtifactFileName::parse(name).map_or(("-".into(), "-".into()), |n| {
            (
                short(&n.id.code_hash.0),
                short(&n.id.executor_params_prep_hash.0),
            )
        });
        let status = match reason {
            None => "match".to_string(),
            Some(reason) => format!("removed at next start: {}", reason.as_str()),
        };
        println!(
            "{code:<17} {prep:<17} {:>10} {:>12}  {status}",
            size(bytes),
            modified.map_or("-".into(), age)
        );
    }
    if json {
        print_json(&serde_json::json!({
            "cache_dir": cache.display().to_string(),
            "engine_fingerprint": EngineFingerprint::current().to_string(),
            "artifacts": entries,
            "usable_artifacts": adopted,
            "usable_size": total,
            "stale_files": stale,
            "stale_size": stale_total,
        }))?;
    } else {
        println!("{adopted} usable artifacts, {}", size(total));
    }
    Ok(ExitCode::SUCCESS)
}

fn adopted(verdicts: Vec<EntryVerdict>) -> Vec<AdoptedArtifact> {
    verdicts
        .into_iter()
        .filter_map(|v| match v {
            EntryVerdict::Adopt(a) => Some(a),
            EntryVerdict::Remove { .. } => None,
        })
        .collect()
}

fn verify(
    cache: &Path,
    remove_corrupt: bool,
    lock: CacheLockArg,
    json: bool,
) -> Result<ExitCode, String> {
    // Taken before the scan, so that what is removed is what a host no longer uses.
    let _lock = if remove_corrupt {
        Some(lock.lock(cache)?)
    } else {
        None
    };
    let artifacts = adopted(scan(cache)?);
    let (mut sound, mut corrupt, mut removed) = (0, 0, 0);
    let mut entries = Vec::new();
    for artifact in &artifacts {
        let file = artifact
            .path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("?");
        let mut entry = serde_json::json!({
            "file": file,
            "path": artifact.path.display().to_string(),
            "code_hash": format!("0x{}", hex::encode(artifact.name.id.code_hash.0)),
            "executor_params_prep_hash":
                format!("0x{}", hex::encode(artifact.name.id.executor_params_prep_hash.0)),
            "size": artifact.size,
            "status": "ok",
            "reason": null,
        });
        let verdict = match cache_dir::verify(&artifact.path, &artifact.name.checksum) {
            Ok(true) => {
                sound += 1;
                entries.push(entry);
                continue;
            }
            Ok(false) => "checksum mismatch".to_string(),
            Err(e) => format!("unreadable: {e}"),
        };
        corrupt += 1;
        if !json {
            println!("CORRUPT {}: {verdict}", artifact.path.display());
        }
        entry["status"] = "corrupt".into();
        entry["reason"] = verdict.into();
        if remove_corrupt {
            std::fs::remove_file(&artifact.path)
                .map_err(|e| format!("cannot remove {}: {e}", artifact.path.display()))?;
            removed += 1;
            entry["status"] = "removed".into();
            if !json {
                println!("        removed");
            }
        }
        entries.push(entry);
    }
    if json {
        print_json(&serde_json::json!({
            "cache_dir": cache.display().to_string(),
            "artifacts": entries,
            "ok": sound,
            "corrupt": corrupt,
            "removed": removed,
        }))?;
    } else {
        println!("{sound} sound, {corrupt} corrupt");
    }
    Ok(if corrupt == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Which files `args` removes, with the reason, oldest use first.
fn prune_plan(verdicts: Vec<EntryVerdict>, args: &PruneArgs) -> Vec<(PathBuf, u64, String)> {
    let mut plan = Vec::new();
    let mut kept = Vec::new();
    for verdict in verdicts {
        match verdict {
            EntryVerdict::Adopt(artifact) => kept.push(artifact),
            EntryVerdict::Remove {
                reason: RemoveReason::WorkerDir,
                ..
            } => {}
            EntryVerdict::Remove { path, size, reason } if args.stale => {
                plan.push((path, size, reason.as_str().to_string()))
            }
            EntryVerdict::Remove { .. } => {}
        }
    }
    kept.sort_by_key(|a| a.last_used);
    if let Some(max_age) = args.older_than {
        let cutoff = SystemTime::now() - max_age;
        let (old, young): (Vec<_>, Vec<_>) = kept.into_iter().partition(|a| a.last_used < cutoff);
        plan.extend(old.into_iter().map(|a| (a.path, a.size, "older".into())));
        kept = young;
    }
    if let Some(max_size) = args.max_size {
        let mut total: u64 = kept.iter().map(|a| a.size).sum();
        for artifact in kept {
            if total <= max_size {
                break;
            }
            total -= artifact.size;
            plan.push((artifact.path, artifact.size, "over size".into()));
        }
    }
    plan
}

fn prune(args: &PruneArgs) -> Result<ExitCode, String> {
    if args.older_than.is_none() && args.max_size.is_none() && !args.stale {
        return Err("say what to prune: --older-than, --max-size and/or --stale".into());
    }
    let _lock = if args.dry_run {
        None
    } else {
        Some(args.lock.lock(&args.dir.cache_dir)?)
    };
    let plan = prune_plan(scan(&args.dir.cache_dir)?, args);
    let freed: u64 = plan.iter().map(|(_, size, _)| size).sum();
    for (path, bytes, why) in &plan {
        println!(
            "{} {} ({why}, {})",
            if args.dry_run {
                "would remove"
            } else {
                "remove"
            },
            path.display(),
            size(*bytes)
        );
        if !args.dry_run {
            std::fs::remove_file(path)
                .map_err(|e| format!("cannot remove {}: {e}", path.display()))?;
        }
    }
    println!(
        "{} {} artifacts, {}",
        if args.dry_run { "would free" } else { "freed" },
        plan.len(),
        size(freed)
    );
    Ok(ExitCode::SUCCESS)
}

/// `7d`, `12h`, `30m`, `45s`, or plain seconds.
fn parse_duration(s: &str) -> Result<Duration, String> {
    let (number, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = number
        .parse()
        .map_err(|_| format!("`{s}` is not a duration like 7d or 12h"))?;
    let secs = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        _ => return Err(format!("`{s}`: unit must be s, m, h or d")),
    };
    Ok(Duration::from_secs(n.saturating_mul(secs)))
}

/// `10GiB`, `500MiB`, `64KiB`, or plain bytes.
fn parse_size(s: &str) -> Result<u64, String> {
    let (number, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = number
        .parse()
        .map_err(|_| format!("`{s}` is not a size like 10GiB"))?;
    let scale = match unit {
        "" | "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        _ => return Err(format!("`{s}`: unit must be B, KiB, MiB or GiB")),
    };
    n.checked_mul(scale)
        .ok_or_else(|| format!("`{s}` is too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_sizes_parse() {
        assert_eq!(parse_duration("7d"), Ok(Duration::from_secs(7 * 86_400)));
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert!(parse_duration("7 days").is_err() && parse_duration("d").is_err());
        assert_eq!(parse_size("10GiB"), Ok(10 << 30));
        assert_eq!(parse_size("512"), Ok(512));
        assert!(parse_size("10GB").is_err() && parse_size("99999999999GiB").is_err());
    }
}
