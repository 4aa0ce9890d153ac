//! A damaged file is reported, never handed over, and a flood of pieces is cut short; a
//! flood of chat messages or junk costs the page a few events. The other side here is a
//! bare peer built from the browser's own RTCPeerConnection and a plain protocol socket,
//! so that it can lie about the digest and send what the client never would.

#![cfg(target_arch = "wasm32")]

mod common;

use common::{
    PATIENCE_MS, Side, field, random_file,
    raw::{json, logged_in, next_frame, send},
    unique,
};
use gloo_net::websocket::futures::WebSocket;
use gloo_timers::future::TimeoutFuture;
use js_sys::{Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue, closure::Closure};
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};
use web_sys::{
    MessageEvent, RtcDataChannel, RtcDataChannelInit, RtcPeerConnection, RtcPeerConnectionIceEvent,
    RtcSdpType, RtcSessionDescriptionInit,
};

wasm_bindgen_test_configure!(run_in_browser);

/// A bare peer in a call with alice: it takes her call and answers her offer with a
/// connection of the browser's own that has the same pre-negotiated channels.
struct Bare {
    /// Its socket, kept open while the call lasts.
    _socket: WebSocket,
    pc: RtcPeerConnection,
    chat: RtcDataChannel,
    files: RtcDataChannel,
    _on_candidate: Closure<dyn FnMut(RtcPeerConnectionIceEvent)>,
}

impl Drop for Bare {
    fn drop(&mut self) {
        self.pc.close();
    }
}

/// Alice calls a bare peer, which takes the call; both channels are open on its side.
async fn bare_call(alice: &mut Side) -> Bare {
    let (mut socket, mallory) = logged_in(&unique("mallory")).await;
    alice.sees_id(&mallory).await;
    JsFuture::from(alice.call.call(mallory.clone()))
        .await
        .unwrap();
    next_frame(&mut socket, "ring").await;
    let to = |kind: &str| format!(r#"{{"type":"{kind}","to":"{}"}}"#, alice.id);
    send(&mut socket, &json(&to("accept"))).await;
    let pc = RtcPeerConnection::new().unwrap();
    let negotiated = |label: &str, id: u16| {
        let init = RtcDataChannelInit::new();
        init.set_negotiated(true);
        init.set_id(id);
        pc.create_data_channel_with_data_channel_dict(label, &init)
    };
    let (chat, files) = (negotiated("chat", 0), negotiated("files", 1));
    let offer = next_frame(&mut socket, "offer").await;
    // Answer with every candidate inline: wait for gathering to finish.
    let (gathered_tx, gathered) = futures::channel::oneshot::channel::<()>();
    let mut gathered_tx = Some(gathered_tx);
    let on_candidate = Closure::<dyn FnMut(RtcPeerConnectionIceEvent)>::new(
        move |e: RtcPeerConnectionIceEvent| {
            if e.candidate().is_none()
                && let Some(tx) = gathered_tx.take()
            {
                let _ = tx.send(());
            }
        },
    );
    pc.set_onicecandidate(Some(on_candidate.as_ref().unchecked_ref()));
    let remote = RtcSessionDescriptionInit::new(RtcSdpType::Offer);
    remote.set_sdp(&field(&offer, "sdp"));
    JsFuture::from(pc.set_remote_description(&remote))
        .await
        .unwrap();
    let answer: RtcSessionDescriptionInit = JsFuture::from(pc.create_answer())
        .await
        .unwrap()
        .unchecked_into();
    JsFuture::from(pc.set_local_description(&answer))
        .await
        .unwrap();
    gathered.await.unwrap();
    let answer = Reflect::get(&pc.local_description().unwrap(), &"sdp".into()).unwrap();
    let message = json(&to("answer"));
    Reflect::set(&message, &"sdp".into(), &answer).unwrap();
    send(&mut socket, &message).await;
    alice.reach("connected").await;
    opened(&chat).await;
    opened(&files).await;
    Bare {
        _socket: socket,
        pc,
        chat,
        files,
        _on_candidate: on_candidate,
    }
}

/// Waits until `channel` is open.
async fn opened(channel: &RtcDataChannel) {
    let opened = js_sys::Promise::new(&mut |resolve, _| {
        if channel.ready_state() == web_sys::RtcDataChannelState::Open {
            let _ = resolve.call0(&JsValue::NULL);
        } else {
            let open = Closure::once_into_js(move || {
                let _ = resolve.call0(&JsValue::NULL);
            });
            channel.set_onopen(Some(open.unchecked_ref()));
        }
    });
    JsFuture::from(opened).await.unwrap();
}

#[wasm_bindgen_test]
async fn a_file_whose_digest_does_not_match_is_refused() {
    let mut alice = Side::online("alice").await;
    let mallory = bare_call(&mut alice).await;
    let files = &mallory.files;

    // Mallory offers a 4-byte file, sends it, and claims a digest it does not have.
    let (receipt_tx, receipt_rx) = futures::channel::oneshot::channel::<String>();
    let mut receipt_tx = Some(receipt_tx);
    let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |e: MessageEvent| {
        if let Some(text) = e.data().as_string() {
            let value = json(&text);
            if field(&value, "t") == "received"
                && let Some(tx) = receipt_tx.take()
            {
                let ok = Reflect::get(&value, &"ok".into()).unwrap();
                let _ = tx.send(format!("{ok:?}"));
            }
        }
    });
    files.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    files
        .send_with_str(r#"{"t":"offer","id":1,"name":"bad.bin","size":4,"type":""}"#)
        .unwrap();
    let offered = alice.next("file-offer").await;
    assert_eq!(field(&offered, "name"), "bad.bin");
    alice.call.accept_file(field(&offered, "id"));
    files
        .send_with_u8_array(&Uint8Array::from(&[1u8, 2, 3, 4][..]).to_vec())
        .unwrap();
    let lie = format!(r#"{{"t":"end","id":1,"digest":"{}"}}"#, "0".repeat(64));
    files.send_with_str(&lie).unwrap();

    let (event, payload) = alice.next_of(&["file-done", "file-error"]).await;
    assert_eq!(event, "file-error", "a damaged file is never handed over");
    assert_eq!(field(&payload, "code"), "integrity-failed");
    assert!(field(&payload, "message").contains("bad.bin"));
    // And the sender is told.
    assert_eq!(receipt_rx.await.unwrap(), "JsValue(false)");

    // Mallory offers 4 KiB and sends it a byte at a time: each piece would cost alice a
    // buffer and a hash, far past the file's size. Alice ends it at the sixth.
    files
        .send_with_str(r#"{"t":"offer","id":2,"name":"flood.bin","size":4096,"type":""}"#)
        .unwrap();
    let offered = alice.next("file-offer").await;
    alice.call.accept_file(field(&offered, "id"));
    for _ in 0..6 {
        files
            .send_with_u8_array(&Uint8Array::from(&[7u8][..]).to_vec())
            .unwrap();
    }
    let (event, payload) = alice.next_of(&["file-done", "file-error"]).await;
    assert_eq!(event, "file-error");
    assert_eq!(
        (field(&payload, "name"), field(&payload, "code")),
        ("flood.bin".into(), "transfer-failed".into())
    );
    assert_eq!(alice.call.state(), "connected");
    drop(on_message);
    alice.call.hangup();
}

#[wasm_bindgen_test]
async fn a_peer_flooding_the_channels_costs_the_page_a_few_events() {
    let mut alice = Side::online("alice").await;
    let mallory = bare_call(&mut alice).await;
    let since = alice.seen.borrow().len();
    let started = js_sys::Date::now();
    // A thousand messages on each channel that nobody can read, and 1,500 chat messages
    // at once. After each flood, what the page hears at any pace: a file offer,
    // and what mallory sends.
    for _ in 0..1_000 {
        mallory.chat.send_with_str("junk").unwrap();
        mallory.files.send_with_str("junk").unwrap();
    }
    for n in 0..1_500 {
        let text = format!(r#"{{"text":"spam {n}","at":0}}"#);
        mallory.chat.send_with_str(&text).unwrap();
    }
    let offer = r#"{"t":"offer","id":1,"name":"last.bin","size":1,"type":""}"#;
    mallory.files.send_with_str(offer).unwrap();
    let media = r#"{"media":{"audio":true,"video":true,"screen":null}}"#;
    mallory.chat.send_with_str(media).unwrap();
    alice.seen_where(since, "file-offer", |_| true).await;
    alice.seen_where(since, "participant-media", |_| true).await;
    let seconds = (js_sys::Date::now() - started) / 1000.0;

    let seen = alice.seen.borrow()[since..].to_vec();
    let of = |kind: &str, key: &str| -> Vec<String> {
        seen.iter()
            .filter(|(event, _)| event == kind)
            .map(|(_, payload)| field(payload, key))
            .collect()
    };
    let (texts, errors) = (of("text", "text"), of("error", "message"));
    // The first 512 chat messages, in order (twice what a sender queues before the chat
    // opens); then 20 a second.
    let first: Vec<String> = (0..512).map(|n| format!("spam {n}")).collect();
    assert_eq!(texts.get(..512), Some(&first[..]), "{texts:?}");
    assert!(
        (texts.len() as f64) <= 513.0 + 20.0 * seconds,
        "{} chat messages in {seconds} s",
        texts.len()
    );
    // Five errors about junk, then one a second; and word of the dropped chat messages,
    // at once and then at most once a second.
    assert!(
        (errors.len() as f64) <= 7.0 + 2.0 * seconds,
        "{} errors in {seconds} s: {errors:?}",
        errors.len()
    );
    assert!(
        errors
            .iter()
            .any(|error| error.contains("sends chat messages too fast")),
        "{errors:?}"
    );
    assert_eq!(alice.call.state(), "connected");
    alice.call.hangup();
    drop(mallory);
}

#[wasm_bindgen_test]
async fn channels_the_peer_closes_end_what_rides_on_them_and_refuse_more_in_words() {
    let mut alice = Side::online("alice").await;
    let mallory = bare_call(&mut alice).await;
    // A file each way under way: mallory's, which alice takes, and alice's, offered.
    let offer = r#"{"t":"offer","id":1,"name":"theirs.bin","size":4096,"type":""}"#;
    mallory.files.send_with_str(offer).unwrap();
    let offered = alice.next("file-offer").await;
    alice.call.accept_file(field(&offered, "id"));
    JsFuture::from(alice.call.send_file(random_file("mine.bin", 4096), None))
        .await
        .expect("the file is offered");

    // Mallory closes both channels and keeps the call. Both transfers end, as they would
    // with the call, instead of waiting for bytes that can no longer come or go.
    mallory.chat.close();
    mallory.files.close();
    let mut ended = Vec::new();
    for _ in 0..2 {
        let cancelled = alice.next("file-cancelled").await;
        assert_eq!(field(&cancelled, "by"), "ended");
        ended.push(field(&cancelled, "name"));
    }
    ended.sort();
    assert_eq!(ended, ["mine.bin", "theirs.bin"]);
    let error = JsFuture::from(alice.call.send_file(random_file("more.bin", 16), None))
        .await
        .expect_err("no file goes on a closed channel");
    assert!(field(&error, "message").contains("file channel has closed"));

    // A chat message is refused in words once alice's side of the chat has closed too,
    // not shown as sent and lost.
    let started = js_sys::Date::now();
    let refusal = loop {
        match JsFuture::from(alice.call.send_text("still there?".into())).await {
            Err(error) => break error,
            Ok(_) => {
                assert!(
                    js_sys::Date::now() - started < f64::from(PATIENCE_MS),
                    "alice's chat never closed"
                );
                // The stream reset is on its way; look again soon.
                TimeoutFuture::new(50).await;
            }
        }
    };
    assert!(
        field(&refusal, "message").contains("chat channel has closed"),
        "{}",
        field(&refusal, "message")
    );
    assert_eq!(alice.call.state(), "connected");
    alice.call.hangup();
    drop(mallory);
}
