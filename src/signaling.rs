//! The signaling socket: typed [`protocol`] messages over the browser's WebSocket.
//!
//! The socket's listeners hand what the server says straight to the session; frames the
//! session sends while the socket opens wait, and go out in order once it is open.
//! Dropping the [`Signaling`] handle closes the socket and removes its listeners. JSON
//! goes through the browser's own `JSON.parse` and `JSON.stringify`, to keep serde_json
//! out of the download: outgoing messages are built by [`write`], incoming ones are read
//! by [`read`]. See <https://developer.mozilla.org/docs/Web/API/WebSocket>.

pub mod read;
pub mod write;

use std::{
    cell::{Cell, RefCell},
    rc::Rc,
};

use protocol::ClientMessage;
use wasm_bindgen::JsCast;
use web_sys::{CloseEvent, MessageEvent, WebSocket};

use self::read::Incoming;

use crate::{
    error::{Error, ErrorCode},
    js::Listener,
    words::decimal,
};

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

/// Close code for giving up on a link that looks dead: the server keeps the user's place
/// (1000 would mean leaving).
pub const GIVE_UP: u16 = 4000;

/// Why a socket closed, in words, from its close code (none: it went silent).
pub fn why_closed(code: Option<u16>) -> String {
    match code {
        Some(1001) => "the server went away".to_owned(),
        Some(1009) => "a message was too large for the server".to_owned(),
        Some(code) if let Some(refusal) = protocol::ErrorCode::from_close_code(code) => {
            ["the server refused: ", refusal.as_str()].concat()
        }
        Some(code) => ["close code ", &decimal(code.into())].concat(),
        None => "it went silent".to_owned(),
    }
}

/// A handle on an open (or opening) signaling socket. Dropping it gives the socket up
/// (close code [`GIVE_UP`]) without sending what still waits for it to open: a socket
/// that opens after the session moved on to another must not log in;
/// [`Signaling::leave`] leaves.
pub struct Signaling {
    socket: WebSocket,
    /// Frames sent while the socket opens; `None` once it is open.
    waiting: Rc<RefCell<Option<Vec<String>>>>,
    /// When the server was last heard from (ms since the epoch), as frames arrive, not as
    /// the session gets round to them.
    heard: Rc<Cell<f64>>,
    _listeners: [Listener; 3],
}

impl Signaling {
    /// Opens a socket to `url`; everything it hears goes to `on_event`.
    pub fn open(url: &str, on_event: Rc<dyn Fn(SignalingEvent)>) -> Result<Self, Error> {
        let socket = WebSocket::new(url).map_err(|error| {
            Error::from_js(
                ErrorCode::ConnectFailed,
                &["cannot open the signaling socket at ", url].concat(),
                &error,
            )
        })?;
        let waiting: Rc<RefCell<Option<Vec<String>>>> = Rc::new(RefCell::new(Some(Vec::new())));
        let heard = Rc::new(Cell::new(js_sys::Date::now()));
        let opened = {
            let (socket, waiting) = (socket.clone(), waiting.clone());
            Listener::new(&socket.clone(), "open", move |_| {
                let queued = waiting.borrow_mut().take().unwrap_or_default();
                for text in queued {
                    // A socket that closes meanwhile says so with its close event.
                    let _ = socket.send_with_str(&text);
                }
            })
        };
        let message = {
            let (heard, on_event) = (heard.clone(), on_event.clone());
            Listener::new(&socket, "message", move |event| {
                heard.set(js_sys::Date::now());
                let data = event.unchecked_ref::<MessageEvent>().data();
                on_event(SignalingEvent::Message(match data.as_string() {
                    Some(text) => decode(&text),
                    None => Err(Error::new(
                        ErrorCode::BadMessage,
                        "the server sent a binary frame",
                    )),
                }));
            })
        };
        // An `error` event is always followed by this one.
        let closed = Listener::new(&socket, "close", move |event| {
            let code = event.unchecked_ref::<CloseEvent>().code();
            on_event(SignalingEvent::Closed { code: Some(code) });
        });
        Ok(Self {
            socket,
            waiting,
            heard,
            _listeners: [opened, message, closed],
        })
    }

    /// Closes the socket with 1000 after what was sent: the user leaves. A socket still
    /// opening has sent nothing, and is closed at once.
    pub fn leave(&self) {
        let _ = self.socket.close_with_code_and_reason(1000, "bye");
    }

    /// When the server was last heard from (ms since the epoch).
    pub fn last_heard(&self) -> f64 {
        self.heard.get()
    }

    /// Closes the socket with [`GIVE_UP`]: the link looks dead, we mean to come back.
    pub fn abandon(&self) {
        let _ = self.socket.close_with_code_and_reason(GIVE_UP, "no answer");
    }

    /// Sends `message` to the server (once the socket is open).
    pub fn send(&self, message: &ClientMessage) -> Result<(), Error> {
        self.send_text(encode(message)?)
    }

    /// Sends a frame written already (by [`encode`]), once the socket is open.
    pub fn send_text(&self, text: String) -> Result<(), Error> {
        if let Some(waiting) = self.waiting.borrow_mut().as_mut() {
            waiting.push(text);
            return Ok(());
        }
        self.socket.send_with_str(&text).map_err(|error| {
            Error::from_js(
                ErrorCode::SignalingClosed,
                "the signaling connection is closed",
                &error,
            )
        })
    }
}

impl Drop for Signaling {
    fn drop(&mut self) {
        // After `leave` or `abandon` the socket is closing already, and this does nothing.
        let _ = self.socket.close_with_code_and_reason(GIVE_UP, "replaced");
    }
}

/// `message` as the text of a frame. A frame the server would refuse (and close the
/// socket for, with 1009) is refused here: sent again after each reconnection, it would
/// close every new socket too.
pub fn encode(message: &ClientMessage) -> Result<String, Error> {
    let text = js_sys::JSON::stringify(&write::client_message(message))
        .map(String::from)
        .map_err(|error| {
            Error::from_js(ErrorCode::BadMessage, "cannot encode a message", &error)
        })?;
    if text.len() > protocol::MAX_FRAME_BYTES {
        return Err(Error::new(
            ErrorCode::BadMessage,
            "a message over 64 KiB was not sent",
        ));
    }
    Ok(text)
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
            ["cannot read a message from the server: ", &problem].concat(),
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
