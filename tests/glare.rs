//! Two people who call each other at the same moment end up in exactly one call, and the
//! late signals of a call that has just ended never touch the next one. A ring placed
//! again goes on as the new call, and a call whose ring the server ended meanwhile ends
//! as soon as it is taken.

#![cfg(target_arch = "wasm32")]

mod common;

use common::{
    Side, connected_pair, field, pair,
    raw::{handled, json, logged_in, next_frame, next_frame_of, send},
    unique,
};
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

/// A bare client's `ring` to `to` in call `call`.
fn ring(to: &str, call: &str) -> wasm_bindgen::JsValue {
    json(&format!(r#"{{"type":"ring","to":"{to}","call":"{call}"}}"#))
}

#[wasm_bindgen_test]
async fn a_caller_ringing_again_rings_on_as_the_new_call() {
    let mut alice = Side::online("alice").await;
    let (mut bob, bob_id) = logged_in(&unique("bob")).await;
    let (mut carol, carol_id) = logged_in(&unique("carol")).await;
    alice.sees_id(&bob_id).await;
    alice.sees_id(&carol_id).await;
    send(&mut bob, &ring(&alice.id, "first")).await;
    alice.next("incoming").await;
    // Bob rings again without hanging up: the server keeps his newest ring only.
    send(&mut bob, &ring(&alice.id, "second")).await;
    handled(&mut bob).await;
    // Carol's ring reaches alice after bob's second, and alice, still ringing, is busy:
    // once carol hears so, alice has heard both of bob's.
    send(&mut carol, &ring(&alice.id, "carols")).await;
    let busy = next_frame(&mut carol, "decline").await;
    assert_eq!(field(&busy, "reason"), "busy");
    alice.call.accept();
    let answer = next_frame_of(&mut bob, &["accept", "decline"]).await;
    assert_eq!(
        (field(&answer, "type"), field(&answer, "call")),
        ("accept".to_owned(), "second".to_owned()),
        "{:?}",
        alice.history()
    );
    let hangup = format!(r#"{{"type":"hangup","to":"{}","call":"second"}}"#, alice.id);
    send(&mut bob, &json(&hangup)).await;
    assert_eq!(alice.ended().await, "remote-hangup");
}

#[wasm_bindgen_test]
async fn a_ring_the_server_ends_for_the_callers_fifth_ends_on_the_callees_page_at_once() {
    let mut alice = Side::online("alice").await;
    let name = unique("bob");
    let (mut bob, bob_id) = logged_in(&name).await;
    alice.sees_id(&bob_id).await;
    send(&mut bob, &ring(&alice.id, "first")).await;
    alice.next("incoming").await;
    // Bob rings four others: a caller rings at most four at once, and the server ends
    // the oldest ring, alice's. She hears it end as if bob had cancelled, and her page
    // stops ringing, instead of ringing on for a call nobody can take.
    let mut others = Vec::new();
    for n in 0..4 {
        let (socket, id) = logged_in(&unique("carol")).await;
        send(&mut bob, &ring(&id, &format!("other-{n}"))).await;
        others.push(socket);
    }
    assert_eq!(alice.ended().await, "remote-hangup");
    assert_eq!(alice.call.state(), "idle");
    let errors = alice
        .history()
        .into_iter()
        .filter(|seen| seen.starts_with("error"))
        .count();
    assert_eq!(errors, 0, "{:?}", alice.history());
    drop(others);
}
