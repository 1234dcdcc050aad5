//! `ext_crypto_*`: signature verification and public-key recovery with each version's
//! acceptance rules exactly as sp-io 49 and sp-core 43, through the same crates at the same
//! versions:
//!
//! | function | rule | crate |
//! |---|---|---|
//! | `ed25519_verify` v1 | ZIP-215 (sp-io's `UseDalekExt` is never registered for PVFs) | `ed25519-zebra` 4 |
//! | `ed25519_batch_verify` v1 | always traps after marshalling its arguments, see below | — |
//! | `sr25519_verify` v1 | schnorrkel, also accepting pre-0.8 (legacy) signatures: `verify_simple_preaudit_deprecated` | `schnorrkel` 0.11 |
//! | `sr25519_verify` v2, `sr25519_batch_verify` v1 | `verify_simple` | `schnorrkel` 0.11 |
//! | `ecdsa_verify` v1 | blake2-256 of the message, r and s reduced modulo n (`parse_overflowing`), recovery id 0..=3, recovered compressed key equals the given one | `libsecp256k1` 0.7 |
//! | `ecdsa_verify` v2, `ecdsa_batch_verify` v1 | as v1 but r and s must be below n (`from_compact`) | `secp256k1` 0.28 |
//! | `ecdsa_verify_prehashed` v1 | as v2 without hashing | `secp256k1` 0.28 |
//! | `secp256k1_ecdsa_recover[_compressed]` v1 | v ∈ {0..=3, 27..=30}, r and s reduced modulo n | `libsecp256k1` 0.7 |
//! | `secp256k1_ecdsa_recover[_compressed]` v2 | v ∈ {0..=3, 27..=30}, r and s below n | `secp256k1` 0.28 |
//!
//! None of them rejects a high (non-normalised) s: recovery does not care. The batch functions
//! are sp-io's legacy emulation: verify immediately, and between `start_batch_verify` and
//! `finish_batch_verify` AND the result into an accumulator. The keystore functions trap: the
//! reference has no keystore in PVF execution and panics there.
//!
//! `ed25519_batch_verify` v1 cannot succeed in the reference: it runs inside
//! `with_externalities` (it takes `&mut self`) and calls `ed25519_verify`, which calls
//! `with_externalities` again to look for `UseDalekExt`; the nested borrow of the
//! externalities panics ("RefCell already borrowed") and the executor turns the panic into a
//! trap. The differential test shows it. We trap likewise, after the same argument marshalling.

use super::{
    HostResult, HostState, define_trap, from_bool, read_array, read_fat, return_encoded, trap,
};
use parity_scale_codec::Encode;
use wasmtime::{Caller, FuncType, Linker};

/// sp-core's sr25519 signing context.
const SIGNING_CTX: &[u8] = b"substrate";

/// sp-io's `EcdsaVerifyError`, variant for variant.
#[derive(Encode, Debug, Clone, Copy, PartialEq, Eq)]
enum EcdsaVerifyError {
    BadRS,
    BadV,
    BadSignature,
}

/// The keystore functions of the set: linked as traps.
const KEYSTORE_FUNCTIONS: &[&str] = &[
    "ext_crypto_ed25519_public_keys_version_1",
    "ext_crypto_ed25519_generate_version_1",
    "ext_crypto_ed25519_sign_version_1",
    "ext_crypto_sr25519_public_keys_version_1",
    "ext_crypto_sr25519_generate_version_1",
    "ext_crypto_sr25519_sign_version_1",
    "ext_crypto_ecdsa_public_keys_version_1",
    "ext_crypto_ecdsa_generate_version_1",
    "ext_crypto_ecdsa_sign_version_1",
    "ext_crypto_ecdsa_sign_prehashed_version_1",
];

// ---- the verification rules, on plain bytes ----

/// sp-core's `ed25519::Pair::verify`.
pub(crate) fn ed25519_verify(sig: &[u8; 64], msg: &[u8], public: &[u8; 32]) -> bool {
    let Ok(public) = ed25519_zebra::VerificationKey::try_from(&public[..]) else {
        return false;
    };
    let Ok(sig) = ed25519_zebra::Signature::try_from(&sig[..]) else {
        return false;
    };
    public.verify(&sig, msg).is_ok()
}

/// sp-core's `sr25519::Pair::verify`.
pub(crate) fn sr25519_verify(sig: &[u8; 64], msg: &[u8], public: &[u8; 32]) -> bool {
    let Ok(sig) = schnorrkel::Signature::from_bytes(sig) else {
        return false;
    };
    let Ok(public) = schnorrkel::PublicKey::from_bytes(public) else {
        return false;
    };
    public.verify_simple(SIGNING_CTX, msg, &sig).is_ok()
}

/// sp-core's `sr25519::Pair::verify_deprecated`: also accepts schnorrkel 0.1.1 signatures.
pub(crate) fn sr25519_verify_deprecated(sig: &[u8; 64], msg: &[u8], public: &[u8; 32]) -> bool {
    match schnorrkel::PublicKey::from_bytes(public) {
        Ok(public) => public
            .verify_simple_preaudit_deprecated(SIGNING_CTX, msg, &sig[..])
            .is_ok(),
        Err(_) => false,
    }
}

/// Recovery with libsecp256k1 (sp-io's v1 functions): r and s are reduced modulo n.
fn recover_libsecp256k1(
    sig: &[u8; 65],
    rid: u8,
    hash: &[u8; 32],
) -> Result<libsecp256k1::PublicKey, EcdsaVerifyError> {
    let rid = libsecp256k1::RecoveryId::parse(rid).map_err(|_| EcdsaVerifyError::BadV)?;
    let sig = libsecp256k1::Signature::parse_overflowing_slice(&sig[..64])
        .map_err(|_| EcdsaVerifyError::BadRS)?;
    let message = libsecp256k1::Message::parse(hash);
    libsecp256k1::recover(&message, &sig, &rid).map_err(|_| EcdsaVerifyError::BadSignature)
}

/// Recovery with the `secp256k1` crate (libsecp256k1 in C; sp-io's v2 functions and sp-core's
/// ecdsa): r and s must be below n.
fn recover_secp256k1(
    sig: &[u8; 65],
    rid: i32,
    hash: &[u8; 32],
) -> Result<secp256k1::PublicKey, EcdsaVerifyError> {
    use secp256k1::ecdsa::{RecoverableSignature, RecoveryId};
    let rid = RecoveryId::from_i32(rid).map_err(|_| EcdsaVerifyError::BadV)?;
    let sig =
        RecoverableSignature::from_compact(&sig[..64], rid).map_err(|_| EcdsaVerifyError::BadRS)?;
    let message = secp256k1::Message::from_digest(*hash);
    secp256k1::SECP256K1
        .recover_ecdsa(&message, &sig)
        .map_err(|_| EcdsaVerifyError::BadSignature)
}

/// sp-core's `ecdsa::Pair::verify_prehashed` (and, on the blake2-256 hash, `verify`).
pub(crate) fn ecdsa_verify_prehashed(sig: &[u8; 65], hash: &[u8; 32], public: &[u8; 33]) -> bool {
    recover_secp256k1(sig, i32::from(sig[64]), hash).is_ok_and(|key| key.serialize() == *public)
}

/// sp-core's `ecdsa::Pair::verify`.
pub(crate) fn ecdsa_verify(sig: &[u8; 65], msg: &[u8], public: &[u8; 33]) -> bool {
    ecdsa_verify_prehashed(sig, &sp_crypto_hashing::blake2_256(msg), public)
}

/// sp-core's deprecated `ecdsa::Pair::verify_deprecated` (sp-io's `ecdsa_verify` v1).
pub(crate) fn ecdsa_verify_deprecated(sig: &[u8; 65], msg: &[u8], public: &[u8; 33]) -> bool {
    let hash = sp_crypto_hashing::blake2_256(msg);
    recover_libsecp256k1(sig, sig[64], &hash).is_ok_and(|key| key.serialize_compressed() == *public)
}

/// sp-io's reading of the `v` byte of a recovery signature: 27.. means 0...
fn recovery_byte(v: u8) -> u8 {
    if v > 26 { v - 27 } else { v }
}

fn secp256k1_recover_v1(sig: &[u8; 65], msg: &[u8; 32]) -> Result<[u8; 64], EcdsaVerifyError> {
    let key = recover_libsecp256k1(sig, recovery_byte(sig[64]), msg)?;
    let mut out = [0; 64];
    out.copy_from_slice(&key.serialize()[1..65]);
    Ok(out)
}

fn secp256k1_recover_v2(sig: &[u8; 65], msg: &[u8; 32]) -> Result<[u8; 64], EcdsaVerifyError> {
    let key = recover_secp256k1(sig, i32::from(recovery_byte(sig[64])), msg)?;
    let mut out = [0; 64];
    out.copy_from_slice(&key.serialize_uncompressed()[1..]);
    Ok(out)
}

fn secp256k1_recover_compressed_v1(
    sig: &[u8; 65],
    msg: &[u8; 32],
) -> Result<[u8; 33], EcdsaVerifyError> {
    recover_libsecp256k1(sig, recovery_byte(sig[64]), msg).map(|key| key.serialize_compressed())
}

fn secp256k1_recover_compressed_v2(
    sig: &[u8; 65],
    msg: &[u8; 32],
) -> Result<[u8; 33], EcdsaVerifyError> {
    recover_secp256k1(sig, i32::from(recovery_byte(sig[64])), msg).map(|key| key.serialize())
}

// ---- the host functions ----

/// Reads the (signature, message, public key) arguments of a verify function, in order.
fn verify_args<const S: usize, const P: usize>(
    caller: &Caller<'_, HostState>,
    sig: i32,
    msg: i64,
    public: i32,
) -> HostResult<([u8; S], Vec<u8>, [u8; P])> {
    let sig = read_array::<S>(caller, sig)?;
    let msg = read_fat(caller, msg)?;
    let public = read_array::<P>(caller, public)?;
    Ok((sig, msg, public))
}

/// ANDs `result` into the legacy batch accumulator, if a batch is open.
fn record_in_batch(caller: &mut Caller<'_, HostState>, result: bool) -> i32 {
    if let Some(acc) = caller.data_mut().batch_verify.as_mut() {
        *acc &= result;
    }
    from_bool(result)
}

macro_rules! verify_fn {
    ($name:ident, $rule:ident, $sig:literal, $public:literal, batch = $batch:literal) => {
        fn $name(
            mut caller: Caller<'_, HostState>,
            sig: i32,
            msg: i64,
            public: i32,
        ) -> HostResult<i32> {
            let (sig, msg, public) = verify_args::<$sig, $public>(&caller, sig, msg, public)?;
            let result = $rule(&sig, &msg, &public);
            if $batch {
                Ok(record_in_batch(&mut caller, result))
            } else {
                Ok(from_bool(result))
            }
        }
    };
}

verify_fn!(ed25519_verify_v1, ed25519_verify, 64, 32, batch = false);

fn ed25519_batch_verify_v1(
    caller: Caller<'_, HostState>,
    sig: i32,
    msg: i64,
    public: i32,
) -> HostResult<i32> {
    verify_args::<64, 32>(&caller, sig, msg, public)?;
    Err(trap(
        "host code panicked while being called by the runtime: RefCell already borrowed \
         (sp-io 49's ed25519_batch_verify re-enters its externalities)",
    ))
}
verify_fn!(
    sr25519_verify_v1,
    sr25519_verify_deprecated,
    64,
    32,
    batch = false
);
verify_fn!(sr25519_verify_v2, sr25519_verify, 64, 32, batch = false);
verify_fn!(
    sr25519_batch_verify_v1,
    sr25519_verify,
    64,
    32,
    batch = true
);
verify_fn!(
    ecdsa_verify_v1,
    ecdsa_verify_deprecated,
    65,
    33,
    batch = false
);
verify_fn!(ecdsa_verify_v2, ecdsa_verify, 65, 33, batch = false);
verify_fn!(ecdsa_batch_verify_v1, ecdsa_verify, 65, 33, batch = true);

fn ecdsa_verify_prehashed_v1(
    caller: Caller<'_, HostState>,
    sig: i32,
    msg: i32,
    public: i32,
) -> HostResult<i32> {
    let sig = read_array::<65>(&caller, sig)?;
    let msg = read_array::<32>(&caller, msg)?;
    let public = read_array::<33>(&caller, public)?;
    Ok(from_bool(ecdsa_verify_prehashed(&sig, &msg, &public)))
}

fn start_batch_verify_v1(mut caller: Caller<'_, HostState>) -> HostResult<()> {
    let state = caller.data_mut();
    if state.batch_verify.is_some() {
        return Err(trap(
            "Failed to register required extension: `VerificationExt`: a batch verification is already running",
        ));
    }
    state.batch_verify = Some(true);
    Ok(())
}

fn finish_batch_verify_v1(mut caller: Caller<'_, HostState>) -> HostResult<i32> {
    caller
        .data_mut()
        .batch_verify
        .take()
        .map(from_bool)
        .ok_or_else(|| {
            trap("`finish_batch_verify` should only be called after `start_batch_verify`")
        })
}

macro_rules! recover_fn {
    ($name:ident, $rule:ident) => {
        fn $name(mut caller: Caller<'_, HostState>, sig: i32, msg: i32) -> HostResult<i64> {
            let sig = read_array::<65>(&caller, sig)?;
            let msg = read_array::<32>(&caller, msg)?;
            let result = $rule(&sig, &msg);
            return_encoded(&mut caller, &result)
        }
    };
}

recover_fn!(secp256k1_ecdsa_recover_v1, secp256k1_recover_v1);
recover_fn!(secp256k1_ecdsa_recover_v2, secp256k1_recover_v2);
recover_fn!(
    secp256k1_ecdsa_recover_compressed_v1,
    secp256k1_recover_compressed_v1
);
recover_fn!(
    secp256k1_ecdsa_recover_compressed_v2,
    secp256k1_recover_compressed_v2
);

pub(super) fn define(
    linker: &mut Linker<HostState>,
    name: &str,
    ty: &FuncType,
) -> Result<bool, String> {
    use super::wrap;
    if KEYSTORE_FUNCTIONS.contains(&name) {
        let message = format!("{name}: no keystore in PVF execution");
        return define_trap(linker, name, ty.clone(), message);
    }
    type Verify = fn(Caller<'_, HostState>, i32, i64, i32) -> HostResult<i32>;
    type Recover = fn(Caller<'_, HostState>, i32, i32) -> HostResult<i64>;
    let verify: Option<Verify> = match name {
        "ext_crypto_ed25519_verify_version_1" => Some(ed25519_verify_v1),
        "ext_crypto_ed25519_batch_verify_version_1" => Some(ed25519_batch_verify_v1),
        "ext_crypto_sr25519_verify_version_1" => Some(sr25519_verify_v1),
        "ext_crypto_sr25519_verify_version_2" => Some(sr25519_verify_v2),
        "ext_crypto_sr25519_batch_verify_version_1" => Some(sr25519_batch_verify_v1),
        "ext_crypto_ecdsa_verify_version_1" => Some(ecdsa_verify_v1),
        "ext_crypto_ecdsa_verify_version_2" => Some(ecdsa_verify_v2),
        "ext_crypto_ecdsa_batch_verify_version_1" => Some(ecdsa_batch_verify_v1),
        _ => None,
    };
    if let Some(f) = verify {
        return wrap(linker, name, f);
    }
    let recover: Option<Recover> = match name {
        "ext_crypto_secp256k1_ecdsa_recover_version_1" => Some(secp256k1_ecdsa_recover_v1),
        "ext_crypto_secp256k1_ecdsa_recover_version_2" => Some(secp256k1_ecdsa_recover_v2),
        "ext_crypto_secp256k1_ecdsa_recover_compressed_version_1" => {
            Some(secp256k1_ecdsa_recover_compressed_v1)
        }
        "ext_crypto_secp256k1_ecdsa_recover_compressed_version_2" => {
            Some(secp256k1_ecdsa_recover_compressed_v2)
        }
        _ => None,
    };
    if let Some(f) = recover {
        return wrap(linker, name, f);
    }
    match name {
        "ext_crypto_ecdsa_verify_prehashed_version_1" => {
            wrap(linker, name, ecdsa_verify_prehashed_v1)
        }
        "ext_crypto_start_batch_verify_version_1" => wrap(linker, name, start_batch_verify_v1),
        "ext_crypto_finish_batch_verify_version_1" => wrap(linker, name, finish_batch_verify_v1),
        _ => Ok(false),
    }
}

#[cfg(test)]
#[path = "crypto_tests.rs"]
mod tests;
