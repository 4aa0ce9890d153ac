//! Any JSON object as a file-channel control message: read or refused, never a panic;
//! what is read writes back as itself.

#![no_main]

#[path = "../../protocol/tests/json/mod.rs"]
mod json;

use libfuzzer_sys::fuzz_target;
use protocol::FileControl;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Ok(Value::Object(object)) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    if let Ok(message) = FileControl::read(&mut json::Json(object))
        && let Value::Object(written) = json::written(&message)
    {
        assert_eq!(FileControl::read(&mut json::Json(written)), Ok(message));
    }
});
