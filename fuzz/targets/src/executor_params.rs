//! The `executor_params` target: consistency rules, `hash` and `prep_hash`.
//!
//! Byte 0 picks the source of the parameter set: even, SCALE-decode the rest (through the
//! codec checks of [`check_eq`]); odd, build it with `arbitrary` (values biased to the range
//! edges, duplicates allowed).
//!
//! Properties: `check_consistency` never panics and agrees with the reference's rules
//! restated in [`reference_consistency`]; whether a set is consistent does not depend on its
//! order; equal sets hash equally; `prep_hash` ignores exactly the parameters that do not
//! change artifacts (removing or changing them keeps it, adding or changing an artifact
//! parameter changes it); the accessors return the first matching parameter.

use crate::{decode::check_eq, roundtrip};
use arbitrary::Unstructured;
use parity_scale_codec::{DecodeAll, Encode};
use pvf_common::{
    ExecutorParam::{self, *},
    ExecutorParams, PvfExecTimeoutKind, PvfPrepKind,
    executor_params::{ExecutorHostFunction, ExecutorParamError},
};

/// The `executor_params` fuzz target.
pub fn executor_params(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let params = if mode % 2 == 0 {
        check_eq::<ExecutorParams>(rest)
    } else {
        roundtrip::executor_params(&mut Unstructured::new(rest)).ok()
    };
    if let Some(params) = params {
        check_params(&params);
    }
}

/// Key, value and range check of one parameter, as the reference's `check_consistency` has
/// them: timeouts are keyed by kind, so a prepare and a precheck timeout are no duplicates.
fn describe(p: &ExecutorParam) -> (&'static str, u64, bool) {
    match *p {
        MaxMemoryPages(v) => ("MaxMemoryPages", v.into(), (1..=65536).contains(&v)),
        StackLogicalMax(v) => ("StackLogicalMax", v.into(), (1024..=131_072).contains(&v)),
        StackNativeMax(v) => ("StackNativeMax", v.into(), true),
        PrecheckingMaxMemory(v) => (
            "PrecheckingMaxMemory",
            v,
            (256 << 20..=16 << 30).contains(&v),
        ),
        PvfPrepTimeout(PvfPrepKind::Precheck, v) => ("PvfPrepKind::Precheck", v, true),
        PvfPrepTimeout(PvfPrepKind::Prepare, v) => ("PvfPrepKind::Prepare", v, true),
        PvfExecTimeout(PvfExecTimeoutKind::Backing, v) => ("PvfExecKind::Backing", v, true),
        PvfExecTimeout(PvfExecTimeoutKind::Approval, v) => ("PvfExecKind::Approval", v, true),
        WasmExtBulkMemory => ("WasmExtBulkMemory", 1, true),
        EnabledHostFunction(ExecutorHostFunction::EccRfc163) => {
            ("EnabledHostFunction::EccRfc163", 1, true)
        }
    }
}

/// The reference's consistency rules: the first duplicate (checked before the range) or
/// out-of-range value in chain order, then native ≥ 128 × logical stack, precheck < prepare
/// timeout and backing < approval timeout, with the documented defaults.
pub fn reference_consistency(params: &[ExecutorParam]) -> Result<(), ExecutorParamError> {
    use ExecutorParamError::*;
    let mut seen: Vec<(&'static str, u64)> = Vec::new();
    for p in params {
        let (key, value, in_range) = describe(p);
        if seen.iter().any(|&(k, _)| k == key) {
            return Err(DuplicatedParam(key));
        }
        if !in_range {
            return Err(OutsideLimit(key));
        }
        seen.push((key, value));
    }
    let get = |key: &str, default: u64| {
        seen.iter()
            .find(|&&(k, _)| k == key)
            .map_or(default, |&(_, v)| v)
    };
    if get("StackNativeMax", 256 << 20) < 128 * get("StackLogicalMax", 65536) {
        return Err(IncompatibleValues("StackLogicalMax", "StackNativeMax"));
    }
    if get("PvfPrepKind::Precheck", 60_000) >= get("PvfPrepKind::Prepare", 360_000) {
        return Err(IncompatibleValues(
            "PvfPrepKind::Precheck",
            "PvfPrepKind::Prepare",
        ));
    }
    if get("PvfExecKind::Backing", 2_000) >= get("PvfExecKind::Approval", 12_000) {
        return Err(IncompatibleValues(
            "PvfExecKind::Backing",
            "PvfExecKind::Approval",
        ));
    }
    Ok(())
}

/// Whether a parameter changes compiled artifact bytes (the classification the engine test
/// `prep_hash_matches_artifact_effect_of_executor_params` proves).
fn changes_artifact(p: &ExecutorParam) -> bool {
    matches!(p, StackLogicalMax(_) | WasmExtBulkMemory)
}

/// The same parameter with another value, where it has one.
fn tweak(p: &ExecutorParam) -> ExecutorParam {
    match *p {
        MaxMemoryPages(v) => MaxMemoryPages(v ^ 1),
        StackLogicalMax(v) => StackLogicalMax(v ^ 1),
        StackNativeMax(v) => StackNativeMax(v ^ 1),
        PrecheckingMaxMemory(v) => PrecheckingMaxMemory(v ^ 1),
        PvfPrepTimeout(k, v) => PvfPrepTimeout(k, v ^ 1),
        PvfExecTimeout(k, v) => PvfExecTimeout(k, v ^ 1),
        WasmExtBulkMemory => WasmExtBulkMemory,
        EnabledHostFunction(f) => EnabledHostFunction(f),
    }
}

fn check_params(params: &ExecutorParams) {
    let list: Vec<ExecutorParam> = params.iter().cloned().collect();
    let verdict = params.check_consistency();
    assert_eq!(verdict, reference_consistency(&list), "{list:?}");
    let reversed: ExecutorParams = list.iter().rev().cloned().collect::<Vec<_>>().into();
    assert_eq!(
        reversed.check_consistency().is_ok(),
        verdict.is_ok(),
        "consistency depends on the order: {list:?}"
    );

    // Equal sets hash equally, also after a trip through the codec.
    let copy = ExecutorParams::decode_all(&mut &params.encode()[..]).expect("own encoding");
    assert_eq!(copy.hash(), params.hash());
    assert_eq!(copy.prep_hash(), params.prep_hash());

    // prep_hash sees exactly the artifact parameters.
    let prep = params.prep_hash();
    let only_artifact: ExecutorParams = list
        .iter()
        .filter(|p| changes_artifact(p))
        .cloned()
        .collect::<Vec<_>>()
        .into();
    assert_eq!(
        only_artifact.prep_hash(),
        prep,
        "non-artifact parameters changed prep_hash"
    );
    let others_tweaked: ExecutorParams = list
        .iter()
        .map(|p| {
            if changes_artifact(p) {
                p.clone()
            } else {
                tweak(p)
            }
        })
        .collect::<Vec<_>>()
        .into();
    assert_eq!(
        others_tweaked.prep_hash(),
        prep,
        "a non-artifact value changed prep_hash"
    );
    if others_tweaked.encode() != params.encode() {
        assert_ne!(
            others_tweaked.hash(),
            params.hash(),
            "hash missed a changed value"
        );
    }
    let mut more = list.clone();
    more.push(WasmExtBulkMemory);
    let more = ExecutorParams::from(more);
    assert_ne!(more.prep_hash(), prep, "prep_hash missed WasmExtBulkMemory");
    assert_ne!(more.hash(), params.hash(), "hash missed an added parameter");
    if list.iter().any(|p| matches!(p, StackLogicalMax(_))) {
        let logical_tweaked: ExecutorParams = list
            .iter()
            .map(|p| {
                if matches!(p, StackLogicalMax(_)) {
                    tweak(p)
                } else {
                    p.clone()
                }
            })
            .collect::<Vec<_>>()
            .into();
        assert_ne!(
            logical_tweaked.prep_hash(),
            prep,
            "prep_hash missed StackLogicalMax"
        );
    }

    // The accessors return the first matching parameter.
    for kind in [PvfPrepKind::Precheck, PvfPrepKind::Prepare] {
        let first = list.iter().find_map(|p| match p {
            PvfPrepTimeout(k, ms) if *k == kind => Some(*ms),
            _ => None,
        });
        let got = params.pvf_prep_timeout(kind);
        assert_eq!(
            got.map(|d| d.as_millis()),
            first.map(u128::from),
            "{kind:?}"
        );
    }
    for kind in [PvfExecTimeoutKind::Backing, PvfExecTimeoutKind::Approval] {
        let first = list.iter().find_map(|p| match p {
            PvfExecTimeout(k, ms) if *k == kind => Some(*ms),
            _ => None,
        });
        let got = params.pvf_exec_timeout(kind);
        assert_eq!(
            got.map(|d| d.as_millis()),
            first.map(u128::from),
            "{kind:?}"
        );
    }
    let first = list.iter().find_map(|p| match p {
        PrecheckingMaxMemory(v) => Some(*v),
        _ => None,
    });
    assert_eq!(params.prechecking_max_memory(), first);
}
