//! Garbage mode: a worker that handshakes and then answers with garbage (see
//! `pvf_tests::garbage`). It applies no sandbox and runs no job processes: it stands for a
//! compromised worker, whose every byte the host must distrust.

use parity_scale_codec::{DecodeAll, Encode};
use pvf_common::{
    PrepareWorkerResult, PrepareWorkerSuccess, PvfPrepData, WorkerHandshake,
    engine::CompilationThreads,
    execute::{ExecuteHandshake, ExecuteRequest, WorkerResponse},
    framing::{self, MAX_REPLY_FRAME_LEN, MAX_REQUEST_FRAME_LEN},
    prepare::{ArtifactChecksum, PrepareStats},
};
use pvf_tests::garbage::Garbage;
use pvf_worker::entrypoint::WorkerArgs;
use rand::{Rng, SeedableRng, rngs::StdRng};
use std::{io::Write, os::unix::net::UnixStream, path::Path, process::ExitCode};

/// Runs `args` (the worker arguments after `garbage`) in garbage mode. Probes and `--version`
/// behave normally, so a host starts with this worker as with any other.
pub fn run(args: &[String], normal: impl FnOnce(&[String]) -> ExitCode) -> ExitCode {
    let result = match pvf_worker::entrypoint::parse(args) {
        Ok(WorkerArgs::Prepare {
            socket_path,
            worker_dir,
            ..
        }) => serve(&socket_path, &worker_dir, false),
        Ok(WorkerArgs::Execute {
            socket_path,
            worker_dir,
            ..
        }) => serve(&socket_path, &worker_dir, true),
        _ => return normal(args),
    };
    match result {
        // The host hung up or killed us: the normal end of a worker.
        Ok(()) | Err(framing::FrameError::Io(_)) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("garbage worker stopped: {e}");
            ExitCode::FAILURE
        }
    }
}

fn serve(socket_path: &Path, worker_dir: &Path, execute: bool) -> Result<(), framing::FrameError> {
    let mut stream = UnixStream::connect(socket_path)?;
    let _ = std::fs::remove_file(socket_path);
    let _: WorkerHandshake = framing::recv_blocking(&mut stream, MAX_REPLY_FRAME_LEN)?;
    if execute {
        let _: ExecuteHandshake = framing::recv_blocking(&mut stream, MAX_REPLY_FRAME_LEN)?;
    }
    loop {
        let (garbage, nonce) = if execute {
            let request: ExecuteRequest =
                framing::recv_blocking(&mut stream, MAX_REQUEST_FRAME_LEN)?;
            Garbage::requested_by(&request.pov.block_data.0).unwrap_or((Garbage::RandomBytes, 0))
        } else {
            let pvf: PvfPrepData = framing::recv_blocking(&mut stream, MAX_REQUEST_FRAME_LEN)?;
            match Garbage::requested_by(pvf.maybe_compressed_code()) {
                Some(requested) => requested,
                None => {
                    let reply = compile_honestly(&pvf, worker_dir);
                    framing::send_blocking(&mut stream, &reply)?;
                    continue;
                }
            }
        };
        misbehave(&mut stream, garbage, nonce, execute)?;
    }
}

/// A proper answer, compiled in this process.
fn compile_honestly(pvf: &PvfPrepData, worker_dir: &Path) -> PrepareWorkerResult {
    let (bytes, observed_wasm_code_len) =
        pvf_worker::prepare::compile(pvf, CompilationThreads::One)?;
    std::fs::write(
        worker_dir.join(pvf_common::wire_names::TMP_ARTIFACT_FILE_NAME),
        &bytes,
    )
    .map_err(|e| pvf_common::PrepareError::IoErr(e.to_string()))?;
    Ok(PrepareWorkerSuccess {
        checksum: ArtifactChecksum::of(&bytes),
        stats: PrepareStats {
            observed_wasm_code_len,
            ..PrepareStats::default()
        },
    })
}

fn misbehave(
    stream: &mut UnixStream,
    garbage: Garbage,
    nonce: u64,
    execute: bool,
) -> Result<(), framing::FrameError> {
    let mut rng = StdRng::seed_from_u64(nonce);
    let write = |stream: &mut UnixStream, bytes: &[u8]| -> Result<(), framing::FrameError> {
        Ok(stream.write_all(bytes)?)
    };
    match garbage {
        Garbage::RandomBytes => {
            let len = rng.random_range(1..64);
            let bytes: Vec<u8> = (0..len).map(|_| rng.random()).collect();
            write(stream, &bytes)
        }
        Garbage::OversizedPrefix => write(stream, &u64::MAX.to_le_bytes()),
        Garbage::TruncatedFrame => {
            let mut bytes = 1000u64.to_le_bytes().to_vec();
            bytes.extend_from_slice(&[7; 10]);
            write(stream, &bytes)?;
            std::process::exit(0);
        }
        Garbage::WrongType => {
            let frame = if execute {
                wrong_type_for::<WorkerResponse>(prepare_reply())
            } else {
                wrong_type_for::<PrepareWorkerResult>(execute_reply())
            };
            write(stream, &frame)
        }
        Garbage::Hang => loop {
            std::thread::park();
        },
    }
}

fn prepare_reply() -> Vec<u8> {
    let reply: PrepareWorkerResult = Ok(PrepareWorkerSuccess {
        checksum: ArtifactChecksum([0xaa; 32]),
        stats: PrepareStats::default(),
    });
    reply.encode()
}

fn execute_reply() -> Vec<u8> {
    WorkerResponse::JobTimedOut.encode()
}

/// A frame carrying `payload`, lengthened until it no longer decodes as `Expected`: the test
/// wants garbage, not a lie that happens to parse.
fn wrong_type_for<Expected: DecodeAll>(mut payload: Vec<u8>) -> Vec<u8> {
    while Expected::decode_all(&mut &payload[..]).is_ok() {
        payload.push(0xff);
    }
    let mut frame = (payload.len() as u64).to_le_bytes().to_vec();
    frame.extend_from_slice(&payload);
    frame
}
