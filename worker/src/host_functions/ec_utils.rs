//! `ext_host_calls_*`: the RFC-163 elliptic-curve host functions (sp-crypto-ec-utils 0.24,
//! feature `rfc163`: BLS12-381, Ed-on-BLS12-381-Bandersnatch, Pallas, Vesta), linked only for
//! sessions with `EnabledHostFunction(EccRfc163)`.
//!
//! The arithmetic is the canonical crate's own host-side code, called through its public
//! functions; only sp-runtime-interface's marshalling is ours, as for the other submodules:
//!
//! | argument | marshalling |
//! |---|---|
//! | inputs (`PassFatPointerAndRead<&[u8]>`) | read in order; out of bounds traps |
//! | `out` (`PassFatPointerAndWrite<&mut [u8]>`) | a zeroed buffer of `out`'s length, written back whole after the call, whatever its status (also zeros after a failure); out of bounds traps |
//! | `in_out` of `final_exponentiation` (`PassFatPointerAndReadWrite<&mut [u8]>`) | read, then written back whole after the call |
//! | result (`HostcallResult`) | `i32`: 0 on success, else the error's code (1 encode, 2 decode, 3 length mismatch, 4 degenerate point, 255 unknown) |
//!
//! Malformed encodings, too-small output buffers and length mismatches are status codes, not
//! traps. A panic in the crate's code (a multi Miller loop over sequences of different lengths)
//! traps, as the reference's executor turns host panics into traps.

use super::{HostResult, HostState, read_fat, trap, unpack_fat, write_memory};
use sp_crypto_ec_utils::{
    bls12_381::host_calls as bls12_381, ed_on_bls12_381_bandersnatch::host_calls as bandersnatch,
    pallas::host_calls as pallas, vesta::host_calls as vesta,
};
use wasmtime::{Caller, Linker};

/// A call of the `(input, input, out)` shape, its status mapped to `HostcallResult`'s `u32`.
type InInOut = fn(&[u8], &[u8], &mut [u8]) -> u32;

/// `HostcallResult`'s FFI value. The crate's error type lives in a private module: the cast
/// is the only way to name its code, and it is the crate's own mapping (`e as u32`).
macro_rules! status {
    ($call:expr) => {
        match $call {
            Ok(()) => 0u32,
            Err(e) => e as u32,
        }
    };
}

/// Every RFC-163 function of the `(input, input, out)` shape.
const IN_IN_OUT: &[(&str, InInOut)] = &[
    (
        "ext_host_calls_bls12_381_multi_miller_loop_version_1",
        |a, b, out| status!(bls12_381::bls12_381_multi_miller_loop(a, b, out)),
    ),
    ("ext_host_calls_bls12_381_msm_g1_version_1", |a, b, out| {
        status!(bls12_381::bls12_381_msm_g1(a, b, out))
    }),
    ("ext_host_calls_bls12_381_msm_g2_version_1", |a, b, out| {
        status!(bls12_381::bls12_381_msm_g2(a, b, out))
    }),
    ("ext_host_calls_bls12_381_mul_g1_version_1", |a, b, out| {
        status!(bls12_381::bls12_381_mul_g1(a, b, out))
    }),
    ("ext_host_calls_bls12_381_mul_g2_version_1", |a, b, out| {
        status!(bls12_381::bls12_381_mul_g2(a, b, out))
    }),
    (
        "ext_host_calls_ed_on_bls12_381_bandersnatch_msm_version_1",
        |a, b, out| status!(bandersnatch::ed_on_bls12_381_bandersnatch_msm(a, b, out)),
    ),
    (
        "ext_host_calls_ed_on_bls12_381_bandersnatch_mul_version_1",
        |a, b, out| status!(bandersnatch::ed_on_bls12_381_bandersnatch_mul(a, b, out)),
    ),
    ("ext_host_calls_pallas_msm_version_1", |a, b, out| {
        status!(pallas::pallas_msm(a, b, out))
    }),
    ("ext_host_calls_pallas_mul_version_1", |a, b, out| {
        status!(pallas::pallas_mul(a, b, out))
    }),
    ("ext_host_calls_vesta_msm_version_1", |a, b, out| {
        status!(vesta::vesta_msm(a, b, out))
    }),
    ("ext_host_calls_vesta_mul_version_1", |a, b, out| {
        status!(vesta::vesta_mul(a, b, out))
    }),
];

/// The one function of the `(in_out)` shape.
const FINAL_EXPONENTIATION: &str = "ext_host_calls_bls12_381_final_exponentiation_version_1";

/// Every RFC-163 function this module implements (for the table tests).
#[cfg(test)]
pub(super) fn implemented() -> impl Iterator<Item = &'static str> {
    IN_IN_OUT
        .iter()
        .map(|(name, _)| *name)
        .chain([FINAL_EXPONENTIATION])
}

/// Runs `f`, turning a panic into a trap as sp-runtime-interface's host glue does.
fn without_panics<R>(f: impl FnOnce() -> R) -> HostResult<R> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).map_err(|panic| {
        let message = panic
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| panic.downcast_ref::<&str>().copied());
        match message {
            Some(m) => trap(format!(
                "host code panicked while being called by the runtime: {m}"
            )),
            None => trap("host code panicked while being called by the runtime"),
        }
    })
}

/// Whether `len` bytes at `ptr` lie inside the memory.
fn check_writable(caller: &Caller<'_, HostState>, ptr: u32, len: u32) -> HostResult<()> {
    let memory = caller.data().memory().map_err(trap)?;
    let size = memory.data_size(caller);
    sc_executor_common::util::checked_range(ptr as usize, len as usize, size)
        .map(drop)
        .ok_or_else(|| trap("memory write is out of bounds"))
}

fn in_in_out(
    caller: &mut Caller<'_, HostState>,
    f: InInOut,
    a: i64,
    b: i64,
    out: i64,
) -> HostResult<i32> {
    let a = read_fat(caller, a)?;
    let b = read_fat(caller, b)?;
    let (out_ptr, out_len) = unpack_fat(out);
    // The reference allocates the zeroed buffer unchecked and traps at the write-back; the
    // verdict is the same trap, without allocating up to 4 GiB first.
    check_writable(caller, out_ptr, out_len)?;
    let mut buffer = vec![0u8; out_len as usize];
    let status = without_panics(|| f(&a, &b, &mut buffer))?;
    write_memory(caller, out_ptr, &buffer)?;
    Ok(status as i32)
}

fn final_exponentiation(mut caller: Caller<'_, HostState>, in_out: i64) -> HostResult<i32> {
    let mut buffer = read_fat(&caller, in_out)?;
    let status =
        without_panics(|| status!(bls12_381::bls12_381_final_exponentiation(&mut buffer)))?;
    let (ptr, _) = unpack_fat(in_out);
    write_memory(&mut caller, ptr, &buffer)?;
    Ok(status as i32)
}

pub(super) fn define(linker: &mut Linker<HostState>, name: &str) -> Result<bool, String> {
    if name == FINAL_EXPONENTIATION {
        return super::wrap(linker, name, final_exponentiation);
    }
    let Some(&(_, f)) = IN_IN_OUT.iter().find(|(n, _)| *n == name) else {
        return Ok(false);
    };
    super::wrap(
        linker,
        name,
        move |mut caller: Caller<'_, HostState>, a: i64, b: i64, out: i64| {
            in_in_out(&mut caller, f, a, b, out)
        },
    )
}

#[cfg(test)]
#[path = "ec_utils_tests.rs"]
mod tests;
