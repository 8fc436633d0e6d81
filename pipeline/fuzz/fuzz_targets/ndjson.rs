#![no_main]
//! Body and invariants: `recon::fuzzing::ndjson`.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    recon::fuzzing::ndjson(data);
});
