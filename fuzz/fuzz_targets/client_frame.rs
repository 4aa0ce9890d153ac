//! Any bytes as a client frame, the way the server reads them: read or refused, never a
//! panic; what is read writes back as itself.

#![no_main]

use libfuzzer_sys::fuzz_target;
use protocol::ClientMessage;

fuzz_target!(|data: &[u8]| {
    if let Ok(message) = serde_json::from_slice::<ClientMessage>(data) {
        let written = serde_json::to_vec(&message).expect("serializes");
        let again: ClientMessage = serde_json::from_slice(&written).expect("reads back");
        assert_eq!(again, message);
    }
});
