//! Camera and microphone: getUserMedia with graceful fallbacks.
//!
//! A call should go on with whatever the person has: with no camera it is audio only,
//! with nothing at all it receives only. Every failure becomes a clear [`Error`]; see
//! <https://developer.mozilla.org/docs/Web/API/MediaDevices/getUserMedia#exceptions>.

pub mod choice;
pub mod playback;
pub mod screen;

use js_sys::{Object, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{MediaStream, MediaStreamConstraints, MediaStreamTrack};

use crate::error::{Error, ErrorCode, js_error_name, js_message};

/// What the person sends in a call.
pub struct LocalMedia {
    /// The camera and microphone tracks, if any.
    pub stream: Option<MediaStream>,
    /// What went wrong getting them, if anything (the call goes on regardless).
    pub problem: Option<Error>,
}

impl LocalMedia {
    /// Whether a track of `kind` (`audio` or `video`) is being sent.
    pub fn has(&self, kind: &str) -> bool {
        self.tracks().any(|track| track.kind() == kind)
    }

    /// Enables or disables every track of `kind`; a disabled track sends silence or black.
    pub fn set_enabled(&self, kind: &str, enabled: bool) {
        for track in self.tracks().filter(|track| track.kind() == kind) {
            track.set_enabled(enabled);
        }
    }

    /// Stops every track, so the camera light goes off.
    pub fn stop(&self) {
        self.stream.iter().for_each(stop);
    }

    fn tracks(&self) -> impl Iterator<Item = MediaStreamTrack> + '_ {
        self.stream.iter().flat_map(tracks_of)
    }
}

/// The tracks of `stream`.
pub fn tracks_of(stream: &MediaStream) -> impl Iterator<Item = MediaStreamTrack> + use<> {
    // A stream's tracks are tracks.
    stream.get_tracks().into_iter().map(JsCast::unchecked_into)
}

/// Stops every track of `stream`.
pub fn stop(stream: &MediaStream) {
    tracks_of(stream).for_each(|track| track.stop());
}

/// The default request: a camera and a microphone.
pub fn default_constraints() -> JsValue {
    let constraints = Object::new();
    let _ = Reflect::set(&constraints, &"audio".into(), &true.into());
    let _ = Reflect::set(&constraints, &"video".into(), &true.into());
    constraints.into()
}

/// What getUserMedia gave, or why it gave nothing.
pub type Requested = Result<MediaStream, Error>;

/// Gets the camera and microphone asked for by `constraints`, falling back to audio only
/// and then to nothing; `then` gets what came.
pub fn acquire(constraints: &JsValue, then: Box<dyn FnOnce(LocalMedia)>) {
    let constraints = Clone::clone(constraints);
    request(
        &Clone::clone(&constraints),
        Box::new(move |first| {
            let first = match first {
                Ok(stream) => return then(LocalMedia::of(stream)),
                Err(first) => first,
            };
            let wants_video = Reflect::get(&constraints, &"video".into())
                .map(|video| video.is_truthy())
                .unwrap_or(false);
            let failed = LocalMedia {
                stream: None,
                problem: Some(first.clone()),
            };
            if !(wants_video && matches!(first.code, ErrorCode::NoDevice | ErrorCode::DeviceBusy)) {
                return then(failed);
            }
            let audio_only = Object::new();
            let audio = Reflect::get(&constraints, &"audio".into()).unwrap_or(JsValue::TRUE);
            let _ = Reflect::set(&audio_only, &"audio".into(), &audio);
            let _ = Reflect::set(&audio_only, &"video".into(), &false.into());
            request(
                &audio_only.into(),
                Box::new(move |second| match second {
                    // Audio only is a working call, not an error; the caller sees what it has.
                    Ok(stream) => then(LocalMedia::of(stream)),
                    Err(_) => then(failed),
                }),
            );
        }),
    );
}

impl LocalMedia {
    fn of(stream: MediaStream) -> Self {
        Self {
            stream: Some(stream),
            problem: None,
        }
    }
}

/// Asks getUserMedia for `constraints`; `then` gets the stream or the reason in words.
pub(crate) fn request(constraints: &JsValue, then: Box<dyn FnOnce(Requested)>) {
    let insecure = || {
        Error::new(
            ErrorCode::InsecureContext,
            "camera and microphone need a secure page (https, or localhost)",
        )
    };
    // `navigator.mediaDevices` is missing on insecure pages in every browser.
    let devices = crate::js::window()
        .filter(web_sys::Window::is_secure_context)
        .and_then(|window| window.navigator().media_devices().ok());
    let Some(devices) = devices else {
        return then(Err(insecure()));
    };
    let promise = match devices
        .get_user_media_with_constraints(constraints.unchecked_ref::<MediaStreamConstraints>())
    {
        Ok(promise) => promise,
        Err(error) => return then(Err(classify(&error))),
    };
    crate::js::when_settled(
        promise,
        Box::new(move |result| {
            then(result.map_err(|error| classify(&error)).and_then(|stream| {
                stream
                    .dyn_into::<MediaStream>()
                    .map_err(|_| Error::new(ErrorCode::MediaFailed, "getUserMedia gave no stream"))
            }));
        }),
    );
}

/// Turns a getUserMedia rejection into an error a person understands.
fn classify(error: &JsValue) -> Error {
    let (code, message) = match js_error_name(error).as_str() {
        "NotAllowedError" | "PermissionDeniedError" => (
            ErrorCode::MediaDenied,
            "camera and microphone access was denied: allow it in the browser's site settings",
        ),
        "NotFoundError" | "DevicesNotFoundError" => {
            (ErrorCode::NoDevice, "no camera or microphone was found")
        }
        "NotReadableError" | "TrackStartError" | "AbortError" => (
            ErrorCode::DeviceBusy,
            "the camera or microphone is in use by another program, or failed to start",
        ),
        "OverconstrainedError" | "ConstraintNotSatisfiedError" | "TypeError" => (
            ErrorCode::MediaConstraints,
            "no camera or microphone can provide the requested settings",
        ),
        "SecurityError" => (
            ErrorCode::InsecureContext,
            "camera and microphone are blocked on this page",
        ),
        _ => (
            ErrorCode::MediaFailed,
            "the camera or microphone could not be started",
        ),
    };
    let detail = js_message(error);
    if detail.is_empty() {
        Error::new(code, message)
    } else {
        Error::new(code, [message, " (", &detail, ")"].concat())
    }
}

/// Shows `stream` in `video`, or empties it.
pub fn show(video: Option<&web_sys::HtmlVideoElement>, stream: Option<&MediaStream>) {
    if let Some(video) = video {
        video.set_src_object(stream);
        if stream.is_none() {
            // Drop the last frame too, so an ended call leaves an empty stage.
            video.load();
        }
    }
}
