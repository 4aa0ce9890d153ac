//! What the server says when it refuses a frame.

use protocol::{ErrorCode, PeerId, ServerMessage};

/// A refused frame: the `error` its sender gets back.
#[derive(Debug)]
pub struct Refusal {
    /// What kind of refusal.
    pub code: ErrorCode,
    /// A sentence a person can read.
    pub message: String,
    /// The recipient of the refused relayed message, when there was one.
    pub to: Option<PeerId>,
}

impl Refusal {
    /// A refusal of `code` saying `message`.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            to: None,
        }
    }

    /// The `error` frame.
    pub fn into_message(self) -> ServerMessage {
        ServerMessage::error(self.code, self.message, self.to)
    }
}
