//! Which camera, microphone and speaker: the browser's list of them, a track from the one
//! chosen, and the speaker a `<video>` plays through. Speaker choice is offered only where
//! the browser has `setSinkId` (detected, never guessed from the browser's name).

use js_sys::{Array, Function, Object, Promise, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{HtmlMediaElement, MediaStreamTrack};

use crate::{
    error::{Error, ErrorCode},
    js::{field, object, text_of},
};

/// A kind of device, as pages name it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeviceKind {
    /// A video input.
    Camera,
    /// An audio input.
    Microphone,
    /// An audio output.
    Speaker,
}

impl DeviceKind {
    /// Every kind.
    pub const ALL: [Self; 3] = [Self::Camera, Self::Microphone, Self::Speaker];

    /// The kind as pages see it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Camera => "camera",
            Self::Microphone => "microphone",
            Self::Speaker => "speaker",
        }
    }

    /// The `kind` of its tracks (`video`, `audio`).
    pub fn track_kind(self) -> &'static str {
        match self {
            Self::Camera => "video",
            _ => "audio",
        }
    }

    /// The kind of a `MediaDeviceInfo.kind`.
    fn of_info(kind: &str) -> Option<Self> {
        match kind {
            "videoinput" => Some(Self::Camera),
            "audioinput" => Some(Self::Microphone),
            "audiooutput" => Some(Self::Speaker),
            _ => None,
        }
    }
}

/// Whether the browser lets a page choose the speaker (`HTMLMediaElement.setSinkId`).
pub fn speaker_choice() -> bool {
    let Some(window) = crate::js::window() else {
        return false;
    };
    let prototype = field(&field(&window, "HTMLMediaElement"), "prototype");
    prototype.is_object() && Reflect::has(&prototype, &"setSinkId".into()).unwrap_or(false)
}

/// The cameras, microphones and (where they can be chosen) speakers, as
/// `[{id, kind, label}]`, for `then`. Labels are empty until the person has allowed a
/// device.
pub fn list(then: Box<dyn FnOnce(Result<Array, Error>)>) {
    let failed = || Error::new(ErrorCode::MediaFailed, "the devices cannot be listed");
    let promise = crate::js::window()
        .and_then(|window| window.navigator().media_devices().ok())
        .and_then(|devices| devices.enumerate_devices().ok());
    let Some(promise) = promise else {
        return then(Err(failed()));
    };
    crate::js::when_settled(
        promise,
        Box::new(move |result| {
            then(
                result
                    .map_err(|_| failed())
                    .map(|infos| devices_of(&infos.unchecked_into())),
            );
        }),
    );
}

/// The devices of `infos` (`MediaDeviceInfo[]`) as pages see them.
fn devices_of(infos: &Array) -> Array {
    let speakers = speaker_choice();
    infos
        .iter()
        .filter_map(|info| {
            let kind = DeviceKind::of_info(&text_of(&info, "kind")?)?;
            if kind == DeviceKind::Speaker && !speakers {
                return None;
            }
            Some(object(&[
                ("id", field(&info, "deviceId")),
                ("kind", kind.as_str().into()),
                ("label", field(&info, "label")),
            ]))
        })
        .collect()
}

/// Whether `list` (from [`list`]) holds the device `id`.
pub fn listed(list: &Array, id: &str) -> bool {
    list.iter()
        .any(|device| text_of(&device, "id").as_deref() == Some(id))
}

/// A track from the device `id` of `kind` (the default one for `None`), with the rest of
/// the page's `constraints` for that kind (a size, a frame rate) kept; for `then`.
pub fn track(
    kind: DeviceKind,
    id: Option<&str>,
    constraints: &JsValue,
    then: Box<dyn FnOnce(Result<MediaStreamTrack, Error>)>,
) {
    let key = kind.track_kind();
    let own = field(constraints, key);
    let wanted = Object::new();
    if own.is_object() {
        let _ = Object::assign(&wanted, own.unchecked_ref());
    }
    if let Some(id) = id {
        let exact = object(&[("exact", id.into())]);
        let _ = Reflect::set(&wanted, &"deviceId".into(), &exact);
    }
    super::request(
        &object(&[(key, wanted.into())]),
        Box::new(move |stream| {
            then(stream.and_then(|stream| {
                crate::media::tracks_of(&stream)
                    .next()
                    .ok_or_else(|| Error::new(ErrorCode::NoDevice, "the device gave no track"))
            }));
        }),
    );
}

/// The device a track comes from, if the browser says.
pub fn device_of(track: &MediaStreamTrack) -> Option<String> {
    text_of(&track.get_settings(), "deviceId")
}

/// Plays `element` through the speaker `id`; `then` hears how it went.
pub fn set_speaker(element: &HtmlMediaElement, id: &str, then: Box<dyn FnOnce(Result<(), Error>)>) {
    let refused = |cause: &JsValue| {
        let code = match crate::error::js_error_name(cause).as_str() {
            "NotAllowedError" => ErrorCode::MediaDenied,
            _ => ErrorCode::NoDevice,
        };
        Error::from_js(code, "cannot use that speaker", cause)
    };
    let set_sink = field(element, "setSinkId").dyn_into::<Function>();
    let Ok(set_sink) = set_sink else {
        let error = Error::new(
            ErrorCode::MediaFailed,
            "this browser cannot choose a speaker",
        );
        return then(Err(error));
    };
    match set_sink.call1(element, &id.into()) {
        Ok(promise) => crate::js::when_settled(
            promise.unchecked_into::<Promise>(),
            Box::new(move |result| then(result.map(|_| ()).map_err(|e| refused(&e)))),
        ),
        Err(error) => then(Err(refused(&error))),
    }
}
