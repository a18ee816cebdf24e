#![no_main]
//! libFuzzer entry: every input goes through parse, validate, evaluate and the simulator
//! helpers; any panic is a crash.
use libfuzzer_sys::fuzz_target;

#[path = "../src/target.rs"]
mod target;

fuzz_target!(|data: &[u8]| {
    target::run(data);
});
