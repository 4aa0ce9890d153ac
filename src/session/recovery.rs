//! Keeping a call through network changes: ICE restarts.
//!
//! On `disconnected` the connection often heals by itself, so the call waits a short
//! grace period before restarting ICE; on `failed` it restarts at once. If a restart has
//! not brought the connection back within a bounded time, the call ends as `failed`.
//! Restarts are offered by the caller only; the callee asks for one with `restart-ice`
//! (see [`crate::peer::IceRestart`]).
//! Meanwhile the API state is `reconnecting`. See
//! <https://developer.mozilla.org/docs/Web/API/RTCPeerConnection/restartIce>.

use protocol::{PeerId, Signal};

use super::{
    Input, Session,
    call::{EndReason, Phase},
};
use crate::{
    error::{Error, ErrorCode},
    listener::Timer,
    peer::{IceRestart, IceRole},
};
use protocol::ClientMessage;

/// How long `disconnected` may last before ICE is restarted (ms).
const GRACE_MS: u32 = 3_000;
/// How long a restart may take to bring the connection back (ms).
const DEADLINE_MS: u32 = 15_000;

/// What the recovery timer asks for when it fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// The grace period is over: restart ICE.
    Restart,
    /// The restart did not help in time: end the call.
    GiveUp,
    /// The call was accepted long ago and has never connected: end it.
    NeverConnected,
}

/// How long an accepted call may take to connect the first time (ms).
pub const CONNECT_MS: u32 = 30_000;

/// A recovery under way.
pub struct Recovery {
    restarted: bool,
    _timer: Timer,
}

impl Session {
    pub(super) fn connection_state(&mut self, state: &str) {
        let starts_grace = state == "disconnected"
            && matches!(&self.phase, Phase::InCall(a) if a.connected && a.recovery.is_none());
        let grace = starts_grace.then(|| self.recovery_timer(GRACE_MS, Step::Restart));
        let Phase::InCall(active) = &mut self.phase else {
            return;
        };
        match state {
            "connected" => {
                active.connected = true;
                active.recovery = None;
            }
            "disconnected" => {
                if let Some(timer) = grace {
                    active.recovery = Some(Recovery {
                        restarted: false,
                        _timer: timer,
                    });
                }
            }
            "failed" if !active.connected => {
                // Never connected at all: nothing to recover.
                let to = active.with.id.clone();
                self.report(&Error::new(
                    ErrorCode::NegotiationFailed,
                    "could not connect to the other side",
                ));
                self.send(ClientMessage::signal(to, Signal::Hangup { reason: None }));
                self.end_call(EndReason::Failed);
                return;
            }
            // A restart already under way has its own deadline.
            "failed" if !active.recovery.as_ref().is_some_and(|r| r.restarted) => {
                self.restart_ice();
            }
            _ => {}
        }
        self.publish_state();
    }

    /// Restarts ICE now (the page asked, or the connection dropped) and gives it a
    /// bounded time to work.
    pub(super) fn restart_ice(&mut self) {
        let timer = self.recovery_timer(DEADLINE_MS, Step::GiveUp);
        let Phase::InCall(active) = &mut self.phase else {
            return;
        };
        let ask = match active.peer.restart_ice() {
            IceRestart::Offered => None,
            IceRestart::ByTheCaller => Some(active.with.id.clone()),
        };
        // Asked for while all is well: no need to watch over it.
        let watch = active.connected && active.peer.state() != "connected";
        if watch {
            active.recovery = Some(Recovery {
                restarted: true,
                _timer: timer,
            });
        }
        if let Some(caller) = ask {
            self.send(ClientMessage::signal(caller, Signal::RestartIce));
        }
        if watch {
            self.publish_state();
        }
    }

    /// The callee asks for an ICE restart: the caller makes it, unless one is under way.
    pub(super) fn restart_asked(&mut self, from: &PeerId) {
        let asked = matches!(&self.phase, Phase::InCall(active)
            if &active.with.id == from
                && active.peer.ice_role() == IceRole::Controlling
                && !active.recovery.as_ref().is_some_and(|r| r.restarted));
        if asked {
            self.restart_ice();
        }
    }

    pub(super) fn recovery_step(&mut self, step: Step) {
        let Phase::InCall(active) = &self.phase else {
            return;
        };
        let due = match step {
            Step::NeverConnected => !active.connected,
            Step::Restart | Step::GiveUp => active.recovery.is_some(),
        };
        if !due {
            return;
        }
        match step {
            Step::Restart => self.restart_ice(),
            Step::GiveUp | Step::NeverConnected => {
                let to = active.with.id.clone();
                let message = if step == Step::GiveUp {
                    format!(
                        "the connection to {} dropped and did not come back",
                        active.with.name
                    )
                } else {
                    format!("could not connect to {}", active.with.name)
                };
                self.report(&Error::new(ErrorCode::NegotiationFailed, message));
                self.send(ClientMessage::signal(to, Signal::Hangup { reason: None }));
                self.end_call(EndReason::Failed);
            }
        }
    }

    pub(super) fn recovery_timer(&self, millis: u32, step: Step) -> Timer {
        let generation = self.generation;
        let inputs = self.inputs.clone();
        Timer::new(millis, move || {
            let _ = inputs.unbounded_send(Input::Recovery(generation, step));
        })
    }
}
