//! Benchmark (run by `cargo xtask bench`, ignored by the test run): a 256 MiB file from
//! one `PeerCall` to another on loopback, against the plain-JavaScript reference sender
//! (bench/fixtures/reference-sender.js) with the same chunk size and thresholds, five
//! times each in the same page.

#![cfg(target_arch = "wasm32")]

mod common;

use common::{connected_pair, field};
use js_sys::Promise;
use peercall::channel::files::{HIGH_WATER, MAX_CHUNK};
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::{console_log, wasm_bindgen_test, wasm_bindgen_test_configure};
use web_sys::File;

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen(module = "/bench/fixtures/reference-sender.js")]
extern "C" {
    #[wasm_bindgen(js_name = referenceTransfer)]
    fn reference_transfer(file: &File, chunk: f64, high_water: f64) -> Promise;
}

const SIZE: usize = 256 << 20;
const RUNS: usize = 5;

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn mb_per_s(millis: f64) -> f64 {
    SIZE as f64 / 1e6 / (millis / 1000.0)
}

#[wasm_bindgen_test]
#[ignore = "a benchmark: cargo xtask bench runs it"]
async fn file_transfer_throughput() {
    let file = common::random_file("bench.bin", SIZE);
    let (mut alice, mut bob) = connected_pair().await;
    let (mut ours, mut reference) = (Vec::new(), Vec::new());
    for _ in 0..RUNS {
        JsFuture::from(alice.call.send_file(file.clone(), None))
            .await
            .unwrap();
        let offer = bob.next("file-offer").await;
        let started = js_sys::Date::now();
        bob.call.accept_file(field(&offer, "id"));
        bob.next_of(&["file-done"]).await;
        ours.push(mb_per_s(js_sys::Date::now() - started));
        alice.next_of(&["file-done"]).await;

        let millis = JsFuture::from(reference_transfer(&file, MAX_CHUNK, f64::from(HIGH_WATER)))
            .await
            .unwrap()
            .as_f64()
            .unwrap();
        reference.push(mb_per_s(millis));
    }
    console_log!(
        "BENCH 256 MiB transfer, peercall (SHA-256 checked): median {:.1} MB/s, runs {:?}",
        median(ours.clone()),
        ours.iter()
            .map(|v| (v * 10.0).round() / 10.0)
            .collect::<Vec<_>>()
    );
    console_log!(
        "BENCH 256 MiB transfer, plain JavaScript reference: median {:.1} MB/s, runs {:?}",
        median(reference.clone()),
        reference
            .iter()
            .map(|v| (v * 10.0).round() / 10.0)
            .collect::<Vec<_>>()
    );
    alice.call.hangup();
}
