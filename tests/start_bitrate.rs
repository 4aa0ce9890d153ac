//! Every video codec of a description from the other side gets a start bitrate before it is
//! applied, and the browser takes the result: a real offer of this engine, changed so,
//! applies to a real connection and is answered.

#![cfg(target_arch = "wasm32")]

use js_sys::Reflect;
use peercall::peer::with_start_bitrate;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};
use web_sys::{RtcPeerConnection, RtcSdpType, RtcSessionDescriptionInit};

wasm_bindgen_test_configure!(run_in_browser);

const START: &str = "x-google-start-bitrate=1500";

#[wasm_bindgen_test]
fn codecs_without_parameters_get_a_line_and_those_with_parameters_one_more() {
    let sdp = "v=0\r\n\
        m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n\
        a=rtpmap:111 opus/48000/2\r\n\
        a=fmtp:111 minptime=10;useinbandfec=1\r\n\
        m=video 9 UDP/TLS/RTP/SAVPF 96 97 102\r\n\
        a=rtpmap:96 VP8/90000\r\n\
        a=rtcp-fb:96 nack\r\n\
        a=rtpmap:97 rtx/90000\r\n\
        a=fmtp:97 apt=96\r\n\
        a=rtpmap:102 H264/90000\r\n\
        a=fmtp:102 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f\r\n";
    let munged = with_start_bitrate(sdp);
    assert!(munged.contains(&format!("a=rtpmap:96 VP8/90000\r\na=fmtp:96 {START}\r\n")));
    assert!(munged.contains(&format!("profile-level-id=42001f;{START}\r\n")));
    // Audio, and retransmission's own format, are left as they were.
    assert!(munged.contains("a=fmtp:111 minptime=10;useinbandfec=1\r\n"));
    assert!(munged.contains("a=fmtp:97 apt=96\r\n"));
    assert_eq!(munged.matches(START).count(), 2, "{munged}");
}

#[wasm_bindgen_test]
async fn this_engine_applies_and_answers_a_changed_offer() {
    let (offerer, answerer) = (
        RtcPeerConnection::new().expect("a connection"),
        RtcPeerConnection::new().expect("a connection"),
    );
    for kind in ["audio", "video"] {
        offerer.add_transceiver_with_str(kind);
    }
    let offer = JsFuture::from(offerer.create_offer())
        .await
        .expect("an offer");
    let sdp = Reflect::get(&offer, &"sdp".into())
        .ok()
        .and_then(|sdp| sdp.as_string())
        .expect("the offer's SDP");
    let munged = with_start_bitrate(&sdp);
    assert!(munged.contains(START), "no video codec changed in {sdp}");
    let init = RtcSessionDescriptionInit::new(RtcSdpType::Offer);
    init.set_sdp(&munged);
    JsFuture::from(answerer.set_remote_description(&init))
        .await
        .expect("the changed offer applies");
    let answer = JsFuture::from(answerer.create_answer())
        .await
        .expect("and is answered");
    let answer: RtcSessionDescriptionInit = answer.unchecked_into();
    JsFuture::from(answerer.set_local_description(&answer))
        .await
        .expect("with an answer that applies");
    offerer.close();
    answerer.close();
}
