//! Every example frame of the protocol document, parsed and written back unchanged.

use protocol::{
    CallId, ClientMessage, DeclineReason, ErrorCode, IceCandidate, IceServer, LeaveReason, PeerId,
    PeerInfo, Relayed, ServerMessage, Signal,
};
use serde_json::Value;

/// Parses `json` as `T`, checks it equals `expected`, and that writing it back gives the
/// same JSON object.
fn round_trip<T>(json: &str, expected: T)
where
    T: serde::Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug,
{
    let parsed: T = serde_json::from_str(json).expect("example parses");
    assert_eq!(parsed, expected, "parsed {json}");
    let written = serde_json::to_value(&parsed).expect("serializes");
    let original: Value = serde_json::from_str(json).expect("valid JSON");
    assert_eq!(written, original, "written back from {json}");
}

fn id(s: &str) -> PeerId {
    PeerId::from(s)
}

#[test]
fn the_documented_session() {
    round_trip(
        r#"{"type":"login","name":"alice"}"#,
        ClientMessage::Login {
            name: "alice".into(),
            resume: None,
            room: None,
            token: None,
            password: None,
            ack: None,
            sent: None,
            call: None,
            with: None,
        },
    );
    round_trip(
        r#"{"type":"welcome","id":"k3J9x2LqP0c","name":"alice"}"#,
        ServerMessage::Welcome {
            id: id("k3J9x2LqP0c"),
            name: "alice".into(),
            resume: None,
            ice_servers: Vec::new(),
            received: None,
            resumed: false,
        },
    );
    round_trip(
        r#"{"type":"peers","peers":[{"id":"Zp1qA7fS2mE","name":"bob"}]}"#,
        ServerMessage::Peers {
            peers: vec![PeerInfo {
                id: id("Zp1qA7fS2mE"),
                name: "bob".into(),
            }],
        },
    );
    round_trip(
        r#"{"type":"peer-joined","id":"k3J9x2LqP0c","name":"alice"}"#,
        ServerMessage::PeerJoined {
            id: id("k3J9x2LqP0c"),
            name: "alice".into(),
        },
    );
    round_trip(
        r#"{"type":"ring","to":"Zp1qA7fS2mE"}"#,
        ClientMessage::Ring {
            to: id("Zp1qA7fS2mE"),
            call: None,
            seq: None,
        },
    );
    round_trip(
        r#"{"type":"ring","from":"k3J9x2LqP0c","name":"alice"}"#,
        ServerMessage::Ring {
            from: id("k3J9x2LqP0c"),
            name: "alice".into(),
            call: None,
            seq: None,
        },
    );
    round_trip(
        r#"{"type":"accept","to":"k3J9x2LqP0c"}"#,
        ClientMessage::Accept {
            to: id("k3J9x2LqP0c"),
            call: None,
            seq: None,
        },
    );
    round_trip(
        r#"{"type":"accept","from":"Zp1qA7fS2mE","name":"bob"}"#,
        ServerMessage::Accept {
            from: id("Zp1qA7fS2mE"),
            name: "bob".into(),
            call: None,
            seq: None,
        },
    );
    round_trip(
        r#"{"type":"offer","to":"Zp1qA7fS2mE","sdp":"v=0\r\n..."}"#,
        ClientMessage::Offer {
            to: id("Zp1qA7fS2mE"),
            call: None,
            seq: None,
            sdp: "v=0\r\n...".into(),
        },
    );
    round_trip(
        r#"{"type":"offer","from":"k3J9x2LqP0c","name":"alice","sdp":"v=0\r\n..."}"#,
        ServerMessage::Offer {
            from: id("k3J9x2LqP0c"),
            name: "alice".into(),
            call: None,
            seq: None,
            sdp: "v=0\r\n...".into(),
        },
    );
    round_trip(
        r#"{"type":"hangup","to":"nobody"}"#,
        ClientMessage::Hangup {
            to: id("nobody"),
            call: None,
            seq: None,
            reason: None,
        },
    );
    round_trip(
        r#"{"type":"error","code":"peer-unavailable","to":"nobody","message":"no peer with id nobody"}"#,
        ServerMessage::Error {
            code: ErrorCode::PeerUnavailable,
            message: "no peer with id nobody".into(),
            to: Some(id("nobody")),
            call: None,
        },
    );
}

#[test]
fn the_other_messages_of_the_tables() {
    round_trip(
        r#"{"type":"decline","to":"a","reason":"busy"}"#,
        ClientMessage::Decline {
            to: id("a"),
            call: None,
            seq: None,
            reason: DeclineReason::Busy,
        },
    );
    round_trip(
        r#"{"type":"decline","from":"a","name":"bob","reason":"declined"}"#,
        ServerMessage::Decline {
            from: id("a"),
            name: "bob".into(),
            call: None,
            seq: None,
            reason: DeclineReason::Declined,
        },
    );
    round_trip(
        r#"{"type":"answer","to":"a","sdp":"v=0"}"#,
        ClientMessage::Answer {
            to: id("a"),
            call: None,
            seq: None,
            sdp: "v=0".into(),
        },
    );
    round_trip(
        r#"{"type":"candidate","to":"a","candidate":{"candidate":"candidate:1 1 udp 1 127.0.0.1 5000 typ host","sdpMid":"0","sdpMLineIndex":0,"usernameFragment":"uf"}}"#,
        ClientMessage::Candidate {
            to: id("a"),
            call: None,
            seq: None,
            candidate: Some(IceCandidate {
                candidate: "candidate:1 1 udp 1 127.0.0.1 5000 typ host".into(),
                sdp_mid: Some("0".into()),
                sdp_m_line_index: Some(0),
                username_fragment: Some("uf".into()),
            }),
        },
    );
    round_trip(
        r#"{"type":"candidate","from":"a","name":"bob","candidate":null}"#,
        ServerMessage::Candidate {
            from: id("a"),
            name: "bob".into(),
            call: None,
            seq: None,
            candidate: None,
        },
    );
    round_trip(
        r#"{"type":"hangup","from":"a","name":"bob","reason":"no-answer"}"#,
        ServerMessage::Hangup {
            from: id("a"),
            name: "bob".into(),
            call: None,
            seq: None,
            reason: Some("no-answer".into()),
        },
    );
    round_trip(
        r#"{"type":"restart-ice","to":"a"}"#,
        ClientMessage::RestartIce {
            to: id("a"),
            call: None,
            seq: None,
        },
    );
    round_trip(
        r#"{"type":"restart-ice","from":"b","name":"bob"}"#,
        ServerMessage::RestartIce {
            from: id("b"),
            name: "bob".into(),
            call: None,
            seq: None,
        },
    );
    round_trip(
        r#"{"type":"peer-left","id":"a"}"#,
        ServerMessage::PeerLeft { id: id("a") },
    );
    round_trip(
        r#"{"type":"error","code":"name-taken","message":"taken"}"#,
        ServerMessage::Error {
            code: ErrorCode::NameTaken,
            message: "taken".into(),
            to: None,
            call: None,
        },
    );
}

#[test]
fn the_additions_of_this_implementation() {
    round_trip(
        r#"{"type":"login","name":"alice","resume":"k3J9x2LqP0c.00ff"}"#,
        ClientMessage::Login {
            name: "alice".into(),
            resume: Some("k3J9x2LqP0c.00ff".into()),
            room: None,
            token: None,
            password: None,
            ack: None,
            sent: None,
            call: None,
            with: None,
        },
    );
    round_trip(
        r#"{"type":"welcome","id":"k3J9x2LqP0c","name":"alice","resume":"k3J9x2LqP0c.00ff"}"#,
        ServerMessage::Welcome {
            id: id("k3J9x2LqP0c"),
            name: "alice".into(),
            resume: Some("k3J9x2LqP0c.00ff".into()),
            ice_servers: Vec::new(),
            received: None,
            resumed: false,
        },
    );
    round_trip(
        r#"{"type":"ice-servers","iceServers":[{"urls":["stun:stun.example.org"]},{"urls":["turn:turn.example.org?transport=udp","turns:turn.example.org"],"username":"1767225600:k3J9x2LqP0c","credential":"c2VjcmV0"}]}"#,
        ServerMessage::IceServers {
            ice_servers: vec![
                IceServer {
                    urls: vec!["stun:stun.example.org".into()],
                    username: None,
                    credential: None,
                },
                IceServer {
                    urls: vec![
                        "turn:turn.example.org?transport=udp".into(),
                        "turns:turn.example.org".into(),
                    ],
                    username: Some("1767225600:k3J9x2LqP0c".into()),
                    credential: Some("c2VjcmV0".into()),
                },
            ],
        },
    );
    round_trip(r#"{"type":"ping"}"#, ClientMessage::Ping);
    round_trip(r#"{"type":"pong"}"#, ServerMessage::Pong { received: None });
}

#[test]
fn unknown_fields_are_ignored() {
    let parsed: ClientMessage =
        serde_json::from_str(r#"{"type":"ring","to":"a","from":"forged","extra":1}"#).unwrap();
    assert_eq!(
        parsed,
        ClientMessage::Ring {
            to: id("a"),
            call: None,
            seq: None,
        }
    );
}

#[test]
fn unknown_types_and_missing_fields_are_refused() {
    for bad in [
        r#"{"type":"teleport","to":"a"}"#,
        r#"{"to":"a"}"#,
        r#"{"type":"offer","to":"a"}"#,
        r#"{"type":"offer","to":"a","sdp":5}"#,
        r#"{"type":"decline","to":"a","reason":"bored"}"#,
    ] {
        assert!(serde_json::from_str::<ClientMessage>(bad).is_err(), "{bad}");
    }
}

#[test]
fn signals_survive_the_relay() {
    let signal = Signal::Hangup {
        reason: Some("no-answer".into()),
    };
    let call = Some(CallId("c1".into()));
    let mut message = ClientMessage::signal(id("b"), call.clone(), signal.clone());
    if let Some(seq) = message.seq_mut() {
        *seq = Some(3);
    }
    let sent = message.into_signal().unwrap();
    assert_eq!((&sent.to, &sent.call, sent.seq), (&id("b"), &call, Some(3)));
    let relayed = Relayed {
        from: id("a"),
        name: "alice".into(),
        call: sent.call,
        seq: Some(7),
        signal: sent.signal,
    };
    assert_eq!(relayed.signal, signal);
    assert_eq!(
        ServerMessage::relayed(relayed.clone()).into_relayed(),
        Ok(relayed)
    );
}

#[test]
fn rooms_tokens_and_moderation() {
    round_trip(
        r#"{"type":"login","name":"alice","room":"Kq3_x9","token":"eyJ.e30.sig","password":"hunter2"}"#,
        ClientMessage::Login {
            name: "alice".into(),
            resume: None,
            room: Some("Kq3_x9".into()),
            token: Some("eyJ.e30.sig".into()),
            password: Some("hunter2".into()),
            ack: None,
            sent: None,
            call: None,
            with: None,
        },
    );
    round_trip(
        r#"{"type":"room","room":"Kq3_x9","locked":false,"moderator":true}"#,
        ServerMessage::Room {
            room: "Kq3_x9".into(),
            locked: false,
            moderator: true,
        },
    );
    round_trip(
        r#"{"type":"resume-token","resume":"k3J9x2LqP0c.1764570000000.1764570150000.00ff"}"#,
        ServerMessage::ResumeToken {
            resume: "k3J9x2LqP0c.1764570000000.1764570150000.00ff".into(),
        },
    );
    round_trip(r#"{"type":"lock-room"}"#, ClientMessage::LockRoom);
    round_trip(r#"{"type":"unlock-room"}"#, ClientMessage::UnlockRoom);
    round_trip(
        r#"{"type":"remove-peer","id":"Zp1qA7fS2mE"}"#,
        ClientMessage::RemovePeer {
            id: id("Zp1qA7fS2mE"),
        },
    );
}

#[test]
fn final_refusals_have_their_own_close_codes() {
    let finals: Vec<_> = ErrorCode::ALL
        .into_iter()
        .filter_map(|code| code.close_code().map(|close| (code, close)))
        .collect();
    assert_eq!(finals.len(), 9);
    for (code, close) in finals {
        assert!((4400..4500).contains(&close), "{code:?}");
        assert_eq!(ErrorCode::from_close_code(close), Some(code));
        assert_eq!(ErrorCode::from_wire(code.as_str()), Some(code));
    }
    assert_eq!(ErrorCode::NameTaken.close_code(), None);
    assert_eq!(ErrorCode::from_close_code(4000), None);
}

#[test]
fn calls_and_delivery() {
    let call = || Some(CallId("Vb1Qe7kT0pLx-3_wZc9aRt".into()));
    round_trip(
        r#"{"type":"ring","to":"Zp1qA7fS2mE","call":"Vb1Qe7kT0pLx-3_wZc9aRt"}"#,
        ClientMessage::Ring {
            to: id("Zp1qA7fS2mE"),
            call: call(),
            seq: None,
        },
    );
    round_trip(
        r#"{"type":"ring","from":"k3J9x2LqP0c","name":"alice","call":"Vb1Qe7kT0pLx-3_wZc9aRt","seq":1}"#,
        ServerMessage::Ring {
            from: id("k3J9x2LqP0c"),
            name: "alice".into(),
            call: call(),
            seq: Some(1),
        },
    );
    round_trip(
        r#"{"type":"offer","to":"k3J9x2LqP0c","call":"Vb1Qe7kT0pLx-3_wZc9aRt","sdp":"v=0"}"#,
        ClientMessage::Offer {
            to: id("k3J9x2LqP0c"),
            call: call(),
            seq: None,
            sdp: "v=0".into(),
        },
    );
    round_trip(r#"{"type":"ack","seq":12}"#, ClientMessage::Ack { seq: 12 });
    round_trip(
        r#"{"type":"candidate","to":"Zp1qA7fS2mE","call":"Vb1Qe7kT0pLx-3_wZc9aRt","seq":5,"candidate":null}"#,
        ClientMessage::Candidate {
            to: id("Zp1qA7fS2mE"),
            call: call(),
            seq: Some(5),
            candidate: None,
        },
    );
    round_trip(
        r#"{"type":"pong","received":5}"#,
        ServerMessage::Pong { received: Some(5) },
    );
    round_trip(
        r#"{"type":"welcome","id":"k3J9x2LqP0c","name":"alice","resume":"k3J9x2LqP0c.00ff","received":5,"resumed":true}"#,
        ServerMessage::Welcome {
            id: id("k3J9x2LqP0c"),
            name: "alice".into(),
            resume: Some("k3J9x2LqP0c.00ff".into()),
            ice_servers: Vec::new(),
            received: Some(5),
            resumed: true,
        },
    );
    round_trip(
        r#"{"type":"login","name":"alice","resume":"k3J9x2LqP0c.00ff","ack":12,"sent":7,"call":"Vb1Qe7kT0pLx-3_wZc9aRt","with":"Zp1qA7fS2mE"}"#,
        ClientMessage::Login {
            name: "alice".into(),
            resume: Some("k3J9x2LqP0c.00ff".into()),
            room: None,
            token: None,
            password: None,
            ack: Some(12),
            sent: Some(7),
            call: call(),
            with: Some(id("Zp1qA7fS2mE")),
        },
    );
    round_trip(
        r#"{"type":"error","code":"not-in-call","message":"offers, answers and candidates go only to the other side of an accepted call","to":"Zp1qA7fS2mE","call":"Vb1Qe7kT0pLx-3_wZc9aRt"}"#,
        ServerMessage::Error {
            code: ErrorCode::NotInCall,
            message: "offers, answers and candidates go only to the other side of an accepted call"
                .into(),
            to: Some(id("Zp1qA7fS2mE")),
            call: call(),
        },
    );
    assert!(CallId("Vb1Qe7kT0pLx-3_wZc9aRt".into()).is_valid());
    for bad in ["", "a b", "a/b", "é", &"c".repeat(65)] {
        assert!(!CallId(bad.into()).is_valid(), "{bad:?}");
    }
}

#[test]
fn room_calls() {
    let call = || CallId("R7cQ2mW9xLp0-aZ_3tYb1k".into());
    round_trip(
        r#"{"type":"join-call"}"#,
        ClientMessage::JoinCall { seq: None },
    );
    round_trip(
        r#"{"type":"join-call","seq":3}"#,
        ClientMessage::JoinCall { seq: Some(3) },
    );
    round_trip(
        r#"{"type":"leave-call","seq":9}"#,
        ClientMessage::LeaveCall { seq: Some(9) },
    );
    round_trip(
        r#"{"type":"call-joined","call":"R7cQ2mW9xLp0-aZ_3tYb1k","peers":[{"id":"k3J9x2LqP0c","name":"alice"}],"seq":4}"#,
        ServerMessage::CallJoined {
            call: call(),
            peers: vec![PeerInfo {
                id: id("k3J9x2LqP0c"),
                name: "alice".into(),
            }],
            seq: Some(4),
        },
    );
    round_trip(
        r#"{"type":"participant-joined","call":"R7cQ2mW9xLp0-aZ_3tYb1k","id":"Zp1qA7fS2mE","name":"bob","seq":8}"#,
        ServerMessage::ParticipantJoined {
            call: call(),
            id: id("Zp1qA7fS2mE"),
            name: "bob".into(),
            seq: Some(8),
        },
    );
    round_trip(
        r#"{"type":"participant-left","call":"R7cQ2mW9xLp0-aZ_3tYb1k","id":"Zp1qA7fS2mE","reason":"gone","seq":9}"#,
        ServerMessage::ParticipantLeft {
            call: call(),
            id: id("Zp1qA7fS2mE"),
            reason: LeaveReason::Gone,
            seq: Some(9),
        },
    );
    round_trip(
        r#"{"type":"error","code":"call-full","message":"the call is full"}"#,
        ServerMessage::Error {
            code: ErrorCode::CallFull,
            message: "the call is full".into(),
            to: None,
            call: None,
        },
    );
    let unknown: Result<ServerMessage, _> = serde_json::from_str(
        r#"{"type":"participant-left","call":"R7cQ2mW9xLp0-aZ_3tYb1k","id":"Zp1qA7fS2mE","reason":"vanished"}"#,
    );
    assert!(unknown.is_err());
}
