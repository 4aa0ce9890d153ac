//! Signaling frames as the client handles them, without serde in the module: server frames
//! read field by field from the browser's `JSON.parse`, client frames built field by field
//! for `JSON.stringify`. Both agree with serde on every message; malformed server frames
//! are refused in words that name the problem. What the browser throws is read into words
//! the same way, whatever its type.

#![cfg(target_arch = "wasm32")]

#[path = "../protocol/tests/samples/mod.rs"]
mod samples;

use peercall::signaling::{
    read::{Incoming, server_message},
    write::client_message,
};
use protocol::{
    DeclineReason, ErrorCode, IceCandidate, IceServer, PeerId, PeerInfo, ServerMessage,
};
use serde::Serialize;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

fn read(json: &str) -> Result<ServerMessage, String> {
    let value = js_sys::JSON::parse(json).expect("the test frame is JSON");
    Ok(match server_message(&value)? {
        Incoming::Relayed(relayed) => ServerMessage::relayed(relayed),
        Incoming::Other(message) => message,
    })
}

/// The frame as the server writes it (serde), read back by the client.
fn round_trip(message: &ServerMessage) -> Result<ServerMessage, String> {
    let serializer = serde_wasm_bindgen::Serializer::json_compatible();
    let value = message.serialize(&serializer).expect("serializable");
    let json = String::from(js_sys::JSON::stringify(&value).expect("stringifiable"));
    read(&json)
}

#[wasm_bindgen_test]
fn every_server_message_reads_back_as_itself() {
    let alice = PeerId::from("a1");
    let name = || "alice".to_owned();
    let candidate = IceCandidate {
        candidate: "candidate:1 1 udp 2122260223 192.0.2.1 54321 typ host".to_owned(),
        sdp_mid: Some("0".to_owned()),
        sdp_m_line_index: Some(0),
        username_fragment: Some("uf".to_owned()),
    };
    let messages = [
        ServerMessage::Welcome {
            id: alice.clone(),
            name: name(),
            resume: Some("t".to_owned()),
            ice_servers: Vec::new(),
            received: Some(12),
            resumed: true,
        },
        ServerMessage::Welcome {
            id: alice.clone(),
            name: name(),
            resume: None,
            ice_servers: vec![IceServer {
                urls: vec!["stun:stun.example.org".to_owned()],
                username: None,
                credential: None,
            }],
            received: None,
            resumed: false,
        },
        ServerMessage::IceServers {
            ice_servers: vec![IceServer {
                urls: vec![
                    "turn:turn.example.org?transport=udp".to_owned(),
                    "turns:turn.example.org".to_owned(),
                ],
                username: Some("1767225600:a1".to_owned()),
                credential: Some("c2VjcmV0".to_owned()),
            }],
        },
        ServerMessage::Pong { received: None },
        ServerMessage::Pong {
            received: Some(protocol::MAX_EXACT),
        },
        ServerMessage::Peers {
            peers: vec![
                PeerInfo {
                    id: PeerId::from("b2"),
                    name: "bob".to_owned(),
                },
                PeerInfo {
                    id: PeerId::from("c3"),
                    name: "Zoë \"z\" 🦊".to_owned(),
                },
            ],
        },
        ServerMessage::Peers { peers: vec![] },
        ServerMessage::PeerJoined {
            id: alice.clone(),
            name: name(),
        },
        ServerMessage::PeerLeft { id: alice.clone() },
        ServerMessage::Ring {
            from: alice.clone(),
            name: name(),
            call: None,
            seq: None,
        },
        ServerMessage::Accept {
            from: alice.clone(),
            name: name(),
            call: Some(protocol::CallId("Kq3_x9-call".into())),
            seq: Some(2),
        },
        ServerMessage::Decline {
            from: alice.clone(),
            name: name(),
            call: None,
            seq: None,
            reason: DeclineReason::Busy,
        },
        ServerMessage::Decline {
            from: alice.clone(),
            name: name(),
            call: Some(protocol::CallId("Kq3_x9-call".into())),
            seq: Some(4),
            reason: DeclineReason::Declined,
        },
        ServerMessage::Offer {
            from: alice.clone(),
            name: name(),
            call: None,
            seq: None,
            sdp: "v=0\r\no=- 1 2 IN\r\n".to_owned(),
        },
        ServerMessage::Answer {
            from: alice.clone(),
            name: name(),
            call: Some(protocol::CallId("Kq3_x9-call".into())),
            seq: Some(6),
            sdp: "v=0\r\n".to_owned(),
        },
        ServerMessage::Candidate {
            from: alice.clone(),
            name: name(),
            call: None,
            seq: None,
            candidate: Some(candidate),
        },
        ServerMessage::Candidate {
            from: alice.clone(),
            name: name(),
            call: Some(protocol::CallId("Kq3_x9-call".into())),
            seq: Some(8),
            candidate: None,
        },
        ServerMessage::Hangup {
            from: alice.clone(),
            name: name(),
            call: None,
            seq: None,
            reason: Some("no-answer".to_owned()),
        },
        ServerMessage::Hangup {
            from: alice.clone(),
            name: name(),
            call: Some(protocol::CallId("Kq3_x9-call".into())),
            seq: Some(10),
            reason: None,
        },
        ServerMessage::Error {
            code: ErrorCode::PeerUnavailable,
            message: "b2 is not online".to_owned(),
            to: Some(PeerId::from("b2")),
            call: Some(protocol::CallId("Kq3_x9-call".into())),
        },
        ServerMessage::Error {
            code: ErrorCode::RateLimited,
            message: "slow down".to_owned(),
            to: None,
            call: None,
        },
    ];
    for message in &messages {
        assert_eq!(round_trip(message).as_ref(), Ok(message), "{message:?}");
    }
}

#[wasm_bindgen_test]
fn a_candidate_as_the_browser_words_it_reads() {
    let message = read(
        r#"{"type":"candidate","from":"a1","name":"alice","candidate":
            {"candidate":"candidate:1","sdpMid":null,"sdpMLineIndex":1}}"#,
    );
    let Ok(ServerMessage::Candidate {
        candidate: Some(candidate),
        ..
    }) = message
    else {
        panic!("not a candidate: {message:?}");
    };
    assert_eq!(candidate.sdp_mid, None);
    assert_eq!(candidate.sdp_m_line_index, Some(1));
    assert_eq!(candidate.username_fragment, None);
}

#[wasm_bindgen_test]
fn malformed_frames_are_refused_with_the_reason() {
    let cases = [
        ("[1,2]", "not a JSON object"),
        ("\"welcome\"", "not a JSON object"),
        ("null", "not a JSON object"),
        ("{}", "missing field `type`"),
        (r#"{"type":7}"#, "`type` is not a string"),
        (r#"{"type":"teleport"}"#, "unknown message type `teleport`"),
        (r#"{"type":"welcome","name":"alice"}"#, "missing field `id`"),
        (
            r#"{"type":"welcome","id":5,"name":"alice"}"#,
            "`id` is not a string",
        ),
        (r#"{"type":"peers"}"#, "missing field `peers`"),
        (r#"{"type":"ice-servers"}"#, "missing field `iceServers`"),
        (
            r#"{"type":"ice-servers","iceServers":[{"urls":"stun:s.test"}]}"#,
            "an ICE server has no list of `urls`",
        ),
        (
            r#"{"type":"ice-servers","iceServers":[{"urls":[5]}]}"#,
            "an ICE server URL is not a string",
        ),
        (
            r#"{"type":"peers","peers":{"id":"a"}}"#,
            "`peers` is not a list",
        ),
        (
            r#"{"type":"peers","peers":[{"id":"a"}]}"#,
            "a peer has no `name`",
        ),
        (
            r#"{"type":"decline","from":"a","name":"a","reason":"bored"}"#,
            "unknown decline reason `bored`",
        ),
        (
            r#"{"type":"candidate","from":"a","name":"a","candidate":{"candidate":"c","sdpMLineIndex":1.5}}"#,
            "`sdpMLineIndex` is not an index",
        ),
        (
            r#"{"type":"candidate","from":"a","name":"a","candidate":{"candidate":"c","sdpMLineIndex":-1}}"#,
            "`sdpMLineIndex` is not an index",
        ),
        (
            r#"{"type":"error","code":"oops","message":"m"}"#,
            "unknown error code `oops`",
        ),
        (
            r#"{"type":"error","code":"rate-limited"}"#,
            "missing field `message`",
        ),
    ];
    for (json, problem) in cases {
        match read(json) {
            Ok(message) => panic!("{json} was read as {message:?}"),
            Err(words) => assert!(
                words.contains(problem),
                "{json}: {words:?} lacks {problem:?}"
            ),
        }
    }
}

#[wasm_bindgen_test]
fn every_client_message_is_written_as_serde_writes_it() {
    let serializer = serde_wasm_bindgen::Serializer::json_compatible();
    for message in &samples::client_messages() {
        let by_serde = message.serialize(&serializer).expect("serializable");
        let stringify = |value| String::from(js_sys::JSON::stringify(value).expect("JSON"));
        assert_eq!(
            stringify(&client_message(message)),
            stringify(&by_serde),
            "{message:?}"
        );
    }
}

/// An error's message keeps what was thrown: an `Error`'s or a `DOMException`'s message, a
/// string as it is, anything else as JavaScript writes it.
#[wasm_bindgen_test]
fn anything_thrown_is_told_in_words() {
    use peercall::error::js_message;
    use wasm_bindgen::JsValue;
    let dom =
        web_sys::DomException::new_with_message("the device is busy").expect("a DOMException");
    assert_eq!(js_message(&dom.into()), "the device is busy");
    assert_eq!(js_message(&js_sys::Error::new("no way").into()), "no way");
    assert_eq!(js_message(&JsValue::from_str("plain words")), "plain words");
    assert_eq!(js_message(&JsValue::from_f64(42.5)), "42.5");
    assert_eq!(js_message(&JsValue::UNDEFINED), "undefined");
    assert_eq!(js_message(&js_sys::Object::new().into()), "[object Object]");
}
