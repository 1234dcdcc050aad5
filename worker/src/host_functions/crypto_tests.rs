//! Differential tests of the crypto host functions against sp-io 49: valid, mutated and
//! malformed signatures and keys for every scheme, high-s and overflowing ecdsa signatures,
//! every kind of recovery id, legacy sr25519 signatures, and legacy batch verification.

use super::super::tests::{Arg, Scenario, differential, rng};
use rand::{Rng, rngs::StdRng};
use sp_core::{Pair as _, ecdsa, ed25519, sr25519};

fn unhex<const N: usize>(s: &str) -> [u8; N] {
    let v: Vec<u8> = (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect();
    v.try_into().unwrap()
}

/// secp256k1's group order n, big-endian.
const SECP_N: &str = "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141";
/// ed25519's group order L, big-endian.
const ED_L: &str = "1000000000000000000000000000000014def9dea2f79cd65812631a5cf5d3ed";

/// `a - b` (big-endian, modulo 2^256).
fn sub_be(a: &[u8], b: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    let mut borrow = 0i16;
    for i in (0..32).rev() {
        let d = i16::from(a[i]) - i16::from(b[i]) - borrow;
        borrow = i16::from(d < 0);
        out[i] = d.rem_euclid(256) as u8;
    }
    out
}

/// `a + b` (big-endian, modulo 2^256).
fn add_be(a: &[u8], b: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    let mut carry = 0u16;
    for i in (0..32).rev() {
        let s = u16::from(a[i]) + u16::from(b[i]) + carry;
        carry = s >> 8;
        out[i] = s as u8;
    }
    out
}

fn flip_bit(rng: &mut StdRng, bytes: &mut [u8]) {
    if !bytes.is_empty() {
        let i = rng.random_range(0..bytes.len());
        bytes[i] ^= 1 << rng.random_range(0..8);
    }
}

fn random_msg(rng: &mut StdRng) -> Vec<u8> {
    let mut msg = vec![0u8; rng.random_range(0..200)];
    rng.fill(&mut msg[..]);
    msg
}

/// (signature, message, public key) triples: valid, mutated and malformed.
fn ed25519_cases(rng: &mut StdRng, n: usize) -> Vec<(Vec<u8>, Vec<u8>, Vec<u8>)> {
    let small_order = [
        unhex::<32>("0100000000000000000000000000000000000000000000000000000000000000"),
        [0u8; 32],
        // y = p + 1 (non-canonical), with and without the sign bit.
        unhex::<32>("eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),
        unhex::<32>("eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"),
    ];
    (0..n)
        .map(|i| {
            let pair = ed25519::Pair::from_seed(&rng.random());
            let mut msg = random_msg(rng);
            let mut sig = pair.sign(&msg).0.to_vec();
            let mut public = pair.public().0.to_vec();
            match i % 9 {
                0 | 1 => {}
                2 => flip_bit(rng, &mut sig),
                3 => flip_bit(rng, &mut msg),
                4 => flip_bit(rng, &mut public),
                5 => rng.fill(&mut public[..]),
                6 => public = small_order[rng.random_range(0..4)].to_vec(),
                7 => {
                    // s + L: the same scalar, non-canonically encoded.
                    let mut s: Vec<u8> = sig[32..].iter().rev().copied().collect();
                    s = add_be(&s, &unhex::<32>(ED_L)).to_vec();
                    s.reverse();
                    sig[32..].copy_from_slice(&s);
                }
                _ => {
                    sig = vec![0; 64];
                    public = small_order[rng.random_range(0..2)].to_vec();
                }
            }
            (sig, msg, public)
        })
        .collect()
}

fn sr25519_cases(rng: &mut StdRng, n: usize) -> Vec<(Vec<u8>, Vec<u8>, Vec<u8>)> {
    let mut cases: Vec<_> = (0..n)
        .map(|i| {
            let pair = sr25519::Pair::from_seed(&rng.random());
            let mut msg = random_msg(rng);
            let mut sig = pair.sign(&msg).0.to_vec();
            let mut public = pair.public().0.to_vec();
            match i % 7 {
                0 | 1 => {}
                2 => flip_bit(rng, &mut sig),
                3 => flip_bit(rng, &mut msg),
                4 => flip_bit(rng, &mut public),
                5 => sig[63] &= 0x7f, // no schnorrkel marker: a "legacy" signature
                _ => rng.fill(&mut public[..]),
            }
            (sig, msg, public)
        })
        .collect();
    // Signatures of schnorrkel 0.1.1 (from sp-core's tests): only v1 accepts them.
    let legacy_public =
        unhex::<32>("b4bfa1f7a5166695eb75299fd1c4c03ea212871c342f2c5dfea0902b2c246918");
    let legacy_sig = unhex::<64>(
        "5a9755f069939f45d96aaf125cf5ce7ba1db998686f87f2fb3cbdea922078741a73891ba265f70c31436e18a9acd14d189d73c12317ab6c313285cd938453202",
    );
    let legacy_msg = b"Verifying that I am the owner of 5G9hQLdsKQswNPgB499DeA5PkFBbgkLPJWkkS6FAM6xGQ8xD. Hash: 221455a3\n";
    cases.push((
        legacy_sig.to_vec(),
        legacy_msg.to_vec(),
        legacy_public.to_vec(),
    ));
    let js_public = sr25519::Pair::from_seed(&[0; 32]).public().0;
    let js_sig = unhex::<64>(
        "28a854d54903e056f89581c691c1f7d2ff39f8f896c9e9c22475e60902cc2b3547199e0e91fa32902028f2ca2355e8cdd16cfe19ba5e8b658c94aa80f3b81a00",
    );
    cases.push((js_sig.to_vec(), b"SUBSTRATE".to_vec(), js_public.to_vec()));
    cases
}

/// ecdsa (signature, message, public key): high s, every kind of recovery id, overflowing
/// and zero r and s, mutations.
fn ecdsa_cases(rng: &mut StdRng, n: usize) -> Vec<(Vec<u8>, Vec<u8>, Vec<u8>)> {
    let order = unhex::<32>(SECP_N);
    (0..n)
        .map(|i| {
            let pair = ecdsa::Pair::from_seed(&rng.random());
            let mut msg = random_msg(rng);
            let mut sig = pair.sign(&msg).0.to_vec();
            let mut public = pair.public().0.to_vec();
            match i % 14 {
                0 | 1 => {}
                12 | 13 => return crafted_ecdsa(rng),
                2 | 3 => {
                    // (r, n - s, v ^ 1): the same signature with a high s.
                    let high = sub_be(&order, &sig[32..64]);
                    sig[32..64].copy_from_slice(&high);
                    sig[64] ^= 1;
                }
                4 => sig[64] += [2, 27, 28, 29, 30, 31][rng.random_range(0..6)],
                5 => sig[64] = [4, 26, 33, 127, 128, 255][rng.random_range(0..6)],
                6 => {
                    let at = [0, 32][rng.random_range(0..2)];
                    let value = [order, add_be(&order, &[1; 32]), [0xff; 32], [0; 32]]
                        [rng.random_range(0..4)];
                    sig[at..at + 32].copy_from_slice(&value);
                }
                7 => flip_bit(rng, &mut sig),
                8 => flip_bit(rng, &mut msg),
                9 => flip_bit(rng, &mut public),
                10 => {
                    // Both a high s and a 27-based v.
                    let high = sub_be(&order, &sig[32..64]);
                    sig[32..64].copy_from_slice(&high);
                    sig[64] = (sig[64] ^ 1) + 27;
                }
                _ => rng.fill(&mut sig[..]),
            }
            (sig, msg, public)
        })
        .collect()
}

/// A signature with r and s below 2^128, a recovery id in 0..=3 (2 and 3 are usable for
/// such an r) and the key it recovers, then with r and/or s replaced by r + n / s + n: valid
/// once reduced modulo n (sp-io's v1 functions), rejected unreduced (v2).
fn crafted_ecdsa(rng: &mut StdRng) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    use secp256k1::ecdsa::{RecoverableSignature, RecoveryId};
    let order = unhex::<32>(SECP_N);
    loop {
        let msg = random_msg(rng);
        let mut compact = [0u8; 64];
        rng.fill(&mut compact[16..32]);
        rng.fill(&mut compact[48..64]);
        let v = rng.random_range(0..4u8);
        let rid = RecoveryId::from_i32(v.into()).unwrap();
        let Ok(sig) = RecoverableSignature::from_compact(&compact, rid) else {
            continue;
        };
        let hash = secp256k1::Message::from_digest(sp_crypto_hashing::blake2_256(&msg));
        let Ok(key) = secp256k1::SECP256K1.recover_ecdsa(&hash, &sig) else {
            continue;
        };
        let mut sig = compact.to_vec();
        match rng.random_range(0..4) {
            0 => {}
            1 => sig[..32].copy_from_slice(&add_be(&compact[..32], &order)),
            2 => sig[32..].copy_from_slice(&add_be(&compact[32..], &order)),
            _ => {
                sig[..32].copy_from_slice(&add_be(&compact[..32], &order));
                sig[32..].copy_from_slice(&add_be(&compact[32..], &order));
            }
        }
        sig.push(v);
        return (sig, msg, key.serialize().to_vec());
    }
}

/// Calls each of `names` on each case (prehashed names get the blake2-256 of the message,
/// recover names get only the signature and that hash).
fn run(cases: &[(Vec<u8>, Vec<u8>, Vec<u8>)], names: &[&'static str], what: &str) -> usize {
    let mut s = Scenario::new();
    for (sig, msg, public) in cases {
        let hash = sp_crypto_hashing::blake2_256(msg);
        let (sig, fat_msg, public, hash) = (s.ptr(sig), s.fat(msg), s.ptr(public), s.ptr(&hash));
        for name in names {
            let args = if name.contains("recover") {
                vec![sig, hash]
            } else if name.contains("prehashed") {
                vec![sig, hash, public]
            } else {
                vec![sig, fat_msg, public]
            };
            s.call(name, args);
        }
    }
    let ours = differential(&s, what);
    assert_eq!(
        ours.results.len(),
        cases.len() * names.len(),
        "{what}: a call failed"
    );
    // How many verifications succeeded: the cases must exercise both answers.
    ours.results.iter().filter(|r| **r == Ok(Some(1))).count()
}

#[test]
fn ed25519_verification_matches_sp_io() {
    let cases = ed25519_cases(&mut rng(3), 270);
    let accepted = run(&cases, &["ext_crypto_ed25519_verify_version_1"], "ed25519");
    assert!(accepted > 60 && accepted < 200, "{accepted}");
}

/// sp-io 49's `ed25519_batch_verify` panics on a nested externalities borrow: it traps in
/// the reference whatever its arguments, and so in ours.
#[test]
fn ed25519_batch_verify_traps_as_in_sp_io() {
    for (i, (sig, msg, public)) in ed25519_cases(&mut rng(7), 18).iter().enumerate() {
        for batch in [false, true] {
            let mut s = Scenario::new();
            if batch {
                s.call("ext_crypto_start_batch_verify_version_1", vec![]);
            }
            let args = vec![s.ptr(sig), s.fat(msg), s.ptr(public)];
            s.call("ext_crypto_ed25519_batch_verify_version_1", args);
            let ours = differential(&s, &format!("case {i}"));
            assert_eq!(ours.results.last(), Some(&Err(())));
        }
    }
}

#[test]
fn sr25519_verification_matches_sp_io() {
    let cases = sr25519_cases(&mut rng(4), 210);
    let names = [
        "ext_crypto_sr25519_verify_version_1",
        "ext_crypto_sr25519_verify_version_2",
        "ext_crypto_sr25519_batch_verify_version_1",
    ];
    let accepted = run(&cases, &names, "sr25519");
    assert!(accepted > 60 && accepted < 500, "{accepted}");
    // The legacy signatures: v1 accepts, v2 and the batch function do not.
    let legacy = &cases[cases.len() - 2..];
    let mut s = Scenario::new();
    for (sig, msg, public) in legacy {
        let args = vec![s.ptr(sig), s.fat(msg), s.ptr(public)];
        for name in names {
            s.call(name, args.clone());
        }
    }
    let ours = differential(&s, "legacy sr25519");
    let expected = [1, 0, 0, 1, 0, 0].map(|v| Ok(Some(v))).to_vec();
    assert_eq!(ours.results, expected);
}

#[test]
fn ecdsa_verification_and_recovery_match_sp_io() {
    let cases = ecdsa_cases(&mut rng(5), 360);
    let verify = [
        "ext_crypto_ecdsa_verify_version_1",
        "ext_crypto_ecdsa_verify_version_2",
        "ext_crypto_ecdsa_batch_verify_version_1",
        "ext_crypto_ecdsa_verify_prehashed_version_1",
    ];
    let accepted = run(&cases, &verify, "ecdsa verify");
    assert!(accepted > 200 && accepted < 1000, "{accepted}");
    let recover = [
        "ext_crypto_secp256k1_ecdsa_recover_version_1",
        "ext_crypto_secp256k1_ecdsa_recover_version_2",
        "ext_crypto_secp256k1_ecdsa_recover_compressed_version_1",
        "ext_crypto_secp256k1_ecdsa_recover_compressed_version_2",
    ];
    run(&cases, &recover, "ecdsa recover");
}

#[test]
fn out_of_bounds_arguments_trap_in_both() {
    let end = super::super::tests::MEMORY_END as i32;
    for (name, args) in [
        (
            "ext_crypto_ed25519_verify_version_1",
            vec![Arg::I32(end - 63), Arg::I64(0), Arg::I32(0)],
        ),
        (
            "ext_crypto_sr25519_verify_version_2",
            vec![Arg::I32(0), Arg::I64(-1), Arg::I32(0)],
        ),
        (
            "ext_crypto_ecdsa_verify_version_1",
            vec![Arg::I32(0), Arg::I64(0), Arg::I32(end - 32)],
        ),
        (
            "ext_crypto_ecdsa_verify_prehashed_version_1",
            vec![Arg::I32(0), Arg::I32(-1), Arg::I32(0)],
        ),
        (
            "ext_crypto_secp256k1_ecdsa_recover_version_2",
            vec![Arg::I32(end - 64), Arg::I32(0)],
        ),
    ] {
        let mut s = Scenario::new();
        s.call(name, args);
        assert_eq!(differential(&s, name).results, vec![Err(())], "{name}");
    }
}

#[test]
fn legacy_batch_verification_matches_sp_io() {
    let mut rng = rng(6);
    let ed = ed25519_cases(&mut rng, 20);
    let sr = sr25519_cases(&mut rng, 20);
    let ec = ecdsa_cases(&mut rng, 20);
    let start = "ext_crypto_start_batch_verify_version_1";
    let finish = "ext_crypto_finish_batch_verify_version_1";
    for round in 0..30 {
        let mut s = Scenario::new();
        let mut open = false;
        for _ in 0..rng.random_range(1..25) {
            match rng.random_range(0..40) {
                0..3 if round % 7 != 0 && open => continue,
                0..3 => {
                    s.call(start, vec![]);
                    open = true;
                }
                3..6 if round % 5 != 0 && !open => continue,
                3..6 => {
                    s.call(finish, vec![]);
                    open = false;
                }
                6 if round % 3 != 0 => continue,
                k => {
                    let (name, (sig, msg, public)) = match k {
                        // Ends the scenario: it traps (see above).
                        6 => (
                            "ext_crypto_ed25519_batch_verify_version_1",
                            &ed[rng.random_range(0..20)],
                        ),
                        _ if k % 2 == 0 => (
                            "ext_crypto_sr25519_batch_verify_version_1",
                            &sr[rng.random_range(0..22)],
                        ),
                        _ => (
                            "ext_crypto_ecdsa_batch_verify_version_1",
                            &ec[rng.random_range(0..20)],
                        ),
                    };
                    let args = vec![s.ptr(sig), s.fat(msg), s.ptr(public)];
                    s.call(name, args);
                }
            }
        }
        if open {
            s.call(finish, vec![]);
        }
        differential(&s, &format!("round {round}"));
    }
    // Finishing without starting, and starting twice, fail in both.
    for calls in [
        vec![finish],
        vec![start, start],
        vec![start, finish, finish],
    ] {
        let mut s = Scenario::new();
        for name in calls {
            s.call(name, vec![]);
        }
        assert_eq!(differential(&s, "misuse").results.last(), Some(&Err(())));
    }
}
