//! Who else is online, as the server last said.

use protocol::{PeerId, PeerInfo};

use super::action::Actions;
use crate::{
    error::{Error, ErrorCode},
    event::Event,
};

/// Everyone else logged in; the page hears every change as `peers`.
#[derive(Default)]
pub struct Presence {
    peers: Vec<PeerInfo>,
}

impl Presence {
    /// The whole list is `peers` (or, offline, nobody).
    pub fn replace(&mut self, peers: Vec<PeerInfo>, out: &mut Actions) {
        self.peers = peers;
        out.emit(Event::Peers(self.peers.clone()));
    }

    /// `peer` logged in.
    pub fn joined(&mut self, peer: PeerInfo, out: &mut Actions) {
        self.peers.retain(|known| known.id != peer.id);
        self.peers.push(peer);
        out.emit(Event::Peers(self.peers.clone()));
    }

    /// `id` left.
    pub fn left(&mut self, id: &PeerId, out: &mut Actions) {
        self.peers.retain(|peer| &peer.id != id);
        out.emit(Event::Peers(self.peers.clone()));
    }

    /// Whether `id` is online.
    pub fn lists(&self, id: &PeerId) -> bool {
        self.peers.iter().any(|peer| &peer.id == id)
    }

    /// Who `to` is, if `me` may call them now (`busy`: in a call already).
    pub fn callee(&self, me: &PeerInfo, to: &PeerId, busy: bool) -> Result<PeerInfo, Error> {
        let refused = |why: &str| Err(Error::new(ErrorCode::InvalidState, why));
        if busy {
            return refused("already in a call");
        }
        if *to == me.id {
            return refused("you cannot call yourself");
        }
        let peer = self.peers.iter().find(|peer| &peer.id == to);
        let offline = || {
            let message = [to.0.as_str(), " is not online"].concat();
            Error::new(ErrorCode::PeerUnavailable, message)
        };
        peer.cloned().ok_or_else(offline)
    }
}
