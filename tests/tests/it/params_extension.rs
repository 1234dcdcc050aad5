//! The bytes a PVF receives, through the whole host with real workers: the encoded
//! `ValidationParams`, followed by the V3 extension exactly as the reference appends it
//! (`0x03 ++ relay_parent ++ scheduling_parent`) when the caller passes one, and by nothing
//! otherwise. `tests/pvfs/echo-params.wat` returns its input as its head.

use parity_scale_codec::{DecodeAll, Encode};
use pvf_common::{
    PrepareJobKind,
    execute::{BlockData, HeadData, ValidationParams, ValidationParamsExtension},
};
use pvf_host::{Config, ValidationHost, execute::lanes::PvfExecKind};
use pvf_tests::adder::pvd_pov;
use std::time::Duration;

const WORKER: &str = env!("CARGO_BIN_EXE_test-worker");
const RELAY_PARENT: [u8; 32] = [0xa1; 32];
const SCHEDULING_PARENT: [u8; 32] = [0xb2; 32];

/// What `echo-params.wat` received for `params`, with `extension` passed to the host.
async fn received(
    host: &ValidationHost,
    params: &ValidationParams,
    extension: Option<ValidationParamsExtension>,
) -> Vec<u8> {
    let pvf = pvf_tests::pvf(
        pvf_tests::test_pvf("echo-params.wat"),
        PrepareJobKind::Compilation,
        Duration::from_secs(60),
    );
    let (pvd, pov) = pvd_pov(params);
    host.execute_candidate(
        pvf,
        Duration::from_secs(10),
        pvd,
        pov,
        extension,
        PvfExecKind::Approval,
    )
    .await
    .expect("host alive")
    .expect("echo-params accepts any input")
    .head_data
    .0
}

#[tokio::test(flavor = "multi_thread")]
async fn a_v3_extension_follows_the_params_byte_for_byte_and_none_adds_nothing() {
    let _process = pvf_tests::sharing_the_process();
    let cache = tempfile::tempdir().unwrap();
    let host = pvf_tests::start_host_with(Config::new(cache.path().into(), WORKER.into()));
    let v3 = ValidationParamsExtension::V3 {
        relay_parent: RELAY_PARENT,
        scheduling_parent: SCHEDULING_PARENT,
    };
    // Inputs of each compact-length width the echo writes (under 64 bytes, under 2^14, more).
    for block_len in [0usize, 100, 20_000] {
        let params = ValidationParams {
            parent_head: HeadData(vec![0x5e; 3]),
            block_data: BlockData((0..block_len).map(|i| (i % 251) as u8).collect()),
            relay_parent_number: 42,
            relay_parent_storage_root: [0x77; 32],
            extension: None,
        };
        let legacy = params.encode();

        assert_eq!(
            received(&host, &params, None).await,
            legacy,
            "without an extension the PVF gets the four fields only (block of {block_len} B)"
        );

        let extended = received(&host, &params, Some(v3)).await;
        let expected = [&legacy[..], &[0x03], &RELAY_PARENT, &SCHEDULING_PARENT].concat();
        assert_eq!(
            extended, expected,
            "a V3 extension follows the params as 0x03 ++ relay_parent ++ scheduling_parent \
             (block of {block_len} B)"
        );
        assert_eq!(
            ValidationParams::decode_all(&mut &extended[..]).ok(),
            Some(ValidationParams {
                extension: Some(v3),
                ..params.clone()
            })
        );

        // `execute_pvf` is `execute_candidate` without an extension.
        let pvf = pvf_tests::pvf(
            pvf_tests::test_pvf("echo-params.wat"),
            PrepareJobKind::Compilation,
            Duration::from_secs(60),
        );
        let (pvd, pov) = pvd_pov(&params);
        let via_execute_pvf = host
            .execute_pvf(
                pvf,
                Duration::from_secs(10),
                pvd,
                pov,
                PvfExecKind::Approval,
            )
            .await
            .expect("host alive");
        assert_eq!(via_execute_pvf.map(|r| r.head_data.0), Ok(legacy));
    }
}
