//! Differential tests of the RFC-163 host functions against sp-crypto-ec-utils 0.24's own
//! `HostFunctionsRfc163` (their `sp_wasm_interface::Function`s, marshalling included): for
//! every function valid inputs, malformed encodings, too small and too large output buffers,
//! length mismatches, the degenerate Bandersnatch result, and out-of-bounds pointers. Each
//! scenario compares the results, the whole memory (so the write-back of the output buffer,
//! zeros after a failure included) and the allocator's state.

use super::super::tests::{
    Arg, MEMORY_END, Scenario, TESTED, call_ours, differential, new_instance,
    reference_ecc_functions, rng,
};
use super::implemented;
use crate::host_functions::{HostFunctionSet, HostState, attach, link, new_store, pack_fat};
use ark_ec::{AffineRepr, CurveGroup, pairing::Pairing};
use ark_ff::{BigInteger, PrimeField};
use ark_serialize::CanonicalSerialize;
use pvf_common::host_function_signatures::{RFC163_HOST_FUNCTIONS, ValType};
use rand::{Rng, rngs::StdRng};

// The harness links the RFC-163 functions too.
const _: () = assert!(TESTED.ecc_rfc163);

const MILLER_LOOP: &str = "ext_host_calls_bls12_381_multi_miller_loop_version_1";
const FINAL_EXP: &str = "ext_host_calls_bls12_381_final_exponentiation_version_1";

/// ark-scale's encoding with the crate's usage (not compressed, not validated).
fn enc<T: CanonicalSerialize>(value: &T) -> Vec<u8> {
    let mut bytes = Vec::new();
    value.serialize_uncompressed(&mut bytes).unwrap();
    bytes
}

fn scalar<F: PrimeField>(rng: &mut StdRng) -> F {
    let mut bytes = [0u8; 64];
    rng.fill(&mut bytes[..]);
    F::from_le_bytes_mod_order(&bytes)
}

fn point<P: AffineRepr>(rng: &mut StdRng) -> P {
    (P::generator() * scalar::<P::ScalarField>(rng)).into_affine()
}

/// A scalar as the `BigInteger` (`Vec<u64>` limbs) the `mul` functions take.
fn limbs<F: PrimeField>(s: F) -> Vec<u64> {
    s.into_bigint().as_ref().to_vec()
}

/// Runs `name(a, b, out)` with `out` prefilled with 0xAA, on both sides; returns our status.
fn in_in_out(name: &'static str, a: &[u8], b: &[u8], out_len: usize, what: &str) -> Option<i64> {
    let mut s = Scenario::new();
    let (a, b, out) = (s.fat(a), s.fat(b), s.fat(&vec![0xAA; out_len]));
    s.call(name, vec![a, b, out]);
    let ours = differential(&s, &format!("{name}: {what}"));
    ours.results[0].ok().flatten()
}

/// The cases every `(input, input, out)` function gets: `good` is a valid (a, b) pair and
/// `out_len` the size of a full result.
fn common_cases(name: &'static str, good: (Vec<u8>, Vec<u8>), out_len: usize) {
    let (a, b) = good;
    assert_eq!(in_in_out(name, &a, &b, out_len, "valid"), Some(0));
    assert_eq!(in_in_out(name, &a, &b, out_len + 9, "large out"), Some(0));
    assert_eq!(
        in_in_out(name, &a, &b, out_len - 1, "small out"),
        Some(1),
        "Error::Encode"
    );
    assert_eq!(in_in_out(name, &a, &b, 0, "empty out"), Some(1));
    assert_eq!(
        in_in_out(name, &a[..a.len() - 1], &b, out_len, "truncated a"),
        Some(2),
        "Error::Decode"
    );
    assert_eq!(
        in_in_out(name, &a, &b[..b.len() - 1], out_len, "truncated b"),
        Some(2)
    );
    assert_eq!(in_in_out(name, &[], &b, out_len, "empty a"), Some(2));
    // Flipped bits: off-curve points and out-of-range field elements; no validation.
    let mut r = rng(name.len() as u64);
    for i in 0..6 {
        let (mut a, mut b) = (a.clone(), b.clone());
        let target = if i % 2 == 0 { &mut a } else { &mut b };
        let at = r.random_range(0..target.len());
        target[at] ^= 1 << r.random_range(0..8);
        in_in_out(name, &a, &b, out_len, "flipped bit");
    }
    // Trailing bytes after a valid encoding are ignored.
    let mut long_a = a.clone();
    long_a.extend_from_slice(&[7; 5]);
    in_in_out(name, &long_a, &b, out_len, "trailing bytes");
    out_of_bounds(name, &a, &b, out_len);
}

/// Inputs or output reaching past the memory trap, on both sides.
fn out_of_bounds(name: &'static str, a: &[u8], b: &[u8], out_len: usize) {
    let past = |len: usize| Arg::I64(pack_fat(MEMORY_END - len as u32 + 1, len as u32));
    for which in 0..3 {
        let mut s = Scenario::new();
        let mut args = vec![s.fat(a), s.fat(b), s.fat(&vec![0xAA; out_len])];
        args[which] = past([a.len(), b.len(), out_len][which]);
        s.call(name, args);
        let ours = differential(&s, &format!("{name}: argument {which} out of bounds"));
        assert_eq!(ours.results, vec![Err(())], "{name}: argument {which}");
    }
}

fn mul_cases<P: AffineRepr>(name: &'static str, seed: u64) {
    let mut r = rng(seed);
    let base = point::<P>(&mut r);
    let s = scalar::<P::ScalarField>(&mut r);
    let out_len = enc(&base).len();
    common_cases(name, (enc(&base), enc(&limbs(s))), out_len);
    // Multiplying by nothing, by zero, by a scalar wider than the field; the identity as base.
    for scalar in [vec![], vec![0], vec![u64::MAX; 9]] {
        assert_eq!(
            in_in_out(name, &enc(&base), &enc(&scalar), out_len, "odd scalar"),
            Some(0)
        );
    }
    let zero = enc(&P::zero());
    in_in_out(name, &zero, &enc(&limbs(s)), out_len, "identity");
    // A scalar vector whose length prefix claims more than there is.
    let mut lying = enc(&limbs(s));
    lying[0] = 200;
    assert_eq!(
        in_in_out(name, &enc(&base), &lying, out_len, "lying length"),
        Some(2)
    );
}

fn msm_cases<P: AffineRepr>(name: &'static str, seed: u64) {
    let mut r = rng(seed);
    let bases: Vec<P> = (0..5).map(|_| point(&mut r)).collect();
    let scalars: Vec<P::ScalarField> = (0..5).map(|_| scalar(&mut r)).collect();
    let out_len = enc(&bases[0]).len();
    common_cases(name, (enc(&bases), enc(&scalars)), out_len);
    assert_eq!(
        in_in_out(
            name,
            &enc(&bases),
            &enc(&scalars[..4].to_vec()),
            out_len,
            "mismatch"
        ),
        Some(3),
        "Error::LengthMismatch"
    );
    let none: (Vec<P>, Vec<P::ScalarField>) = (vec![], vec![]);
    assert_eq!(
        in_in_out(name, &enc(&none.0), &enc(&none.1), out_len, "empty"),
        Some(0)
    );
}

#[test]
fn bls12_381_mul_and_msm_agree_with_the_crate() {
    mul_cases::<ark_bls12_381::G1Affine>("ext_host_calls_bls12_381_mul_g1_version_1", 1);
    mul_cases::<ark_bls12_381::G2Affine>("ext_host_calls_bls12_381_mul_g2_version_1", 2);
    msm_cases::<ark_bls12_381::G1Affine>("ext_host_calls_bls12_381_msm_g1_version_1", 3);
    msm_cases::<ark_bls12_381::G2Affine>("ext_host_calls_bls12_381_msm_g2_version_1", 4);
}

#[test]
fn bandersnatch_pallas_and_vesta_agree_with_the_crate() {
    use ark_ed_on_bls12_381_bandersnatch::EdwardsAffine;
    let name = "ext_host_calls_ed_on_bls12_381_bandersnatch_mul_version_1";
    mul_cases::<EdwardsAffine>(name, 5);
    msm_cases::<EdwardsAffine>(
        "ext_host_calls_ed_on_bls12_381_bandersnatch_msm_version_1",
        6,
    );
    mul_cases::<ark_pallas::Affine>("ext_host_calls_pallas_mul_version_1", 7);
    msm_cases::<ark_pallas::Affine>("ext_host_calls_pallas_msm_version_1", 8);
    mul_cases::<ark_vesta::Affine>("ext_host_calls_vesta_mul_version_1", 9);
    msm_cases::<ark_vesta::Affine>("ext_host_calls_vesta_msm_version_1", 10);
}

#[test]
fn a_degenerate_bandersnatch_result_is_a_status_not_a_trap() {
    use ark_ed_on_bls12_381_bandersnatch::{EdwardsAffine, Fq, Fr};
    // A point outside the prime-order subgroup (y = 2) times the group order lands on z = 0,
    // which has no affine form: status 4 (`DegeneratePoint`), output zeroed.
    let base = EdwardsAffine::get_point_from_y_unchecked(Fq::from(2u64), false).unwrap();
    let order = Fr::MODULUS.0.to_vec();
    let len = enc(&base).len();
    let mul = "ext_host_calls_ed_on_bls12_381_bandersnatch_mul_version_1";
    assert_eq!(
        in_in_out(mul, &enc(&base), &enc(&order), len, "degenerate"),
        Some(4)
    );
    let msm = "ext_host_calls_ed_on_bls12_381_bandersnatch_msm_version_1";
    let order_scalar = -Fr::from(1u64); // order - 1, then add the base once more
    let bases = vec![base, base];
    let scalars = vec![order_scalar, Fr::from(1u64)];
    in_in_out(msm, &enc(&bases), &enc(&scalars), len, "msm near the order");
}

type Bls = ark_bls12_381::Bls12_381;

fn pairing_inputs(n: usize, seed: u64) -> (Vec<u8>, Vec<u8>) {
    let mut r = rng(seed);
    let g1: Vec<ark_bls12_381::G1Affine> = (0..n).map(|_| point(&mut r)).collect();
    let g2: Vec<ark_bls12_381::G2Affine> = (0..n).map(|_| point(&mut r)).collect();
    (enc(&g1), enc(&g2))
}

/// Encoded size of the target field (Fq12).
fn target_len() -> usize {
    enc(&<Bls as Pairing>::TargetField::default()).len()
}

#[test]
fn bls12_381_multi_miller_loop_agrees_with_the_crate() {
    let out_len = target_len();
    common_cases(MILLER_LOOP, pairing_inputs(2, 11), out_len);
    let (empty_g1, empty_g2) = pairing_inputs(0, 12);
    assert_eq!(
        in_in_out(MILLER_LOOP, &empty_g1, &empty_g2, out_len, "no pairs"),
        Some(0)
    );
    // Sequences of different lengths make the crate panic (`zip_eq`): a trap in both.
    let (g1, _) = pairing_inputs(2, 13);
    let (_, g2) = pairing_inputs(1, 14);
    let mut s = Scenario::new();
    let args = vec![s.fat(&g1), s.fat(&g2), s.fat(&vec![0xAA; out_len])];
    s.call(MILLER_LOOP, args);
    let ours = differential(&s, "miller loop over unequal sequences");
    assert_eq!(ours.results, vec![Err(())]);
    let error = ours.error.unwrap();
    assert!(error.contains("host code panicked"), "{error}");
}

fn final_exponentiation(in_out: &[u8], what: &str) -> Result<Option<i64>, ()> {
    let mut s = Scenario::new();
    let arg = s.fat(in_out);
    s.call(FINAL_EXP, vec![arg]);
    differential(&s, &format!("final exponentiation: {what}")).results[0]
}

#[test]
fn bls12_381_final_exponentiation_agrees_with_the_crate() {
    // A real Miller-loop output, computed with arkworks directly.
    let mut r = rng(15);
    let (p, q): (ark_bls12_381::G1Affine, ark_bls12_381::G2Affine) = (point(&mut r), point(&mut r));
    let f = enc(&Bls::multi_miller_loop([p], [q]).0);
    assert_eq!(final_exponentiation(&f, "valid"), Ok(Some(0)));
    let mut long = f.clone();
    long.extend_from_slice(&[0xAA; 7]);
    assert_eq!(final_exponentiation(&long, "trailing"), Ok(Some(0)));
    assert_eq!(
        final_exponentiation(&f[..f.len() - 1], "truncated"),
        Ok(Some(2))
    );
    assert_eq!(final_exponentiation(&[], "empty"), Ok(Some(2)));
    // Zero has no inverse: `Error::Unknown`.
    assert_eq!(
        final_exponentiation(&vec![0; f.len()], "zero"),
        Ok(Some(255))
    );
    assert_eq!(
        final_exponentiation(&vec![0xFF; f.len()], "out of range"),
        Ok(Some(2))
    );
    let mut s = Scenario::new();
    s.call(
        FINAL_EXP,
        vec![Arg::I64(pack_fat(MEMORY_END - 10, f.len() as u32))],
    );
    assert_eq!(differential(&s, "out of bounds").results, vec![Err(())]);
}

#[test]
fn the_rfc163_table_is_the_crates_set_with_the_same_signatures() {
    use sp_wasm_interface::ValueType;
    let to_ours = |t: &ValueType| match t {
        ValueType::I32 => ValType::I32,
        ValueType::I64 => ValType::I64,
        other => panic!("unexpected type {other:?}"),
    };
    let mut reference: Vec<_> = reference_ecc_functions()
        .iter()
        .map(|f| {
            let sig = f.signature();
            let params: Vec<_> = sig.args.iter().map(to_ours).collect();
            let result = sig.return_value.as_ref().map(to_ours);
            (f.name().to_string(), params, result)
        })
        .collect();
    let mut ours: Vec<_> = RFC163_HOST_FUNCTIONS
        .iter()
        .map(|f| (f.name.to_string(), f.params.to_vec(), f.result))
        .collect();
    reference.sort_by(|a, b| a.0.cmp(&b.0));
    ours.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(ours, reference);
    let mut implemented: Vec<_> = implemented().map(str::to_string).collect();
    implemented.sort();
    let names: Vec<_> = ours.into_iter().map(|(name, ..)| name).collect();
    assert_eq!(implemented, names);
}

#[test]
fn without_the_parameter_ecc_imports_are_trap_stubs_of_any_signature() {
    let wat = r#"(module
        (import "env" "ext_host_calls_pallas_mul_version_1" (func $mul (param i32) (result i64)))
        (memory (export "memory") 1)
        (global (export "__heap_base") i32 (i32.const 1024))
        (func (export "mul") (result i64) (call $mul (i32.const 0))))"#;
    let (engine, _) = super::super::tests::instance_pre();
    let module = wasmtime::Module::new(engine, wat::parse_str(wat).unwrap()).unwrap();
    let mut linker = wasmtime::Linker::new(engine);
    link(&mut linker, &module, HostFunctionSet::BASE).unwrap();
    let mut store = new_store(engine, HostState::new(None));
    let instance = linker.instantiate(&mut store, &module).unwrap();
    attach(&mut store, &instance).unwrap();
    let mul = instance
        .get_typed_func::<(), i64>(&mut store, "mul")
        .unwrap();
    let err = format!("{:#}", mul.call(&mut store, ()).unwrap_err());
    assert!(
        err.contains("call to a missing function env:ext_host_calls_pallas_mul_version_1"),
        "{err}"
    );
    let mut linker = wasmtime::Linker::new(engine);
    let err = link(&mut linker, &module, HostFunctionSet::WITH_ECC_RFC163).unwrap_err();
    assert!(err.starts_with("signature mismatch"), "{err}");
}

#[test]
fn a_result_computed_in_wasm_matches_arkworks() {
    // Beyond agreeing with the crate: the bytes are the right point.
    let mut r = rng(16);
    let base: ark_pallas::Affine = point(&mut r);
    let s: ark_pallas::Fr = scalar(&mut r);
    let (mut store, instance) = new_instance(false);
    let memory = store.data().memory().unwrap();
    let (a, b) = (enc(&base), enc(&limbs(s)));
    let out_len = a.len() as u32;
    memory.write(&mut store, 1024, &a).unwrap();
    memory.write(&mut store, 2048, &b).unwrap();
    let args = [
        Arg::I64(pack_fat(1024, a.len() as u32)),
        Arg::I64(pack_fat(2048, b.len() as u32)),
        Arg::I64(pack_fat(4096, out_len)),
    ];
    let status = call_ours(
        &mut store,
        &instance,
        "ext_host_calls_pallas_mul_version_1",
        &args,
    );
    assert_eq!(status, Ok(Some(0)));
    let mut out = vec![0; out_len as usize];
    memory.read(&store, 4096, &mut out).unwrap();
    assert_eq!(out, enc(&(base * s).into_affine()));
    assert!(
        RFC163_HOST_FUNCTIONS
            .iter()
            .all(|f| reference_ecc_functions().iter().any(|r| r.name() == f.name))
    );
}

#[test]
fn the_pallas_encodings_in_calls_ecc_wat_are_arkworks_own() {
    // tests/pvfs/calls-ecc.wat embeds G and expects 2 · G (tests/tests/it/host_functions_ecc.rs).
    let g = ark_pallas::Affine::generator();
    // x (32 bytes), then y and its flags byte (33): Pallas' modulus leaves no 2 spare bits.
    let mut expected_g = vec![0u8; 65];
    expected_g[..32].copy_from_slice(&(-ark_pallas::Fq::from(1u64)).into_bigint().to_bytes_le());
    expected_g[32] = 2;
    assert_eq!(enc(&g), expected_g);
    let two_g = (g * ark_pallas::Fr::from(2u64)).into_affine();
    assert_eq!(
        hex(&enc(&two_g)),
        hex(&hex_bytes(
            "030000b067c50313fcac1144eee2fe0e0000000000000000000000000000001c\
             fcffff3bdf5cea8a5eb73f56c96e07170000000000000000000000000000002b\
             80"
        ))
    );
}

fn hex_bytes(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
