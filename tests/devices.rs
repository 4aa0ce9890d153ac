//! Cameras, microphones and speakers: listed, switched during a call without a break in
//! what the other side receives, with the camera kept off and the microphone kept muted.

#![cfg(target_arch = "wasm32")]

mod common;

use common::{Side, connected_pair, field, stand_in};
use js_sys::{Array, Function, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};
use web_sys::{MediaStream, MediaStreamTrack};

wasm_bindgen_test_configure!(run_in_browser);

/// `side`'s devices, as `devices()` lists them.
async fn devices(side: &Side) -> Vec<JsValue> {
    let list = JsFuture::from(side.call.devices()).await.expect("a list");
    Array::from(&list).iter().collect()
}

/// The stream `side` sends, from its `local-stream` event.
async fn local(side: &mut Side) -> MediaStream {
    side.seen_since(0, "local-stream").await.unchecked_into()
}

/// `stream`'s track of `kind`.
fn track_of(stream: &MediaStream, kind: &str) -> MediaStreamTrack {
    let tracks = if kind == "video" {
        stream.get_video_tracks()
    } else {
        stream.get_audio_tracks()
    };
    assert_eq!(tracks.length(), 1, "one {kind} track");
    tracks.get(0).unchecked_into()
}

/// The device a track comes from.
fn device_of(track: &MediaStreamTrack) -> String {
    field(&track.get_settings(), "deviceId")
}

/// What `side` switches its `kind` to: a second device of that kind where the browser has
/// one (Chromium's fake devices), else a stand-in track (Firefox has one fake camera and
/// one fake microphone). Returns the pick and the device (or track) id to expect.
async fn another(side: &Side, kind: &str, in_use: &MediaStreamTrack) -> (JsValue, String) {
    let device_kind = if kind == "video" {
        "camera"
    } else {
        "microphone"
    };
    let used = device_of(in_use);
    let other = devices(side).await.into_iter().find(|d| {
        field(d, "kind") == device_kind && field(d, "id") != used && !field(d, "id").is_empty()
    });
    match other {
        Some(device) => {
            let id = field(&device, "id");
            (id.clone().into(), id)
        }
        None => {
            let track = stand_in(kind);
            let id = track.id();
            (track.into(), id)
        }
    }
}

/// Waits until `side` is told, at or after `since` in what it saw, that the other side's
/// camera is `on`; returns where.
async fn told_video(side: &mut Side, since: usize, on: bool) -> usize {
    let video = |media: &JsValue| Reflect::get(media, &"video".into()).ok()?.as_bool();
    side.seen_where(since, "participant-media", |media| video(media) == Some(on))
        .await
        .1
}

/// Waits until `side` receives video frames and audio packets past `past`.
async fn still_receives(side: &Side, past: (f64, f64)) -> (f64, f64) {
    let now = side.media_flows_past(past.0, past.1).await;
    side.media_flows_past(now.0, now.1).await
}

#[wasm_bindgen_test]
async fn devices_are_listed_with_their_labels_once_allowed() {
    let (alice, bob) = connected_pair().await;
    let list = devices(&alice).await;
    for kind in ["camera", "microphone"] {
        let of_kind: Vec<&JsValue> = list.iter().filter(|d| field(d, "kind") == kind).collect();
        assert!(!of_kind.is_empty(), "no {kind} listed");
        assert!(
            of_kind.iter().all(|d| !field(d, "label").is_empty()),
            "a {kind} without its label, though allowed"
        );
    }
    // Speakers are offered exactly where they can be chosen.
    let choosable = Reflect::has(
        &Reflect::get(&js_sys::global(), &"HTMLMediaElement".into())
            .and_then(|c| Reflect::get(&c, &"prototype".into()))
            .unwrap(),
        &"setSinkId".into(),
    )
    .unwrap();
    if !choosable {
        assert!(list.iter().all(|d| field(d, "kind") != "speaker"));
    }
    let speaker = list.iter().find(|d| field(d, "kind") == "speaker");
    match (choosable, speaker) {
        (true, Some(speaker)) => {
            JsFuture::from(alice.call.use_speaker(field(speaker, "id")))
                .await
                .expect("the speaker is used");
        }
        (false, _) => {
            let error = JsFuture::from(alice.call.use_speaker("default".into()))
                .await
                .expect_err("no speaker choice here");
            assert!(field(&error, "message").contains("speaker"));
        }
        (true, None) => {}
    }
    alice.call.hangup();
    drop(bob);
}

#[wasm_bindgen_test]
async fn a_new_camera_keeps_the_video_going_and_stays_off_if_it_was() {
    let (mut alice, mut bob) = connected_pair().await;
    let stream = local(&mut alice).await;
    let before = track_of(&stream, "video");
    let received = bob.media_flows_past(0.0, 0.0).await;

    alice.call.set_camera_enabled(false);
    let off = told_video(&mut bob, 0, false).await;
    let (pick, expected) = another(&alice, "video", &before).await;
    JsFuture::from(alice.call.use_camera(pick))
        .await
        .expect("the camera is switched");
    let after = track_of(&stream, "video");
    assert!(
        device_of(&after) == expected || after.id() == expected,
        "the new camera is sent"
    );
    assert_eq!(
        field(&before, "readyState"),
        "ended",
        "the old camera stops"
    );
    assert!(!after.enabled(), "the camera stays off");
    let received = still_receives(&bob, received).await;

    alice.call.set_camera_enabled(true);
    // Bob is told once the new camera is on.
    told_video(&mut bob, off + 1, true).await;
    assert!(after.enabled());
    let received = still_receives(&bob, received).await;

    // Two switches in a row, the second before the browser has settled the first: the
    // last one chosen is sent, not the one stopped in between.
    let (second, third) = (stand_in("video"), stand_in("video"));
    JsFuture::from(alice.call.use_camera(Clone::clone(&second).into()))
        .await
        .expect("switched");
    JsFuture::from(alice.call.use_camera(Clone::clone(&third).into()))
        .await
        .expect("switched again");
    assert_eq!(track_of(&stream, "video").id(), third.id());
    assert_eq!(field(&second, "readyState"), "ended");
    still_receives(&bob, received).await;
    assert_eq!(alice.call.state(), "connected");
    alice.call.hangup();
}

#[wasm_bindgen_test]
async fn a_new_microphone_keeps_the_sound_going_and_stays_muted_if_it_was() {
    let (mut alice, bob) = connected_pair().await;
    let stream = local(&mut alice).await;
    let before = track_of(&stream, "audio");
    let received = bob.media_flows_past(0.0, 0.0).await;

    alice.call.set_mic_enabled(false);
    let (pick, expected) = another(&alice, "audio", &before).await;
    JsFuture::from(alice.call.use_microphone(pick))
        .await
        .expect("the microphone is switched");
    let after = track_of(&stream, "audio");
    assert!(
        device_of(&after) == expected || after.id() == expected,
        "the new microphone is sent"
    );
    assert!(!after.enabled(), "the microphone stays muted");
    // A muted microphone still sends (silent) packets: the stream goes on.
    let received = still_receives(&bob, received).await;
    alice.call.set_mic_enabled(true);
    still_receives(&bob, received).await;
    alice.call.hangup();
}

#[wasm_bindgen_test]
async fn a_camera_chosen_before_the_call_that_is_gone_does_not_stop_it() {
    let (mut alice, mut bob) = common::pair().await;
    // Kept for the next call, which asks for it as the ideal only.
    JsFuture::from(alice.call.use_camera("a-camera-unplugged-since".into()))
        .await
        .expect("kept for the call");
    alice.ring(&mut bob).await;
    bob.call.accept();
    alice.reach("connected").await;
    let stream = local(&mut alice).await;
    assert_eq!(
        stream.get_video_tracks().length(),
        1,
        "the call has a camera"
    );
    let received = bob.media_flows_past(0.0, 0.0).await;
    still_receives(&bob, received).await;
    alice.call.hangup();
}

#[wasm_bindgen_test]
async fn the_lists_follow_devices_coming_and_going() {
    let (mut alice, _bob) = connected_pair().await;
    let since = alice.seen.borrow().len();
    // What the browser fires when a device is plugged in or out.
    let media_devices = web_sys::window()
        .unwrap()
        .navigator()
        .media_devices()
        .unwrap();
    media_devices
        .dispatch_event(&web_sys::Event::new("devicechange").unwrap())
        .unwrap();
    let list = alice.seen_since(since, "devices").await;
    assert!(
        Array::from(&list)
            .iter()
            .any(|d| field(&d, "kind") == "camera"),
        "the new list has the camera"
    );
    // Nothing in use went away: the call goes on, with no error said.
    assert!(
        !alice.seen.borrow()[since..]
            .iter()
            .any(|(event, _)| event == "error")
    );
    assert_eq!(alice.call.state(), "connected");
    alice.call.hangup();
}

/// A device the page's `enumerateDevices` no longer lists, until dropped (the later
/// tests on this page see every device again).
struct Hidden;

impl Hidden {
    /// Hides `id` and says the devices changed.
    fn device(id: &str) -> Self {
        Function::new_with_args(
            "gone",
            "const devices = navigator.mediaDevices;
             const list = devices.enumerateDevices.bind(devices);
             devices.enumerateDevices = async () => (await list()).filter((d) => d.deviceId !== gone);
             devices.enumerateDevices.unhide = () => { devices.enumerateDevices = list; };
             devices.dispatchEvent(new Event('devicechange'));",
        )
        .call1(&JsValue::NULL, &id.into())
        .expect("the device is hidden");
        Self
    }
}

impl Drop for Hidden {
    fn drop(&mut self) {
        let _ = Function::new_no_args("navigator.mediaDevices.enumerateDevices.unhide?.()")
            .call0(&JsValue::NULL);
    }
}

#[wasm_bindgen_test]
async fn a_camera_that_disappears_gives_way_to_the_default_one_and_says_so() {
    let (mut alice, bob) = connected_pair().await;
    let stream = local(&mut alice).await;
    let before = track_of(&stream, "video");
    let received = bob.media_flows_past(0.0, 0.0).await;
    // The fake camera cannot be unplugged: the page's view of the devices loses it, as
    // it would when it is unplugged, and the browser says the devices changed.
    let since = alice.seen.borrow().len();
    let _hidden = Hidden::device(&device_of(&before));
    let error = alice.seen_since(since, "error").await;
    assert_eq!(field(&error, "code"), "no-device");
    assert!(
        field(&error, "message").contains("camera in use was disconnected"),
        "{}",
        field(&error, "message")
    );
    // The default camera takes over, and the other side keeps receiving.
    let started = js_sys::Date::now();
    while track_of(&stream, "video") == before {
        assert!(
            js_sys::Date::now() - started < f64::from(common::PATIENCE_MS),
            "the default camera never came"
        );
        // The switch has no event of its own on the page: look again soon.
        gloo_timers::future::TimeoutFuture::new(50).await;
    }
    assert_eq!(field(&before, "readyState"), "ended");
    still_receives(&bob, received).await;
    assert_eq!(alice.call.state(), "connected");
    alice.call.hangup();
}
