//! What the server says when it refuses a frame.

use protocol::{CallId, ClientMessage, ErrorCode, PeerId, ServerMessage};

/// A refused frame: the `error` its sender gets back.
#[derive(Debug)]
pub struct Refusal {
    /// What kind of refusal.
    pub code: ErrorCode,
    /// A sentence a person can read.
    pub message: String,
    /// The recipient of the refused relayed message, when there was one.
    pub to: Option<PeerId>,
    /// The call the refused relayed message named, when it named one: so that its sender
    /// tells a refusal of its current call from one of an earlier call with the same peer.
    pub call: Option<CallId>,
}

impl Refusal {
    /// A refusal of `code` saying `message`.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            to: None,
            call: None,
        }
    }

    /// This refusal, of `message`: it names the message's recipient and call.
    pub fn of(self, message: &ClientMessage) -> Self {
        self.addressed(message.recipient(), message.call())
    }

    /// This refusal, of a relayed message to `to` in `call`.
    pub fn addressed(self, to: Option<&PeerId>, call: Option<&CallId>) -> Self {
        Self {
            to: to.cloned(),
            call: call.cloned(),
            ..self
        }
    }

    /// The `error` frame.
    pub fn into_message(self) -> ServerMessage {
        ServerMessage::error(self.code, self.message, self.to, self.call)
    }
}
