//! The remote video playing under the browser's autoplay policy.
//!
//! A `<video>` with sound may only start by itself where the browser allows it: Chromium
//! and Firefox allow it once the person has clicked on the page or while it uses the
//! camera or microphone, so a call that receives only, answered by a page without a
//! click, is refused (`play()` rejects with `NotAllowedError`) and would show nothing at
//! all. Then the video plays muted, the page is told (`autoplay-blocked`), and the sound
//! comes on at the person's next click, tap or key press.
//! <https://developer.mozilla.org/docs/Web/Media/Guides/Autoplay>

use std::rc::Rc;

use wasm_bindgen::JsValue;
use wasm_bindgen_futures::JsFuture;
use web_sys::HtmlVideoElement;

use crate::{
    error::{Error, ErrorCode},
    js::{Listener, Task},
};

/// The remote video of a call; dropping it lets go of the wait for a gesture and gives the
/// element back its sound, if the browser's refusal had muted it (the page's own choice
/// stays).
pub struct Playback {
    _watch: Task,
}

impl Playback {
    /// Plays `video` (its stream already attached), muted if the browser insists, and
    /// then tells `blocked`.
    pub fn start(video: HtmlVideoElement, blocked: impl FnOnce(Error) + 'static) -> Self {
        Self {
            _watch: Task::spawn(play(video, blocked)),
        }
    }
}

/// The sound of a video muted for the browser's sake, given back when this goes (with the
/// wait for a gesture, or the call).
struct Muted(HtmlVideoElement);

impl Drop for Muted {
    fn drop(&mut self) {
        self.0.set_muted(false);
    }
}

async fn play(video: HtmlVideoElement, blocked: impl FnOnce(Error)) {
    let Err(refusal) = started(&video).await else {
        return;
    };
    let name = js_sys::Reflect::get(&refusal, &"name".into()).ok();
    if name.and_then(|n| n.as_string()).as_deref() != Some("NotAllowedError") {
        // Replaced by a new stream, say: nothing to do.
        return;
    }
    // Muted here only if the page had not muted it itself: only then is the sound given
    // back.
    let _muted = (!video.muted()).then(|| Muted(video.clone()));
    video.set_muted(true);
    if started(&video).await.is_err() {
        return;
    }
    let error = Error::new(
        ErrorCode::AutoplayBlocked,
        "the browser holds back the call's sound until you click or tap the page",
    );
    blocked(error);
    let Some(document) = crate::js::window().and_then(|w| w.document()) else {
        return;
    };
    let (tx, rx) = crate::queue::queue();
    let gesture = Rc::new(move || {
        // Unmuted and played within the person's gesture, which the browser honours.
        video.set_muted(false);
        if let Ok(playing) = video.play() {
            // Given a handler, so that a refusal is not logged as an unhandled rejection.
            drop(JsFuture::from(playing));
        }
        let _ = tx.send(());
    });
    let _listeners: Vec<Listener> = ["pointerdown", "keydown"]
        .into_iter()
        .map(|event| {
            let gesture = gesture.clone();
            Listener::new(&document, event, move |_| gesture())
        })
        .collect();
    rx.next().await;
}

async fn started(video: &HtmlVideoElement) -> Result<JsValue, JsValue> {
    JsFuture::from(video.play()?).await
}
