//! Chat and file transfer during a call, in headless Chromium.

#![cfg(target_arch = "wasm32")]

mod common;

use common::{Side, connected_pair, field, pair, random_file};
use js_sys::{Reflect, Uint8Array};
use peercall::channel::files::{HIGH_WATER, MAX_CHUNK};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};
use web_sys::{Blob, File};

wasm_bindgen_test_configure!(run_in_browser);

fn number(value: &JsValue, key: &str) -> f64 {
    Reflect::get(value, &key.into())
        .ok()
        .and_then(|v| v.as_f64())
        .unwrap_or(f64::NAN)
}

/// From now on every data channel the page makes is kept in `window.keptChannels`, so
/// that a test can speak on one as a hostile peer would (set up once per page); returns
/// how many were kept before, so that a test takes its own only.
fn keep_data_channels() -> JsValue {
    js_sys::Function::new_no_args(
        "if (!window.keptChannels) {
           const make = RTCPeerConnection.prototype.createDataChannel;
           window.keptChannels = [];
           RTCPeerConnection.prototype.createDataChannel = function (...args) {
             const channel = make.apply(this, args);
             window.keptChannels.push(channel);
             return channel;
           };
         }
         return window.keptChannels.length;",
    )
    .call0(&JsValue::NULL)
    .unwrap()
}

/// The size of the module's memory, in bytes: what it took in stays there.
fn memory() -> u32 {
    wasm_bindgen::memory()
        .unchecked_into::<js_sys::WebAssembly::Memory>()
        .buffer()
        .unchecked_into::<js_sys::ArrayBuffer>()
        .byte_length()
}

/// SHA-256 of a whole blob, as hex.
async fn sha256(blob: &Blob) -> String {
    let buffer = JsFuture::from(blob.array_buffer()).await.unwrap();
    let subtle = web_sys::window().unwrap().crypto().unwrap().subtle();
    let digest = JsFuture::from(
        subtle
            .digest_with_str_and_buffer_source("SHA-256", buffer.unchecked_ref())
            .unwrap(),
    )
    .await
    .unwrap();
    Uint8Array::new(&digest)
        .to_vec()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Sends `file` from `from` to `to`, who accepts; returns what arrived.
async fn transfer(from: &mut Side, to: &mut Side, file: &File) -> Blob {
    let id = JsFuture::from(from.call.send_file(file.clone(), None))
        .await
        .unwrap();
    let offer = to.next("file-offer").await;
    assert_eq!(field(&offer, "name"), file.name());
    assert_eq!(field(&offer, "from"), from.id);
    assert_eq!(number(&offer, "size"), file.size());
    to.call.accept_file(field(&offer, "id"));
    let done = to.next("file-done").await;
    assert_eq!(field(&done, "name"), file.name());
    let sent = from.next("file-done").await;
    assert_eq!(field(&sent, "id"), id.as_string().unwrap());
    Reflect::get(&done, &"blob".into())
        .unwrap()
        .unchecked_into()
}

#[wasm_bindgen_test]
async fn chat_goes_both_ways_in_order_as_plain_text_even_before_the_channel_opens() {
    let (mut alice, mut bob) = pair().await;
    alice.ring(&mut bob).await;
    bob.call.accept();
    // Bob is in the call at once, but its chat channel is not open yet: this waits.
    JsFuture::from(bob.call.send_text("hello before open".into()))
        .await
        .unwrap();
    let first = alice.next("text").await;
    assert_eq!(field(&first, "text"), "hello before open");
    assert_eq!(field(&first, "name"), bob.name);
    assert_eq!(field(&first, "from"), bob.id);
    assert!(number(&first, "at") > 0.0);

    let html = r#"<img src=x onerror="alert(1)"> <b>bold</b>"#;
    for i in 0..5 {
        JsFuture::from(alice.call.send_text(format!("{i}: {html}")))
            .await
            .unwrap();
    }
    for i in 0..5 {
        // Exactly what was typed, never interpreted.
        assert_eq!(
            field(&bob.next("text").await, "text"),
            format!("{i}: {html}")
        );
    }
    alice.call.hangup();
    bob.ended().await;
}

#[wasm_bindgen_test]
async fn messages_sent_before_the_chat_opens_are_bounded_and_kept_in_order() {
    let (mut alice, mut bob) = pair().await;
    alice.ring(&mut bob).await;
    // Bob's page sends far more than the call's chat keeps before its channel opens.
    bob.call.accept();
    let sent = futures::future::join_all(
        (0..300).map(|i| JsFuture::from(bob.call.send_text(format!("message {i}")))),
    )
    .await;
    let refused: Vec<usize> = (0..300).filter(|i| sent[*i].is_err()).collect();
    assert_eq!(
        refused,
        (256..300).collect::<Vec<_>>(),
        "the first 256 are kept"
    );
    assert_eq!(
        field(&sent[299].clone().unwrap_err(), "code"),
        "invalid-state"
    );
    for i in 0..256 {
        assert_eq!(
            field(&alice.next("text").await, "text"),
            format!("message {i}")
        );
    }
    alice.call.hangup();
    bob.ended().await;
}

#[wasm_bindgen_test]
async fn a_received_file_never_takes_the_type_its_sender_claims() {
    let (alice, mut bob) = connected_pair().await;
    let page = "<script>document.title = 'owned'</script>";
    let options = web_sys::FilePropertyBag::new();
    options.set_type("text/html");
    let file = File::new_with_str_sequence_and_options(
        &js_sys::Array::of1(&page.into()),
        "page.html",
        &options,
    )
    .unwrap();
    JsFuture::from(alice.call.send_file(file, None))
        .await
        .unwrap();
    let offer = bob.next("file-offer").await;
    // The claim is shown as text...
    assert_eq!(field(&offer, "type"), "text/html");
    bob.call.accept_file(field(&offer, "id"));
    let done = bob.next("file-done").await;
    assert_eq!(field(&done, "id"), field(&offer, "id"));
    assert_eq!(field(&done, "type"), "text/html");
    // ...but the file itself is only bytes: opened from a blob: URL it is a download,
    // never a page of this origin.
    let blob: Blob = Reflect::get(&done, &"blob".into())
        .unwrap()
        .unchecked_into();
    assert_eq!(blob.type_(), "application/octet-stream");
    assert_eq!(blob.size(), page.len() as f64);
    alice.call.hangup();
}

#[wasm_bindgen_test]
async fn chat_outside_a_call_is_refused() {
    let (alice, _bob) = pair().await;
    let error = JsFuture::from(alice.call.send_text("anyone?".into()))
        .await
        .unwrap_err();
    assert_eq!(field(&error, "code"), "invalid-state");
}

#[wasm_bindgen_test]
async fn files_of_every_edge_size_arrive_whole() {
    let (mut alice, mut bob) = connected_pair().await;
    let chunk = MAX_CHUNK as usize;
    for (name, size) in [
        ("empty.bin", 0),
        ("one.bin", 1),
        ("chunk.bin", chunk),
        ("chunk-plus-one.bin", chunk + 1),
        ("big.bin", 64 * 1024 * 1024),
    ] {
        let file = random_file(name, size);
        let received = transfer(&mut alice, &mut bob, &file).await;
        assert_eq!(received.size(), file.size(), "{name}");
        assert_eq!(sha256(&received).await, sha256(&file).await, "{name}");
    }
    // And the other way.
    let file = random_file("back.bin", chunk * 3 + 7);
    let received = transfer(&mut bob, &mut alice, &file).await;
    assert_eq!(sha256(&received).await, sha256(&file).await);
    alice.call.hangup();
}

#[wasm_bindgen_test]
async fn a_declined_file_sends_nothing() {
    let (mut alice, mut bob) = connected_pair().await;
    JsFuture::from(alice.call.send_file(random_file("no.bin", 1000), None))
        .await
        .unwrap();
    let offer = bob.next("file-offer").await;
    bob.call.decline_file(field(&offer, "id"));
    let cancelled = alice.next("file-cancelled").await;
    assert_eq!(field(&cancelled, "by"), "declined");
    assert_eq!(field(&bob.next("file-cancelled").await, "by"), "declined");
    // The next file in line is offered.
    let file = random_file("yes.bin", 5000);
    let received = transfer(&mut alice, &mut bob, &file).await;
    assert_eq!(sha256(&received).await, sha256(&file).await);
    alice.call.hangup();
}

/// Both sides offer their first file at once, so that each side has a transfer of the
/// same number going each way: one side cancelling its own leaves the other's going.
#[wasm_bindgen_test]
async fn a_cancel_ends_only_its_own_transfer_when_both_ways_share_a_number() {
    let (mut alice, mut bob) = connected_pair().await;
    // Both sent before either offer can arrive: each is its sender's first.
    let from_alice = alice
        .call
        .send_file(random_file("from-alice.bin", 5000), None);
    let from_bob = bob.call.send_file(random_file("from-bob.bin", 5000), None);
    let from_bob = JsFuture::from(from_bob).await.unwrap().as_string().unwrap();
    JsFuture::from(from_alice).await.unwrap();
    let to_alice = alice.next("file-offer").await;
    assert_eq!(field(&to_alice, "name"), "from-bob.bin");
    let to_bob = bob.next("file-offer").await;
    assert_eq!(field(&to_bob, "name"), "from-alice.bin");
    // Bob takes back his own file: Alice's offer to him stays.
    bob.call.cancel_file(from_bob);
    let cancelled = alice.next("file-cancelled").await;
    assert_eq!(
        (field(&cancelled, "id"), field(&cancelled, "by")),
        (field(&to_alice, "id"), "peer".to_owned())
    );
    bob.call.accept_file(field(&to_bob, "id"));
    assert_eq!(
        field(&bob.next("file-done").await, "name"),
        "from-alice.bin"
    );
    assert_eq!(
        field(&alice.next("file-done").await, "name"),
        "from-alice.bin"
    );
    alice.call.hangup();
}

#[wasm_bindgen_test]
async fn either_side_can_cancel_mid_transfer() {
    let (mut alice, mut bob) = connected_pair().await;
    for receiver_cancels in [false, true] {
        let id = JsFuture::from(
            alice
                .call
                .send_file(random_file("long.bin", 48 << 20), None),
        )
        .await
        .unwrap()
        .as_string()
        .unwrap();
        let offer = bob.next("file-offer").await;
        let incoming = field(&offer, "id");
        bob.call.accept_file(incoming.clone());
        bob.next("file-progress").await; // bytes are flowing
        if receiver_cancels {
            bob.call.cancel_file(incoming);
            assert_eq!(field(&alice.next("file-cancelled").await, "by"), "peer");
            assert_eq!(field(&bob.next("file-cancelled").await, "by"), "me");
        } else {
            alice.call.cancel_file(id);
            assert_eq!(field(&alice.next("file-cancelled").await, "by"), "me");
            assert_eq!(field(&bob.next("file-cancelled").await, "by"), "peer");
        }
    }
    // Nothing half-done lingers: a small file still goes through.
    let file = random_file("after.bin", 10_000);
    let received = transfer(&mut alice, &mut bob, &file).await;
    assert_eq!(sha256(&received).await, sha256(&file).await);
    alice.call.hangup();
}

#[wasm_bindgen_test]
async fn chat_keeps_flowing_in_order_during_a_transfer() {
    let (alice, mut bob) = connected_pair().await;
    JsFuture::from(
        alice
            .call
            .send_file(random_file("movie.bin", 64 << 20), None),
    )
    .await
    .unwrap();
    let offer = bob.next("file-offer").await;
    bob.call.accept_file(field(&offer, "id"));
    bob.next("file-progress").await;
    for i in 0..20 {
        JsFuture::from(alice.call.send_text(format!("line {i}")))
            .await
            .unwrap();
    }
    let since = bob.seen.borrow().len();
    for i in 0..20 {
        assert_eq!(field(&bob.next("text").await, "text"), format!("line {i}"));
    }
    // All of it arrived while the file was still on its way.
    let done_before = bob
        .seen
        .borrow()
        .iter()
        .skip(since)
        .any(|(e, _)| e == "file-done");
    assert!(!done_before, "the chat waited for the file");
    bob.next("file-done").await;
    alice.call.hangup();
}

#[wasm_bindgen_test]
async fn a_256_mib_file_keeps_the_buffer_and_wasm_memory_bounded() {
    let (mut alice, mut bob) = connected_pair().await;
    let before = memory();
    let file = random_file("huge.bin", 256 << 20);
    JsFuture::from(alice.call.send_file(file.clone(), None))
        .await
        .unwrap();
    let offer = bob.next("file-offer").await;
    bob.call.accept_file(field(&offer, "id"));
    let mut samples = 0;
    loop {
        let (event, payload) = alice
            .next_of(&["file-progress", "file-done", "file-error"])
            .await;
        match event.as_str() {
            "file-progress" => {
                samples += 1;
                let buffered = number(&payload, "buffered");
                assert!(
                    buffered <= f64::from(HIGH_WATER) + MAX_CHUNK,
                    "bufferedAmount {buffered} over the high-water mark"
                );
            }
            "file-done" => break,
            _ => panic!("the transfer failed: {}", field(&payload, "message")),
        }
    }
    assert!(
        samples > 5,
        "the buffer was sampled throughout ({samples} samples)"
    );
    let received: Blob = Reflect::get(&bob.next("file-done").await, &"blob".into())
        .unwrap()
        .unchecked_into();
    assert_eq!(received.size(), file.size());
    // Neither side pulled the file into wasm memory (both live in this one module).
    let grown = memory().saturating_sub(before);
    assert!(grown < 16 << 20, "wasm memory grew by {grown} bytes");
    alice.call.hangup();
}

#[wasm_bindgen_test]
async fn several_files_go_one_after_another_in_order() {
    let (alice, mut bob) = connected_pair().await;
    let files: Vec<File> = (0..3)
        .map(|i| random_file(&format!("part-{i}.bin"), 300_000 + i * 1000))
        .collect();
    for file in &files {
        JsFuture::from(alice.call.send_file(file.clone(), None))
            .await
            .unwrap();
    }
    for file in &files {
        // Each is offered only once the one before is through.
        let offer = bob.next("file-offer").await;
        assert_eq!(field(&offer, "name"), file.name());
        bob.call.accept_file(field(&offer, "id"));
        let done = bob.next("file-done").await;
        let blob: Blob = Reflect::get(&done, &"blob".into())
            .unwrap()
            .unchecked_into();
        assert_eq!(sha256(&blob).await, sha256(file).await);
    }
    alice.call.hangup();
}

#[wasm_bindgen_test]
async fn hanging_up_mid_transfer_ends_it_on_both_sides_and_leaves_nothing_behind() {
    let (mut alice, mut bob) = pair().await;
    let before = peercall::live_callbacks();
    alice.ring(&mut bob).await;
    bob.call.accept();
    alice.reach("connected").await;
    JsFuture::from(alice.call.send_file(random_file("cut.bin", 48 << 20), None))
        .await
        .unwrap();
    let offer = bob.next("file-offer").await;
    bob.call.accept_file(field(&offer, "id"));
    bob.next("file-progress").await;
    alice.call.hangup();
    assert_eq!(field(&alice.next("file-cancelled").await, "by"), "ended");
    assert_eq!(field(&bob.next("file-cancelled").await, "by"), "ended");
    alice.ended().await;
    bob.ended().await;
    // The pump stopped where it waited, and every listener went with the call.
    assert_eq!(peercall::live_callbacks(), before);
}

#[wasm_bindgen_test]
async fn a_chat_message_far_too_long_is_refused_without_being_read() {
    use common::{Engine, skipped_in};
    if skipped_in(
        Engine::Chromium,
        "a_chat_message_far_too_long_is_refused_without_being_read",
        "Chromium's data channels carry at most 256 KiB in one message: no peer can send one large enough to matter",
    ) {
        return;
    }
    let since = keep_data_channels();
    let (mut alice, mut bob) = connected_pair().await;
    // The chat is open both ways.
    JsFuture::from(alice.call.send_text("hi".into()))
        .await
        .unwrap();
    bob.next("text").await;
    let before = memory();
    // 4 MiB of chat message on one side's channel (Firefox delivers no larger one).
    js_sys::Function::new_with_args(
        "since",
        "window.keptChannels.slice(since).find(c => c.id === 0)
           .send('{\"text\":\"' + 'x'.repeat(4 << 20) + '\"}');",
    )
    .call1(&JsValue::NULL, &since)
    .unwrap();
    let error = {
        use futures::future::{Either, select};
        let to_alice = Box::pin(alice.next_within("error", 60_000));
        let to_bob = Box::pin(bob.next_within("error", 60_000));
        match select(to_alice, to_bob).await {
            Either::Left((error, _)) | Either::Right((error, _)) => error,
        }
    };
    assert_eq!(field(&error, "code"), "bad-message");
    assert!(field(&error, "message").contains("too long"), "{error:?}");
    // It was never copied into the module.
    let grown = memory().saturating_sub(before);
    assert!(grown < 2 << 20, "wasm memory grew by {grown} bytes");
    // The chat goes on.
    JsFuture::from(bob.call.send_text("still here".into()))
        .await
        .unwrap();
    assert_eq!(field(&alice.next("text").await, "text"), "still here");
    alice.call.hangup();
}

#[wasm_bindgen_test]
async fn a_file_accepted_again_is_not_sent_again() {
    let since = keep_data_channels();
    let (mut alice, mut bob) = connected_pair().await;
    // Large enough to be still on its way when the second `accept` comes.
    let file = random_file("twice.bin", 32 << 20);
    let id = JsFuture::from(alice.call.send_file(file.clone(), None))
        .await
        .unwrap()
        .as_string()
        .unwrap();
    let offer = bob.next("file-offer").await;
    bob.call.accept_file(field(&offer, "id"));
    let first = alice.next("file-progress").await;
    // Mid-transfer, the receiver says `accept` again, on every file channel (alice's
    // id is her transfer's number on the wire).
    let wire = id.trim_start_matches("out-").to_owned();
    let again = format!(r#"{{"t":"accept","id":{wire}}}"#);
    js_sys::Function::new_with_args(
        "since, text",
        "for (const c of window.keptChannels.slice(since)) if (c.id === 1) c.send(text);",
    )
    .call2(&JsValue::NULL, &since, &again.into())
    .unwrap();
    // The bytes go on from where they were, once, and the file arrives whole.
    let mut sent = number(&first, "bytes");
    loop {
        let (event, payload) = alice
            .next_of(&["file-progress", "file-done", "file-error", "file-cancelled"])
            .await;
        match event.as_str() {
            "file-progress" => {
                let now = number(&payload, "bytes");
                assert!(now >= sent, "sent {sent}, then {now}: it started over");
                sent = now;
            }
            "file-done" => break,
            _ => panic!("{event}: {payload:?}"),
        }
    }
    let received: Blob = Reflect::get(&bob.next("file-done").await, &"blob".into())
        .unwrap()
        .unchecked_into();
    assert_eq!(sha256(&received).await, sha256(&file).await);
    alice.call.hangup();
}
