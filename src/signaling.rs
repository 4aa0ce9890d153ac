//! The signaling socket: typed [`protocol`] messages over gloo-net's WebSocket.
//!
//! One task owns the socket. It forwards what the server says to the session and writes
//! what the session queues; dropping the [`Signaling`] handle closes the socket, removes
//! its listeners and ends the task. JSON goes through the browser's own `JSON.parse` and
//! `JSON.stringify`, to keep serde_json out of the download: outgoing messages are built
//! by [`write`], incoming ones are read by [`read`].
//! See <https://developer.mozilla.org/docs/Web/API/WebSocket>.

pub mod read;
pub mod write;

use std::rc::Rc;

use futures::{
    StreamExt,
    channel::mpsc,
    future::{Either, select},
};
use gloo_net::websocket::{Message, WebSocketError, futures::WebSocket};
use protocol::ClientMessage;

use self::read::Incoming;

use crate::error::{Error, ErrorCode};

/// The largest server frame read: room for the `peers` list of a room of 10,000 people;
/// anything larger is refused unread.
pub const MAX_SERVER_FRAME_BYTES: usize = 1024 * 1024;

/// What the socket tells the session.
pub enum SignalingEvent {
    /// The server said something (or something unreadable).
    Message(Result<Incoming, Error>),
    /// The socket is closed: it never opened, or it was open and closed.
    Closed {
        /// The close code, when the browser saw one (1006 for an abnormal end).
        code: Option<u16>,
    },
}

/// What the session queues for the socket.
enum Outgoing {
    Text(String),
    /// Close with this code and go.
    Close(u16, &'static str),
}

/// Close code for giving up on a link that looks dead: the server keeps the user's place
/// (1000 would mean leaving).
pub const GIVE_UP: u16 = 4000;

/// Why a socket closed, in words, from its close code (none: it went silent).
pub fn why_closed(code: Option<u16>) -> String {
    match code {
        Some(1001) => "the server went away".to_owned(),
        Some(1009) => "a message was too large for the server".to_owned(),
        Some(code) if let Some(refusal) = protocol::ErrorCode::from_close_code(code) => {
            format!("the server refused: {}", refusal.as_str())
        }
        Some(code) => format!("close code {code}"),
        None => "it went silent".to_owned(),
    }
}

/// A handle on an open (or opening) signaling socket. Dropping it gives the socket up
/// (close code [`GIVE_UP`]) without sending what was still queued: a socket that opens
/// after the session moved on to another must not log in; [`Signaling::leave`] leaves.
pub struct Signaling {
    outgoing: mpsc::UnboundedSender<Outgoing>,
    /// Whether the session still holds this handle (or let it go to leave).
    held: Rc<std::cell::Cell<bool>>,
    /// Whether the session let it go to leave: what was queued goes out first.
    leaving: std::cell::Cell<bool>,
    /// When the server was last heard from (ms since the epoch), as frames arrive, not as
    /// the session gets round to them.
    heard: Rc<std::cell::Cell<f64>>,
}

impl Signaling {
    /// Opens a socket to `url`; everything it hears goes to `on_event`.
    pub fn open(url: &str, on_event: Rc<dyn Fn(SignalingEvent)>) -> Result<Self, Error> {
        let socket = WebSocket::open(url).map_err(|error| {
            Error::new(
                ErrorCode::ConnectFailed,
                format!("cannot open the signaling socket at {url}: {error}"),
            )
        })?;
        let (outgoing, queued) = mpsc::unbounded();
        let heard = Rc::new(std::cell::Cell::new(js_sys::Date::now()));
        let held = Rc::new(std::cell::Cell::new(true));
        let task = run(socket, queued, heard.clone(), held.clone(), on_event);
        wasm_bindgen_futures::spawn_local(task);
        Ok(Self {
            outgoing,
            held,
            leaving: std::cell::Cell::new(false),
            heard,
        })
    }

    /// Sends what is queued, then closes the socket with 1000: the user leaves.
    pub fn leave(&self) {
        self.leaving.set(true);
        let _ = self.outgoing.unbounded_send(Outgoing::Close(1000, "bye"));
    }

    /// When the server was last heard from (ms since the epoch).
    pub fn last_heard(&self) -> f64 {
        self.heard.get()
    }

    /// Closes the socket with [`GIVE_UP`]: the link looks dead, we mean to come back.
    pub fn abandon(&self) {
        let _ = self
            .outgoing
            .unbounded_send(Outgoing::Close(GIVE_UP, "no answer"));
    }

    /// Queues `message` for the server.
    pub fn send(&self, message: &ClientMessage) -> Result<(), Error> {
        self.send_text(encode(message)?)
    }

    /// Queues a frame written already (by [`encode`]).
    pub fn send_text(&self, text: String) -> Result<(), Error> {
        self.outgoing
            .unbounded_send(Outgoing::Text(text))
            .map_err(|_| {
                Error::new(
                    ErrorCode::SignalingClosed,
                    "the signaling connection is closed",
                )
            })
    }
}

impl Drop for Signaling {
    fn drop(&mut self) {
        if !self.leaving.get() {
            self.held.set(false);
        }
    }
}

async fn run(
    mut socket: WebSocket,
    mut queued: mpsc::UnboundedReceiver<Outgoing>,
    heard: Rc<std::cell::Cell<f64>>,
    held: Rc<std::cell::Cell<bool>>,
    on_event: Rc<dyn Fn(SignalingEvent)>,
) {
    use futures::SinkExt;
    let mut code = None;
    loop {
        match select(socket.next(), queued.next()).await {
            Either::Left((Some(Ok(Message::Text(text))), _)) => {
                heard.set(js_sys::Date::now());
                on_event(SignalingEvent::Message(decode(&text)));
            }
            Either::Left((Some(Ok(Message::Bytes(_))), _)) => {
                on_event(SignalingEvent::Message(Err(Error::new(
                    ErrorCode::BadMessage,
                    "the server sent a binary frame",
                ))));
            }
            Either::Left((Some(Err(WebSocketError::ConnectionClose(close))), _)) => {
                code = Some(close.code);
            }
            // An error event is always followed by a close event.
            Either::Left((Some(Err(_)), _)) => {}
            Either::Left((None, _)) => break,
            Either::Right((Some(Outgoing::Close(code, reason)), _)) => {
                let _ = socket.close(Some(code), Some(reason));
                return;
            }
            Either::Right((Some(Outgoing::Text(text)), _)) => {
                // Wait until the socket can take it, and only then look whether the
                // session still holds it: a socket it gave up on while it was opening
                // sends nothing, not even its login.
                let ready = futures::future::poll_fn(|cx| socket.poll_ready_unpin(cx)).await;
                if !held.get() {
                    let _ = socket.close(Some(GIVE_UP), Some("replaced"));
                    return;
                }
                if ready.is_err() || socket.send(Message::Text(text)).await.is_err() {
                    // The close event that explains it comes through the stream.
                    continue;
                }
            }
            // The handle was dropped: the session moved on without this socket.
            Either::Right((None, _)) => {
                let _ = socket.close(Some(GIVE_UP), Some("replaced"));
                return;
            }
        }
    }
    on_event(SignalingEvent::Closed { code });
}

/// `message` as the text of a frame.
pub fn encode(message: &ClientMessage) -> Result<String, Error> {
    js_sys::JSON::stringify(&write::client_message(message))
        .map(String::from)
        .map_err(|error| Error::from_js(ErrorCode::BadMessage, "cannot encode a message", &error))
}

fn decode(text: &str) -> Result<Incoming, Error> {
    if text.len() > MAX_SERVER_FRAME_BYTES {
        return Err(Error::new(
            ErrorCode::BadMessage,
            "the server sent a message larger than the 1 MiB read",
        ));
    }
    let value = js_sys::JSON::parse(text).map_err(|error| {
        Error::from_js(
            ErrorCode::BadMessage,
            "the server sent something that is not JSON",
            &error,
        )
    })?;
    read::server_message(&value).map_err(|problem| {
        Error::new(
            ErrorCode::BadMessage,
            format!("cannot read a message from the server: {problem}"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A hostile server's huge frame is refused before the browser is asked to parse it.
    #[test]
    fn a_frame_past_the_bound_is_refused_unread() {
        let huge = format!(
            r#"{{"type":"pong","x":"{}"}}"#,
            "x".repeat(MAX_SERVER_FRAME_BYTES)
        );
        let refused = decode(&huge).err().map(|error| error.code);
        assert_eq!(refused, Some(ErrorCode::BadMessage));
    }
}
