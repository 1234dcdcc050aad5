//! The chaos suite's requests: what is asked, of which host, and which answers are allowed.
//!
//! Every answer is either the verdict the request deserves or a documented "local problem"
//! kind (a non-deterministic preparation error, `PossiblyInvalid`, `Internal`). A fault may
//! turn the first into the second, never into a verdict against the candidate or the PVF.

use crate::{adder::Adder, garbage::Garbage};
use pvf_common::{
    ExecutorParams, PrepareError, PrepareJobKind, PvfPrepData,
    blob::DEFAULT_VALIDATION_CODE_BOMB_LIMIT,
    execute::{BlockData, InvalidCandidate, ValidationError, ValidationParams},
};
use rand::{Rng, rngs::StdRng};
use std::time::Duration;

/// Which host a request goes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// The host with real, sandboxed workers, under signals and file faults.
    Main,
    /// The host whose workers answer garbage.
    Garbage,
}

/// One request and what may come back.
pub struct Request {
    /// A label for the tables.
    pub label: &'static str,
    /// Which host.
    pub target: Target,
    /// What to ask.
    pub call: Call,
    /// The longest an answer may take, from submission.
    pub bound: Duration,
}

/// The call to make.
pub enum Call {
    /// `precheck_pvf`, expecting `Ok` or the named deterministic error.
    Precheck {
        /// The PVF.
        pvf: PvfPrepData,
        /// `None`: the PVF is good. `Some(variant)`: it fails with this `PrepareError`.
        fails_with: Option<&'static str>,
    },
    /// `prepare` (Critical), expecting success.
    Prepare(PvfPrepData),
    /// `heads_up`: no answer.
    HeadsUp(PvfPrepData),
    /// An approval through `pvf_validation::retry::execute_with_retry` (the node's retry
    /// around `execute_pvf`), expecting a verdict.
    Execute {
        /// The PVF.
        pvf: PvfPrepData,
        /// The candidate.
        params: ValidationParams,
        /// The CPU-time limit.
        timeout: Duration,
        /// What the candidate deserves.
        deserves: Deserves,
    },
}

/// The verdict a candidate deserves.
#[derive(Clone, Debug)]
pub enum Deserves {
    /// Valid, with this SCALE-encoded result.
    Valid(Vec<u8>),
    /// Invalid, of this `InvalidCandidate` variant.
    Invalid(&'static str),
    /// Nothing: a garbage worker answers; any verdict about the candidate is wrong.
    NoVerdict,
}

/// The PVFs the requests draw from.
pub struct Workload {
    minimal: Vec<u8>,
    wrong_signature: Vec<u8>,
    endless_loop: Vec<u8>,
    adder: Option<Adder>,
    large: Option<Vec<u8>>,
    nonce: u64,
}

/// Generous wall-clock allowance for queueing, spawning and one re-preparation, on a loaded
/// 2-core machine; the job limits below come on top (×4, as the host allows).
const QUEUE_ALLOWANCE: Duration = Duration::from_secs(45);
const PRECHECK_TIMEOUT: Duration = Duration::from_secs(20);
const COMPILATION_TIMEOUT: Duration = Duration::from_secs(60);
/// Short, so that a hanging garbage worker costs 4 s, not minutes.
const GARBAGE_PREP_TIMEOUT: Duration = Duration::from_secs(1);
const GARBAGE_EXEC_TIMEOUT: Duration = Duration::from_millis(500);

fn pvf(code: Vec<u8>, kind: PrepareJobKind, timeout: Duration) -> PvfPrepData {
    PvfPrepData::from_code(
        code,
        ExecutorParams::new(),
        timeout,
        kind,
        DEFAULT_VALIDATION_CODE_BOMB_LIMIT,
    )
}

fn bound(prep: Duration, exec: Duration) -> Duration {
    QUEUE_ALLOWANCE + (prep + exec) * 4 * 2
}

impl Workload {
    /// The project's WAT PVFs, plus the corpus's adder and a large runtime when `corpus` is
    /// given.
    pub fn new(corpus: Option<&std::path::Path>) -> Self {
        Self {
            minimal: crate::test_pvf("minimal-pvf.wat"),
            wrong_signature: crate::test_pvf("wrong-host-signature.wat"),
            endless_loop: crate::test_pvf("endless-loop.wat"),
            adder: corpus.map(Adder::load),
            large: corpus.map(|c| {
                std::fs::read(c.join("pvf/coretime-kusama-1002000.genesis.compressed.wasm"))
                    .expect("corpus runtime")
            }),
            nonce: 0,
        }
    }

    fn fresh(&mut self, code: &[u8]) -> Vec<u8> {
        self.nonce += 1;
        crate::with_custom_section(code, "chaos", &self.nonce.to_le_bytes())
    }

    /// The next request, drawn with `rng`. `garbage_share` of them go to the garbage host.
    pub fn next(&mut self, rng: &mut StdRng, garbage_share: f64) -> Request {
        if rng.random_bool(garbage_share) {
            return self.garbage(rng);
        }
        let roll = rng.random_range(0..100);
        match (roll, &self.adder) {
            (0..30, Some(adder)) => {
                let (params, deserves, label) = if rng.random_bool(0.7) {
                    let expected = adder.expected.clone();
                    (
                        adder.good.clone(),
                        Deserves::Valid(expected),
                        "execute adder (valid)",
                    )
                } else {
                    let invalid = Deserves::Invalid("WorkerReportedInvalid");
                    (adder.bad.clone(), invalid, "execute adder (invalid)")
                };
                let timeout = Duration::from_secs(2);
                Request {
                    label,
                    target: Target::Main,
                    bound: bound(COMPILATION_TIMEOUT, timeout),
                    call: Call::Execute {
                        pvf: pvf(
                            adder.code.clone(),
                            PrepareJobKind::Compilation,
                            COMPILATION_TIMEOUT,
                        ),
                        params,
                        timeout,
                        deserves,
                    },
                }
            }
            (30..40, _) | (0..30, None) => {
                let timeout = Duration::from_millis(300);
                Request {
                    label: "execute endless loop",
                    target: Target::Main,
                    bound: bound(COMPILATION_TIMEOUT, timeout),
                    call: Call::Execute {
                        pvf: pvf(
                            self.endless_loop.clone(),
                            PrepareJobKind::Compilation,
                            COMPILATION_TIMEOUT,
                        ),
                        params: crate::empty_validation_params(),
                        timeout,
                        deserves: Deserves::Invalid("HardTimeout"),
                    },
                }
            }
            (40..62, _) => {
                let code = self.fresh(&self.minimal.clone());
                self.precheck("pre-check minimal (fresh)", code, None)
            }
            (62..74, _) => {
                self.nonce += 1;
                let code = crate::slow_to_compile_pvf(120, self.nonce as u32);
                self.precheck("pre-check slow to compile", code, None)
            }
            (74..80, _) => {
                let code = self.fresh(&self.wrong_signature.clone());
                self.precheck(
                    "pre-check wrong signature",
                    code,
                    Some("RuntimeConstruction"),
                )
            }
            (80..86, _) => {
                self.nonce += 1;
                let code = format!("not wasm {}", self.nonce).into_bytes();
                self.precheck("pre-check not wasm", code, Some("Prevalidation"))
            }
            (86..92, _) => Request {
                label: "heads-up minimal (fresh)",
                target: Target::Main,
                bound: Duration::ZERO,
                call: Call::HeadsUp(pvf(
                    self.fresh(&self.minimal.clone()),
                    PrepareJobKind::Compilation,
                    COMPILATION_TIMEOUT,
                )),
            },
            (_, _) => {
                let (label, code) = match &self.large {
                    Some(code) if rng.random_bool(0.3) => ("prepare large runtime", code.clone()),
                    _ => ("prepare minimal (fresh)", self.fresh(&self.minimal.clone())),
                };
                Request {
                    label,
                    target: Target::Main,
                    bound: bound(COMPILATION_TIMEOUT, Duration::ZERO),
                    call: Call::Prepare(pvf(
                        code,
                        PrepareJobKind::Compilation,
                        COMPILATION_TIMEOUT,
                    )),
                }
            }
        }
    }

    fn precheck(
        &self,
        label: &'static str,
        code: Vec<u8>,
        fails_with: Option<&'static str>,
    ) -> Request {
        Request {
            label,
            target: Target::Main,
            bound: bound(PRECHECK_TIMEOUT, Duration::ZERO),
            call: Call::Precheck {
                pvf: pvf(code, PrepareJobKind::Prechecking, PRECHECK_TIMEOUT),
                fails_with,
            },
        }
    }

    fn garbage(&mut self, rng: &mut StdRng) -> Request {
        let kind = Garbage::ALL[rng.random_range(0..Garbage::ALL.len())];
        self.nonce += 1;
        let bytes = kind.request_bytes(self.nonce);
        if rng.random_bool(0.5) {
            Request {
                label: kind.as_str(),
                target: Target::Garbage,
                bound: bound(GARBAGE_PREP_TIMEOUT, Duration::ZERO),
                call: Call::Precheck {
                    pvf: pvf(bytes, PrepareJobKind::Prechecking, GARBAGE_PREP_TIMEOUT),
                    // A garbage answer must never become a verdict; see `judge_precheck`.
                    fails_with: Some("<garbage>"),
                },
            }
        } else {
            let mut params = crate::empty_validation_params();
            params.block_data = BlockData(bytes);
            Request {
                label: kind.as_str(),
                target: Target::Garbage,
                bound: bound(COMPILATION_TIMEOUT, GARBAGE_EXEC_TIMEOUT),
                call: Call::Execute {
                    pvf: pvf(
                        self.minimal.clone(),
                        PrepareJobKind::Compilation,
                        COMPILATION_TIMEOUT,
                    ),
                    params,
                    timeout: GARBAGE_EXEC_TIMEOUT,
                    deserves: Deserves::NoVerdict,
                },
            }
        }
    }
}

/// How an answer is classified: its kind for the table, and a violation if it is not allowed.
pub struct Judgement {
    /// The answer's kind.
    pub kind: String,
    /// Why the answer is wrong, if it is.
    pub violation: Option<String>,
}

fn local(kind: String) -> Judgement {
    Judgement {
        kind,
        violation: None,
    }
}

fn violation(kind: String, why: &str) -> Judgement {
    Judgement {
        violation: Some(format!("{kind}: {why}")),
        kind,
    }
}

/// Judges a pre-check or prepare answer (`Ok` unit for both).
pub fn judge_precheck(
    result: &Result<(), PrepareError>,
    fails_with: Option<&'static str>,
) -> Judgement {
    match (result, fails_with) {
        (Ok(()), Some("<garbage>")) => violation("ok".into(), "garbage became a verdict"),
        (Ok(()), Some(_)) => violation("ok".into(), "a failing PVF passed"),
        (Ok(()), None) => local("ok".into()),
        (Err(e), expected) => {
            let kind = format!("prepare error: {}", e.variant_name());
            if !e.is_deterministic() || expected == Some(e.variant_name()) {
                local(kind)
            } else {
                violation(kind, "a deterministic verdict the PVF does not deserve")
            }
        }
    }
}

fn invalid_name(invalid: &InvalidCandidate) -> &'static str {
    match invalid {
        InvalidCandidate::WorkerReportedInvalid(_) => "WorkerReportedInvalid",
        InvalidCandidate::HardTimeout => "HardTimeout",
        InvalidCandidate::PoVDecompressionFailure => "PoVDecompressionFailure",
    }
}

/// Judges an execution's answer: `Ok` carries the SCALE-encoded result.
pub fn judge_execution(
    result: &Result<Vec<u8>, ValidationError>,
    deserves: &Deserves,
) -> Judgement {
    let debug_name = |e: &dyn std::fmt::Debug| {
        let text = format!("{e:?}");
        text.split(['(', ' ', '{'])
            .next()
            .unwrap_or_default()
            .to_string()
    };
    match (result, deserves) {
        (Ok(bytes), Deserves::Valid(expected)) if bytes == expected => local("valid".into()),
        (Ok(_), _) => violation("valid".into(), "a result the candidate does not have"),
        (Err(ValidationError::Invalid(invalid)), Deserves::Invalid(expected))
            if invalid_name(invalid) == *expected =>
        {
            local(format!("invalid: {expected}"))
        }
        (Err(ValidationError::Invalid(invalid)), _) => violation(
            format!("invalid: {}", invalid_name(invalid)),
            "a local fault became a vote against the candidate",
        ),
        (Err(ValidationError::Preparation(e)), _) => violation(
            format!("preparation: {}", e.variant_name()),
            "a deterministic preparation error for a good PVF",
        ),
        (Err(ValidationError::PossiblyInvalid(e)), _) => {
            local(format!("possibly invalid: {}", debug_name(e)))
        }
        (Err(ValidationError::Internal(e)), _) => local(format!("internal: {}", debug_name(e))),
        (Err(ValidationError::ExecutionDeadline), _) => local("execution deadline".into()),
    }
}
