#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| ami_fuzz::edit::config_edit(data));
