//! A bare protocol client: a plain WebSocket that sends and reads frames as JSON, for a
//! peer that does what the real client never would.

use futures::{SinkExt, StreamExt};
use gloo_net::websocket::{Message, futures::WebSocket};
use js_sys::JSON;
use wasm_bindgen::JsValue;

use super::field;

/// `text` parsed as JSON.
pub fn json(text: &str) -> JsValue {
    JSON::parse(text).unwrap()
}

/// The next frame of type `kind`; frames of other types are skipped.
pub async fn next_frame(socket: &mut WebSocket, kind: &str) -> JsValue {
    next_frame_of(socket, &[kind]).await
}

/// The next frame of any type of `kinds`; frames of other types are skipped.
pub async fn next_frame_of(socket: &mut WebSocket, kinds: &[&str]) -> JsValue {
    while let Some(frame) = socket.next().await {
        if let Ok(Message::Text(text)) = frame {
            let value = json(&text);
            if kinds.contains(&field(&value, "type").as_str()) {
                return value;
            }
        }
    }
    panic!("the socket closed before a frame of {kinds:?}");
}

/// Once the server answers `socket`'s ping, it has handled every frame sent before it.
pub async fn handled(socket: &mut WebSocket) {
    send(socket, &json(r#"{"type":"ping"}"#)).await;
    next_frame(socket, "pong").await;
}

/// Sends `value` as one frame.
pub async fn send(socket: &mut WebSocket, value: &JsValue) {
    let text: String = JSON::stringify(value).unwrap().into();
    socket.send(Message::Text(text)).await.unwrap();
}

/// A bare client logged in as `name`, and its id.
pub async fn logged_in(name: &str) -> (WebSocket, String) {
    let mut socket = WebSocket::open(super::SERVER).unwrap();
    send(
        &mut socket,
        &json(&format!(r#"{{"type":"login","name":"{name}"}}"#)),
    )
    .await;
    let id = field(&next_frame(&mut socket, "welcome").await, "id");
    (socket, id)
}
