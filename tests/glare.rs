//! Two people who call each other at the same moment end up in exactly one call.

#![cfg(target_arch = "wasm32")]

mod common;

use common::pair;
use futures::future::join;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen_test]
async fn simultaneous_calls_end_as_one_connected_call_fifty_times() {
    let (mut alice, mut bob) = pair().await;
    for trial in 0..50 {
        let (placed_a, placed_b) = join(
            JsFuture::from(alice.call.call(bob.id.clone())),
            JsFuture::from(bob.call.call(alice.id.clone())),
        )
        .await;
        assert!(
            placed_a.is_ok() && placed_b.is_ok(),
            "trial {trial}: both calls placed: {placed_a:?} {placed_b:?}"
        );
        alice.reach("connected").await;
        bob.reach("connected").await;
        // Exactly one call: media flows both ways over it, and nobody was asked to answer.
        alice.media_flows_past(0.0, 0.0).await;
        bob.media_flows_past(0.0, 0.0).await;
        for side in [&alice, &bob] {
            let rang = side
                .seen
                .borrow()
                .iter()
                .any(|(event, _)| event == "incoming");
            assert!(
                !rang,
                "trial {trial}: {} was asked to answer a second call",
                side.name
            );
        }
        let hanging_up = if trial % 2 == 0 { &mut alice } else { &mut bob };
        hanging_up.call.hangup();
        assert_eq!(
            alice.ended().await,
            if trial % 2 == 0 {
                "hangup"
            } else {
                "remote-hangup"
            }
        );
        assert_eq!(
            bob.ended().await,
            if trial % 2 == 0 {
                "remote-hangup"
            } else {
                "hangup"
            }
        );
        alice.reach("idle").await;
        bob.reach("idle").await;
    }
}
