//! A shared screen: getDisplayMedia, asked for by the person's own choice of what to share.
//! See <https://developer.mozilla.org/docs/Web/API/MediaDevices/getDisplayMedia>.

use js_sys::Reflect;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::MediaStream;

use crate::error::{Error, ErrorCode, js_error_name};

/// Asks the person which screen, window or tab to share; the video track is marked as
/// detailed content (text stays sharp rather than motion smooth). `then` gets the stream,
/// or why there is none.
pub fn capture(then: Box<dyn FnOnce(super::Requested)>) {
    let unsupported = || Error::new(ErrorCode::MediaFailed, "this browser cannot share a screen");
    let devices = crate::js::window().and_then(|window| window.navigator().media_devices().ok());
    // A browser without getDisplayMedia (iOS) throws here.
    let Some(promise) = devices.and_then(|devices| devices.get_display_media().ok()) else {
        return then(Err(unsupported()));
    };
    crate::js::when_settled(
        promise,
        Box::new(move |result| {
            then(match result {
                Ok(stream) => {
                    let stream: MediaStream = stream.unchecked_into();
                    for track in crate::media::tracks_of(&stream) {
                        let _ =
                            Reflect::set(&track, &"contentHint".into(), &JsValue::from("detail"));
                    }
                    Ok(stream)
                }
                Err(error) => Err(refused(&error).unwrap_or_else(unsupported)),
            });
        }),
    );
}

/// Why the browser refused the screen prompt, in words.
fn refused(error: &JsValue) -> Option<Error> {
    let (code, message) = match js_error_name(error).as_str() {
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
        _ => return None,
    };
    Some(Error::new(code, message))
}
