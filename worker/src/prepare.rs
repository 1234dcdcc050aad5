//! The compile job: decompress → prevalidate → instrument → precompile, and for pre-checks
//! one link-and-instantiate check. Runs inside the job process.

use parity_scale_codec::{Decode, Encode};
use pvf_common::{
    MemoryStats, PrepareError, PrepareJobKind, PvfPrepData, blob,
    engine::{self, CompilationThreads, Semantics},
    framing::truncate_message,
};

/// What a compile job hands the worker.
#[derive(Debug, Encode, Decode)]
pub struct CompiledArtifact {
    /// The artifact bytes, to be written to `tmp-artifact`.
    pub bytes: Vec<u8>,
    /// Size of the decompressed wasm, in bytes.
    pub observed_wasm_code_len: u32,
    /// Memory figures of the job.
    pub memory_stats: MemoryStats,
}

/// Compiles `pvf` in this process. The same function serves the job process and in-process
/// benchmarks, so both measure identical work with an identical engine configuration.
pub fn compile(
    pvf: &PvfPrepData,
    threads: CompilationThreads,
) -> Result<(Vec<u8>, u32), PrepareError> {
    let msg = |e: String| truncate_message(e);
    let code = blob::decompress(
        pvf.maybe_compressed_code(),
        pvf.validation_code_bomb_limit(),
    )
    .map_err(|e| PrepareError::CouldNotDecompressCodeBlob(e.to_string()))?;
    let observed_wasm_code_len = code.len() as u32;
    let runtime_blob =
        engine::prevalidate(&code).map_err(|e| PrepareError::Prevalidation(msg(e)))?;
    drop(code);
    let semantics = Semantics::from_executor_params(pvf.executor_params());
    let artifact = engine::prepare(runtime_blob, &semantics, threads)
        .map_err(|e| PrepareError::Preparation(msg(e)))?;
    if pvf.prep_kind() == PrepareJobKind::Prechecking {
        let engine = engine::new_engine(&semantics).map_err(PrepareError::RuntimeConstruction)?;
        // SAFETY: `artifact` was produced by `engine::prepare` with the same semantics just now.
        let module = unsafe { wasmtime::Module::deserialize(&engine, &artifact) }.map_err(|e| {
            PrepareError::RuntimeConstruction(msg(format!(
                "cannot deserialize the artifact: {e:#}"
            )))
        })?;
        // The session's host-function set, as execution will link it.
        crate::execute::link_and_pre_instantiate(&engine, &module, semantics.host_functions)
            .map_err(|e| PrepareError::RuntimeConstruction(msg(e)))?;
    }
    Ok((artifact, observed_wasm_code_len))
}

/// The job process's body: track memory against `PrecheckingMaxMemory`, compile, report.
pub fn compile_job(
    pvf: &PvfPrepData,
    threads: CompilationThreads,
    reply_fd: i32,
) -> Result<CompiledArtifact, PrepareError> {
    let limit = pvf.executor_params().prechecking_max_memory();
    if limit.is_some() && !crate::memory::is_installed() {
        tracing::warn!(
            target: pvf_common::LOG_TARGET,
            "this binary lacks the tracking allocator; PrecheckingMaxMemory is not enforced"
        );
    }
    crate::memory::start_tracking(limit, reply_fd);
    let compiled = compile(pvf, threads);
    let peak_tracked_alloc = crate::memory::end_tracking();
    let (bytes, observed_wasm_code_len) = compiled?;
    let memory_stats = MemoryStats {
        max_rss_kib: max_rss_kib(),
        peak_tracked_alloc,
    };
    Ok(CompiledArtifact {
        bytes,
        observed_wasm_code_len,
        memory_stats,
    })
}

fn max_rss_kib() -> Option<i64> {
    nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_SELF)
        .ok()
        .map(|u| u.max_rss())
}

#[cfg(test)]
mod tests {
    use super::*;
    use pvf_common::ExecutorParams;
    use std::time::Duration;

    fn pvf(code: Vec<u8>, kind: PrepareJobKind) -> PvfPrepData {
        PvfPrepData::from_code(
            code,
            ExecutorParams::new(),
            Duration::from_secs(10),
            kind,
            1 << 20,
        )
    }

    #[test]
    fn errors_come_from_the_right_stage() {
        let bad = pvf(b"not wasm".to_vec(), PrepareJobKind::Compilation);
        assert!(matches!(
            compile(&bad, CompilationThreads::One),
            Err(PrepareError::Prevalidation(_))
        ));
        let bomb = blob::compress(&vec![0u8; 4096], 1 << 20).unwrap();
        let bomb = PvfPrepData::from_code(
            bomb,
            ExecutorParams::new(),
            Duration::from_secs(1),
            PrepareJobKind::Compilation,
            100,
        );
        assert!(matches!(
            compile(&bomb, CompilationThreads::One),
            Err(PrepareError::CouldNotDecompressCodeBlob(_))
        ));
        let wrong_sig = wat::parse_str(
            r#"(module (import "env" "ext_allocator_malloc_version_1" (func (param i64))))"#,
        )
        .unwrap();
        assert!(
            compile(
                &pvf(wrong_sig.clone(), PrepareJobKind::Compilation),
                CompilationThreads::AllCores
            )
            .is_ok()
        );
        assert!(matches!(
            compile(
                &pvf(wrong_sig, PrepareJobKind::Prechecking),
                CompilationThreads::One
            ),
            Err(PrepareError::RuntimeConstruction(_))
        ));
    }

    #[test]
    fn prechecking_links_the_sessions_host_function_set() {
        use pvf_common::{ExecutorParam, executor_params::ExecutorHostFunction};
        // An RFC-163 name with a wrong signature: an unknown import (a trap stub) without the
        // parameter, a link failure with it.
        let wrong_sig = wat::parse_str(
            r#"(module (import "env" "ext_host_calls_vesta_msm_version_1" (func (param i64))))"#,
        )
        .unwrap();
        let precheck = |params: ExecutorParams| {
            let pvf = PvfPrepData::from_code(
                wrong_sig.clone(),
                params,
                Duration::from_secs(10),
                PrepareJobKind::Prechecking,
                1 << 20,
            );
            compile(&pvf, CompilationThreads::One)
        };
        assert!(precheck(ExecutorParams::new()).is_ok());
        let ecc = ExecutorParams::from(vec![ExecutorParam::EnabledHostFunction(
            ExecutorHostFunction::EccRfc163,
        )]);
        let Err(PrepareError::RuntimeConstruction(err)) = precheck(ecc) else {
            panic!("pre-checking must fail to link")
        };
        assert!(err.contains("signature mismatch"), "{err}");
    }
}
