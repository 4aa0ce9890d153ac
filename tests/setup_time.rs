//! Benchmark (run by `cargo xtask bench`, ignored by the test run): how long a call takes
//! from `call()` to the first remote video frame on the caller, and from `accept()` to the
//! first remote video frame on the callee, over 20 calls on loopback.

#![cfg(target_arch = "wasm32")]

mod common;

use common::{Side, unique};
use futures::channel::oneshot;
use peercall::js::Listener;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::{console_log, wasm_bindgen_test, wasm_bindgen_test_configure};
use web_sys::HtmlVideoElement;

wasm_bindgen_test_configure!(run_in_browser);

const CALLS: usize = 20;

fn video() -> HtmlVideoElement {
    let document = web_sys::window().unwrap().document().unwrap();
    let video: HtmlVideoElement = document.create_element("video").unwrap().unchecked_into();
    video.set_muted(true);
    video.set_autoplay(true);
    document.body().unwrap().append_child(&video).unwrap();
    video
}

/// Resolves when `video` has its first frame (`loadeddata`), with the time it happened.
fn first_frame(video: &HtmlVideoElement) -> (Listener, oneshot::Receiver<f64>) {
    let (tx, rx) = oneshot::channel();
    let mut tx = Some(tx);
    let listener = Listener::new(video, "loadeddata", move |_| {
        if let Some(tx) = tx.take() {
            let _ = tx.send(now());
        }
    });
    (listener, rx)
}

/// Milliseconds; whole milliseconds are fine grain enough for calls that take dozens.
fn now() -> f64 {
    js_sys::Date::now()
}

fn summary(label: &str, mut millis: Vec<f64>) {
    millis.sort_by(f64::total_cmp);
    let at = |q: f64| millis[((millis.len() as f64 - 1.0) * q).round() as usize];
    console_log!(
        "BENCH {label}: median {:.1} ms, p90 {:.1} ms, min {:.1} ms, max {:.1} ms over {} calls",
        at(0.5),
        at(0.9),
        millis[0],
        millis[millis.len() - 1],
        millis.len()
    );
}

#[wasm_bindgen_test]
#[ignore = "a benchmark: cargo xtask bench runs it"]
async fn call_setup_time() {
    let (alice_video, bob_video) = (video(), video());
    let with_video = |v: &HtmlVideoElement| [("remoteVideo", JsValue::from(v.clone()))];
    let alice_name = unique("alice");
    let bob_name = unique("bob");
    let mut alice = Side::new(
        &alice_name,
        common::options(&alice_name, &with_video(&alice_video)),
    );
    let mut bob = Side::new(
        &bob_name,
        common::options(&bob_name, &with_video(&bob_video)),
    );
    alice.id = JsFuture::from(alice.call.connect())
        .await
        .unwrap()
        .as_string()
        .unwrap();
    bob.id = JsFuture::from(bob.call.connect())
        .await
        .unwrap()
        .as_string()
        .unwrap();
    alice.sees(&bob).await;

    let (mut caller, mut callee) = (Vec::new(), Vec::new());
    for _ in 0..CALLS {
        let (_a, alice_frame) = first_frame(&alice_video);
        let (_b, bob_frame) = first_frame(&bob_video);
        let called = now();
        alice.ring(&mut bob).await;
        let accepted = now();
        bob.call.accept();
        caller.push(alice_frame.await.unwrap() - called);
        callee.push(bob_frame.await.unwrap() - accepted);
        alice.call.hangup();
        alice.ended().await;
        bob.ended().await;
    }
    summary("call setup, caller: call() to first remote frame", caller);
    summary("call setup, callee: accept() to first remote frame", callee);
}
