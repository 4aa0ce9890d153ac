//! How fast one connection may ask things of the server: a token bucket per kind of
//! message, sized so that real calls (dozens of candidates, renegotiations, ICE restarts)
//! never reach them. A message over its rate is refused with `rate-limited`; a connection
//! that keeps sending refused messages is closed.

use protocol::{ClientMessage, ErrorCode};
use tokio::time::Instant;

use crate::{addresses::AddressLogins, refusal::Refusal};

/// A token bucket: `burst` tokens at most, refilled at `per_sec`.
pub struct Bucket {
    tokens: f64,
    burst: f64,
    per_sec: f64,
    last: Instant,
}

impl Bucket {
    pub fn new(burst: f64, per_sec: f64, factor: f64) -> Self {
        Self {
            tokens: burst * factor,
            burst: burst * factor,
            per_sec: per_sec * factor,
            last: Instant::now(),
        }
    }

    /// Takes `n` tokens if there are that many.
    pub fn take(&mut self, n: f64) -> bool {
        self.refill();
        if self.tokens >= n {
            self.tokens -= n;
            true
        } else {
            false
        }
    }

    /// Whether it is full again: as good as a new one.
    pub fn is_full(&mut self) -> bool {
        self.refill();
        self.tokens >= self.burst
    }

    fn refill(&mut self) {
        let now = Instant::now();
        let elapsed = now.duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed * self.per_sec).min(self.burst);
    }
}

/// The rates of one connection.
pub struct Rates {
    logins: Bucket,
    /// The logins of every connection from the same address.
    address: Option<AddressLogins>,
    rings: Bucket,
    relays: Bucket,
    relay_bytes: Bucket,
    acks: Bucket,
    pings: Bucket,
    /// Refusals of any kind: a connection that runs out is closed.
    strikes: Bucket,
}

impl Rates {
    /// The default rates, each multiplied by `factor` (`--rate-limit-factor`); login
    /// attempts on a fresh socket also count against `address` ([`Rates::address_allows`]),
    /// where the socket has one (a visitor from another node was counted there).
    pub fn new(factor: f64, address: Option<AddressLogins>) -> Self {
        Self {
            // Login attempts on one socket: a person retyping a taken name.
            logins: Bucket::new(10.0, 1.0, factor),
            address,
            // Rings and moderation: a person's clicks, and a page that calls back at once
            // after a busy or a glare, dozens of times in a row.
            rings: Bucket::new(100.0, 2.0, factor),
            // Call signals: a renegotiation or ICE restart sends a few dozen at once.
            relays: Bucket::new(500.0, 100.0, factor),
            relay_bytes: Bucket::new(4.0 * 1024.0 * 1024.0, 1024.0 * 1024.0, factor),
            // Acknowledgements: at most one per signal delivered (the client sends one
            // per batch it has handled), and a member of the largest call hears five
            // senders' signals. They take nothing from our own signals' rate.
            acks: Bucket::new(1_000.0, 500.0, factor),
            // The client pings every few seconds.
            pings: Bucket::new(20.0, 4.0, factor),
            strikes: Bucket::new(30.0, 2.0, factor),
        }
    }

    /// Whether `message`, `bytes` long on the wire, is within its rate.
    pub fn allow(&mut self, message: &ClientMessage, bytes: usize) -> Result<(), Refusal> {
        let (within, what) = match message {
            ClientMessage::Login { .. } => (self.logins.take(1.0), "logins"),
            ClientMessage::Ping => (self.pings.take(1.0), "pings"),
            ClientMessage::Ack { .. } => (self.acks.take(1.0), "acknowledgements"),
            ClientMessage::Ring { .. }
            | ClientMessage::LockRoom
            | ClientMessage::UnlockRoom
            | ClientMessage::RemovePeer { .. }
            | ClientMessage::JoinCall { .. }
            | ClientMessage::LeaveCall { .. } => (self.rings.take(1.0), "calls"),
            _ => (
                self.relays.take(1.0) && self.relay_bytes.take(bytes as f64),
                "call signals",
            ),
        };
        if within {
            Ok(())
        } else {
            // A relayed frame's refusal names its recipient and call, so that the sender
            // knows which call it concerns.
            Err(Refusal::new(
                ErrorCode::RateLimited,
                format!("too many {what}: slow down"),
            )
            .of(message))
        }
    }

    /// Takes a login attempt from the address's share (see [`AddressLogins`]); false if
    /// it has none left. A socket with no address of its own (a visitor from another
    /// node, counted there) always may.
    pub fn address_allows(&self) -> bool {
        self.address.as_ref().is_none_or(AddressLogins::take)
    }

    /// Counts one refusal; false once the connection has been refused too often.
    pub fn strike(&mut self) -> bool {
        self.strikes.take(1.0)
    }
}
