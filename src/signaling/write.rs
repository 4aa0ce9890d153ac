//! Client messages as JavaScript objects for the browser's `JSON.stringify`, built from the
//! protocol crate's [`FlatClientMessage`] (so the wire names stay in the protocol crate).
//!
//! Not serde-wasm-bindgen's serializer: with the cache of JS strings it keeps in a
//! `HashMap`, it cost more of the module than these few objects do.

use js_sys::{Array, Object, Reflect};
use protocol::{ClientMessage, Field, IceCandidate, PeerInfo};
use wasm_bindgen::JsValue;

/// `message` as the object the server expects.
pub fn client_message(message: &ClientMessage) -> JsValue {
    let flat = message.flat();
    let object = Object::new();
    set(&object, "type", &flat.kind.into());
    for (key, field) in flat.fields {
        let value = match field {
            Field::Text(text) => JsValue::from_str(text),
            Field::Candidate(c) => candidate(c),
            Field::Null => JsValue::NULL,
        };
        set(&object, key, &value);
    }
    object.into()
}

/// An ICE candidate as `RTCIceCandidateInit` (absent members are `null`).
pub fn candidate(candidate: &IceCandidate) -> JsValue {
    let text = |value: &Option<String>| value.as_deref().map_or(JsValue::NULL, JsValue::from_str);
    let object = Object::new();
    set(&object, "candidate", &candidate.candidate.as_str().into());
    set(&object, "sdpMid", &text(&candidate.sdp_mid));
    set(
        &object,
        "sdpMLineIndex",
        &candidate
            .sdp_m_line_index
            .map_or(JsValue::NULL, JsValue::from),
    );
    set(
        &object,
        "usernameFragment",
        &text(&candidate.username_fragment),
    );
    object.into()
}

/// `[{id, name}, ...]`, as the `peers` event gives them.
pub fn peers(peers: &[PeerInfo]) -> JsValue {
    peers
        .iter()
        .map(|peer| {
            let object = Object::new();
            set(&object, "id", &peer.id.0.as_str().into());
            set(&object, "name", &peer.name.as_str().into());
            JsValue::from(object)
        })
        .collect::<Array>()
        .into()
}

fn set(object: &Object, key: &str, value: &JsValue) {
    // Setting a plain data property on a fresh object cannot throw.
    let _ = Reflect::set(object, &JsValue::from_str(key), value);
}
