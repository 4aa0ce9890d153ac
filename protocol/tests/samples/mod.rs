//! Every kind of client message, with the awkward cases (quotes, emoji, line breaks, both
//! decline reasons, a missing candidate), for the tests that compare the client's own
//! frame writer with serde. Shared by `protocol/tests/flat.rs` and the browser test
//! `tests/frames.rs`.

use protocol::{ClientMessage, DeclineReason, IceCandidate, PeerId};

pub fn client_messages() -> Vec<ClientMessage> {
    let to = || PeerId::from("b2");
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
        },
        ClientMessage::Login {
            name: "alice".to_owned(),
            resume: Some("token".to_owned()),
            room: None,
            token: None,
            password: None,
        },
        ClientMessage::Login {
            name: "carol".to_owned(),
            resume: None,
            room: Some("Kq3_x9-team".to_owned()),
            token: Some("eyJhbGciOiJIUzI1NiJ9.e30.sig".to_owned()),
            password: Some("pass \"word\" 🔑".to_owned()),
        },
        ClientMessage::Ping,
        ClientMessage::LockRoom,
        ClientMessage::UnlockRoom,
        ClientMessage::RemovePeer { id: to() },
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
            sdp: "v=0\r\no=- 1 2 IN\r\n".to_owned(),
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
        ClientMessage::RestartIce { to: to() },
    ]
}
