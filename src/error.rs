//! The one error type of the client: a stable `code` for programs, a `message` for people.

use wasm_bindgen::{JsCast, JsValue};

/// What went wrong, as a short stable string a program can switch on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// The options given to `new PeerCall(...)` are unusable.
    BadOptions,
    /// The signaling server cannot be reached.
    ConnectFailed,
    /// The signaling connection closed.
    SignalingClosed,
    /// A signaling message could not be read.
    BadMessage,
    /// The name breaks the name rules.
    InvalidName,
    /// Someone online already has that name.
    NameTaken,
    /// Not logged in yet (or any more).
    NotConnected,
    /// The action does not fit the current call state.
    InvalidState,
    /// The person to call is not online.
    PeerUnavailable,
    /// The server refused a message.
    Refused,
    /// Camera or microphone permission was denied.
    MediaDenied,
    /// No camera or microphone exists.
    NoDevice,
    /// The camera or microphone is in use elsewhere or failed to start.
    DeviceBusy,
    /// No device can satisfy the requested media constraints.
    MediaConstraints,
    /// The page is not secure (https or localhost), so devices are off limits.
    InsecureContext,
    /// getUserMedia failed for another reason.
    MediaFailed,
    /// Creating or negotiating the peer connection failed.
    NegotiationFailed,
    /// A file could not be read, sent or received.
    TransferFailed,
    /// A received file does not match what was sent (SHA-256 differs).
    IntegrityFailed,
    /// The browser plays the call muted until the person clicks or taps the page.
    AutoplayBlocked,
    /// The server's own refusal about rooms and access (`room-full`, `unauthorized`,
    /// `removed`, ...), spelled as on the wire.
    Server(protocol::ErrorCode),
}

impl ErrorCode {
    /// What the server's refusal `code` means to a page.
    pub fn from_wire(code: protocol::ErrorCode) -> Self {
        use protocol::ErrorCode as Wire;
        match code {
            Wire::InvalidName => Self::InvalidName,
            Wire::NameTaken => Self::NameTaken,
            Wire::NotLoggedIn => Self::NotConnected,
            Wire::PeerUnavailable => Self::PeerUnavailable,
            Wire::BadRequest | Wire::RateLimited => Self::Refused,
            other => Self::Server(other),
        }
    }

    /// The code as pages see it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BadOptions => "bad-options",
            Self::ConnectFailed => "connect-failed",
            Self::SignalingClosed => "signaling-closed",
            Self::BadMessage => "bad-message",
            Self::InvalidName => "invalid-name",
            Self::NameTaken => "name-taken",
            Self::NotConnected => "not-connected",
            Self::InvalidState => "invalid-state",
            Self::PeerUnavailable => "peer-unavailable",
            Self::Refused => "refused",
            Self::MediaDenied => "media-denied",
            Self::NoDevice => "no-device",
            Self::DeviceBusy => "device-busy",
            Self::MediaConstraints => "media-constraints",
            Self::InsecureContext => "insecure-context",
            Self::MediaFailed => "media-failed",
            Self::NegotiationFailed => "negotiation-failed",
            Self::TransferFailed => "transfer-failed",
            Self::IntegrityFailed => "integrity-failed",
            Self::AutoplayBlocked => "autoplay-blocked",
            Self::Server(code) => code.as_str(),
        }
    }
}

/// An error with its code and a sentence a person can read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    /// What kind of error.
    pub code: ErrorCode,
    /// What happened, in words.
    pub message: String,
}

impl Error {
    /// An error of `code` saying `message`.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    /// An error of `code`: `context`, followed by what the browser said in `cause`.
    pub fn from_js(code: ErrorCode, context: &str, cause: &JsValue) -> Self {
        Self::new(code, [context, ": ", &js_message(cause)].concat())
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.message, self.code.as_str())
    }
}

impl std::error::Error for Error {}

impl From<Error> for JsValue {
    /// A JavaScript `Error` whose `message` is the sentence, with a `code` property.
    fn from(error: Error) -> Self {
        let js = js_sys::Error::new(&error.message);
        let _ = js_sys::Reflect::set(&js, &"code".into(), &error.code.as_str().into());
        js.into()
    }
}

/// The readable part of a thrown JavaScript value.
pub fn js_message(value: &JsValue) -> String {
    if let Some(error) = value.dyn_ref::<js_sys::Error>() {
        String::from(error.message())
    } else if let Some(text) = value.as_string() {
        text
    } else {
        // Anything else thrown (a number, a plain object), as JavaScript writes it.
        text_of(value).unwrap_or_default()
    }
}

#[wasm_bindgen::prelude::wasm_bindgen]
extern "C" {
    /// `String(value)`; it throws only for an object whose own `toString` throws.
    #[wasm_bindgen(js_name = String, catch)]
    fn text_of(value: &JsValue) -> Result<String, JsValue>;
}

/// The `name` of a thrown DOMException or Error (`NotAllowedError`, ...), or "".
pub fn js_error_name(value: &JsValue) -> String {
    value
        .dyn_ref::<js_sys::Error>()
        .map(|error| String::from(error.name()))
        .unwrap_or_default()
}
