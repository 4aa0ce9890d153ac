//! Property tests: random and mutated frames through the decoders of both sides. Whatever
//! comes in is read or refused, never a panic; what is read writes back as itself.
//!
//! A fixed number of cases from a fixed seed (`PROPTEST_CASES` raises it): the run stays
//! a few seconds. Long fuzzing is `cargo xtask bench fuzz`.

mod json;
mod samples;

use proptest::prelude::*;
use protocol::{ClientMessage, FileControl, ServerMessage};
use serde_json::{Map, Value, json};

/// Any JSON value, a few levels deep.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        "\\PC{0,24}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::from),
            prop::collection::btree_map(field_name(), inner, 0..8)
                .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

/// Field names the decoders look at, and others.
fn field_name() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "type",
            "to",
            "from",
            "name",
            "call",
            "seq",
            "sdp",
            "candidate",
            "reason",
            "code",
            "message",
            "id",
            "peers",
            "resume",
            "room",
            "locked",
            "moderator",
            "iceServers",
            "received",
            "ack",
            "with",
            "token",
            "password",
            "t",
            "size",
            "digest",
            "ok",
        ])
        .prop_map(str::to_owned),
        "[a-z]{1,8}",
    ]
}

/// A message type the decoders know, or not.
fn kind() -> impl Strategy<Value = Value> {
    prop_oneof![
        prop::sample::select(vec![
            "login",
            "ping",
            "ack",
            "ring",
            "accept",
            "decline",
            "offer",
            "answer",
            "candidate",
            "hangup",
            "restart-ice",
            "lock-room",
            "unlock-room",
            "remove-peer",
            "welcome",
            "room",
            "resume-token",
            "ice-servers",
            "pong",
            "peers",
            "peer-joined",
            "peer-left",
            "error",
            "offer-file",
            "end",
            "received",
        ])
        .prop_map(Value::from),
        any_json(),
    ]
}

/// An object with a `type` and random fields.
fn any_frame() -> impl Strategy<Value = Value> {
    (
        kind(),
        prop::collection::btree_map(field_name(), any_json(), 0..8),
    )
        .prop_map(|(kind, fields)| {
            let mut object: Map<String, Value> = fields.into_iter().collect();
            object.insert("type".to_owned(), kind);
            Value::Object(object)
        })
}

/// A valid client frame with one field replaced by anything, or one taken away.
fn mutated_client_frame() -> impl Strategy<Value = Value> {
    let frames: Vec<Value> = samples::client_messages()
        .iter()
        .map(|message| serde_json::to_value(message).expect("serializes"))
        .collect();
    (
        prop::sample::select(frames),
        field_name(),
        prop::option::of(any_json()),
    )
        .prop_map(|(mut frame, key, value)| {
            if let Value::Object(object) = &mut frame {
                match value {
                    Some(value) => object.insert(key, value),
                    None => object.remove(&key),
                };
            }
            frame
        })
}

/// `text` read as `T` must not panic; if it reads, it writes back and reads as itself.
fn reads_back<T>(text: &str)
where
    T: serde::Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug,
{
    if let Ok(message) = serde_json::from_str::<T>(text) {
        let written = serde_json::to_string(&message).expect("serializes");
        let again: T = serde_json::from_str(&written).expect("reads what it wrote");
        assert_eq!(again, message, "{text}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 2_000,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn the_server_reads_any_frame_or_refuses_it(frame in any_frame()) {
        reads_back::<ClientMessage>(&frame.to_string());
    }

    #[test]
    fn the_server_reads_mutated_frames_or_refuses_them(frame in mutated_client_frame()) {
        reads_back::<ClientMessage>(&frame.to_string());
    }

    #[test]
    fn the_client_reads_any_server_frame_or_refuses_it(frame in any_frame()) {
        reads_back::<ServerMessage>(&frame.to_string());
    }

    #[test]
    fn any_bytes_are_refused_or_read(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let text = String::from_utf8_lossy(&bytes);
        reads_back::<ClientMessage>(&text);
        reads_back::<ServerMessage>(&text);
    }

    #[test]
    fn file_control_messages_are_read_or_refused(frame in any_frame()) {
        if let Value::Object(object) = frame
            && let Ok(message) = FileControl::read(&mut json::Json(object))
            && let Value::Object(written) = json::written(&message)
        {
            assert_eq!(FileControl::read(&mut json::Json(written)), Ok(message));
        }
    }
}
