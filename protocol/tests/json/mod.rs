//! A file-channel control message's fields as JSON, the way the client reads and writes
//! them through `JSON.parse` and `JSON.stringify`. Shared by the tests of this folder.

#![allow(dead_code)]

use protocol::{ControlField, ControlFields, FileControl};
use serde_json::{Map, Value, json};

/// Fields from a JSON object, as the client reads them from `JSON.parse`.
pub struct Json(pub Map<String, Value>);

impl ControlFields for Json {
    fn text(&mut self, key: &'static str) -> Result<Option<String>, String> {
        match self.0.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(format!("`{key}` is {other}, not a string")),
        }
    }

    fn number(&mut self, key: &'static str) -> Result<Option<f64>, String> {
        match self.0.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => Ok(n.as_f64()),
            Some(other) => Err(format!("`{key}` is {other}, not a number")),
        }
    }

    fn flag(&mut self, key: &'static str) -> Result<Option<bool>, String> {
        match self.0.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(other) => Err(format!("`{key}` is {other}, not a boolean")),
        }
    }
}

/// `message` as the JSON object its writer lists.
pub fn written(message: &FileControl) -> Value {
    let mut map = Map::new();
    for (key, field) in message.fields() {
        let value = match field {
            ControlField::Text(text) => json!(text),
            ControlField::Number(n) => json!(n),
            ControlField::Flag(b) => json!(b),
        };
        map.insert(key.to_owned(), value);
    }
    Value::Object(map)
}
