//! What the owners of the session's parts ask it to do: they decide, the session acts.

use protocol::ClientMessage;

use crate::{
    error::Error,
    event::{EndReason, Event},
};

/// One thing for the session to do.
pub enum Action {
    /// Send a frame to the signaling server (or keep it until the link is back).
    Send(ClientMessage),
    /// Tell the page.
    Emit(Event),
    /// The call that returned this is over.
    End(EndReason),
}

/// The actions an input led to, in order.
#[derive(Default)]
pub struct Actions(Vec<Action>);

impl Actions {
    /// Send `message` to the server.
    pub fn send(&mut self, message: ClientMessage) {
        self.0.push(Action::Send(message));
    }

    /// Tell the page `event`.
    pub fn emit(&mut self, event: Event) {
        self.0.push(Action::Emit(event));
    }

    /// Tell the page about `error`.
    pub fn report(&mut self, error: Error) {
        self.emit(Event::Error(error));
    }

    /// End the call.
    pub fn end(&mut self, reason: EndReason) {
        self.0.push(Action::End(reason));
    }

    /// Adds `action`.
    pub fn push(&mut self, action: Action) {
        self.0.push(action);
    }

    /// Takes the actions so far, leaving none.
    pub fn take(&mut self) -> Vec<Action> {
        std::mem::take(&mut self.0)
    }

    /// Whether there is nothing to do.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}
