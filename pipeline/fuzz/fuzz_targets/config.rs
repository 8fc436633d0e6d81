#![no_main]
//! Body and invariants: `recon::fuzzing::config`.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| recon::fuzzing::config(data));
