//! Where a login's room lives: the server's one routing interface, with two ways behind
//! it. A server alone holds every room itself (in process, the default); a node of a
//! cluster finds each room's home through Redis and reaches rooms held elsewhere through
//! tunnels (see [`crate::cluster`] and [`crate::tunnel`]).

use std::{net::SocketAddr, sync::Arc, time::Duration};

use protocol::PeerId;

use crate::{
    cluster::{Cluster, Home},
    outbox::Outbox,
    rooms::RoomKey,
    tunnel::{Bus, NodeId, Tunnel},
};

/// Where a room lives, as a login needs to know it.
pub enum Place {
    /// On this server.
    Here,
    /// On another node of the cluster.
    Elsewhere(Elsewhere),
}

/// A room on another node: the way to it.
pub struct Elsewhere {
    bus: Arc<Bus>,
    home: NodeId,
}

impl Elsewhere {
    /// Socket `conn` of this node, whose frames go to `outbox`, logs in with `text`: from
    /// now on its frames go to the room's home and back.
    pub fn tunnel(self, conn: u64, remote: SocketAddr, outbox: &Outbox, text: &str) -> Tunnel {
        self.bus.open(self.home, conn, remote, outbox, text)
    }
}

/// How rooms are found.
#[derive(Clone)]
pub enum Routing {
    /// Every room is on this server.
    InProcess,
    /// Each room is on its home node of a cluster joined through Redis.
    Redis(Arc<Cluster>),
}

impl Routing {
    /// The node of the cluster, if this server is one.
    pub fn cluster(&self) -> Option<&Arc<Cluster>> {
        match self {
            Self::InProcess => None,
            Self::Redis(cluster) => Some(cluster),
        }
    }

    // The cluster's answers are awaited in boxes: every connection's future keeps room for
    // the largest future it awaits, and Redis commands are large (2.6 KB per connection
    // on a server alone, which never makes them).

    /// Where `room` lives.
    pub async fn place_of(&self, room: &RoomKey) -> Place {
        match self {
            Self::InProcess => Place::Here,
            Self::Redis(cluster) => match Box::pin(cluster.home_of(room)).await {
                Home::Here => Place::Here,
                Home::There(home) => Place::Elsewhere(Elsewhere {
                    bus: Arc::clone(&cluster.bus),
                    home,
                }),
            },
        }
    }

    /// Whether `id` left on purpose, as another node noted (this node's own registry
    /// knows its own).
    pub async fn has_left(&self, id: &PeerId) -> bool {
        match self {
            Self::InProcess => false,
            Self::Redis(cluster) => Box::pin(cluster.has_left(id)).await,
        }
    }

    /// `id` left on purpose: its tokens are refused for `lifetime`, on every node.
    pub async fn note_left(&self, id: &PeerId, lifetime: Duration) {
        if let Self::Redis(cluster) = self {
            Box::pin(cluster.note_left(id, lifetime)).await;
        }
    }
}
