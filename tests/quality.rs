//! Call quality: the figures of each connection once a second while asked for, a mark
//! every few seconds always, every field a sane number or `null` where the browser has
//! none.

#![cfg(target_arch = "wasm32")]

mod common;

use common::{Engine, Side, connected_pair, field};
use js_sys::Reflect;
use wasm_bindgen::JsValue;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

/// The next `event` of `side` about `id`, at or after `since`; returns it and where it is.
async fn next_about(side: &mut Side, since: usize, event: &str, id: &str) -> (JsValue, usize) {
    side.seen_where(since, event, |payload| field(payload, "id") == id)
        .await
}

/// The number `key` of `stats`, or `None` for `null`; fails on anything else or a missing
/// key.
fn number(stats: &JsValue, key: &str) -> Option<f64> {
    assert!(
        Reflect::has(stats, &key.into()).unwrap(),
        "the stats have no {key}"
    );
    let value = Reflect::get(stats, &key.into()).unwrap();
    if value.is_null() {
        return None;
    }
    let number = value
        .as_f64()
        .unwrap_or_else(|| panic!("{key} is {value:?}"));
    assert!(number.is_finite() && number >= 0.0, "{key} is {number}");
    Some(number)
}

#[wasm_bindgen_test]
async fn each_connection_tells_its_figures_while_asked_and_its_mark_always() {
    let (mut alice, bob) = connected_pair().await;
    // The marks come without asking.
    let (mark, _) = next_about(&mut alice, 0, "quality", &bob.id).await;
    let quality = number(&mark, "quality").expect("a mark");
    assert!(
        quality <= 5.0 && quality.fract() == 0.0,
        "quality {quality}"
    );

    alice.call.watch_stats(true);
    let since = alice.seen.borrow().len();
    let (_, at) = next_about(&mut alice, since, "stats", &bob.id).await;
    let (_, at) = next_about(&mut alice, at + 1, "stats", &bob.id).await;
    let (stats, _) = next_about(&mut alice, at + 1, "stats", &bob.id).await;

    // What every engine gives, on a call over loopback with the fake camera.
    assert!(number(&stats, "sendKbps").expect("sendKbps") > 10.0);
    assert!(number(&stats, "recvKbps").expect("recvKbps") > 10.0);
    assert!(number(&stats, "width").expect("width") > 0.0);
    assert!(number(&stats, "height").expect("height") > 0.0);
    assert!(number(&stats, "lossPct").expect("lossPct") <= 100.0);
    assert!(number(&stats, "jitterMs").expect("jitterMs") < 1_000.0);
    assert_eq!(field(&stats, "path"), "host", "loopback is a host path");
    assert!(
        ["VP8", "VP9", "H264", "AV1"].contains(&field(&stats, "codec").as_str()),
        "codec {:?}",
        field(&stats, "codec")
    );
    let quality = number(&stats, "quality").expect("a mark");
    assert!(
        (4.0..=5.0).contains(&quality),
        "a loopback call is good: {quality}"
    );
    // What one engine may not give is null, never made up.
    if let Some(rtt) = number(&stats, "rttMs") {
        assert!(rtt < 1_000.0, "rtt {rtt}");
    } else {
        assert_eq!(
            Engine::here(),
            Engine::Firefox,
            "Chromium gives the round trip"
        );
    }
    if let Some(fps) = number(&stats, "fps") {
        assert!(fps <= 60.0, "fps {fps}");
    }

    // Stopped, the figures stop; the marks go on.
    alice.call.watch_stats(false);
    let stopped = alice.seen.borrow().len();
    let (_, first) = next_about(&mut alice, stopped, "quality", &bob.id).await;
    let (_, second) = next_about(&mut alice, first + 1, "quality", &bob.id).await;
    let late = alice.seen.borrow()[first..second]
        .iter()
        .filter(|(name, _)| name == "stats")
        .count();
    assert_eq!(late, 0, "figures after watchStats(false)");
    alice.call.hangup();
}
