//! Which camera, microphone and speaker: the browser's list of them, a track from the one
//! chosen, and the speaker a `<video>` plays through. Speaker choice is offered only where
//! the browser has `setSinkId` (detected, never guessed from the browser's name).

use js_sys::{Array, Function, Object, Promise, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
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
    let Some(window) = web_sys::window() else {
        return false;
    };
    let prototype = field(&field(&window, "HTMLMediaElement"), "prototype");
    prototype.is_object() && Reflect::has(&prototype, &"setSinkId".into()).unwrap_or(false)
}

/// The cameras, microphones and (where they can be chosen) speakers, as
/// `[{id, kind, label}]`. Labels are empty until the person has allowed a device.
pub async fn list() -> Result<Array, Error> {
    let failed = || Error::new(ErrorCode::MediaFailed, "the devices cannot be listed");
    let devices = web_sys::window()
        .and_then(|window| window.navigator().media_devices().ok())
        .ok_or_else(failed)?;
    let promise = devices.enumerate_devices().map_err(|_| failed())?;
    let infos: Array = JsFuture::from(promise)
        .await
        .map_err(|_| failed())?
        .unchecked_into();
    let speakers = speaker_choice();
    Ok(infos
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
        .collect())
}

/// Whether `list` (from [`list`]) holds the device `id`.
pub fn listed(list: &Array, id: &str) -> bool {
    list.iter()
        .any(|device| text_of(&device, "id").as_deref() == Some(id))
}

/// A track from the device `id` of `kind` (the default one for `None`), with the rest of
/// the page's `constraints` for that kind (a size, a frame rate) kept.
pub async fn track(
    kind: DeviceKind,
    id: Option<&str>,
    constraints: &JsValue,
) -> Result<MediaStreamTrack, Error> {
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
    let stream = super::request(&object(&[(key, wanted.into())])).await?;
    crate::peer::tracks_of(&stream)
        .next()
        .ok_or_else(|| Error::new(ErrorCode::NoDevice, "the device gave no track"))
}

/// The device a track comes from, if the browser says.
pub fn device_of(track: &MediaStreamTrack) -> Option<String> {
    text_of(&track.get_settings(), "deviceId")
}

/// Plays `element` through the speaker `id`.
pub async fn set_speaker(element: &HtmlMediaElement, id: &str) -> Result<(), Error> {
    let refused =
        |cause: &JsValue| Error::from_js(ErrorCode::NoDevice, "cannot use that speaker", cause);
    let set_sink: Function = field(element, "setSinkId").dyn_into().map_err(|_| {
        Error::new(
            ErrorCode::MediaFailed,
            "this browser cannot choose a speaker",
        )
    })?;
    let promise: Promise = set_sink
        .call1(element, &id.into())
        .map_err(|e| refused(&e))?
        .unchecked_into();
    JsFuture::from(promise)
        .await
        .map(|_| ())
        .map_err(|e| refused(&e))
}
