//! Every kind of client message, with the awkward cases (quotes, emoji, line breaks, both
//! decline reasons, a missing candidate), for the tests that compare the client's own
//! frame writer with serde. Shared by `protocol/tests/flat.rs` and the browser test
//! `tests/frames.rs`.

use protocol::{CallId, ClientMessage, DeclineReason, IceCandidate, PeerId};

pub fn client_messages() -> Vec<ClientMessage> {
    let to = || PeerId::from("b2");
    let call = || Some(CallId("Kq3_x9-call".to_owned()));
    let candidate = IceCandidate {
        candidate: "candidate:1 1 udp 1 192.0.2.1 9 typ host".to_owned(),
        sdp_mid: Some("0".to_owned()),
        sdp_m_line_index: Some(3),
        username_fragment: None,
    };
    vec![
        ClientMessage::Login {
            name: "Zoë \"z\" 🦊".to_owned(),
            resume: None,
            room: None,
            token: None,
            password: None,
            ack: None,
            sent: None,
            call: None,
            with: None,
        },
        ClientMessage::Login {
            name: "alice".to_owned(),
            resume: Some("token".to_owned()),
            room: None,
            token: None,
            password: None,
            ack: Some(9_007_199_254_740_991),
            sent: Some(31),
            call: Some(CallId("c-1_x".to_owned())),
            with: Some(to()),
        },
        ClientMessage::Login {
            name: "carol".to_owned(),
            resume: None,
            room: Some("Kq3_x9-team".to_owned()),
            token: Some("eyJhbGciOiJIUzI1NiJ9.e30.sig".to_owned()),
            password: Some("pass \"word\" 🔑".to_owned()),
            ack: Some(0),
            sent: Some(0),
            call: None,
            with: None,
        },
        ClientMessage::Ping,
        ClientMessage::Ack { seq: 0 },
        ClientMessage::Ack { seq: 42 },
        ClientMessage::LockRoom,
        ClientMessage::UnlockRoom,
        ClientMessage::RemovePeer { id: to() },
        ClientMessage::Ring {
            to: to(),
            call: None,
            seq: Some(4000),
        },
        ClientMessage::Ring {
            to: to(),
            call: call(),
            seq: None,
        },
        ClientMessage::Accept {
            to: to(),
            call: call(),
            seq: Some(6000),
        },
        ClientMessage::Decline {
            to: to(),
            call: call(),
            seq: None,
            reason: DeclineReason::Declined,
        },
        ClientMessage::Decline {
            to: to(),
            call: call(),
            seq: Some(8000),
            reason: DeclineReason::Busy,
        },
        ClientMessage::Offer {
            to: to(),
            call: call(),
            seq: None,
            sdp: "v=0\r\no=- 1 2 IN\r\n".to_owned(),
        },
        ClientMessage::Answer {
            to: to(),
            call: call(),
            seq: Some(10000),
            sdp: "v=0\r\n".to_owned(),
        },
        ClientMessage::Candidate {
            to: to(),
            call: call(),
            seq: None,
            candidate: Some(candidate),
        },
        ClientMessage::Candidate {
            to: to(),
            call: call(),
            seq: Some(12000),
            candidate: None,
        },
        ClientMessage::Hangup {
            to: to(),
            call: call(),
            seq: None,
            reason: None,
        },
        ClientMessage::Hangup {
            to: to(),
            call: call(),
            seq: Some(14000),
            reason: Some("no-answer".to_owned()),
        },
        ClientMessage::RestartIce {
            to: to(),
            call: call(),
            seq: None,
        },
    ]
}
