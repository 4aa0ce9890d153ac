//! A call whose other side gave it up as failed (its connection never came up) ends as
//! `failed` here too, and says so in words: not as a hang-up nobody made.

#![cfg(target_arch = "wasm32")]

mod common;

use common::{
    Side, field,
    raw::{json, logged_in, next_frame, send},
    unique,
};
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen_test]
async fn a_call_the_other_side_gave_up_as_failed_ends_as_failed_here_too() {
    let mut alice = Side::online("alice").await;
    let name = unique("bob");
    let (mut socket, bob) = logged_in(&name).await;
    alice.sees_id(&bob).await;

    JsFuture::from(alice.call.call(bob.clone())).await.unwrap();
    next_frame(&mut socket, "ring").await;
    let to = |rest: &str| json(&format!(r#"{{"to":"{}",{rest}}}"#, alice.id));
    send(&mut socket, &to(r#""type":"accept""#)).await;
    // Alice's offer: her side is connecting. Bob's never will, and he says so.
    next_frame(&mut socket, "offer").await;
    send(&mut socket, &to(r#""type":"hangup","reason":"failed""#)).await;

    let error = alice.next("error").await;
    assert_eq!(field(&error, "code"), "negotiation-failed");
    assert_eq!(
        field(&error, "message"),
        format!("could not connect to {name}")
    );
    assert_eq!(alice.ended().await, "failed");
}
