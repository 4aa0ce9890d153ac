//! Any bytes as a server frame, the way a client reads them (field by field, through
//! `ServerMessage::read`): read or refused, never a panic; what is read writes back as
//! itself.

#![no_main]

use libfuzzer_sys::fuzz_target;
use protocol::ServerMessage;

fuzz_target!(|data: &[u8]| {
    if let Ok(message) = serde_json::from_slice::<ServerMessage>(data) {
        let written = serde_json::to_vec(&message).expect("serializes");
        let again: ServerMessage = serde_json::from_slice(&written).expect("reads back");
        assert_eq!(again, message);
    }
});
