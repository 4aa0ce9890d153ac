//! Keeping a call through network changes: ICE restarts.
//!
//! On `disconnected` the connection often heals by itself, so the call waits a short
//! grace period before restarting ICE; on `failed` it restarts at once. If a restart has
//! not brought the connection back within a bounded time, the call ends as `failed`.
//! Meanwhile the API state is `reconnecting`. Restarts are offered by the caller only; the
//! callee asks for one with `restart-ice` (see [`crate::peer::IceRestart`]). See
//! <https://developer.mozilla.org/docs/Web/API/RTCPeerConnection/restartIce>.

use crate::{event::State, js::Timer};

/// How long `disconnected` may last before ICE is restarted (ms).
const GRACE_MS: u32 = 3_000;
/// How long a restart may take to bring the connection back (ms).
const DEADLINE_MS: u32 = 15_000;

/// What a recovery timer asks for when it fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// The grace period is over: restart ICE.
    Restart,
    /// The restart did not help in time: end the call.
    GiveUp,
    /// The call was accepted long ago and has never connected: end it.
    NeverConnected,
}

/// Makes the timer that brings a [`Step`] back to the call after some milliseconds.
pub type Schedule<'a> = &'a dyn Fn(u32, Step) -> Timer;

/// Where the connection of a call is; each waiting state owns its timer.
pub enum IceRecovery {
    /// Never connected yet; ends the call if that takes too long.
    Connecting { _deadline: Timer },
    /// Media flows.
    Connected,
    /// `disconnected`: waiting a moment for it to heal by itself.
    Grace { _timer: Timer },
    /// ICE restarted; ends the call if it does not come back in time.
    Restarting { _deadline: Timer },
}

/// What the call must do about its connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Nothing.
    Wait,
    /// Restart ICE now.
    Restart,
    /// It failed before it ever connected.
    NeverConnected,
    /// It dropped and a restart did not bring it back.
    Lost,
}

impl IceRecovery {
    /// A new call's connection, which may take `connect_ms` to connect the first time.
    pub fn new(connect_ms: u32, schedule: Schedule) -> Self {
        Self::Connecting {
            _deadline: schedule(connect_ms, Step::NeverConnected),
        }
    }

    /// The API state of a call whose connection is here.
    pub fn state(&self) -> State {
        match self {
            Self::Connecting { .. } => State::Connecting,
            Self::Connected => State::Connected,
            Self::Grace { .. } | Self::Restarting { .. } => State::Reconnecting,
        }
    }

    /// The peer connection's `connectionState` is `state` now.
    pub fn connection_state(&mut self, state: &str, schedule: Schedule) -> Verdict {
        match (state, &*self) {
            ("connected", _) => *self = Self::Connected,
            ("disconnected", Self::Connected) => {
                *self = Self::Grace {
                    _timer: schedule(GRACE_MS, Step::Restart),
                };
            }
            ("failed", Self::Connecting { .. }) => return Verdict::NeverConnected,
            // A restart already under way has its own deadline.
            ("failed", Self::Connected | Self::Grace { .. }) => return Verdict::Restart,
            _ => {}
        }
        Verdict::Wait
    }

    /// A timer of this recovery fired.
    pub fn step(&self, step: Step) -> Verdict {
        match (step, self) {
            (Step::Restart, Self::Grace { .. }) => Verdict::Restart,
            (Step::GiveUp, Self::Restarting { .. }) => Verdict::Lost,
            (Step::NeverConnected, Self::Connecting { .. }) => Verdict::NeverConnected,
            // The state it was set for has passed.
            _ => Verdict::Wait,
        }
    }

    /// ICE is being restarted; `healthy` if the connection is `connected` all the same
    /// (asked for while all is well: no need to watch over it).
    pub fn restarted(&mut self, healthy: bool, schedule: Schedule) {
        if !matches!(self, Self::Connecting { .. }) && !healthy {
            *self = Self::Restarting {
                _deadline: schedule(DEADLINE_MS, Step::GiveUp),
            };
        }
    }

    /// Whether a restart is under way.
    pub fn is_restarting(&self) -> bool {
        matches!(self, Self::Restarting { .. })
    }
}
