//! The session's link to the signaling server: log in, keep it alive, get it back.
//!
//! A heartbeat (`ping`, answered by `pong`) notices a server that went silent. When the
//! socket drops, the session reconnects with capped exponential backoff and jitter, and
//! logs in with its resume token to get the same id back; signals sent meanwhile wait.
//! A call that is connected keeps its media flowing throughout: it needs no server.

use std::rc::Rc;

use protocol::{ClientMessage, PeerId, PeerInfo, validate_name};

use super::{Input, Reply, Session, answer, call::EndReason};
use crate::{
    error::{Error, ErrorCode},
    listener::Timer,
    signaling::{Signaling, SignalingEvent},
};

/// Signals kept while the socket is down; past this they are dropped.
pub const MAX_OUTGOING: usize = 256;

/// First reconnection delay, and the cap the doubling stops at (ms).
const BACKOFF_FIRST_MS: f64 = 250.0;
const BACKOFF_CAP_MS: f64 = 3_000.0;

impl Session {
    pub(super) fn connect(&mut self, reply: Reply) {
        if let Some(me) = self.me.as_ref().filter(|_| self.online) {
            answer(reply, Ok(me.id.0.as_str()));
            return;
        }
        if self.pending_connect.is_some() || self.wanted {
            let message = "already connecting";
            let _ = reply.send(Err(Error::new(ErrorCode::InvalidState, message)));
            return;
        }
        if let Err(error) = validate_name(&self.options.name) {
            let _ = reply.send(Err(Error::new(ErrorCode::InvalidName, error.to_string())));
            return;
        }
        match self.open() {
            Ok(()) => {
                self.wanted = true;
                self.pending_connect = Some(reply);
            }
            Err(error) => {
                let _ = reply.send(Err(error));
            }
        }
    }

    /// Opens a socket and logs in on it (with the resume token, if there is one).
    fn open(&mut self) -> Result<(), Error> {
        self.signaling_generation += 1;
        let generation = self.signaling_generation;
        let inputs = self.inputs.clone();
        let signaling = Signaling::open(
            &self.options.url,
            Rc::new(move |event| {
                let _ = inputs.unbounded_send(Input::Signaling(generation, event));
            }),
        )?;
        signaling.send(&ClientMessage::Login {
            name: self.options.name.clone(),
            resume: self.resume.clone(),
        })?;
        self.signaling = Some(signaling);
        self.arm_heartbeat();
        Ok(())
    }

    pub(super) async fn signaling_event(&mut self, event: SignalingEvent) {
        match event {
            SignalingEvent::Message(Ok(message)) => self.server_message(message).await,
            SignalingEvent::Message(Err(error)) => self.report(&error),
            SignalingEvent::Closed { code } => self.lost(code),
        }
    }

    pub(super) fn welcomed(&mut self, id: PeerId, name: String, resume: Option<String>) {
        let same = self.me.as_ref().is_some_and(|me| me.id == id);
        if !same && self.phase.with().is_some() {
            // A new id: the other side has been told we left, so the call is over.
            self.end_call(EndReason::Failed);
        }
        if !same {
            // Signals addressed from our old id mean nothing any more.
            self.outgoing.clear();
        }
        self.me = Some(PeerInfo { id, name });
        self.resume = resume;
    }

    /// `welcome` and `peers` are in: online.
    pub(super) fn logged_in(&mut self) {
        let Some(me) = self.me.clone() else {
            return;
        };
        self.online = true;
        self.attempts = 0;
        for message in std::mem::take(&mut self.outgoing) {
            self.send(message);
        }
        if let Some(reply) = self.pending_connect.take() {
            answer(reply, Ok(me.id.0));
        }
        self.publish_state();
    }

    /// The socket closed (or went silent).
    fn lost(&mut self, code: Option<u16>) {
        self.signaling = None;
        self.signaling_generation += 1;
        self.heartbeat = None;
        let was_online = std::mem::replace(&mut self.online, false);
        if let Some(reply) = self.pending_connect.take() {
            // The first connection never came up: say so, and do not insist.
            self.wanted = false;
            let message = format!("cannot reach the signaling server at {}", self.options.url);
            let _ = reply.send(Err(Error::new(ErrorCode::ConnectFailed, message)));
        }
        if was_online {
            let why = match code {
                Some(1001) => "the server went away".to_owned(),
                Some(1009) => "a message was too large for the server".to_owned(),
                Some(code) => format!("close code {code}"),
                None => "it went silent".to_owned(),
            };
            let message =
                format!("lost the connection to the signaling server ({why}): reconnecting");
            self.report(&Error::new(ErrorCode::SignalingClosed, message));
            self.peers.clear();
            self.emit_peers();
        }
        // A call still ringing cannot be answered without signaling; one that is
        // connected keeps its media flowing until someone hangs up.
        if let super::call::Phase::Calling { with, .. } | super::call::Phase::Ringing { with, .. } =
            &self.phase
        {
            // Queued for when the socket is back, so the other side stops ringing too.
            if self.phase.heard_of() {
                let to = with.id.clone();
                self.send(ClientMessage::signal(
                    to,
                    protocol::Signal::Hangup { reason: None },
                ));
            }
            self.end_call(EndReason::Failed);
        }
        self.publish_state();
        if self.wanted {
            self.schedule_reconnect();
        }
    }

    fn schedule_reconnect(&mut self) {
        // Full jitter over a capped doubling: many clients of one restarted server do
        // not all come back in the same millisecond.
        let ceiling = (BACKOFF_FIRST_MS * 2f64.powf(f64::from(self.attempts))).min(BACKOFF_CAP_MS);
        let delay = ceiling * (0.5 + 0.5 * js_sys::Math::random());
        self.attempts = self.attempts.saturating_add(1);
        let inputs = self.inputs.clone();
        self.reconnect = Some(Timer::new(delay as u32, move || {
            let _ = inputs.unbounded_send(Input::Reconnect);
        }));
    }

    pub(super) fn reconnect(&mut self) {
        self.reconnect = None;
        if !self.wanted || self.signaling.is_some() {
            return;
        }
        if let Err(error) = self.open() {
            self.report(&error);
            self.schedule_reconnect();
        }
    }

    fn arm_heartbeat(&mut self) {
        let generation = self.signaling_generation;
        let inputs = self.inputs.clone();
        self.heartbeat = Some(Timer::new(self.options.heartbeat_ms, move || {
            let _ = inputs.unbounded_send(Input::Heartbeat(generation));
        }));
    }

    /// Pings the server, or gives the socket up if it has said nothing for too long.
    pub(super) fn heartbeat(&mut self) {
        let heard = self.signaling.as_ref().map_or(0.0, Signaling::last_heard);
        let silent_for = js_sys::Date::now() - heard;
        if silent_for > 2.0 * f64::from(self.options.heartbeat_ms) {
            // Close it saying we mean to come back, then treat it as lost.
            if let Some(signaling) = self.signaling.take() {
                signaling.abandon();
            }
            self.lost(None);
            return;
        }
        if let Some(signaling) = &self.signaling {
            let _ = signaling.send(&ClientMessage::Ping);
        }
        self.arm_heartbeat();
    }
}
