use pvf_common::*;
use std::time::{Duration, Instant};
#[test]
fn measure() {
    for n in [400usize, 1000] {
        let t0 = Instant::now();
        let code = pvf_tests::slow_to_compile_pvf(n, 1);
        eprintln!("gen {:?}", t0.elapsed());
        let t = Instant::now();
        let pvf = PvfPrepData::from_code(
            code.clone(),
            ExecutorParams::new(),
            Duration::from_secs(60),
            PrepareJobKind::Compilation,
            1 << 30,
        );
        let r = pvf_worker::prepare::compile(&pvf);
        eprintln!(
            "n={n} len={} ok={} t={:?}",
            code.len(),
            r.is_ok(),
            t.elapsed()
        );
    }
}
