#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| cuvee_fuzz::file_import(data));
