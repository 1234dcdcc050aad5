//! `PvfPrepData`: everything a prepare worker needs to compile one PVF.

use crate::executor_params::ExecutorParams;
use parity_scale_codec::{Decode, Encode};
use std::{fmt, sync::Arc, time::Duration};

/// BLAKE2-256 of the validation code blob exactly as given (possibly compressed): the chain's
/// `ValidationCodeHash`.
#[derive(Clone, Copy, Encode, Decode, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ValidationCodeHash(pub [u8; 32]);

impl ValidationCodeHash {
    /// Hashes a code blob as the chain does.
    pub fn of_code(code: &[u8]) -> Self {
        Self(sp_crypto_hashing::blake2_256(code))
    }
}

impl fmt::Display for ValidationCodeHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{}", hex::encode(self.0))
    }
}

impl fmt::Debug for ValidationCodeHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// What a preparation is for.
#[derive(Clone, Copy, Debug, Encode, Decode, PartialEq, Eq, Hash)]
pub enum PrepareJobKind {
    /// Compile for execution.
    Compilation,
    /// Compile, then check that the artifact instantiates (pre-checking and heads-up).
    Prechecking,
}

/// A PVF to prepare: the code, its hash, the session's executor parameters, the CPU-time
/// limit, the job kind and the decompression bomb limit. Cheap to clone.
#[derive(Clone, Encode, Decode)]
pub struct PvfPrepData {
    maybe_compressed_code: Arc<Vec<u8>>,
    code_hash: ValidationCodeHash,
    executor_params: Arc<ExecutorParams>,
    prep_timeout: Duration,
    prep_kind: PrepareJobKind,
    validation_code_bomb_limit: u32,
}

impl PvfPrepData {
    /// Wraps a code blob; its hash is computed here, once.
    pub fn from_code(
        maybe_compressed_code: Vec<u8>,
        executor_params: ExecutorParams,
        prep_timeout: Duration,
        prep_kind: PrepareJobKind,
        validation_code_bomb_limit: u32,
    ) -> Self {
        let code_hash = ValidationCodeHash::of_code(&maybe_compressed_code);
        Self {
            maybe_compressed_code: Arc::new(maybe_compressed_code),
            code_hash,
            executor_params: Arc::new(executor_params),
            prep_timeout,
            prep_kind,
            validation_code_bomb_limit,
        }
    }

    /// The code blob as given.
    pub fn maybe_compressed_code(&self) -> &Arc<Vec<u8>> {
        &self.maybe_compressed_code
    }

    /// BLAKE2-256 of the code blob as given.
    pub fn code_hash(&self) -> ValidationCodeHash {
        self.code_hash
    }

    /// The session's executor parameters.
    pub fn executor_params(&self) -> &Arc<ExecutorParams> {
        &self.executor_params
    }

    /// The CPU-time limit of the preparation.
    pub fn prep_timeout(&self) -> Duration {
        self.prep_timeout
    }

    /// Whether the preparation also checks instantiation.
    pub fn prep_kind(&self) -> PrepareJobKind {
        self.prep_kind
    }

    /// Maximum size of the decompressed code, in bytes.
    pub fn validation_code_bomb_limit(&self) -> u32 {
        self.validation_code_bomb_limit
    }

    /// The same PVF with another timeout and kind (e.g. a pre-check of an artifact that is
    /// being compiled for execution).
    pub fn with_kind_and_timeout(&self, prep_kind: PrepareJobKind, prep_timeout: Duration) -> Self {
        Self {
            prep_kind,
            prep_timeout,
            ..self.clone()
        }
    }
}

impl fmt::Debug for PvfPrepData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PvfPrepData")
            .field("code_hash", &self.code_hash)
            .field("code_len", &self.maybe_compressed_code.len())
            .field("executor_params_hash", &self.executor_params.hash())
            .field("prep_timeout", &self.prep_timeout)
            .field("prep_kind", &self.prep_kind)
            .field(
                "validation_code_bomb_limit",
                &self.validation_code_bomb_limit,
            )
            .finish()
    }
}

impl PartialEq for PvfPrepData {
    fn eq(&self, other: &Self) -> bool {
        self.code_hash == other.code_hash
            && self.executor_params.hash() == other.executor_params.hash()
    }
}

impl Eq for PvfPrepData {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_hashes_the_code_as_given() {
        let pvf = PvfPrepData::from_code(
            b"\0asm\x01\0\0\0".to_vec(),
            ExecutorParams::new(),
            Duration::from_millis(1500),
            PrepareJobKind::Prechecking,
            1024,
        );
        assert_eq!(
            pvf.code_hash().0,
            sp_crypto_hashing::blake2_256(b"\0asm\x01\0\0\0")
        );
        let decoded = PvfPrepData::decode(&mut &pvf.encode()[..]).unwrap();
        assert_eq!(decoded, pvf);
        assert_eq!(decoded.prep_timeout(), Duration::from_millis(1500));
        assert_eq!(decoded.prep_kind(), PrepareJobKind::Prechecking);
        assert_eq!(decoded.validation_code_bomb_limit(), 1024);
    }
}
