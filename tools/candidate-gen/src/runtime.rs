//! The runtime under test: one wasm executor for the whole run, the code blob, and calls into
//! it over a state backend and an overlay.

use std::borrow::Cow;
use std::path::Path;

use anyhow::{Context, Result, anyhow};
use codec::{Decode, Encode};
use sc_executor::{RuntimeVersionOf, WasmExecutor};
use sp_core::traits::{CallContext, CodeExecutor, RuntimeCode, WrappedRuntimeCode};
use sp_externalities::Extensions;
use sp_runtime::traits::BlakeTwo256;
use sp_state_machine::{Backend, BasicExternalities, OverlayedChanges, StateMachine};
use sp_version::RuntimeVersion;

/// Host functions the runtimes may import. The corpus runtimes do not import Cumulus's
/// proof-size host function; a newer runtime that does still instantiates (missing imports
/// are allowed) and fails loudly only if it calls it.
type HostFns = sp_io::SubstrateHostFunctions;

/// A parachain runtime loaded once, with its executor and version.
pub struct Runtime {
    executor: WasmExecutor<HostFns>,
    /// The blob exactly as stored in the corpus (possibly zstd-compressed with Substrate's
    /// magic prefix); the executor decompresses it and it is what `:code` holds at genesis.
    blob: Vec<u8>,
    hash: Vec<u8>,
    /// `Core_version` / the `runtime_version` section.
    pub version: RuntimeVersion,
}

impl Runtime {
    /// Loads the blob at `path` and reads its version (from the custom section, or by calling
    /// `Core_version` when the blob has none).
    pub fn load(path: &Path) -> Result<Self> {
        let blob = std::fs::read(path)
            .with_context(|| format!("cannot read the runtime blob {}", path.display()))?;
        let executor = WasmExecutor::<HostFns>::builder()
            .with_allow_missing_host_functions(true)
            .with_max_runtime_instances(1)
            .with_runtime_cache_size(2)
            .build();
        let hash = sp_crypto_hashing::blake2_256(&blob).to_vec();
        let mut rt = Runtime {
            executor,
            blob,
            hash,
            version: RuntimeVersion::default(),
        };
        let mut ext = BasicExternalities::new_empty();
        let version = {
            let fetcher = WrappedRuntimeCode(Cow::Borrowed(&rt.blob));
            let code = rt.code(&fetcher);
            rt.executor.runtime_version(&mut ext, &code).map_err(|e| {
                anyhow!("cannot read the runtime version of {}: {e}", path.display())
            })?
        };
        rt.version = version;
        Ok(rt)
    }

    /// The blob bytes, as `:code` must hold them.
    pub fn blob(&self) -> &[u8] {
        &self.blob
    }

    /// The state version the runtime declares (V0 for 2022 runtimes, V1 later).
    pub fn state_version(&self) -> sp_core::storage::StateVersion {
        self.version.state_version()
    }

    // The code is handed to the executor directly, never fetched from the backend, so `:code`
    // is not read through the proof recorder and never lands in a PoV.
    fn code<'a>(&'a self, fetcher: &'a WrappedRuntimeCode<'a>) -> RuntimeCode<'a> {
        RuntimeCode {
            code_fetcher: fetcher,
            heap_pages: None,
            hash: self.hash.clone(),
        }
    }

    /// Calls runtime API `method` on `backend` with the changes in `overlay` on top; the
    /// call's own changes stay in `overlay`.
    pub fn call<B: Backend<BlakeTwo256>>(
        &self,
        backend: &B,
        overlay: &mut OverlayedChanges<BlakeTwo256>,
        extensions: &mut Extensions,
        method: &str,
        data: &[u8],
    ) -> Result<Vec<u8>> {
        let fetcher = WrappedRuntimeCode(Cow::Borrowed(&self.blob));
        let code = self.code(&fetcher);
        StateMachine::new(
            backend,
            overlay,
            &self.executor,
            method,
            data,
            extensions,
            &code,
            CallContext::Onchain { import: false },
        )
        .execute()
        .map_err(|e| {
            let why = crate::panic_log::take()
                .map(|m| format!(": {m}"))
                .unwrap_or_default();
            anyhow!("runtime call {method} failed: {e}{why}")
        })
    }

    /// Calls a read-only runtime API on `backend` and decodes its answer as `T`.
    pub fn call_decode<T: Decode, B: Backend<BlakeTwo256>>(
        &self,
        backend: &B,
        method: &str,
        data: &[u8],
    ) -> Result<T> {
        let mut overlay = OverlayedChanges::default();
        let out = self.call(backend, &mut overlay, &mut Extensions::new(), method, data)?;
        T::decode(&mut &out[..]).with_context(|| format!("cannot decode the answer of {method}"))
    }

    /// Runs the PVF entry point `validate_block` with `params` (SCALE `ValidationParams`) as a
    /// validator would, with no state at all: the runtime replays the block against the
    /// proof inside the PoV. Returns the SCALE `ValidationResult`, or the trap message.
    pub fn validate_block(&self, params: &impl Encode) -> Result<Vec<u8>, String> {
        let fetcher = WrappedRuntimeCode(Cow::Borrowed(&self.blob));
        let code = self.code(&fetcher);
        let mut ext = BasicExternalities::new_empty();
        self.executor
            .call(
                &mut ext,
                &code,
                "validate_block",
                &params.encode(),
                CallContext::Offchain,
            )
            .0
            .map_err(|e| e.to_string())
    }
}
