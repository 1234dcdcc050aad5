//! The well-known dev keys (`//Alice`, `//Bob`, …) and deterministic sr25519 signing, plus
//! the Aura seal.

use anyhow::{Result, anyhow, ensure};
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;
use sp_core::Pair as _;
use sp_core::sr25519;
use sp_runtime::DigestItem;

use crate::Header;

/// Aura's consensus engine id, in pre-runtime digests and seals.
pub const AURA_ENGINE: [u8; 4] = *b"aura";

/// An sr25519 dev key.
#[derive(Clone)]
pub struct DevKey {
    /// `Alice`, `Bob`, …
    pub name: String,
    pair: sr25519::Pair,
    /// The public key, which is also the AccountId32 and the Aura authority id.
    pub public: [u8; 32],
}

impl DevKey {
    /// The key derived from `//<name>` (e.g. `Alice`), as every Substrate dev chain uses.
    pub fn dev(name: &str) -> Result<Self> {
        let pair = sr25519::Pair::from_string(&format!("//{name}"), None)
            .map_err(|e| anyhow!("cannot derive the dev key //{name}: {e:?}"))?;
        let raw = pair.public();
        let bytes: &[u8] = raw.as_ref();
        let public: [u8; 32] = bytes.try_into().expect("sr25519 public is 32 bytes");
        Ok(DevKey {
            name: name.to_string(),
            pair,
            public,
        })
    }

    /// Signs `msg` in the `substrate` context. sr25519 signing is randomised; the nonce RNG is
    /// seeded from the key and the message instead, so a rerun writes identical bytes.
    pub fn sign(&self, msg: &[u8]) -> [u8; 64] {
        let kp: &schnorrkel::Keypair = self.pair.as_ref();
        let seed = sp_crypto_hashing::blake2_256(&[&self.public[..], msg].concat());
        let transcript = schnorrkel::context::attach_rng(
            schnorrkel::signing_context(b"substrate").bytes(msg),
            ChaCha20Rng::from_seed(seed),
        );
        let sig = kp.sign(transcript).to_bytes();
        debug_assert!(sr25519::Pair::verify(
            &sr25519::Signature::from_raw(sig),
            msg,
            &self.pair.public()
        ));
        sig
    }
}

/// The dev accounts the tool endows and transfers between.
pub const DEV_NAMES: [&str; 6] = ["Alice", "Bob", "Charlie", "Dave", "Eve", "Ferdie"];

/// Appends the Aura seal: `key`'s signature over the hash of the unsealed header, which is
/// what Cumulus's aura-ext checks against `AuraExt::Authorities` in `validate_block`.
pub fn seal(header: &Header, key: &DevKey) -> Result<Header> {
    ensure!(
        !header
            .digest
            .logs
            .iter()
            .any(|d| matches!(d, DigestItem::Seal(..))),
        "the header is already sealed"
    );
    let mut sealed = header.clone();
    let sig = key.sign(header.hash().as_bytes());
    sealed
        .digest
        .push(DigestItem::Seal(AURA_ENGINE, sig.to_vec()));
    Ok(sealed)
}
