//! RFC-163 host functions end to end: the same PVF (`tests/pvfs/calls-ecc.wat`) through a real
//! host with sandboxed workers is valid in a session with `EnabledHostFunction(EccRfc163)` and
//! invalid (its imports are trap stubs) in a session without it.

use pvf_common::{
    ExecutorParam, ExecutorParams, PrepareJobKind,
    execute::{InvalidCandidate, ValidationError, ValidationResult},
    executor_params::ExecutorHostFunction,
};
use pvf_host::{Config, ValidationHost, execute::lanes::PvfExecKind};
use pvf_tests::{adder::pvd_pov, empty_validation_params, pvf_with_params, test_pvf};
use std::time::Duration;

const WORKER: &str = env!("CARGO_BIN_EXE_test-worker");
const GENEROUS: Duration = Duration::from_secs(60);

/// 2 · G on Pallas, ark-scale uncompressed (x, then y, then a flags byte: 0x80, y "negative"): what
/// both `mul` (2 · G) and `msm` (1 · G + 1 · G) must return. The worker's unit tests check the
/// same encoding against arkworks.
const TWO_G: &str = "030000b067c50313fcac1144eee2fe0e0000000000000000000000000000001c\
                     fcffff3bdf5cea8a5eb73f56c96e07170000000000000000000000000000002b\
                     80";

fn ecc_params() -> ExecutorParams {
    ExecutorParams::from(vec![ExecutorParam::EnabledHostFunction(
        ExecutorHostFunction::EccRfc163,
    )])
}

async fn execute(
    host: &ValidationHost,
    params: ExecutorParams,
) -> Result<ValidationResult, ValidationError> {
    let pvf = pvf_with_params(
        test_pvf("calls-ecc.wat"),
        params,
        PrepareJobKind::Compilation,
        GENEROUS,
    );
    let (pvd, pov) = pvd_pov(&empty_validation_params());
    host.execute_pvf(
        pvf,
        Duration::from_secs(10),
        pvd,
        pov,
        PvfExecKind::Approval,
    )
    .await
    .expect("host alive")
}

#[tokio::test(flavor = "multi_thread")]
async fn an_ecc_pvf_is_valid_only_in_a_session_that_enables_rfc163() {
    let _process = pvf_tests::sharing_the_process();
    let cache = tempfile::tempdir().unwrap();
    let host = pvf_tests::start_host_with(Config::new(cache.path().into(), WORKER.into()));
    pvf_tests::assert_fully_sandboxed(&host);

    // Pre-checking passes either way: the signatures are right, and without the parameter
    // the names are unknown imports, which link as trap stubs.
    for params in [ecc_params(), ExecutorParams::new()] {
        let pvf = pvf_with_params(
            test_pvf("calls-ecc.wat"),
            params,
            PrepareJobKind::Prechecking,
            GENEROUS,
        );
        assert_eq!(host.precheck_pvf(pvf).await.expect("host alive"), Ok(()));
    }

    let valid = execute(&host, ecc_params())
        .await
        .expect("valid with EccRfc163");
    let two_g = hex::decode(TWO_G).unwrap();
    assert_eq!(valid.head_data.0, [two_g.clone(), two_g].concat());

    let invalid = execute(&host, ExecutorParams::new()).await;
    let Err(ValidationError::Invalid(InvalidCandidate::WorkerReportedInvalid(message))) = invalid
    else {
        panic!("without EccRfc163 the call must trap: {invalid:?}");
    };
    assert!(
        message.contains("call to a missing function env:ext_host_calls_pallas_mul_version_1"),
        "{message}"
    );

    // And with the parameter again, on the worker bound to that session.
    assert!(execute(&host, ecc_params()).await.is_ok());
}
