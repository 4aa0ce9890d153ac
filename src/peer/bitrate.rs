//! Video that starts at a usable bitrate.
//!
//! Chromium starts a new video sender's bandwidth estimate at 300 kbps, and below what a
//! camera's resolution needs its encoder drops the first frames (its initial frame
//! dropper) until the estimate grows: the other side saw its first frame about 65 ms
//! after the connection was up, longer than the connection had taken. Chromium reads a
//! start rate from the codec parameters of the description it applies
//! (`x-google-start-bitrate`, kbps), so every video codec of a description from the other
//! side gets one before it is applied. The bandwidth estimate takes over from there, up
//! or down. Firefox ignores the parameter.

use js_sys::{Array, JsString, Reflect, RegExp};
use wasm_bindgen::{JsCast, JsValue, prelude::wasm_bindgen};
use web_sys::{RtcPeerConnection, RtcRtpSender};

#[wasm_bindgen]
extern "C" {
    /// The parts of `RTCRtpSender` that web-sys binds only behind features of their own.
    #[wasm_bindgen(extends = RtcRtpSender, js_name = RTCRtpSender)]
    type Sender;

    #[wasm_bindgen(method, js_name = getParameters)]
    fn get_parameters(this: &Sender) -> JsValue;

    #[wasm_bindgen(method, catch, js_name = setParameters)]
    fn set_parameters(this: &Sender, parameters: &JsValue) -> Result<Pending, JsValue>;

    /// A promise, as far as it is caught here.
    type Pending;

    #[wasm_bindgen(method, js_name = catch)]
    fn catch_with(this: &Pending, handler: &js_sys::Function) -> Pending;
}

/// Caps every video sender of `pc` at `kbps`, its resolution divided by `scale_down`: a
/// member of a room call shares its uplink among the others this way. A sender that has
/// not been negotiated yet has no encodings to cap, so this is done again as the
/// connection changes state; a cap the browser refuses leaves the sender as it was.
pub fn cap_video(pc: &RtcPeerConnection, kbps: u32, scale_down: f64) {
    for sender in pc.get_senders().iter() {
        let sender: Sender = sender.unchecked_into();
        if sender.track().is_none_or(|track| track.kind() != "video") {
            continue;
        }
        let parameters = sender.get_parameters();
        let Some(encodings) = Reflect::get(&parameters, &"encodings".into())
            .ok()
            .and_then(|encodings| encodings.dyn_into::<Array>().ok())
        else {
            continue;
        };
        // Not negotiated yet, there is nothing to cap (and a change in the number of
        // encodings is refused): the next change caps it.
        let first = encodings.get(0);
        if !first.is_object() {
            continue;
        }
        let _ = Reflect::set(&first, &"maxBitrate".into(), &f64::from(kbps * 1000).into());
        let _ = Reflect::set(&first, &"scaleResolutionDownBy".into(), &scale_down.into());
        if let Ok(done) = sender.set_parameters(&parameters) {
            // A refusal is not worth an unhandled rejection: the cap is applied again on
            // the next change. Any function takes the rejection; `Object` is at hand and
            // does nothing with it.
            done.catch_with(&js_sys::Object::new().constructor());
        }
    }
}

/// Where a new video stream's bitrate starts, 1,500 kbps: a 640×480 camera's first frames
/// go out whole.
const START: &str = "x-google-start-bitrate=1500";

/// `sdp` with a start bitrate for every video codec it offers or answers.
pub fn with_start_bitrate(sdp: &str) -> String {
    let codecs = RegExp::new(r"^a=rtpmap:(\d+) (?:VP8|VP9|AV1|H264)/90000", "gm");
    let mut types = Vec::new();
    while let Some(found) = codecs.exec(sdp) {
        types.extend(found.get(1).as_string());
    }
    let mut munged = JsString::from(sdp);
    for kind in types {
        // A codec with parameters gets one more; one without gets a line of its own.
        let parameters = RegExp::new(&["^a=fmtp:", &kind, r" .*(?=\r\n)"].concat(), "m");
        munged = if parameters.test(sdp) {
            munged.replace_by_pattern(&parameters, &["$&;", START].concat())
        } else {
            let codec = RegExp::new(&["^a=rtpmap:", &kind, r" .*\r\n"].concat(), "m");
            munged.replace_by_pattern(&codec, &["$&a=fmtp:", &kind, " ", START, "\r\n"].concat())
        };
    }
    munged.into()
}
