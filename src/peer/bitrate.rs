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

use js_sys::{JsString, RegExp};

/// Where a new video stream's bitrate starts (kbps): a 640×480 camera's first frames go
/// out whole.
const START_KBPS: u32 = 1_500;

/// `sdp` with a start bitrate for every video codec it offers or answers.
pub fn with_start_bitrate(sdp: &str) -> String {
    let codecs = RegExp::new(r"^a=rtpmap:(\d+) (?:VP8|VP9|AV1|H264)/90000", "gm");
    let mut types = Vec::new();
    while let Some(found) = codecs.exec(sdp) {
        types.extend(found.get(1).as_string());
    }
    let start = format!("x-google-start-bitrate={START_KBPS}");
    let mut munged = JsString::from(sdp);
    for kind in types {
        // A codec with parameters gets one more; one without gets a line of its own.
        let parameters = RegExp::new(&format!(r"^a=fmtp:{kind} .*(?=\r\n)"), "m");
        munged = if parameters.test(sdp) {
            munged.replace_by_pattern(&parameters, &format!("$&;{start}"))
        } else {
            let codec = RegExp::new(&format!(r"^a=rtpmap:{kind} .*\r\n"), "m");
            munged.replace_by_pattern(&codec, &format!("$&a=fmtp:{kind} {start}\r\n"))
        };
    }
    munged.into()
}
