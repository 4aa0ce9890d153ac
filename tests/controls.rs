//! Mute and camera off, as the other side of the call sees and hears them.

#![cfg(target_arch = "wasm32")]

mod common;

use common::{Engine, PATIENCE_MS, Side, connected_pair, field, skipped_in};
use gloo_timers::future::TimeoutFuture;
use js_sys::{Function, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};
use web_sys::{HtmlVideoElement, MediaStream};

wasm_bindgen_test_configure!(run_in_browser);

/// A `<video>` on the page showing a remote stream, as a person would watch it.
struct Screen(HtmlVideoElement);

impl Screen {
    fn showing(stream: &MediaStream) -> Self {
        let document = web_sys::window().unwrap().document().unwrap();
        let video: HtmlVideoElement = document.create_element("video").unwrap().unchecked_into();
        // Played with its sound, as a person hears it: Chromium measures received audio
        // only where it is played out.
        video.set_autoplay(true);
        video.set_src_object(Some(stream));
        document.body().unwrap().append_child(&video).unwrap();
        Self(video)
    }

    /// The brightest colour channel of the picture now (0 to 255).
    fn brightest(&self) -> f64 {
        let measure = Function::new_with_args(
            "v",
            "if (!v.videoWidth) return -1;
             const c = document.createElement('canvas');
             c.width = 64; c.height = 48;
             const g = c.getContext('2d');
             g.drawImage(v, 0, 0, 64, 48);
             const d = g.getImageData(0, 0, 64, 48).data;
             let m = 0;
             for (let i = 0; i < d.length; i += 4) m = Math.max(m, d[i], d[i + 1], d[i + 2]);
             return m;",
        );
        measure
            .call1(&JsValue::NULL, &self.0)
            .ok()
            .and_then(|v| v.as_f64())
            .unwrap_or(-1.0)
    }

    /// Waits until the picture's brightest channel passes `test`.
    async fn until(&self, what: &str, test: impl Fn(f64) -> bool) {
        let started = js_sys::Date::now();
        loop {
            let now = self.brightest();
            if now >= 0.0 && test(now) {
                return;
            }
            assert!(
                js_sys::Date::now() - started < f64::from(PATIENCE_MS),
                "never {what} (brightest channel {now})"
            );
            // A video frame has no event a test can wait on: look again after one.
            TimeoutFuture::new(100).await;
        }
    }
}

impl Drop for Screen {
    fn drop(&mut self) {
        self.0.remove();
    }
}

/// The audio energy received so far (the sum of the squared level, 0 to 1, over each
/// second played) (`inbound-rtp` `totalAudioEnergy`), if the engine
/// reports it.
async fn heard(side: &Side) -> Option<f64> {
    let report = JsFuture::from(side.call.get_stats(None)).await.ok()?;
    if report.is_null() {
        return None;
    }
    // An RTCStatsReport is map-like, not a Map.
    let report: js_sys::Map = report.unchecked_into();
    let mut energy = None;
    report.for_each(&mut |stat, _| {
        if field(&stat, "type") == "inbound-rtp" && field(&stat, "kind") == "audio" {
            energy = Reflect::get(&stat, &"totalAudioEnergy".into())
                .ok()
                .and_then(|v| v.as_f64());
        }
    });
    energy
}

/// Waits until `side` hears sound, or (`sound` false) until it has heard nothing for
/// 1.5 s straight: longer than the gap between the fake microphone's beeps.
async fn until_heard(side: &Side, sound: bool) {
    let started = js_sys::Date::now();
    let mut last = heard(side).await.unwrap_or_default();
    let mut quiet_since = js_sys::Date::now();
    loop {
        TimeoutFuture::new(100).await;
        let now = heard(side).await.unwrap_or_default();
        // Silence adds (next to) no energy; the fake microphone's tone adds far more.
        let louder = now - last > 1e-5;
        last = now;
        if louder {
            quiet_since = js_sys::Date::now();
            if sound {
                return;
            }
        } else if !sound && js_sys::Date::now() - quiet_since > 1_500.0 {
            return;
        }
        assert!(
            js_sys::Date::now() - started < f64::from(PATIENCE_MS),
            "{}: never {}",
            side.name,
            if sound { "heard sound" } else { "silent" }
        );
    }
}

#[wasm_bindgen_test]
async fn the_other_side_sees_black_and_hears_nothing_while_camera_and_mic_are_off() {
    let (alice, mut bob) = connected_pair().await;
    let stream: MediaStream = bob.seen_since(0, "remote-stream").await.unchecked_into();
    let screen = Screen::showing(&stream);
    bob.media_flows_past(0.0, 0.0).await;
    let with_sound = heard(&bob).await.is_some()
        || !skipped_in(
            Engine::here(),
            "the_other_side_sees_black_and_hears_nothing_while_camera_and_mic_are_off (sound)",
            "this engine's inbound-rtp stats have no totalAudioEnergy",
        );

    screen.until("shows alice's camera", |b| b > 60.0).await;
    if with_sound {
        until_heard(&bob, true).await;
    }

    alice.call.set_camera_enabled(false);
    alice.call.set_mic_enabled(false);
    // A disabled track sends black frames and silence.
    screen.until("turns black", |b| b < 40.0).await;
    if with_sound {
        until_heard(&bob, false).await;
    }
    assert_eq!(bob.call.state(), "connected");

    alice.call.set_camera_enabled(true);
    alice.call.set_mic_enabled(true);
    screen
        .until("shows alice's camera again", |b| b > 60.0)
        .await;
    if with_sound {
        until_heard(&bob, true).await;
    }
    alice.call.hangup();
    bob.ended().await;
}
