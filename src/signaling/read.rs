//! Server frames read from the browser's `JSON.parse` result, field by field.
//!
//! Not serde-wasm-bindgen's deserializer: it words its errors through serde's `Unexpected`,
//! which formats floating-point numbers, and that deserializer with the float formatting
//! was a fifth of the gzipped module (measured with `cargo xtask bench bundle`). The
//! protocol crate's [`ServerMessage::read`] asks for the fields each message has, so the
//! wire rules stay in one place.

use js_sys::{Array, Reflect};
use protocol::{IceCandidate, IceServer, PeerId, PeerInfo, Relayed, ServerFields, ServerMessage};
use wasm_bindgen::JsValue;

/// What is wrong with a frame, in words.
pub type Problem = String;

/// A server frame: a relayed signal, or a message of the server's own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Incoming {
    /// A call signal from another peer.
    Relayed(Relayed),
    /// Anything else.
    Other(ServerMessage),
}

/// The server message in `value`, a parsed JSON frame.
pub fn server_message(value: &JsValue) -> Result<Incoming, Problem> {
    if !value.is_object() || Array::is_array(value) {
        return Err("a frame is not a JSON object".to_owned());
    }
    let kind = text(value, "type")?.ok_or("missing field `type`")?;
    let mut frame = Frame(value);
    Ok(match ServerMessage::read_relayed(&kind, &mut frame)? {
        Some(relayed) => Incoming::Relayed(relayed),
        None => Incoming::Other(ServerMessage::read_other(&kind, &mut frame)?),
    })
}

/// A parsed frame as the protocol crate's field source.
struct Frame<'a>(&'a JsValue);

impl ServerFields for Frame<'_> {
    fn text(&mut self, key: &'static str) -> Result<Option<String>, Problem> {
        text(self.0, key)
    }

    fn peers(&mut self) -> Result<Option<Vec<PeerInfo>>, Problem> {
        list(self.0, "peers", peer)
    }

    fn candidate(&mut self) -> Result<Option<IceCandidate>, Problem> {
        field(self.0, "candidate")?
            .map(|c| candidate(&c))
            .transpose()
    }

    fn ice_servers(&mut self) -> Result<Option<Vec<IceServer>>, Problem> {
        list(self.0, "iceServers", ice_server)
    }

    fn number(&mut self, key: &'static str) -> Result<Option<u64>, Problem> {
        Ok(match field(self.0, key)?.map(|field| field.as_f64()) {
            None => None,
            // Whole numbers from 0 to 2^53 - 1 only (a cast from f64 saturates).
            Some(Some(n)) if n.fract() == 0.0 && n >= 0.0 && n <= protocol::MAX_EXACT as f64 => {
                Some(n as u64)
            }
            Some(_) => return Err(wrong(key, "is not a whole number")),
        })
    }

    fn flag(&mut self, key: &'static str) -> Result<Option<bool>, Problem> {
        field(self.0, key)?
            .map(|field| {
                field
                    .as_bool()
                    .ok_or_else(|| wrong(key, "is not true or false"))
            })
            .transpose()
    }
}

/// An `RTCIceServer` as the server sends it: `urls` a list.
fn ice_server(value: &JsValue) -> Result<IceServer, Problem> {
    let urls = field(value, "urls")?
        .filter(Array::is_array)
        .map(|urls| {
            Array::from(&urls)
                .iter()
                .map(|url| url.as_string())
                .collect::<Option<Vec<_>>>()
        })
        .ok_or("an ICE server has no list of `urls`")?
        .ok_or("an ICE server URL is not a string")?;
    Ok(IceServer {
        urls,
        username: text(value, "username")?,
        credential: text(value, "credential")?,
    })
}

/// `RTCIceCandidate.toJSON()`, or a candidate as the server relays it.
pub fn candidate(value: &JsValue) -> Result<IceCandidate, Problem> {
    Ok(IceCandidate {
        candidate: text(value, "candidate")?.unwrap_or_default(),
        sdp_mid: text(value, "sdpMid")?,
        sdp_m_line_index: match field(value, "sdpMLineIndex")? {
            None => None,
            Some(index) => Some(
                index
                    .as_f64()
                    .filter(|i| i.fract() == 0.0 && (0.0..=f64::from(u16::MAX)).contains(i))
                    .map(|i| i as u16)
                    .ok_or("`sdpMLineIndex` is not an index")?,
            ),
        },
        username_fragment: text(value, "usernameFragment")?,
    })
}

fn peer(value: &JsValue) -> Result<PeerInfo, Problem> {
    Ok(PeerInfo {
        id: PeerId(text(value, "id")?.ok_or("a peer has no `id`")?),
        name: text(value, "name")?.ok_or("a peer has no `name`")?,
    })
}

/// "`key` …": what is wrong with field `key`.
fn wrong(key: &str, is: &str) -> Problem {
    let mut problem = String::with_capacity(key.len() + is.len() + 3);
    problem.push('`');
    problem.push_str(key);
    problem.push_str("` ");
    problem.push_str(is);
    problem
}

/// `key` of `value`; absent, `undefined` and `null` alike are `None`.
fn field(value: &JsValue, key: &str) -> Result<Option<JsValue>, Problem> {
    let field =
        Reflect::get(value, &JsValue::from_str(key)).map_err(|_| wrong(key, "cannot be read"))?;
    Ok((!field.is_undefined() && !field.is_null()).then_some(field))
}

fn text(value: &JsValue, key: &str) -> Result<Option<String>, Problem> {
    field(value, key)?
        .map(|field| {
            field
                .as_string()
                .ok_or_else(|| wrong(key, "is not a string"))
        })
        .transpose()
}

fn list<T>(
    value: &JsValue,
    key: &str,
    item: fn(&JsValue) -> Result<T, Problem>,
) -> Result<Option<Vec<T>>, Problem> {
    let Some(field) = field(value, key)? else {
        return Ok(None);
    };
    if !Array::is_array(&field) {
        return Err(wrong(key, "is not a list"));
    }
    Array::from(&field)
        .iter()
        .map(|entry| item(&entry))
        .collect::<Result<_, _>>()
        .map(Some)
}
