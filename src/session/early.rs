//! A connection made while the call still rings, so that accepting costs little time.
//!
//! The caller's is made at the ring and offers at once, but its offer leaves without
//! candidates and the candidates wait for the accept: nothing that reveals an address
//! leaves before then. The callee's is made when it is rung and applies that offer, and
//! its answer waits for the accept (and goes before it). A callee that did not answer
//! early (it never got the offer, or predates early offers) gets the offer again after its
//! accept. A ringing call that ends drops its early connection.

use protocol::{ClientMessage, PeerInfo, Signal};
use web_sys::MediaStream;

use super::{
    action::{Action, Actions},
    input::{CallInput, Wake},
    live::{Live, PeerSetup, Role},
};
use crate::peer::without_candidates;

/// A connection made early, and what it holds back.
pub struct Early {
    live: Box<Live>,
    /// The caller's offer, as sent early, for a callee that did not answer it.
    offer: Option<ClientMessage>,
    /// The other side answered the early offer.
    answered: bool,
    /// What waits for the accept: the caller's candidates.
    held: Vec<ClientMessage>,
}

impl Early {
    /// Makes the connection of `role`; `None` if it cannot be made now (it is made again
    /// once the call is accepted).
    pub fn start(
        setup: &PeerSetup,
        role: Role,
        local: Option<MediaStream>,
        wake: Wake,
    ) -> Option<Self> {
        let mut live = Live::start(setup, role, local, wake).ok()?;
        if role == Role::Callee {
            live.ring();
        }
        Some(Self {
            live: Box::new(live),
            offer: None,
            answered: false,
            held: Vec::new(),
        })
    }

    /// An input of the early connection; `false` if it failed and is to be dropped.
    pub async fn input(&mut self, input: CallInput, with: &PeerInfo, out: &mut Actions) -> bool {
        let mut early = Actions::default();
        self.live.input(input, with, &mut early).await;
        self.sort(early, out)
    }

    /// A signal for the early connection (the caller's offer, the callee's answer);
    /// `false` if it failed and is to be dropped.
    pub async fn signal(&mut self, signal: Signal, with: &PeerInfo, out: &mut Actions) -> bool {
        self.answered |= matches!(signal, Signal::Answer { .. });
        let mut early = Actions::default();
        self.live.signal(signal, with, &mut early).await;
        self.sort(early, out)
    }

    /// Sends the offer at once, without candidates; holds the rest.
    fn sort(&mut self, early: Actions, out: &mut Actions) -> bool {
        let mut early = early;
        for action in early.take() {
            match action {
                Action::Send(ClientMessage::Offer { to, sdp }) if self.offer.is_none() => {
                    let offer = ClientMessage::Offer {
                        to,
                        sdp: without_candidates(&sdp),
                    };
                    out.send(offer.clone());
                    self.offer = Some(offer);
                }
                Action::Send(message) => self.held.push(message),
                Action::Emit(event) => out.emit(event),
                Action::End(_) => return false,
            }
        }
        true
    }

    /// The callee accepts, sending `local`; returns whether the caller's first offer is
    /// in, to be answered before the accept goes.
    pub fn accept(&mut self, local: Option<MediaStream>) -> bool {
        self.live.accept(local)
    }

    /// The call is accepted: what was held goes now (the offer again if the callee did
    /// not answer it, then the candidates gathered so far), and the connection's time to
    /// connect starts.
    pub fn accepted(self, out: &mut Actions) -> Box<Live> {
        if let Some(offer) = self.offer.filter(|_| !self.answered) {
            out.send(offer);
        }
        for message in self.held {
            out.send(message);
        }
        let mut live = self.live;
        live.accepted();
        live
    }
}
