//! End-to-end sandbox tests: real workers, real job processes, real escape attempts.
//!
//! Each attack runs as a test-only job inside a sandboxed job process (see
//! `tests/src/bin/test-worker/attacks.rs`), once in a prepare job and once in an execute job.
//! Every attack has one exact expected denial per flavour, and the table says which layer
//! produces it, so switching that layer off fails the test: change-root hides files (`ENOENT`)
//! and makes the execute worker's dir read-only (`EROFS`), Landlock refuses what remains
//! visible (`EACCES`), seccomp kills the job (`SIGSYS`), and the job's PID namespace hides the
//! host (`ESRCH`).

use pvf_common::{
    PrepareError, PrepareJobKind,
    execute::{
        BlockData, HeadData, InvalidCandidate, PersistedValidationData, PoV, PossiblyInvalidError,
        ValidationError,
    },
};
use pvf_host::{Priority, ValidationHost, execute::lanes::PvfExecKind};
use pvf_tests::{
    attack::{ATTACK_OUTCOME_PREFIX, Attack, AttackOutcome, attack_blob},
    procs,
};
use std::{net::TcpListener, path::Path, time::Duration};

const WORKER: &str = env!("CARGO_BIN_EXE_test-worker");

/// Worker flavours the attacks run in.
const FLAVOURS: &[Flavour] = &[Flavour::Prepare, Flavour::Execute];

#[derive(Clone, Copy, Debug)]
enum Flavour {
    /// The attack is the code of a PVF, run by a prepare job (writable worker dir, Landlock
    /// `WriteFile`).
    Prepare,
    /// The attack is the block data of a candidate of a valid PVF, run by an execute job
    /// (read-only worker dir, Landlock `ReadFile`).
    Execute,
}

/// How an attack must be stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Denial {
    /// The call fails with this errno.
    Errno(i32),
    /// seccomp kills the job process.
    KilledBySigsys,
}

/// The job's view of an attack: what the test harness observed.
#[derive(Debug, PartialEq, Eq)]
enum Observed {
    Outcome(AttackOutcome),
    JobDied(String),
    Other(String),
}

impl Flavour {
    async fn run(self, host: &ValidationHost, attack: &Attack) -> Observed {
        match self {
            Flavour::Prepare => {
                let pvf = pvf_tests::pvf(
                    attack_blob(attack),
                    PrepareJobKind::Compilation,
                    Duration::from_secs(10),
                );
                match host
                    .prepare(pvf, Priority::Normal)
                    .await
                    .expect("host alive")
                {
                    Ok(success) => {
                        let bytes = std::fs::read(&success.path).expect("artifact readable");
                        let outcome = parity_scale_codec::Decode::decode(&mut &bytes[..])
                            .expect("outcome decodes");
                        Observed::Outcome(outcome)
                    }
                    Err(PrepareError::JobDied { err, .. }) => Observed::JobDied(err),
                    Err(other) => Observed::Other(other.to_string()),
                }
            }
            Flavour::Execute => {
                let pvf = pvf_tests::pvf(
                    pvf_tests::test_pvf("minimal-pvf.wat"),
                    PrepareJobKind::Compilation,
                    Duration::from_secs(10),
                );
                let pvd = PersistedValidationData {
                    parent_head: HeadData(Vec::new()),
                    relay_parent_number: 1,
                    relay_parent_storage_root: [0; 32],
                    max_pov_size: 5 * 1024 * 1024,
                };
                // Not compressed: plain block data passes decompression unchanged.
                let pov = PoV {
                    block_data: BlockData(attack_blob(attack)),
                };
                let result = host
                    .execute_pvf(
                        pvf,
                        Duration::from_secs(10),
                        pvd,
                        pov,
                        PvfExecKind::Approval,
                    )
                    .await
                    .expect("host alive");
                match result {
                    Err(ValidationError::Invalid(InvalidCandidate::WorkerReportedInvalid(msg))) => {
                        match msg
                            .strip_prefix(ATTACK_OUTCOME_PREFIX)
                            .and_then(|h| hex::decode(h).ok())
                        {
                            Some(bytes) => Observed::Outcome(
                                parity_scale_codec::Decode::decode(&mut &bytes[..])
                                    .expect("outcome decodes"),
                            ),
                            None => Observed::Other(msg),
                        }
                    }
                    Err(ValidationError::PossiblyInvalid(
                        PossiblyInvalidError::AmbiguousJobDeath(err),
                    )) => Observed::JobDied(err),
                    other => Observed::Other(format!("{other:?}")),
                }
            }
        }
    }
}

fn matches(observed: &Observed, expected: Denial) -> bool {
    match (observed, expected) {
        (Observed::Outcome(AttackOutcome::Denied { errno }), Denial::Errno(want)) => *errno == want,
        (Observed::JobDied(err), Denial::KilledBySigsys) => err == "received signal: SIGSYS",
        _ => false,
    }
}

/// The expected denial of an attack and the layer that produces it.
type Expected = (Denial, &'static str);

/// One attack and its expected denial in each flavour.
struct Row {
    attack: Attack,
    prepare: Expected,
    execute: Expected,
}

impl Row {
    /// The same denial, by the same layer, in every flavour.
    fn same(attack: Attack, denial: Denial, layer: &'static str) -> Self {
        Self {
            attack,
            prepare: (denial, layer),
            execute: (denial, layer),
        }
    }

    fn expected(&self, flavour: Flavour) -> Expected {
        match flavour {
            Flavour::Prepare => self.prepare,
            Flavour::Execute => self.execute,
        }
    }
}

/// Every attack of the issue, its expected denial per flavour and the layer responsible.
fn attacks(secret: &Path, victim: &Path, listener: &str) -> Vec<Row> {
    let host_pid = std::process::id() as i32;
    let path = |p: &Path| p.to_string_lossy().into_owned();
    vec![
        Row::same(
            Attack::ReadFile(path(secret)),
            Denial::Errno(libc::ENOENT),
            "change-root",
        ),
        Row::same(
            Attack::ReadFile("/etc/passwd".into()),
            Denial::Errno(libc::ENOENT),
            "change-root",
        ),
        Row::same(Attack::ListRoot, Denial::Errno(libc::EACCES), "landlock"),
        Row {
            attack: Attack::CreateFile("/escape".into()),
            prepare: (Denial::Errno(libc::EACCES), "landlock"),
            // The kernel refuses creating on a read-only mount before it asks Landlock (with
            // change-root off, Landlock answers `EACCES` here).
            execute: (
                Denial::Errno(libc::EROFS),
                "change-root (read-only bind mount)",
            ),
        },
        Row::same(
            Attack::WriteFile(path(victim)),
            Denial::Errno(libc::ENOENT),
            "change-root",
        ),
        Row::same(Attack::SocketInet, Denial::KilledBySigsys, "seccomp"),
        Row::same(Attack::SocketUnix, Denial::KilledBySigsys, "seccomp"),
        Row::same(
            Attack::Connect(listener.into()),
            Denial::KilledBySigsys,
            "seccomp",
        ),
        Row::same(Attack::IoUringSetup, Denial::KilledBySigsys, "seccomp"),
        Row::same(Attack::UmountRoot, Denial::KilledBySigsys, "seccomp"),
        Row::same(
            Attack::MountSetattrWritable,
            Denial::KilledBySigsys,
            "seccomp",
        ),
        Row::same(Attack::Execve, Denial::KilledBySigsys, "seccomp"),
        Row::same(Attack::Ptrace(host_pid), Denial::KilledBySigsys, "seccomp"),
        Row::same(
            Attack::Kill(host_pid),
            Denial::Errno(libc::ESRCH),
            "secure clone (PID namespace)",
        ),
        Row::same(
            Attack::OpenProcMem(host_pid),
            Denial::Errno(libc::ENOENT),
            "change-root",
        ),
    ]
}

#[tokio::test(flavor = "multi_thread")]
async fn every_attack_is_denied_inside_a_real_sandboxed_job() {
    let _process = pvf_tests::sharing_the_process();
    let outside = tempfile::tempdir().unwrap();
    let secret = outside.path().join("validator-key");
    let victim = outside.path().join("victim");
    std::fs::write(&secret, b"secret key material").unwrap();
    std::fs::write(&victim, b"untouched").unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let listener_addr = listener.local_addr().unwrap().to_string();

    let cache = tempfile::tempdir().unwrap();
    let mut config = pvf_host::Config::new(cache.path().into(), WORKER.into());
    config.prepare_workers_soft_max_num = 2;
    config.prepare_workers_hard_max_num = 2;
    let host = pvf_tests::start_host_with(config);
    pvf_tests::assert_fully_sandboxed(&host);

    let mut failures = Vec::new();
    for flavour in FLAVOURS {
        for row in attacks(&secret, &victim, &listener_addr) {
            let (attack, (expected, layer)) = (&row.attack, row.expected(*flavour));
            let observed = flavour.run(&host, attack).await;
            if !matches(&observed, expected) {
                failures.push(format!(
                    "{flavour:?} {attack:?}: expected {expected:?} ({layer}), got {observed:?}"
                ));
            }
            // The host is unharmed and other jobs keep being served.
            let ok = pvf_tests::pvf(
                pvf_tests::with_custom_section(
                    &pvf_tests::test_pvf("minimal-pvf.wat"),
                    "n",
                    format!("{attack:?}").as_bytes(),
                ),
                PrepareJobKind::Prechecking,
                Duration::from_secs(10),
            );
            assert_eq!(
                host.precheck_pvf(ok).await.unwrap(),
                Ok(()),
                "after {attack:?}"
            );
        }
    }
    assert!(
        failures.is_empty(),
        "attacks not denied as expected:\n{}",
        failures.join("\n")
    );
    assert_eq!(std::fs::read(&victim).unwrap(), b"untouched");
    assert!(
        matches!(listener.accept(), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
        "the loopback listener received a connection"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn workers_run_with_seccomp_no_new_privs_and_the_worker_dir_as_root() {
    let _process = pvf_tests::sharing_the_process();
    let cache = tempfile::tempdir().unwrap();
    let host = pvf_tests::start_host(cache.path(), WORKER.into());
    let pvf = pvf_tests::pvf(
        pvf_tests::test_pvf("minimal-pvf.wat"),
        PrepareJobKind::Prechecking,
        Duration::from_secs(10),
    );
    assert_eq!(host.precheck_pvf(pvf).await.unwrap(), Ok(()));
    let workers = procs::workers_of(cache.path());
    assert_eq!(workers.len(), 1, "{workers:?}");
    let status = std::fs::read_to_string(format!("/proc/{}/status", workers[0])).unwrap();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .map(str::trim)
            .map(String::from)
    };
    assert_eq!(field("Seccomp:").as_deref(), Some("2"), "{status}");
    assert_eq!(field("NoNewPrivs:").as_deref(), Some("1"), "{status}");
    // The worker sits in its own (empty) network namespace; its jobs inherit it.
    let ns = |pid: &str| std::fs::read_link(format!("/proc/{pid}/ns/net")).unwrap();
    assert_ne!(ns(&workers[0].to_string()), ns("self"));
    // The worker's root is its (now emptied) worker dir: no /etc, no /proc, nothing.
    let root_entries: Vec<_> = std::fs::read_dir(format!("/proc/{}/root", workers[0]))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(
        root_entries.is_empty(),
        "the worker sees {root_entries:?} at /"
    );
}

#[test]
fn secure_mode_refuses_to_start_when_a_required_probe_fails() {
    let _process = pvf_tests::sharing_the_process();
    let dir = tempfile::tempdir().unwrap();
    // A worker whose seccomp probe fails, as it would in a container that forbids filters.
    let wrapper = dir.path().join("worker-without-seccomp");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\nif [ \"$1\" = --check-can-enable-seccomp ]; then echo 'injected: seccomp blocked by the container' >&2; exit 1; fi\nexec {WORKER} \"$@\"\n"
        ),
    )
    .unwrap();
    std::fs::set_permissions(
        &wrapper,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();

    let config = pvf_host::Config::new(dir.path().join("cache"), wrapper.clone());
    let err = match pvf_host::start(config) {
        Ok(_) => panic!("secure mode must refuse to start without seccomp"),
        Err(e) => e.to_string(),
    };
    for needle in [
        "secure validator mode",
        "seccomp: injected: seccomp blocked by the container",
        "--insecure-validator-i-know-what-i-do",
    ] {
        assert!(err.contains(needle), "{needle:?} missing from:\n{err}");
    }

    let mut config = pvf_host::Config::new(dir.path().join("cache"), wrapper);
    config.secure_validator_mode = false;
    let host = pvf_host::start(config).expect("insecure mode starts with what works");
    let status = host.security_status();
    assert!(
        !status.can_enable_seccomp && status.can_enable_landlock && !status.secure_validator_mode,
        "{status:?}"
    );
}

#[test]
fn check_security_features_flag_reports_each_feature() {
    let _process = pvf_tests::sharing_the_process();
    let dir = tempfile::tempdir().unwrap();
    let output = std::process::Command::new(WORKER)
        .args(["--check-security-features", "--worker-dir-path"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    for feature in ["landlock", "seccomp", "change-root", "secure clone"] {
        assert!(
            stdout.contains(&format!("{feature}: available")),
            "{stdout}"
        );
    }
    let missing = std::process::Command::new(WORKER)
        .args([
            "--check-security-features",
            "--worker-dir-path",
            "/nonexistent/worker/dir",
        ])
        .output()
        .unwrap();
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("not a directory"));
}
