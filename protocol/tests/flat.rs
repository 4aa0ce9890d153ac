//! The field-by-field forms agree with serde: a client message written field by field is
//! the JSON serde writes, and a server frame read field by field is the message serde reads.

mod samples;

use protocol::{
    ClientMessage, Field, IceCandidate, IceServer, PeerInfo, ServerFields, ServerMessage,
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
            Field::Number(n) => json!(n),
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
    for message in &samples::client_messages() {
        let serde = serde_json::to_value(message).expect("serializes");
        assert_eq!(written_flat(message), serde, "{message:?}");
    }
}

/// A field source over a JSON object, standing in for the browser client's reader.
struct Fields(Map<String, Value>);

impl ServerFields for Fields {
    fn text(&mut self, key: &'static str) -> Result<Option<String>, String> {
        match self.0.remove(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(text)) => Ok(Some(text)),
            Some(_) => Err(format!("`{key}` is not a string")),
        }
    }

    fn peers(&mut self) -> Result<Option<Vec<PeerInfo>>, String> {
        self.0
            .remove("peers")
            .map(|peers| serde_json::from_value(peers).map_err(|e| e.to_string()))
            .transpose()
    }

    fn candidate(&mut self) -> Result<Option<IceCandidate>, String> {
        match self.0.remove("candidate") {
            None | Some(Value::Null) => Ok(None),
            Some(c) => serde_json::from_value(c)
                .map(Some)
                .map_err(|e| e.to_string()),
        }
    }

    fn ice_servers(&mut self) -> Result<Option<Vec<IceServer>>, String> {
        self.0
            .remove("iceServers")
            .map(|servers| serde_json::from_value(servers).map_err(|e| e.to_string()))
            .transpose()
    }

    fn number(&mut self, key: &'static str) -> Result<Option<u64>, String> {
        match self.0.remove(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => n
                .as_u64()
                .filter(|n| *n <= protocol::MAX_EXACT)
                .map(Some)
                .ok_or_else(|| format!("`{key}` is not a whole number")),
            Some(_) => Err(format!("`{key}` is not a whole number")),
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

fn read_by_fields(frame: &str) -> Result<ServerMessage, String> {
    let Value::Object(mut object) = serde_json::from_str(frame).expect("JSON") else {
        panic!("not an object: {frame}");
    };
    let Some(Value::String(kind)) = object.remove("type") else {
        return Err("missing field `type`".to_owned());
    };
    ServerMessage::read(&kind, &mut Fields(object))
}

#[test]
fn a_field_source_reads_what_serde_reads() {
    let frames = [
        r#"{"type":"welcome","id":"a1","name":"alice","resume":"t"}"#,
        r#"{"type":"welcome","id":"a1","name":"alice"}"#,
        r#"{"type":"welcome","id":"a1","name":"alice","iceServers":[{"urls":["stun:s.test"]}]}"#,
        r#"{"type":"ice-servers","iceServers":[{"urls":["turn:t.test"],"username":"9:a1","credential":"c"}]}"#,
        r#"{"type":"ice-servers","iceServers":[]}"#,
        r#"{"type":"pong"}"#,
        r#"{"type":"peers","peers":[{"id":"b2","name":"bob"}]}"#,
        r#"{"type":"peer-joined","id":"b2","name":"bob"}"#,
        r#"{"type":"peer-left","id":"b2"}"#,
        r#"{"type":"ring","from":"a1","name":"alice"}"#,
        r#"{"type":"accept","from":"a1","name":"alice"}"#,
        r#"{"type":"decline","from":"a1","name":"alice","reason":"busy"}"#,
        r#"{"type":"offer","from":"a1","name":"alice","sdp":"v=0"}"#,
        r#"{"type":"answer","from":"a1","name":"alice","sdp":"v=0"}"#,
        r#"{"type":"candidate","from":"a1","name":"alice","candidate":null}"#,
        r#"{"type":"candidate","from":"a1","name":"alice","candidate":{"candidate":"c","sdpMid":"0","sdpMLineIndex":0}}"#,
        r#"{"type":"hangup","from":"a1","name":"alice","reason":"no-answer"}"#,
        r#"{"type":"hangup","from":"a1","name":"alice"}"#,
        r#"{"type":"restart-ice","from":"a1","name":"alice"}"#,
        r#"{"type":"error","code":"peer-unavailable","message":"gone","to":"b2"}"#,
        r#"{"type":"error","code":"room-locked","message":"locked"}"#,
        r#"{"type":"room","room":"Kq3_x9","locked":true,"moderator":false}"#,
        r#"{"type":"resume-token","resume":"a1.1.2.ff"}"#,
    ];
    for frame in frames {
        let by_serde: ServerMessage = serde_json::from_str(frame).expect("serde reads it");
        assert_eq!(read_by_fields(frame), Ok(by_serde), "{frame}");
    }
}

#[test]
fn a_field_source_refuses_what_serde_refuses() {
    let frames = [
        r#"{"type":"teleport"}"#,
        r#"{"type":"welcome","name":"alice"}"#,
        r#"{"type":"ice-servers"}"#,
        r#"{"type":"room","room":"r","locked":"yes","moderator":false}"#,
        r#"{"type":"room","room":"r","moderator":false}"#,
        r#"{"type":"resume-token"}"#,
        r#"{"type":"decline","from":"a1","name":"alice","reason":"bored"}"#,
        r#"{"type":"error","code":"oops","message":"m"}"#,
        r#"{"type":"offer","from":"a1","name":"alice","sdp":5}"#,
    ];
    for frame in frames {
        assert!(
            serde_json::from_str::<ServerMessage>(frame).is_err(),
            "serde: {frame}"
        );
        assert!(read_by_fields(frame).is_err(), "fields: {frame}");
    }
}
