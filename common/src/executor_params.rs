//! `ExecutorParams`: the per-session, on-chain knobs of PVF preparation and execution.
//!
//! These come from the relay chain, so their SCALE encoding (codec indices 1–8) must match
//! `polkadot-primitives` byte for byte. [`ExecutorParams::hash`] identifies the full set;
//! [`ExecutorParams::prep_hash`] covers only the parameters that change compiled artifact
//! bytes, so that e.g. a new execution timeout does not force a recompilation. Which
//! parameters those are is pinned by a test that compiles a module with each one toggled.

use parity_scale_codec::{Decode, Encode};
use std::{collections::BTreeMap, fmt, time::Duration};

/// Default deterministic (logical) value-stack limit, in wasm values.
pub const DEFAULT_LOGICAL_STACK_MAX: u32 = 65536;
/// Default native stack limit for wasm code, in bytes.
pub const DEFAULT_NATIVE_STACK_MAX: u32 = 256 * 1024 * 1024;
/// Upper bound of `MaxMemoryPages`.
pub const MEMORY_PAGES_MAX: u32 = 65536;
/// Lower bound of `StackLogicalMax`.
pub const LOGICAL_MAX_LO: u32 = 1024;
/// Upper bound of `StackLogicalMax`.
pub const LOGICAL_MAX_HI: u32 = 2 * 65536;
/// Lower bound of `PrecheckingMaxMemory`.
pub const PRECHECK_MEM_MAX_LO: u64 = 256 * 1024 * 1024;
/// Upper bound of `PrecheckingMaxMemory`.
pub const PRECHECK_MEM_MAX_HI: u64 = 16 * 1024 * 1024 * 1024;
/// Preparation timeout for pre-checking when the session sets none.
pub const DEFAULT_PRECHECK_PREPARATION_TIMEOUT: Duration = Duration::from_secs(60);
/// Preparation timeout for execution-triggered preparation when the session sets none.
pub const DEFAULT_LENIENT_PREPARATION_TIMEOUT: Duration = Duration::from_secs(360);
/// Execution timeout for backing when the session sets none.
pub const DEFAULT_BACKING_EXECUTION_TIMEOUT: Duration = Duration::from_secs(2);
/// Execution timeout for approval and disputes when the session sets none.
pub const DEFAULT_APPROVAL_EXECUTION_TIMEOUT: Duration = Duration::from_secs(12);

/// Which preparation a `PvfPrepTimeout` applies to.
#[derive(Clone, Copy, Debug, Encode, Decode, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PvfPrepKind {
    /// Pre-checking a PVF before it is enacted on chain.
    Precheck,
    /// Preparing a PVF for execution (lenient timeout).
    Prepare,
}

/// Which execution a `PvfExecTimeout` applies to: the reference's `primitives::PvfExecKind`
/// (its consistency errors still spell it so). Not to be confused with the host's
/// `PvfExecKind`, which names an execution's lane and relay parent.
#[derive(Clone, Copy, Debug, Encode, Decode, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PvfExecTimeoutKind {
    /// Execution while backing a candidate.
    Backing,
    /// Execution while approving a candidate or during a dispute.
    Approval,
}

/// Host functions a session may switch on in addition to the default PVF set.
#[derive(Clone, Copy, Debug, Encode, Decode, PartialEq, Eq, Hash)]
pub enum ExecutorHostFunction {
    /// RFC-163 elliptic-curve host functions.
    #[codec(index = 1)]
    EccRfc163,
}

/// One executor parameter. Codec indices are the chain's; never renumber them.
#[derive(Clone, Debug, Encode, Decode, PartialEq, Eq, Hash)]
pub enum ExecutorParam {
    /// Maximum number of wasm memory pages the PVF may use; the host adds 32 pages of room
    /// for stack and data. Range (0, 65536].
    #[codec(index = 1)]
    MaxMemoryPages(u32),
    /// Deterministic value-stack limit injected into the code. Range [1024, 131072].
    #[codec(index = 2)]
    StackLogicalMax(u32),
    /// Native stack limit for wasm code, in bytes; at least 128 × the logical limit.
    #[codec(index = 3)]
    StackNativeMax(u32),
    /// Allocation limit of a prepare job, in bytes. Range [256 MiB, 16 GiB]; unset means none.
    #[codec(index = 4)]
    PrecheckingMaxMemory(u64),
    /// CPU-time limit of a preparation kind, in milliseconds.
    #[codec(index = 5)]
    PvfPrepTimeout(PvfPrepKind, u64),
    /// CPU-time limit of an execution kind, in milliseconds.
    #[codec(index = 6)]
    PvfExecTimeout(PvfExecTimeoutKind, u64),
    /// Enables the bulk-memory wasm extension.
    #[codec(index = 7)]
    WasmExtBulkMemory,
    /// Enables an optional host-function set. Decoded so that on-chain parameter sets that
    /// carry it are accepted; the functions themselves are not provided yet (calls trap).
    #[codec(index = 8)]
    EnabledHostFunction(ExecutorHostFunction),
}

/// Why a set of executor parameters is inconsistent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExecutorParamError {
    /// The same parameter appears twice; the chain must send each at most once.
    #[error("executor parameter {0} is given more than once; remove the duplicate")]
    DuplicatedParam(&'static str),
    /// The value lies outside the documented range.
    #[error("executor parameter {0} is outside its allowed range")]
    OutsideLimit(&'static str),
    /// Two parameters contradict each other.
    #[error("executor parameters {0} and {1} have incompatible values")]
    IncompatibleValues(&'static str, &'static str),
}

/// A 32-byte BLAKE2-256 digest identifying a set of executor parameters.
#[derive(Clone, Copy, Encode, Decode, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ExecutorParamsHash(pub [u8; 32]);

/// A 32-byte BLAKE2-256 digest of only the parameters that change compiled artifacts.
#[derive(Clone, Copy, Encode, Decode, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ExecutorParamsPrepHash(pub [u8; 32]);

macro_rules! hex_display {
    ($ty:ty) => {
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "0x{}", hex::encode(self.0))
            }
        }
        impl fmt::Debug for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(self, f)
            }
        }
    };
}
hex_display!(ExecutorParamsHash);
hex_display!(ExecutorParamsPrepHash);

/// The executor parameters of a session, in the order the chain gave them.
#[derive(Clone, Debug, Default, Encode, Decode, PartialEq, Eq, Hash)]
pub struct ExecutorParams(Vec<ExecutorParam>);

impl From<Vec<ExecutorParam>> for ExecutorParams {
    fn from(params: Vec<ExecutorParam>) -> Self {
        Self(params)
    }
}

impl ExecutorParams {
    /// An empty set: every knob at its default.
    pub fn new() -> Self {
        Self(Vec::new())
    }

    /// The parameters in chain order.
    pub fn iter(&self) -> std::slice::Iter<'_, ExecutorParam> {
        self.0.iter()
    }

    /// BLAKE2-256 of the SCALE encoding: identifies the full set.
    pub fn hash(&self) -> ExecutorParamsHash {
        ExecutorParamsHash(sp_crypto_hashing::blake2_256(&self.encode()))
    }

    /// BLAKE2-256 of `"prep"` followed by the encodings of the parameters that change the
    /// compiled artifact: `StackLogicalMax` (instrumentation) and `WasmExtBulkMemory` (the
    /// wasm feature set). `MaxMemoryPages` is enforced at instantiation and `StackNativeMax`
    /// is a run-time limit, so neither changes the bytes; the test
    /// `prep_hash_matches_artifact_effect_of_executor_params` proves this classification.
    pub fn prep_hash(&self) -> ExecutorParamsPrepHash {
        use ExecutorParam::*;
        let mut enc = b"prep".to_vec();
        for param in &self.0 {
            let changes_artifact = match param {
                StackLogicalMax(..) | WasmExtBulkMemory => true,
                MaxMemoryPages(..)
                | StackNativeMax(..)
                | PrecheckingMaxMemory(..)
                | PvfPrepTimeout(..)
                | PvfExecTimeout(..)
                | EnabledHostFunction(..) => false,
            };
            if changes_artifact {
                param.encode_to(&mut enc);
            }
        }
        ExecutorParamsPrepHash(sp_crypto_hashing::blake2_256(&enc))
    }

    /// The session's preparation timeout of `kind`, if it sets one.
    pub fn pvf_prep_timeout(&self, kind: PvfPrepKind) -> Option<Duration> {
        self.0.iter().find_map(|p| match p {
            ExecutorParam::PvfPrepTimeout(k, ms) if *k == kind => Some(Duration::from_millis(*ms)),
            _ => None,
        })
    }

    /// The session's execution timeout of `kind`, if it sets one.
    pub fn pvf_exec_timeout(&self, kind: PvfExecTimeoutKind) -> Option<Duration> {
        self.0.iter().find_map(|p| match p {
            ExecutorParam::PvfExecTimeout(k, ms) if *k == kind => Some(Duration::from_millis(*ms)),
            _ => None,
        })
    }

    /// The allocation limit of prepare jobs, if the session sets one.
    pub fn prechecking_max_memory(&self) -> Option<u64> {
        self.0.iter().find_map(|p| match p {
            ExecutorParam::PrecheckingMaxMemory(limit) => Some(*limit),
            _ => None,
        })
    }

    /// Checks the reference's consistency rules: no duplicates, values in range, native stack
    /// ≥ 128 × logical stack, precheck timeout < prepare timeout, backing < approval timeout.
    pub fn check_consistency(&self) -> Result<(), ExecutorParamError> {
        use ExecutorParam::*;
        use ExecutorParamError::*;
        let mut seen = BTreeMap::<&'static str, u64>::new();
        for param in &self.0 {
            let (name, value, out_of_range): (&'static str, u64, bool) = match *param {
                MaxMemoryPages(v) => ("MaxMemoryPages", v.into(), v == 0 || v > MEMORY_PAGES_MAX),
                StackLogicalMax(v) => (
                    "StackLogicalMax",
                    v.into(),
                    !(LOGICAL_MAX_LO..=LOGICAL_MAX_HI).contains(&v),
                ),
                StackNativeMax(v) => ("StackNativeMax", v.into(), false),
                PrecheckingMaxMemory(v) => (
                    "PrecheckingMaxMemory",
                    v,
                    !(PRECHECK_MEM_MAX_LO..=PRECHECK_MEM_MAX_HI).contains(&v),
                ),
                PvfPrepTimeout(PvfPrepKind::Precheck, v) => ("PvfPrepKind::Precheck", v, false),
                PvfPrepTimeout(PvfPrepKind::Prepare, v) => ("PvfPrepKind::Prepare", v, false),
                PvfExecTimeout(PvfExecTimeoutKind::Backing, v) => {
                    ("PvfExecKind::Backing", v, false)
                }
                PvfExecTimeout(PvfExecTimeoutKind::Approval, v) => {
                    ("PvfExecKind::Approval", v, false)
                }
                WasmExtBulkMemory => ("WasmExtBulkMemory", 1, false),
                EnabledHostFunction(ExecutorHostFunction::EccRfc163) => {
                    ("EnabledHostFunction::EccRfc163", 1, false)
                }
            };
            if seen.contains_key(name) {
                return Err(DuplicatedParam(name));
            }
            if out_of_range {
                return Err(OutsideLimit(name));
            }
            seen.insert(name, value);
        }
        let get = |name: &str, default: u64| seen.get(name).copied().unwrap_or(default);
        let logical = get("StackLogicalMax", DEFAULT_LOGICAL_STACK_MAX.into());
        let native = get("StackNativeMax", DEFAULT_NATIVE_STACK_MAX.into());
        if native < 128 * logical {
            return Err(IncompatibleValues("StackLogicalMax", "StackNativeMax"));
        }
        let ms = |d: Duration| d.as_millis() as u64;
        let precheck = get(
            "PvfPrepKind::Precheck",
            ms(DEFAULT_PRECHECK_PREPARATION_TIMEOUT),
        );
        let prepare = get(
            "PvfPrepKind::Prepare",
            ms(DEFAULT_LENIENT_PREPARATION_TIMEOUT),
        );
        if precheck >= prepare {
            return Err(IncompatibleValues(
                "PvfPrepKind::Precheck",
                "PvfPrepKind::Prepare",
            ));
        }
        let backing = get(
            "PvfExecKind::Backing",
            ms(DEFAULT_BACKING_EXECUTION_TIMEOUT),
        );
        let approval = get(
            "PvfExecKind::Approval",
            ms(DEFAULT_APPROVAL_EXECUTION_TIMEOUT),
        );
        if backing >= approval {
            return Err(IncompatibleValues(
                "PvfExecKind::Backing",
                "PvfExecKind::Approval",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ExecutorParam::*;

    #[test]
    fn encoding_matches_the_chain_golden_bytes() {
        let params = ExecutorParams::from(vec![
            MaxMemoryPages(8192),
            StackLogicalMax(65536),
            StackNativeMax(256 * 1024 * 1024),
            PrecheckingMaxMemory(512 * 1024 * 1024),
            PvfPrepTimeout(PvfPrepKind::Prepare, 360_000),
            PvfExecTimeout(PvfExecTimeoutKind::Approval, 12_000),
            WasmExtBulkMemory,
            EnabledHostFunction(ExecutorHostFunction::EccRfc163),
        ]);
        // Compact length 8, then each variant's index byte and little-endian payload.
        let golden = "20\
            0100200000\
            0200000100\
            0300000010\
            040000002000000000\
            0501407e050000000000\
            0601e02e000000000000\
            07\
            0801";
        assert_eq!(hex::encode(params.encode()), golden);
        assert_eq!(
            ExecutorParams::decode(&mut &params.encode()[..]).unwrap(),
            params
        );
    }

    #[test]
    fn prep_hash_ignores_parameters_that_do_not_change_artifacts() {
        let base = ExecutorParams::new().prep_hash();
        for p in [
            MaxMemoryPages(100),
            StackNativeMax(512 * 1024 * 1024),
            PrecheckingMaxMemory(PRECHECK_MEM_MAX_LO),
            PvfPrepTimeout(PvfPrepKind::Precheck, 1),
            PvfExecTimeout(PvfExecTimeoutKind::Backing, 1),
        ] {
            assert_eq!(
                ExecutorParams::from(vec![p.clone()]).prep_hash(),
                base,
                "{p:?}"
            );
        }
        for p in [StackLogicalMax(2048), WasmExtBulkMemory] {
            assert_ne!(
                ExecutorParams::from(vec![p.clone()]).prep_hash(),
                base,
                "{p:?}"
            );
        }
    }

    #[test]
    fn consistency_rules_match_the_reference() {
        let check = |v: Vec<ExecutorParam>| ExecutorParams::from(v).check_consistency();
        assert_eq!(check(vec![]), Ok(()));
        assert_eq!(
            check(vec![MaxMemoryPages(1), MaxMemoryPages(2)]),
            Err(ExecutorParamError::DuplicatedParam("MaxMemoryPages"))
        );
        assert_eq!(
            check(vec![MaxMemoryPages(0)]),
            Err(ExecutorParamError::OutsideLimit("MaxMemoryPages"))
        );
        assert_eq!(
            check(vec![StackLogicalMax(1023)]),
            Err(ExecutorParamError::OutsideLimit("StackLogicalMax"))
        );
        assert_eq!(
            check(vec![PrecheckingMaxMemory(1)]),
            Err(ExecutorParamError::OutsideLimit("PrecheckingMaxMemory"))
        );
        assert_eq!(
            check(vec![StackNativeMax(128 * 65536 - 1)]),
            Err(ExecutorParamError::IncompatibleValues(
                "StackLogicalMax",
                "StackNativeMax"
            ))
        );
        assert_eq!(
            check(vec![PvfPrepTimeout(PvfPrepKind::Precheck, 360_000)]),
            Err(ExecutorParamError::IncompatibleValues(
                "PvfPrepKind::Precheck",
                "PvfPrepKind::Prepare"
            ))
        );
        assert_eq!(
            check(vec![PvfExecTimeout(PvfExecTimeoutKind::Backing, 12_000)]),
            Err(ExecutorParamError::IncompatibleValues(
                "PvfExecKind::Backing",
                "PvfExecKind::Approval"
            ))
        );
        // Two timeouts of different kinds are not duplicates.
        assert_eq!(
            check(vec![
                PvfPrepTimeout(PvfPrepKind::Precheck, 1),
                PvfPrepTimeout(PvfPrepKind::Prepare, 2)
            ]),
            Ok(())
        );
    }
}
