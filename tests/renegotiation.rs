//! Changing a call while it runs: more tracks, data channels, ICE restarts, without
//! interrupting the media already flowing.

#![cfg(target_arch = "wasm32")]

mod common;

use common::{Side, connected_pair, field};
use js_sys::{Map, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};
use web_sys::{
    MediaStream, MediaStreamConstraints, MediaStreamTrack, MessageEvent, RtcDataChannel,
    RtcDataChannelState,
};

wasm_bindgen_test_configure!(run_in_browser);

/// Every `type` stat of a side's call.
async fn stats_of(side: &Side, kind: &str) -> Vec<JsValue> {
    let report = JsFuture::from(side.call.get_stats(None))
        .await
        .expect("stats");
    // `null` outside a call: say how this one ended.
    assert!(
        !report.is_null(),
        "{}: no call to read statistics of: {:?}",
        side.name,
        side.history()
    );
    let report: Map = report.unchecked_into();
    let mut found = Vec::new();
    report.for_each(&mut |stat, _| {
        if field(&stat, "type") == kind {
            found.push(stat);
        }
    });
    found
}

/// Frames decoded per incoming video `mid`.
async fn video_frames(side: &Side) -> Vec<(String, f64)> {
    let mut frames: Vec<(String, f64)> = stats_of(side, "inbound-rtp")
        .await
        .into_iter()
        .filter(|stat| field(stat, "kind") == "video")
        .map(|stat| {
            let decoded = Reflect::get(&stat, &"framesDecoded".into())
                .ok()
                .and_then(|v| v.as_f64())
                .unwrap_or(0.0);
            (field(&stat, "mid"), decoded)
        })
        .collect();
    frames.sort_by(|a, b| a.0.cmp(&b.0));
    frames
}

/// The local ICE username fragment in use.
async fn ice_ufrag(side: &Side) -> String {
    let transports = stats_of(side, "transport").await;
    transports
        .first()
        .map(|t| field(t, "iceLocalUsernameFragment"))
        .unwrap_or_default()
}

async fn camera() -> (MediaStream, MediaStreamTrack) {
    let devices = web_sys::window()
        .unwrap()
        .navigator()
        .media_devices()
        .unwrap();
    let constraints = MediaStreamConstraints::new();
    constraints.set_video(&JsValue::TRUE);
    let stream: MediaStream = JsFuture::from(
        devices
            .get_user_media_with_constraints(&constraints)
            .unwrap(),
    )
    .await
    .unwrap()
    .unchecked_into();
    let track: MediaStreamTrack = stream.get_video_tracks().get(0).unchecked_into();
    (stream, track)
}

/// Waits until `condition` holds for `side`'s video frames, polling the stats.
async fn until_frames(side: &Side, what: &str, condition: impl Fn(&[(String, f64)]) -> bool) {
    let started = js_sys::Date::now();
    loop {
        let frames = video_frames(side).await;
        if condition(&frames) {
            return;
        }
        assert!(
            js_sys::Date::now() - started < f64::from(common::PATIENCE_MS),
            "{}: {what}: {frames:?}",
            side.name
        );
        gloo_timers::future::TimeoutFuture::new(100).await;
    }
}

#[wasm_bindgen_test]
async fn the_callee_adds_a_second_camera_and_a_data_channel_mid_call() {
    let (mut alice, bob) = connected_pair().await;
    until_frames(&alice, "first video decodes", |f| {
        f.len() == 1 && f[0].1 > 0.0
    })
    .await;
    let first = video_frames(&alice).await[0].clone();

    let since = alice.seen.borrow().len();
    let (stream, track) = camera().await;
    bob.call.add_track(Clone::clone(&track), stream);
    let channel = JsFuture::from(bob.call.create_data_channel("extra".into()))
        .await
        .expect("a channel");
    assert_eq!(field(&channel, "label"), "extra");

    let second_stream = alice.seen_since(since, "remote-stream").await;
    assert!(second_stream.is_instance_of::<MediaStream>());
    let arrived = alice.seen_since(since, "datachannel").await;
    assert_eq!(field(&arrived, "label"), "extra");

    // Binary messages arrive as ArrayBuffers on both ends, whatever the engine's default
    // (Firefox's is Blob).
    let (channel, arrived): (RtcDataChannel, RtcDataChannel) =
        (channel.unchecked_into(), arrived.unchecked_into());
    assert_eq!(field(&channel, "binaryType"), "arraybuffer");
    assert_eq!(field(&arrived, "binaryType"), "arraybuffer");
    opened(&channel).await;
    let message = next_message(&arrived);
    channel
        .send_with_u8_array(&[7, 8, 9])
        .expect("bytes are sent");
    let data = message.await.data();
    assert!(data.is_instance_of::<js_sys::ArrayBuffer>(), "{data:?}");
    assert_eq!(js_sys::Uint8Array::new(&data).to_vec(), [7, 8, 9]);

    // The second camera decodes, and the first never stopped.
    until_frames(&alice, "both videos decode", |f| {
        f.len() == 2 && f.iter().all(|(_, n)| *n > 0.0)
    })
    .await;
    let mid = first.0.clone();
    until_frames(&alice, "the first video keeps decoding", |f| {
        f.iter().any(|(m, n)| *m == mid && *n > first.1 + 10.0)
    })
    .await;
    assert_eq!(alice.call.state(), "connected");
    track.stop();
    alice.call.hangup();
}

/// Waits until `channel` is open.
async fn opened(channel: &RtcDataChannel) {
    if channel.ready_state() == RtcDataChannelState::Open {
        return;
    }
    let open = js_sys::Promise::new(&mut |resolve, _| channel.set_onopen(Some(&resolve)));
    JsFuture::from(open).await.expect("the channel opens");
    channel.set_onopen(None);
}

/// Listens for the next message on `channel` now; the future gives it.
fn next_message(channel: &RtcDataChannel) -> impl Future<Output = MessageEvent> {
    let message = js_sys::Promise::new(&mut |resolve, _| channel.set_onmessage(Some(&resolve)));
    async move {
        let event = JsFuture::from(message).await.expect("a message");
        event.unchecked_into()
    }
}

#[wasm_bindgen_test]
async fn an_ice_restart_from_either_side_keeps_the_media() {
    let (mut alice, mut bob) = connected_pair().await;
    for restarting in [0, 1] {
        let (side, other) = if restarting == 0 {
            (&mut alice, &mut bob)
        } else {
            (&mut bob, &mut alice)
        };
        let before = ice_ufrag(side).await;
        assert!(
            !before.is_empty(),
            "a transport with an ICE username fragment"
        );
        let frames = other.received().await;
        side.call.restart_ice();
        let started = js_sys::Date::now();
        while ice_ufrag(side).await == before {
            assert!(
                js_sys::Date::now() - started < f64::from(common::PATIENCE_MS),
                "{}: ICE did not restart",
                side.name
            );
            gloo_timers::future::TimeoutFuture::new(50).await;
        }
        wasm_bindgen_test::console_log!(
            "ICE restart from {}: new credentials after {} ms",
            side.name,
            js_sys::Date::now() - started
        );
        other
            .media_flows_past(frames.0 + 10.0, frames.1 + 10.0)
            .await;
        side.media_flows_past(0.0, 0.0).await;
        // Between two Firefoxes the connection often reports `disconnected` for a moment
        // after an ICE restart, which shows as `reconnecting` until the recovery settles
        // it: the call must end up connected.
        side.reach("connected").await;
        other.reach("connected").await;
    }
    alice.call.hangup();
    bob.ended().await;
}

#[wasm_bindgen_test]
async fn both_sides_adding_a_camera_at_once_end_with_both_videos() {
    let (alice, bob) = connected_pair().await;
    let ((stream_a, track_a), (stream_b, track_b)) = (camera().await, camera().await);
    // Two renegotiations at the same moment: perfect negotiation sorts them out.
    alice.call.add_track(Clone::clone(&track_a), stream_a);
    bob.call.add_track(Clone::clone(&track_b), stream_b);
    for side in [&alice, &bob] {
        until_frames(side, "two videos decode", |f| {
            f.len() == 2 && f.iter().all(|(_, n)| *n > 0.0)
        })
        .await;
        assert_eq!(side.call.state(), "connected");
    }
    track_a.stop();
    track_b.stop();
    alice.call.hangup();
}
