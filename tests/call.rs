//! Calls between two `PeerCall`s in headless Chromium with fake camera and microphone,
//! through the real signaling server.

#![cfg(target_arch = "wasm32")]

mod common;

use common::{Engine, Side, connected_pair, field, pair, skipped_in};
use futures::{SinkExt, StreamExt};
use gloo_net::websocket::{Message, futures::WebSocket};
use js_sys::{Function, Promise, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};
use web_sys::HtmlVideoElement;

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen_test]
async fn a_call_carries_audio_and_video_both_ways() {
    let (mut alice, mut bob) = pair().await;
    alice.ring(&mut bob).await;
    assert_eq!(alice.call.state(), "calling");
    assert_eq!(bob.call.state(), "ringing");
    bob.call.accept();
    alice.next("remote-stream").await;
    bob.next("remote-stream").await;
    alice.reach("connected").await;
    bob.reach("connected").await;
    alice.media_flows_past(0.0, 0.0).await;
    bob.media_flows_past(0.0, 0.0).await;
    alice.call.hangup();
    assert_eq!(alice.ended().await, "hangup");
    assert_eq!(bob.ended().await, "remote-hangup");
}

#[wasm_bindgen_test]
async fn a_declined_call_ends_on_both_sides() {
    let (mut alice, mut bob) = pair().await;
    alice.ring(&mut bob).await;
    bob.call.decline();
    assert_eq!(alice.ended().await, "declined");
    assert_eq!(bob.ended().await, "declined");
    alice.reach("idle").await;
    bob.reach("idle").await;
}

#[wasm_bindgen_test]
async fn a_user_in_a_call_is_busy() {
    let (mut alice, mut bob) = connected_pair().await;
    let mut carol = Side::online("carol").await;
    carol.sees(&bob).await;
    JsFuture::from(carol.call.call(bob.id.clone()))
        .await
        .unwrap();
    assert_eq!(carol.ended().await, "busy");
    // Nobody else noticed: the first call is still up.
    assert_eq!(alice.call.state(), "connected");
    assert_eq!(bob.call.state(), "connected");
    bob.call.hangup();
    assert_eq!(alice.ended().await, "remote-hangup");
    assert_eq!(bob.ended().await, "hangup");
}

#[wasm_bindgen_test]
async fn an_unanswered_call_ends_as_no_answer_on_both_sides() {
    let quick = [("ringTimeoutMs", JsValue::from(300))];
    let mut alice = Side::online_with("alice", &quick).await;
    let mut bob = Side::online_with("bob", &[("ringTimeoutMs", JsValue::from(5_000))]).await;
    alice.sees(&bob).await;
    alice.ring(&mut bob).await;
    assert_eq!(alice.ended().await, "no-answer");
    assert_eq!(bob.ended().await, "no-answer");
}

#[wasm_bindgen_test]
async fn the_callee_can_hang_up() {
    let (mut alice, mut bob) = connected_pair().await;
    bob.call.hangup();
    assert_eq!(bob.ended().await, "hangup");
    assert_eq!(alice.ended().await, "remote-hangup");
}

#[wasm_bindgen_test]
async fn the_caller_can_cancel_while_it_rings() {
    let (mut alice, mut bob) = pair().await;
    alice.ring(&mut bob).await;
    alice.call.hangup();
    assert_eq!(alice.ended().await, "hangup");
    assert_eq!(bob.ended().await, "remote-hangup");
}

#[wasm_bindgen_test]
async fn closing_the_other_side_hangs_up_its_call() {
    let (mut alice, bob) = connected_pair().await;
    bob.call.close();
    assert_eq!(alice.ended().await, "remote-hangup");
    alice.reach("idle").await;
}

#[wasm_bindgen_test]
async fn a_remote_video_the_page_muted_stays_muted_after_the_call() {
    let document = web_sys::window()
        .and_then(|w| w.document())
        .expect("a page");
    let video: HtmlVideoElement = document
        .create_element("video")
        .expect("a video element")
        .unchecked_into();
    document
        .body()
        .expect("a body")
        .append_child(&video)
        .expect("shown");
    // The page wants this call's video without its sound.
    video.set_muted(true);
    let options = [("remoteVideo", JsValue::from(video.clone()))];
    let mut alice = Side::online_with("alice", &options).await;
    let mut bob = Side::online("bob").await;
    alice.sees(&bob).await;
    alice.ring(&mut bob).await;
    bob.call.accept();
    alice.reach("connected").await;
    let started = js_sys::Date::now();
    while video.ready_state() < 2 {
        assert!(
            js_sys::Date::now() - started < 10_000.0,
            "the call never played"
        );
        gloo_timers::future::TimeoutFuture::new(50).await;
    }
    bob.call.hangup();
    assert_eq!(alice.ended().await, "remote-hangup");
    assert!(video.muted(), "the page's own mute was undone");
    video.remove();
}

#[wasm_bindgen_test]
async fn a_closed_call_lets_go_of_the_pages_handlers() {
    let test = "a_closed_call_lets_go_of_the_pages_handlers";
    if skipped_in(
        Engine::Firefox,
        test,
        "a page cannot force a garbage collection",
    ) {
        return;
    }
    let mut alice = Side::online("alice").await;
    // A handler nothing but the call holds, watched through a WeakRef.
    let made =
        Function::new_no_args("const handler = () => {}; return [handler, new WeakRef(handler)];")
            .call0(&JsValue::NULL)
            .unwrap();
    let (handler, weak) = (
        Reflect::get_u32(&made, 0).unwrap(),
        Reflect::get_u32(&made, 1).unwrap(),
    );
    drop(made);
    alice.call.on("state".to_owned(), handler.unchecked_into());
    alice.call.close();
    alice.reach("offline").await;
    // A WeakRef holds its target until the task that made it ends; then a full
    // collection frees the handler, unless the call still holds it.
    let next_task =
        Function::new_no_args("return new Promise(done => setTimeout(() => done(), 0))");
    JsFuture::from(Promise::from(next_task.call0(&JsValue::NULL).unwrap()))
        .await
        .unwrap();
    let gc: Function = Reflect::get(&js_sys::global(), &"gc".into())
        .unwrap()
        .unchecked_into();
    gc.call0(&JsValue::NULL).unwrap();
    let deref: Function = Reflect::get(&weak, &"deref".into())
        .unwrap()
        .unchecked_into();
    assert!(
        deref.call0(&weak).unwrap().is_undefined(),
        "the closed call still holds the page's handler"
    );
}

#[wasm_bindgen_test]
async fn a_peer_whose_socket_drops_ends_the_call_as_peer_left() {
    let mut alice = Side::online("alice").await;
    // Bob is a bare protocol client whose socket just goes away, as with a crashed tab.
    let name = common::unique("bob");
    let mut bob = WebSocket::open(common::SERVER).unwrap();
    let login = format!(r#"{{"type":"login","name":"{name}"}}"#);
    bob.send(Message::Text(login)).await.unwrap();
    let bob_id = next_of_type(&mut bob, "welcome").await;
    let bob_id = field(&bob_id, "id");
    alice.sees_id(&bob_id).await;
    JsFuture::from(alice.call.call(bob_id.clone()))
        .await
        .unwrap();
    next_of_type(&mut bob, "ring").await;
    drop(bob);
    assert_eq!(alice.ended().await, "peer-left");
    alice.reach("idle").await;
}

/// The next frame of `type` `kind` a bare protocol client receives.
async fn next_of_type(socket: &mut WebSocket, kind: &str) -> JsValue {
    while let Some(frame) = socket.next().await {
        if let Ok(Message::Text(text)) = frame {
            let value = js_sys::JSON::parse(&text).unwrap();
            if field(&value, "type") == kind {
                return value;
            }
        }
    }
    panic!("the socket closed before a {kind} frame");
}

#[wasm_bindgen_test]
async fn impossible_media_constraints_are_reported_and_the_call_receives_only() {
    let constraints = js_sys::JSON::parse(r#"{"video":{"width":{"exact":12345}}}"#).unwrap();
    let mut alice = Side::online_with("alice", &[("media", constraints)]).await;
    let mut bob = Side::online("bob").await;
    alice.sees(&bob).await;
    alice.ring(&mut bob).await;
    let error = alice.next("error").await;
    assert_eq!(field(&error, "code"), "media-constraints");
    assert!(!field(&error, "message").is_empty());
    let media = alice.next("media").await;
    assert_eq!(
        js_sys::Reflect::get(&media, &"video".into()).unwrap(),
        false
    );
    bob.call.accept();
    alice.reach("connected").await;
    // Alice sends nothing but still sees and hears bob.
    alice.media_flows_past(0.0, 0.0).await;
    alice.call.hangup();
    bob.ended().await;
}

#[wasm_bindgen_test]
async fn twenty_calls_leave_no_listener_behind() {
    let (mut alice, mut bob) = pair().await;
    let before = peercall::live_callbacks();
    for _ in 0..20 {
        alice.ring(&mut bob).await;
        bob.call.accept();
        alice.reach("connected").await;
        bob.reach("connected").await;
        alice.call.hangup();
        assert_eq!(alice.ended().await, "hangup");
        assert_eq!(bob.ended().await, "remote-hangup");
    }
    assert_eq!(peercall::live_callbacks(), before);
}

#[wasm_bindgen_test]
async fn a_taken_name_is_refused_with_its_code() {
    let alice = Side::online("alice").await;
    let twin = Side::new(
        &alice.name.to_uppercase(),
        common::options(&alice.name.to_uppercase(), &[]),
    );
    let error = JsFuture::from(twin.call.connect()).await.unwrap_err();
    assert_eq!(field(&error, "code"), "name-taken");
    assert_eq!(twin.call.state(), "offline");
}

#[wasm_bindgen_test]
async fn an_unreachable_server_is_reported() {
    let url = [("url", JsValue::from("ws://127.0.0.1:9/ws"))];
    let lost = Side::new("nobody", common::options("nobody", &url));
    let error = JsFuture::from(lost.call.connect()).await.unwrap_err();
    assert_eq!(field(&error, "code"), "connect-failed");
}

#[wasm_bindgen_test]
async fn a_message_too_large_for_the_server_is_refused_unsent_and_costs_no_connection() {
    let (mut alice, mut bob) = pair().await;
    // The server closes a socket that sends a frame past 64 KiB; sent again after each
    // reconnection, such a frame would close every new socket too.
    let before = alice.seen.borrow().len();
    alice.call.remove_peer("x".repeat(70 * 1024));
    let error = alice.next("error").await;
    assert_eq!(field(&error, "code"), "bad-message");
    assert!(field(&error, "message").contains("64 KiB"), "{error:?}");
    // The socket is still the one it was: a ring goes through it.
    alice.ring(&mut bob).await;
    let offline = alice
        .seen
        .borrow()
        .iter()
        .skip(before)
        .any(|(event, state)| event == "state" && state.as_string().as_deref() == Some("offline"));
    assert!(!offline, "{:?}", alice.history());
    alice.call.hangup();
    bob.ended().await;
}
