//! What the others see of us: exact mute marks, and a shared screen as a second video.

#![cfg(target_arch = "wasm32")]

mod common;

use std::{cell::RefCell, rc::Rc};

use common::{
    Engine, PATIENCE_MS, Side, connected_pair, decodes_from_all, decodes_past, field, join, pair,
    skipped_in, small_media, unique,
};
use gloo_timers::future::TimeoutFuture;
use js_sys::{Function, Reflect};
use wasm_bindgen::{JsCast, JsValue, closure::Closure};
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};
use web_sys::{MediaStream, MediaStreamTrack};

wasm_bindgen_test_configure!(run_in_browser);

/// A boolean property of a payload.
fn flag(payload: &JsValue, key: &str) -> Option<bool> {
    Reflect::get(payload, &key.into()).ok()?.as_bool()
}

/// What `side` was last told of `id`'s microphone and camera.
fn marks_of(side: &Side, id: &str) -> Option<(bool, bool)> {
    side.seen
        .borrow()
        .iter()
        .rev()
        .find(|(event, media)| event == "participant-media" && field(media, "id") == id)
        .map(|(_, media)| {
            (
                flag(media, "audio").expect("audio"),
                flag(media, "video").expect("video"),
            )
        })
}

/// Waits until `side` was last told `marks` of `id` (microphone, camera).
async fn until_marks(side: &Side, id: &str, marks: (bool, bool)) {
    let started = js_sys::Date::now();
    while marks_of(side, id) != Some(marks) {
        assert!(
            js_sys::Date::now() - started < f64::from(PATIENCE_MS),
            "{}: told {:?} of {id}, not {marks:?}",
            side.name,
            marks_of(side, id)
        );
        // The events are recorded as they come; look again soon.
        TimeoutFuture::new(50).await;
    }
}

/// Waits for `side`'s next `event` (`share-started`, `share-ended`) about `id`.
async fn share_news(side: &mut Side, event: &str, id: &str) {
    loop {
        if field(&side.next(event).await, "id") == id {
            return;
        }
    }
}

#[wasm_bindgen_test]
async fn mute_marks_follow_what_the_other_side_sends() {
    let (alice, mut bob) = connected_pair().await;
    until_marks(&bob, &alice.id, (true, true)).await;
    until_marks(&alice, &bob.id, (true, true)).await;

    alice.call.set_mic_enabled(false);
    until_marks(&bob, &alice.id, (false, true)).await;
    alice.call.set_camera_enabled(false);
    until_marks(&bob, &alice.id, (false, false)).await;
    alice.call.set_mic_enabled(true);
    alice.call.set_camera_enabled(true);
    until_marks(&bob, &alice.id, (true, true)).await;
    // Bob's own marks never changed: alice heard them once.
    let told = alice
        .seen
        .borrow()
        .iter()
        .filter(|(event, _)| event == "participant-media")
        .count();
    assert_eq!(told, 1, "alice heard bob's unchanged marks again");
    alice.call.hangup();
    bob.ended().await;
}

/// The remote streams `side` is told of, with the kind each carries (`remote-stream`
/// handlers get it as a second argument).
struct Streams {
    seen: Rc<RefCell<Vec<(MediaStream, String)>>>,
    _handler: Closure<dyn FnMut(JsValue, JsValue)>,
}

impl Streams {
    fn of(side: &Side) -> Self {
        let seen = Rc::new(RefCell::new(Vec::new()));
        let into = seen.clone();
        let handler =
            Closure::<dyn FnMut(JsValue, JsValue)>::new(move |stream: JsValue, kind: JsValue| {
                into.borrow_mut().push((
                    stream.unchecked_into(),
                    kind.as_string().unwrap_or_default(),
                ));
            });
        side.call.on(
            "remote-stream".to_owned(),
            handler.as_ref().unchecked_ref::<Function>().clone(),
        );
        Self {
            seen,
            _handler: handler,
        }
    }

    /// Waits for a stream of `kind`.
    async fn of_kind(&self, kind: &str) -> MediaStream {
        let started = js_sys::Date::now();
        loop {
            let found = self.seen.borrow().iter().find(|(_, k)| k == kind).cloned();
            if let Some((stream, _)) = found {
                return stream;
            }
            assert!(
                js_sys::Date::now() - started < f64::from(PATIENCE_MS),
                "no {kind} stream"
            );
            // The handler above fills the list; look again soon.
            TimeoutFuture::new(50).await;
        }
    }
}

/// The video track of `stream`.
fn video_of(stream: &MediaStream) -> MediaStreamTrack {
    stream.get_video_tracks().get(0).unchecked_into()
}

/// Ends `track` as the browser's own "Stop sharing" does: the capture stops and `ended`
/// fires (a page's own `stop()` fires nothing).
fn stop_sharing_from_the_browser(track: &MediaStreamTrack) {
    track.stop();
    track
        .dispatch_event(&web_sys::Event::new("ended").unwrap())
        .unwrap();
}

#[wasm_bindgen_test]
async fn a_shared_screen_reaches_the_other_side_as_a_second_video_and_ends_with_its_capture() {
    if skipped_in(
        Engine::Firefox,
        "a_shared_screen_reaches_the_other_side_as_a_second_video_and_ends_with_its_capture",
        "Firefox grants getDisplayMedia only to a click, and headless Firefox has no screen to capture (the end-to-end test shows Firefox receiving a screen and refusing in words)",
    ) {
        return;
    }
    let (mut alice, mut bob) = pair().await;
    let bobs_streams = Streams::of(&bob);
    alice.ring(&mut bob).await;
    bob.call.accept();
    alice.reach("connected").await;
    bob.reach("connected").await;
    let camera = bobs_streams.of_kind("camera").await;
    let camera_track = video_of(&camera).id();

    let shared: MediaStream = JsFuture::from(alice.call.share_screen())
        .await
        .expect("the screen is shared")
        .unchecked_into();
    let shared_track = video_of(&shared);
    assert_eq!(
        Reflect::get(&shared_track, &"contentHint".into()).unwrap(),
        "detail"
    );
    let me = alice.id.clone();
    share_news(&mut alice, "share-started", &me).await;
    share_news(&mut bob, "share-started", &alice.id).await;
    let screen = bobs_streams.of_kind("screen").await;
    assert_eq!(
        screen.id(),
        shared.id(),
        "the screen is told apart from the camera"
    );
    let screen_track = video_of(&screen).id();
    let frames = decodes_past(&bob, None, &screen_track, 0.0).await;
    decodes_past(&bob, None, &screen_track, frames).await;
    let camera_frames = decodes_past(&bob, None, &camera_track, 0.0).await;

    stop_sharing_from_the_browser(&shared_track);
    share_news(&mut alice, "share-ended", &me).await;
    share_news(&mut bob, "share-ended", &alice.id).await;
    // The camera goes on.
    decodes_past(&bob, None, &camera_track, camera_frames).await;
    assert_eq!(alice.call.state(), "connected");
    assert_eq!(bob.call.state(), "connected");

    // Shared again, and stopped from the page this time.
    JsFuture::from(alice.call.share_screen())
        .await
        .expect("the screen is shared again");
    share_news(&mut bob, "share-started", &alice.id).await;
    alice.call.stop_share();
    share_news(&mut bob, "share-ended", &alice.id).await;
    alice.call.hangup();
    bob.ended().await;
}

#[wasm_bindgen_test]
async fn a_refused_screen_prompt_is_an_error_in_words_and_the_call_goes_on() {
    if skipped_in(
        Engine::Chromium,
        "a_refused_screen_prompt_is_an_error_in_words_and_the_call_goes_on",
        "headless Chromium's fake media UI grants every screen prompt",
    ) {
        return;
    }
    let (alice, mut bob) = connected_pair().await;
    // Not from a click: Firefox refuses.
    let error = JsFuture::from(alice.call.share_screen())
        .await
        .expect_err("refused");
    assert_eq!(field(&error, "code"), "media-denied");
    assert!(
        field(&error, "message").contains("click"),
        "{}",
        field(&error, "message")
    );
    let (frames, packets) = bob.media_flows_past(0.0, 0.0).await;
    bob.media_flows_past(frames, packets).await;
    assert_eq!(alice.call.state(), "connected");
    assert!(
        !alice
            .seen
            .borrow()
            .iter()
            .any(|(event, _)| event == "share-started")
    );
    alice.call.hangup();
    bob.ended().await;
}

#[wasm_bindgen_test]
async fn outside_a_call_there_is_no_screen_to_share() {
    let alice = Side::online("alice").await;
    let error = JsFuture::from(alice.call.share_screen())
        .await
        .expect_err("refused");
    assert_eq!(field(&error, "code"), "invalid-state");
}

#[wasm_bindgen_test]
async fn a_screen_shared_in_a_room_call_reaches_everyone_and_newcomers() {
    if skipped_in(
        Engine::Firefox,
        "a_screen_shared_in_a_room_call_reaches_everyone_and_newcomers",
        "Firefox grants getDisplayMedia only to a click, and headless Firefox has no screen to capture (the end-to-end test shows Firefox receiving a screen and refusing in words)",
    ) {
        return;
    }
    let room = unique("share");
    let member = |prefix: &'static str| {
        let room = room.clone();
        async move {
            Side::online_with(
                prefix,
                &[("room", room.as_str().into()), ("media", small_media())],
            )
            .await
        }
    };
    let alice = member("alice").await;
    let mut bob = member("bob").await;
    join(&alice).await;
    join(&bob).await;
    decodes_from_all(&alice, &[&bob]).await;
    JsFuture::from(alice.call.share_screen())
        .await
        .expect("the screen is shared");
    share_news(&mut bob, "share-started", &alice.id).await;
    // A newcomer gets the screen too.
    let mut carol = member("carol").await;
    join(&carol).await;
    share_news(&mut carol, "share-started", &alice.id).await;
    for side in [&mut bob, &mut carol] {
        loop {
            let stream = side.next("participant-stream").await;
            if field(&stream, "id") == alice.id && field(&stream, "kind") == "screen" {
                let stream: MediaStream = Reflect::get(&stream, &"stream".into())
                    .unwrap()
                    .unchecked_into();
                let track = video_of(&stream).id();
                let frames = decodes_past(side, Some(&alice.id), &track, 0.0).await;
                decodes_past(side, Some(&alice.id), &track, frames).await;
                break;
            }
        }
    }
    // The newcomer's connection brought the screen before the word that it is one, so the
    // screen came first as a camera: the camera comes again after it, and the last stream
    // Carol heard of as Alice's camera is her camera, with her sound.
    let last_camera = (carol.seen.borrow().iter().rev())
        .find(|(event, stream)| {
            event == "participant-stream"
                && field(stream, "id") == alice.id
                && field(stream, "kind") == "camera"
        })
        .map(|(_, stream)| stream.clone())
        .expect("alice's camera");
    let camera: MediaStream = Reflect::get(&last_camera, &"stream".into())
        .unwrap()
        .unchecked_into();
    assert_eq!(
        camera.get_audio_tracks().length(),
        1,
        "alice's last camera stream is her screen"
    );
    alice.call.stop_share();
    share_news(&mut bob, "share-ended", &alice.id).await;
    share_news(&mut carol, "share-ended", &alice.id).await;
    for side in [&alice, &bob, &carol] {
        side.call.leave_call();
    }
}

#[wasm_bindgen_test]
async fn a_screen_shared_when_the_server_refuses_us_for_good_stops_and_the_page_is_told() {
    if skipped_in(
        Engine::Firefox,
        "a_screen_shared_when_the_server_refuses_us_for_good_stops_and_the_page_is_told",
        "Firefox grants getDisplayMedia only to a click, and headless Firefox has no screen to capture",
    ) {
        return;
    }
    let room = [("room", JsValue::from(unique("room")))];
    let mut alice = Side::online_with("alice", &room).await;
    let mut bob = Side::online_with("bob", &room).await;
    alice.sees(&bob).await;
    alice.ring(&mut bob).await;
    bob.call.accept();
    alice.reach("connected").await;
    bob.reach("connected").await;
    let shared: MediaStream = JsFuture::from(bob.call.share_screen())
        .await
        .expect("the screen is shared")
        .unchecked_into();
    let me = bob.id.clone();
    share_news(&mut bob, "share-started", &me).await;
    let since = bob.seen.borrow().len();

    // The room's moderator removes bob: a final refusal, which ends his call and his
    // login. His page hears that his screen is no longer shared, and the capture stops.
    alice.call.remove_peer(bob.id.clone());
    let (error, _) = bob.seen_where(since, "error", |_| true).await;
    assert_eq!(field(&error, "code"), "removed");
    let (ended, _) = bob.seen_where(since, "share-ended", |_| true).await;
    assert_eq!(field(&ended, "id"), me);
    assert_eq!(
        video_of(&shared).ready_state(),
        web_sys::MediaStreamTrackState::Ended
    );
    bob.reach("offline").await;
    alice.ended().await;
}
