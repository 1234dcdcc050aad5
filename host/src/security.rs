//! Start-up probes of the sandbox features, and the secure-validator-mode policy.
//!
//! Each probe runs the worker binary with a `--check-…` flag in a fresh process (a probe
//! changes the process it runs in) with the same cleared environment as a real worker, so it
//! tests exactly what the worker will do. The four run in parallel.
//!
//! Secure-validator mode requires seccomp, and Landlock or change-root (either confines the
//! file system). Secure clone is optional: without it jobs are plain forks.

use crate::cache_dir::WORKER_DIR_PREFIX;
use pvf_common::SecurityStatus;
use std::{
    fmt,
    path::{Path, PathBuf},
    process::Stdio,
};

/// The flag that lets an operator run without the required features.
pub const INSECURE_FLAG: &str = "--insecure-validator-i-know-what-i-do";

/// A sandbox feature the host probes for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Feature {
    /// Landlock file-system rules.
    Landlock,
    /// The seccomp deny-list.
    Seccomp,
    /// unshare + pivot_root into the worker dir.
    ChangeRoot,
    /// Jobs cloned into fresh namespaces.
    SecureClone,
}

impl Feature {
    /// Every feature, in probe order.
    pub const ALL: [Feature; 4] = [
        Feature::Landlock,
        Feature::Seccomp,
        Feature::ChangeRoot,
        Feature::SecureClone,
    ];

    fn flag(self) -> &'static str {
        match self {
            Feature::Landlock => "--check-can-enable-landlock",
            Feature::Seccomp => "--check-can-enable-seccomp",
            Feature::ChangeRoot => "--check-can-unshare-user-namespace-and-change-root",
            Feature::SecureClone => "--check-can-do-secure-clone",
        }
    }
}

impl fmt::Display for Feature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Feature::Landlock => "landlock",
            Feature::Seccomp => "seccomp",
            Feature::ChangeRoot => "change-root (unshare + pivot_root)",
            Feature::SecureClone => "secure clone (job namespaces)",
        })
    }
}

/// The outcome of every probe: `Err(reason)` where a feature does not work.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProbeReport {
    /// One entry per feature, in [`Feature::ALL`] order.
    pub results: Vec<(Feature, Result<(), String>)>,
}

impl ProbeReport {
    /// Whether `feature` works.
    pub fn available(&self, feature: Feature) -> bool {
        self.results.iter().any(|(f, r)| *f == feature && r.is_ok())
    }

    /// The features secure-validator mode needs but this machine lacks, with reasons.
    pub fn missing_for_secure_mode(&self) -> Vec<(Feature, String)> {
        let reason = |feature: Feature| {
            self.results
                .iter()
                .find(|(f, _)| *f == feature)
                .and_then(|(_, r)| r.clone().err())
                .unwrap_or_default()
        };
        let mut missing = Vec::new();
        if !self.available(Feature::Seccomp) {
            missing.push((Feature::Seccomp, reason(Feature::Seccomp)));
        }
        if !self.available(Feature::Landlock) && !self.available(Feature::ChangeRoot) {
            missing.push((Feature::Landlock, reason(Feature::Landlock)));
            missing.push((Feature::ChangeRoot, reason(Feature::ChangeRoot)));
        }
        missing
    }

    /// The status workers receive: every feature that works is applied, in any mode.
    pub fn security_status(&self, secure_validator_mode: bool) -> SecurityStatus {
        SecurityStatus {
            secure_validator_mode,
            can_enable_landlock: self.available(Feature::Landlock),
            can_enable_seccomp: self.available(Feature::Seccomp),
            can_unshare_user_namespace_and_change_root: self.available(Feature::ChangeRoot),
            can_do_secure_clone: self.available(Feature::SecureClone),
        }
    }
}

/// Secure-validator mode is on but required features are missing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecureModeUnavailable {
    /// Each missing feature and why.
    pub missing: Vec<(Feature, String)>,
}

impl fmt::Display for SecureModeUnavailable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "cannot enable secure validator mode; missing sandbox features:"
        )?;
        for (feature, reason) in &self.missing {
            writeln!(f, "  - {feature}: {reason}")?;
        }
        write!(
            f,
            "seccomp is required, and so is landlock or change-root. Fix the kernel or container \
             settings (see docs/security.md), or run with {INSECURE_FLAG} to accept the risk."
        )
    }
}

impl std::error::Error for SecureModeUnavailable {}

/// Runs every probe in parallel with the worker binary `program` (after `args_prefix`).
/// The change-root probe works in a fresh directory inside `cache_path`, removed afterwards.
pub fn probe_features(program: &Path, args_prefix: &[String], cache_path: &Path) -> ProbeReport {
    let probe_dir = tempfile::Builder::new()
        .prefix(&format!("{WORKER_DIR_PREFIX}-probe-"))
        .tempdir_in(cache_path);
    let spawn = |feature: Feature| -> Result<std::process::Child, String> {
        let mut command = crate::spawn::worker_command(program, args_prefix);
        command.arg(feature.flag());
        if feature == Feature::ChangeRoot {
            let dir: PathBuf = match &probe_dir {
                Ok(dir) => dir.path().into(),
                Err(e) => {
                    return Err(format!(
                        "cannot create a probe dir in {}: {e}",
                        cache_path.display()
                    ));
                }
            };
            command.arg(dir);
        }
        command.stdout(Stdio::null()).stderr(Stdio::piped());
        command
            .spawn()
            .map_err(|e| format!("cannot run {}: {e}", program.display()))
    };
    let children: Vec<_> = Feature::ALL.iter().map(|f| (*f, spawn(*f))).collect();
    let deadline = std::time::Instant::now() + crate::spawn::SHORT_COMMAND_LIMIT;
    let results = children
        .into_iter()
        .map(|(feature, child)| {
            let result = child.and_then(|mut child| {
                let stderr = child.stderr.take().ok_or("no stderr pipe")?;
                let (status, stderr) =
                    crate::spawn::finish_short_command(&mut child, stderr, deadline)
                        .map_err(|e| format!("probe did not finish: {e}"))?;
                if status.success() {
                    Ok(())
                } else {
                    let stderr = String::from_utf8_lossy(&stderr).trim().to_string();
                    Err(if stderr.is_empty() {
                        format!("probe exited with {status}")
                    } else {
                        stderr
                    })
                }
            });
            (feature, result)
        })
        .collect();
    ProbeReport { results }
}

/// Applies the policy: in secure-validator mode, refuse when required features are missing;
/// otherwise warn and go on with whatever works.
pub fn decide(
    report: &ProbeReport,
    secure_validator_mode: bool,
) -> Result<SecurityStatus, SecureModeUnavailable> {
    let missing = report.missing_for_secure_mode();
    let unavailable: Vec<_> = report
        .results
        .iter()
        .filter_map(|(f, r)| r.as_ref().err().map(|e| format!("{f}: {e}")))
        .collect();
    if secure_validator_mode && !missing.is_empty() {
        return Err(SecureModeUnavailable { missing });
    }
    if !unavailable.is_empty() {
        tracing::warn!(
            target: pvf_common::LOG_TARGET,
            "some sandbox features are unavailable; workers are less isolated: {}",
            unavailable.join("; ")
        );
    }
    Ok(report.security_status(secure_validator_mode))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(ok: [bool; 4]) -> ProbeReport {
        ProbeReport {
            results: Feature::ALL
                .iter()
                .zip(ok)
                .map(|(f, ok)| (*f, if ok { Ok(()) } else { Err(format!("no {f}")) }))
                .collect(),
        }
    }

    /// Which combinations secure mode accepts: [landlock, seccomp, change-root, clone].
    #[test]
    fn secure_mode_requires_seccomp_and_one_file_system_layer() {
        let cases = [
            ([true, true, true, true], true),
            ([true, true, true, false], true),
            ([false, true, true, false], true),
            ([true, true, false, false], true),
            ([false, true, false, true], false),
            ([true, false, true, true], false),
            ([false, false, false, false], false),
        ];
        for (features, accepted) in cases {
            assert_eq!(
                decide(&report(features), true).is_ok(),
                accepted,
                "{features:?}"
            );
            assert!(
                decide(&report(features), false).is_ok(),
                "insecure mode always starts"
            );
        }
    }

    #[test]
    fn refusal_names_each_missing_feature_and_the_flag() {
        let err = decide(&report([false, false, false, true]), true).unwrap_err();
        let text = err.to_string();
        for needle in [
            "seccomp: no seccomp",
            "landlock: no landlock",
            "change-root",
            INSECURE_FLAG,
        ] {
            assert!(text.contains(needle), "{needle} missing from: {text}");
        }
    }

    #[test]
    fn insecure_mode_still_applies_what_works() {
        let status = decide(&report([true, false, true, false]), false).unwrap();
        assert!(status.can_enable_landlock && status.can_unshare_user_namespace_and_change_root);
        assert!(
            !status.can_enable_seccomp
                && !status.can_do_secure_clone
                && !status.secure_validator_mode
        );
    }
}
