#![no_main]
//! Body and invariants: `recon::fuzzing::rule_file`.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| recon::fuzzing::rule_file(data));
