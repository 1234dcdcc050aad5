#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| pvf_fuzz_targets::pov_file::pov_file(data));
