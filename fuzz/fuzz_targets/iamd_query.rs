#![no_main]
//! libFuzzer entry: every input goes through iamd's Query parser (fuzz/src/wire.rs); a
//! panic or an undocumented error code is a crash.
use libfuzzer_sys::fuzz_target;

#[path = "../src/wire.rs"]
mod wire;

fuzz_target!(|data: &[u8]| {
    let _ = wire::query(data);
});
