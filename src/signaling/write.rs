//! Client messages as JavaScript objects for the browser's `JSON.stringify`, built from the
//! protocol crate's [`FlatClientMessage`] (so the wire names stay in the protocol crate).
//!
//! Not serde-wasm-bindgen's serializer: with the cache of JS strings it keeps in a
//! `HashMap`, it cost more of the module than these few objects do.

use protocol::{ClientMessage, Field, IceCandidate};
use wasm_bindgen::JsValue;

use crate::js::object;

/// `message` as the object the server expects.
pub fn client_message(message: &ClientMessage) -> JsValue {
    let flat = message.flat();
    let mut properties = vec![("type", JsValue::from_str(flat.kind))];
    properties.extend(flat.fields.into_iter().map(|(key, field)| {
        let value = match field {
            Field::Text(text) => JsValue::from_str(text),
            Field::Candidate(c) => candidate(c),
            Field::Null => JsValue::NULL,
            // Whole numbers up to 2^53 are exact as a JavaScript number.
            Field::Number(n) => JsValue::from_f64(n as f64),
        };
        (key, value)
    }));
    object(&properties)
}

/// An ICE candidate as `RTCIceCandidateInit` (absent members are `null`).
pub fn candidate(candidate: &IceCandidate) -> JsValue {
    let text = |value: &Option<String>| value.as_deref().map_or(JsValue::NULL, JsValue::from_str);
    object(&[
        ("candidate", candidate.candidate.as_str().into()),
        ("sdpMid", text(&candidate.sdp_mid)),
        (
            "sdpMLineIndex",
            candidate
                .sdp_m_line_index
                .map_or(JsValue::NULL, JsValue::from),
        ),
        ("usernameFragment", text(&candidate.username_fragment)),
    ])
}
