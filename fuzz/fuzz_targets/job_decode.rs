#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| pvf_fuzz_targets::decode::job_decode(data));
