//! A shared screen: getDisplayMedia, asked for by the person's own choice of what to share.
//! See <https://developer.mozilla.org/docs/Web/API/MediaDevices/getDisplayMedia>.

use js_sys::Reflect;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::MediaStream;

use crate::error::{Error, ErrorCode, js_error_name};

/// Asks the person which screen, window or tab to share; the video track is marked as
/// detailed content (text stays sharp rather than motion smooth).
pub async fn capture() -> Result<MediaStream, Error> {
    let unsupported = || Error::new(ErrorCode::MediaFailed, "this browser cannot share a screen");
    let devices = web_sys::window()
        .and_then(|window| window.navigator().media_devices().ok())
        .ok_or_else(unsupported)?;
    // A browser without getDisplayMedia (iOS) throws here.
    let promise = devices.get_display_media().map_err(|_| unsupported())?;
    let stream = JsFuture::from(promise).await.map_err(|error| {
        let (code, message) = match js_error_name(&error).as_str() {
            "NotAllowedError" => (
                ErrorCode::MediaDenied,
                "screen sharing was cancelled or is not allowed",
            ),
            "NotFoundError" => (ErrorCode::NoDevice, "there is no screen to share"),
            // Firefox asks for it from a click or key press only.
            "InvalidStateError" => (
                ErrorCode::MediaDenied,
                "screen sharing can only start from a click or a key press",
            ),
            "NotReadableError" | "AbortError" => {
                (ErrorCode::DeviceBusy, "the screen could not be captured")
            }
            _ => return unsupported(),
        };
        Error::new(code, message)
    })?;
    let stream: MediaStream = stream.unchecked_into();
    for track in crate::peer::tracks_of(&stream) {
        let _ = Reflect::set(&track, &"contentHint".into(), &JsValue::from("detail"));
    }
    Ok(stream)
}
