//! Two people who call each other at the same moment end up in exactly one call, and the
//! late signals of a call that has just ended never touch the next one.

#![cfg(target_arch = "wasm32")]

mod common;

use common::{connected_pair, pair};
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

/// How many `ended` events `side` has seen.
fn endings(side: &common::Side) -> usize {
    side.seen
        .borrow()
        .iter()
        .filter(|(event, _)| event == "ended")
        .count()
}

#[wasm_bindgen_test]
async fn a_ring_cancelled_and_placed_again_at_once_is_answered_as_the_new_call() {
    let (mut alice, mut bob) = pair().await;
    alice.ring(&mut bob).await;
    // Alice cancels and calls again while bob answers the first ring: his answer belongs
    // to a call that is over, and must not start the new one.
    alice.call.hangup();
    let again = JsFuture::from(alice.call.call(bob.id.clone()));
    bob.call.accept();
    again.await.expect("the second call is placed");
    assert_eq!(alice.ended().await, "hangup");
    bob.ended().await;
    bob.next("incoming").await;
    assert_eq!(alice.call.state(), "calling", "{:?}", alice.history());
    bob.call.accept();
    alice.reach("connected").await;
    bob.reach("connected").await;
    alice.media_flows_past(0.0, 0.0).await;
    assert_eq!((endings(&alice), endings(&bob)), (1, 1));
    alice.call.hangup();
    assert_eq!(bob.ended().await, "remote-hangup");
}

#[wasm_bindgen_test]
async fn both_hang_up_at_once_and_one_calls_again_at_once() {
    let (mut alice, mut bob) = connected_pair().await;
    // Each side's hang-up crosses the other's, and alice's new ring follows hers.
    alice.call.hangup();
    bob.call.hangup();
    let again = JsFuture::from(alice.call.call(bob.id.clone()));
    assert_eq!(alice.ended().await, "hangup");
    assert_eq!(bob.ended().await, "hangup");
    again.await.expect("the second call is placed");
    bob.next("incoming").await;
    bob.call.accept();
    alice.reach("connected").await;
    bob.reach("connected").await;
    bob.media_flows_past(0.0, 0.0).await;
    // Bob's hang-up of the first call never ended the second.
    assert_eq!(
        (endings(&alice), endings(&bob)),
        (1, 1),
        "{:?}",
        alice.history()
    );
    bob.call.hangup();
    assert_eq!(alice.ended().await, "remote-hangup");
}
