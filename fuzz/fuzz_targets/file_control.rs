//! Any JSON object as a file-channel control message: read or refused, never a panic;
//! what is read writes back as itself.

#![no_main]

use libfuzzer_sys::fuzz_target;
use protocol::{ControlField, ControlFields, FileControl};
use serde_json::{Map, Value};

struct Json(Map<String, Value>);

impl ControlFields for Json {
    fn text(&mut self, key: &'static str) -> Result<Option<String>, String> {
        match self.0.remove(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(text)) => Ok(Some(text)),
            Some(_) => Err(format!("`{key}` is not a string")),
        }
    }

    fn number(&mut self, key: &'static str) -> Result<Option<f64>, String> {
        match self.0.remove(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => Ok(n.as_f64()),
            Some(_) => Err(format!("`{key}` is not a number")),
        }
    }

    fn flag(&mut self, key: &'static str) -> Result<Option<bool>, String> {
        match self.0.remove(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(flag)) => Ok(Some(flag)),
            Some(_) => Err(format!("`{key}` is not true or false")),
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(Value::Object(object)) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    if let Ok(message) = FileControl::read(&mut Json(object)) {
        let written: Map<String, Value> = message
            .fields()
            .into_iter()
            .map(|(key, field)| {
                let value = match field {
                    ControlField::Text(text) => Value::from(text),
                    ControlField::Number(n) => serde_json::json!(n),
                    ControlField::Flag(flag) => Value::from(flag),
                };
                (key.to_owned(), value)
            })
            .collect();
        assert_eq!(FileControl::read(&mut Json(written)), Ok(message));
    }
});
