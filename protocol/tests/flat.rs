//! The flat forms agree with serde: a client message written field by field is the JSON
//! serde writes, and a server frame read into the flat bag is the message serde reads.

use protocol::{
    ClientMessage, DeclineReason, Field, FlatServerMessage, IceCandidate, PeerId, ServerMessage,
};
use serde_json::{Map, Value, json};

fn candidate_json(candidate: &IceCandidate) -> Value {
    json!({
        "candidate": candidate.candidate,
        "sdpMid": candidate.sdp_mid,
        "sdpMLineIndex": candidate.sdp_m_line_index,
        "usernameFragment": candidate.username_fragment,
    })
}

/// The JSON object a field-by-field writer makes of `message`.
fn written_flat(message: &ClientMessage) -> Value {
    let flat = message.flat();
    let mut object = Map::new();
    object.insert("type".to_owned(), json!(flat.kind));
    for (key, field) in flat.fields {
        let value = match field {
            Field::Text(text) => json!(text),
            Field::Candidate(candidate) => candidate_json(candidate),
            Field::Null => Value::Null,
        };
        assert!(
            object.insert(key.to_owned(), value).is_none(),
            "{key} twice"
        );
    }
    Value::Object(object)
}

#[test]
fn every_client_message_is_written_as_serde_writes_it() {
    let to = || PeerId::from("b2");
    let candidate = IceCandidate {
        candidate: "candidate:1 1 udp 1 192.0.2.1 9 typ host".to_owned(),
        sdp_mid: Some("0".to_owned()),
        sdp_m_line_index: Some(0),
        username_fragment: None,
    };
    let messages = [
        ClientMessage::Login {
            name: "alice".to_owned(),
            resume: None,
        },
        ClientMessage::Login {
            name: "alice".to_owned(),
            resume: Some("token".to_owned()),
        },
        ClientMessage::Ping,
        ClientMessage::Ring { to: to() },
        ClientMessage::Accept { to: to() },
        ClientMessage::Decline {
            to: to(),
            reason: DeclineReason::Declined,
        },
        ClientMessage::Decline {
            to: to(),
            reason: DeclineReason::Busy,
        },
        ClientMessage::Offer {
            to: to(),
            sdp: "v=0\r\n".to_owned(),
        },
        ClientMessage::Answer {
            to: to(),
            sdp: "v=0\r\n".to_owned(),
        },
        ClientMessage::Candidate {
            to: to(),
            candidate: Some(candidate),
        },
        ClientMessage::Candidate {
            to: to(),
            candidate: None,
        },
        ClientMessage::Hangup {
            to: to(),
            reason: None,
        },
        ClientMessage::Hangup {
            to: to(),
            reason: Some("no-answer".to_owned()),
        },
    ];
    for message in &messages {
        let serde = serde_json::to_value(message).expect("serializes");
        assert_eq!(written_flat(message), serde, "{message:?}");
    }
}

#[test]
fn a_flat_bag_filled_by_hand_is_the_message_serde_reads() {
    let frame = r#"{"type":"offer","from":"a1","name":"alice","sdp":"v=0"}"#;
    let by_serde: ServerMessage = serde_json::from_str(frame).expect("parses");
    let by_hand = ServerMessage::try_from(FlatServerMessage {
        kind: "offer".to_owned(),
        from: Some(PeerId::from("a1")),
        name: Some("alice".to_owned()),
        sdp: Some("v=0".to_owned()),
        ..FlatServerMessage::default()
    });
    assert_eq!(by_hand, Ok(by_serde));
}
