//! The session's link to the signaling server: log in, keep it alive, get it back.
//!
//! A heartbeat (`ping`, answered by `pong`) notices a server that went silent. When the
//! socket drops, the link reconnects with capped exponential backoff and jitter, and logs
//! in with its resume token to get the same id back; signals sent meanwhile wait. A call
//! that is connected keeps its media flowing throughout: it needs no server.

use std::rc::Rc;

use wasm_bindgen::JsValue;

use protocol::{
    CallId, ClientMessage, ErrorCode as WireCode, PeerId, PeerInfo, Relayed, ServerMessage, Signal,
};

use super::{
    action::Actions,
    command::{Reply, answer},
    input::LinkInput,
    presence::Presence,
};
use crate::{
    error::{Error, ErrorCode},
    event::{Event, LeftReason},
    js::Timer,
    peer::ice_servers_js,
    signaling::{Signaling, SignalingEvent, read::Incoming},
};

/// Signals kept while the socket is down; past this they are dropped.
const MAX_OUTGOING: usize = 256;

/// Signals sent and kept until the server confirms it has them; past this the oldest
/// are no longer sent again after a resume.
const MAX_UNCONFIRMED: usize = 256;

/// First reconnection delay, and the cap the doubling stops at (ms).
const BACKOFF_FIRST_MS: f64 = 250.0;
const BACKOFF_CAP_MS: f64 = 3_000.0;

/// What the link heard that concerns the calls.
pub enum Heard {
    /// A call signal from another peer, of the call it names.
    Signal(PeerInfo, Option<CallId>, Signal),
    /// Someone's socket closed.
    PeerLeft(PeerId),
    /// Logged in again under a new id: the other side of any call was told we left.
    NewId,
    /// Fresh TURN credentials: the old ones are about to expire.
    IceServers,
    /// Logged in again under our id, into a session the server started afresh (it
    /// restarted): a call still ringing is unknown to it.
    Forgotten,
    /// Logged in (again): who is online is what the server just said, and whoever left
    /// meanwhile is not on it.
    Listed,
    /// Logging in again after a drop was refused: there is no way back on our own.
    Refused,
    /// The server knows no peer `.0` to relay to.
    Unavailable(PeerId),
    /// The server knows no call with peer `.1` that our signal could belong to: it
    /// refused it. `.2` is the call the signal named.
    NotInCall(Error, PeerId, Option<CallId>),
    /// We are in room call `.0`, which `.1` were in already.
    CallJoined(CallId, Vec<PeerInfo>),
    /// Someone joined room call `.0`.
    ParticipantJoined(CallId, PeerInfo),
    /// Someone is no longer in room call `.0`.
    ParticipantLeft(CallId, PeerId, LeftReason),
    /// The room call is full, or we asked to join it too fast.
    CallRefused(Error),
    /// A signal of ours to this peer was refused for going too fast.
    Undelivered(PeerId),
}

/// What a login says about who we are and where we go.
pub struct Credentials {
    /// The display name.
    pub name: String,
    /// The room; `None`: the default room.
    pub room: Option<String>,
    /// The access token, on a server in token mode.
    pub token: Option<String>,
    /// The room's password.
    pub password: Option<String>,
}

/// A socket's heartbeat: the timer of its next beat, and when its last ping went out.
struct Heartbeat {
    _next: Timer,
    /// When the last ping went out (ms since the epoch); `None` before the first.
    pinged: Option<f64>,
}

/// Whether a socket is dead at `now`: nothing heard since its last ping went out (at
/// `pinged`; the server was last heard at `heard`), and nothing for longer than `limit`.
/// Silence alone says nothing: a hidden tab's timers may fire a minute late, long after
/// the last ping was answered.
fn is_dead(now: f64, heard: f64, pinged: Option<f64>, limit: f64) -> bool {
    pinged.is_some_and(|pinged| heard < pinged) && now - heard > limit
}

/// Where the link is; each state owns its socket and timers.
enum State {
    /// Not wanted: before `connect()`, after `close()`, or after a refused login.
    Offline,
    /// A socket logging in; `first` is the `connect()` waiting for the first login.
    Connecting {
        socket: Signaling,
        heartbeat: Heartbeat,
        first: Option<Reply>,
        attempts: u32,
    },
    /// Logged in, with the list of who is online.
    Online {
        socket: Signaling,
        heartbeat: Heartbeat,
    },
    /// The socket dropped; trying again when the timer fires.
    Reconnecting { _retry: Timer, attempts: u32 },
}

/// How the link's socket and timers reach the session: with the number of the socket
/// they concern, so that news of an old one is told apart.
pub type Wake = Rc<dyn Fn(u32, LinkInput)>;

/// The link to the signaling server.
pub struct Link {
    state: State,
    url: String,
    credentials: Credentials,
    heartbeat_ms: u32,
    /// Numbers sockets, so late news of a closed one is ignored.
    generation: u32,
    /// From the last `welcome`: logs in again as the same id after a drop.
    resume: Option<String>,
    me: Option<PeerInfo>,
    /// The server's STUN and TURN servers (`RTCIceServer[]`), from the last `welcome` or
    /// `ice-servers`.
    ice_servers: JsValue,
    /// Signals sent while the socket was down, delivered once it is back.
    outgoing: Vec<ClientMessage>,
    presence: Presence,
    /// The highest `seq` of a relayed signal handled, and the highest acknowledged.
    handled: u64,
    acked: u64,
    /// The `seq` of the last signal sent, and the signals the server has not confirmed
    /// yet: sent again after a resume, if it did not get them.
    sent: u64,
    unconfirmed: Vec<(u64, String)>,
    /// The call under way and who with: said on a resume, so a server that lost it
    /// (it restarted) knows it again.
    claim: Option<(CallId, PeerId)>,
    wake: Wake,
}

impl Link {
    /// A link, offline, that logs in to `url` with `credentials`.
    pub fn new(url: String, credentials: Credentials, heartbeat_ms: u32, wake: Wake) -> Self {
        Self {
            state: State::Offline,
            url,
            credentials,
            heartbeat_ms,
            generation: 0,
            resume: None,
            me: None,
            ice_servers: js_sys::Array::new().into(),
            outgoing: Vec::new(),
            presence: Presence::default(),
            handled: 0,
            acked: 0,
            sent: 0,
            unconfirmed: Vec::new(),
            claim: None,
            wake,
        }
    }

    /// Who we are, once welcomed.
    pub fn me(&self) -> Option<&PeerInfo> {
        self.me.as_ref()
    }

    /// The server's STUN and TURN servers, as `RTCConfiguration.iceServers` takes them.
    pub fn ice_servers(&self) -> &JsValue {
        &self.ice_servers
    }

    /// The call under way, said on the next resume.
    pub fn set_claim(&mut self, claim: Option<(CallId, PeerId)>) {
        self.claim = claim;
    }

    /// Logs in with `token` from the next login on.
    pub fn set_token(&mut self, token: String) {
        self.credentials.token = Some(token);
    }

    /// Whether `id` is online, as the server last said.
    pub fn lists(&self, id: &PeerId) -> bool {
        self.presence.lists(id)
    }

    /// Whether we are logged in and hear the server.
    pub fn is_online(&self) -> bool {
        matches!(self.state, State::Online { .. })
    }

    /// Who `to` is, if we may call them now (`busy`: we are in a call already).
    pub fn callee(&self, to: &PeerId, busy: bool) -> Result<PeerInfo, Error> {
        let me = self.me.as_ref();
        let me = me.ok_or_else(|| Error::new(ErrorCode::NotConnected, "connect before calling"))?;
        self.presence.callee(me, to, busy)
    }

    /// `connect()`: log in; `reply` hears our id.
    pub fn connect(&mut self, reply: Reply) {
        match (&self.state, &self.me) {
            (State::Online { .. }, Some(me)) => return answer(reply, Ok(me.id.0.as_str())),
            (State::Offline, _) => {}
            _ => {
                let error = Error::new(ErrorCode::InvalidState, "already connecting");
                return answer(reply, Err::<String, _>(error));
            }
        }
        // The server checks the name (and the room): its refusal rejects the reply.
        // A socket that cannot open rejects the reply itself.
        let _ = self.open(Some(reply), 0);
    }

    /// Opens a socket and logs in on it (with the resume token, if there is one).
    fn open(&mut self, first: Option<Reply>, attempts: u32) -> Result<(), Error> {
        self.generation += 1;
        let (generation, wake) = (self.generation, self.wake.clone());
        let opened = Signaling::open(
            &self.url,
            Rc::new(move |event| wake(generation, LinkInput::Socket(event))),
        )
        .and_then(|socket| {
            let credentials = &self.credentials;
            let (call, with) = self.claim.clone().filter(|_| self.resume.is_some()).unzip();
            socket.send(&ClientMessage::Login {
                name: credentials.name.clone(),
                resume: self.resume.clone(),
                room: credentials.room.clone(),
                token: credentials.token.clone(),
                password: credentials.password.clone(),
                ack: Some(self.handled),
                sent: Some(self.sent),
                call,
                with,
            })?;
            Ok(socket)
        });
        match opened {
            Ok(socket) => {
                self.state = State::Connecting {
                    socket,
                    heartbeat: self.heartbeat_start(),
                    first,
                    attempts,
                };
                Ok(())
            }
            Err(error) => {
                if let Some(reply) = first {
                    answer(reply, Err::<String, _>(error.clone()));
                }
                Err(error)
            }
        }
    }

    /// An input for socket number `generation` (or the retry timer).
    pub fn input(&mut self, generation: u32, input: LinkInput, out: &mut Actions) -> Option<Heard> {
        if generation != self.generation {
            return None; // news of a socket that has been replaced
        }
        match (input, &self.state) {
            (LinkInput::Socket(event), State::Connecting { .. } | State::Online { .. }) => {
                match event {
                    SignalingEvent::Message(Ok(message)) => self.server_message(message, out),
                    SignalingEvent::Message(Err(error)) => {
                        out.report(error);
                        None
                    }
                    SignalingEvent::Closed { code } => self.lost(code, out),
                }
            }
            (LinkInput::Heartbeat, State::Connecting { .. } | State::Online { .. }) => {
                self.heartbeat(out)
            }
            (LinkInput::Retry, State::Reconnecting { attempts, .. }) => {
                let attempts = *attempts;
                if let Err(error) = self.open(None, attempts) {
                    out.report(error);
                    self.retry(attempts);
                }
                None
            }
            // The state it was meant for has passed.
            _ => None,
        }
    }

    fn server_message(&mut self, message: Incoming, out: &mut Actions) -> Option<Heard> {
        let mut message = match message {
            Incoming::Relayed(relayed) => return self.relayed(relayed),
            Incoming::Other(message) => message,
        };
        // Room-call news is numbered as relayed signals are: handled once.
        if let Some(&mut Some(seq)) = message.seq_mut() {
            if seq <= self.handled {
                return None;
            }
            self.handled = seq;
        }
        match message {
            ServerMessage::CallJoined { call, peers, .. } => {
                return Some(Heard::CallJoined(call, peers));
            }
            ServerMessage::ParticipantJoined { call, id, name, .. } => {
                return Some(Heard::ParticipantJoined(call, PeerInfo { id, name }));
            }
            ServerMessage::ParticipantLeft {
                call, id, reason, ..
            } => return Some(Heard::ParticipantLeft(call, id, reason.into())),
            ServerMessage::Welcome {
                id,
                name,
                resume,
                ice_servers,
                received,
                resumed,
            } => {
                match received {
                    // The server held our session: it has everything up to `received`.
                    Some(received) => self.confirmed(received),
                    // A session it does not know: what the old one sent is gone with it.
                    None => self.unconfirmed.clear(),
                }
                let had = self.me.replace(PeerInfo { id, name });
                self.resume = resume;
                self.ice_servers = ice_servers_js(&ice_servers);
                let new = had
                    .as_ref()
                    .is_some_and(|had| Some(&had.id) != self.me.as_ref().map(|me| &me.id));
                if new {
                    // Signals addressed from our old id mean nothing any more.
                    self.outgoing.clear();
                    self.unconfirmed.clear();
                    return Some(Heard::NewId);
                }
                if had.is_some() && !resumed {
                    return Some(Heard::Forgotten);
                }
            }
            // `connect()` resolves once the list of who is online is in too (it follows
            // `welcome` at once), so a page can call anyone it has just been told about.
            ServerMessage::Peers { peers } => {
                self.presence.replace(peers, out);
                self.logged_in(out);
                return Some(Heard::Listed);
            }
            ServerMessage::PeerJoined { id, name } => {
                self.presence.joined(PeerInfo { id, name }, out);
            }
            ServerMessage::PeerLeft { id } => {
                self.presence.left(&id, out);
                return Some(Heard::PeerLeft(id));
            }
            ServerMessage::Error {
                code,
                message,
                to,
                call,
            } => {
                return self.server_error(code, message, (to, call), out);
            }
            ServerMessage::Room {
                room,
                locked,
                moderator,
            } => out.emit(Event::Room {
                room,
                locked,
                moderator,
            }),
            ServerMessage::ResumeToken { resume } => self.resume = Some(resume),
            ServerMessage::Pong {
                received: Some(received),
            } => self.confirmed(received),
            ServerMessage::IceServers { ice_servers } => {
                self.ice_servers = ice_servers_js(&ice_servers);
                return Some(Heard::IceServers);
            }
            // Pong: heard, which is all a pong is for. Relayed signals were handled above.
            _ => {}
        }
        None
    }

    /// A relayed signal: handled once, however often a resume replays it.
    fn relayed(&mut self, relayed: Relayed) -> Option<Heard> {
        let Relayed {
            from,
            name,
            call,
            seq,
            signal,
        } = relayed;
        if let Some(seq) = seq {
            if seq <= self.handled {
                return None;
            }
            self.handled = seq;
        }
        Some(Heard::Signal(PeerInfo { id: from, name }, call, signal))
    }

    /// The server has our signals up to `received`.
    fn confirmed(&mut self, received: u64) {
        self.unconfirmed.retain(|(seq, _)| *seq > received);
    }

    /// Tells the server what was handled, if there is news: the session calls this
    /// whenever it has nothing else to do, so a burst of candidates is acknowledged once.
    pub fn acknowledge(&mut self) {
        if let State::Online { socket, .. } = &self.state
            && self.handled > self.acked
            && socket
                .send(&ClientMessage::Ack { seq: self.handled })
                .is_ok()
        {
            self.acked = self.handled;
        }
    }

    /// `welcome` and `peers` are in: online.
    fn logged_in(&mut self, out: &mut Actions) {
        let State::Connecting { socket, first, .. } =
            std::mem::replace(&mut self.state, State::Offline)
        else {
            return;
        };
        self.state = State::Online {
            socket,
            heartbeat: self.heartbeat_start(),
        };
        // The login said what was handled.
        self.acked = self.handled;
        // What the server did not get before the drop goes again, as it was numbered.
        if let State::Online { socket, .. } = &self.state {
            for (_, text) in &self.unconfirmed {
                if let Err(error) = socket.send_text(text.clone()) {
                    out.report(error);
                }
            }
        }
        for message in std::mem::take(&mut self.outgoing) {
            self.send(message, out);
        }
        if let (Some(reply), Some(me)) = (first, &self.me) {
            answer(reply, Ok(me.id.0.as_str()));
        }
    }

    fn server_error(
        &mut self,
        code: WireCode,
        message: String,
        (to, call): (Option<PeerId>, Option<CallId>),
        out: &mut Actions,
    ) -> Option<Heard> {
        let error = Error::new(ErrorCode::from_wire(code), message);
        let login = matches!(code, WireCode::InvalidName | WireCode::NameTaken);
        if code.close_code().is_some() && !matches!(self.state, State::Connecting { .. }) {
            // Removed, or replaced by a resume elsewhere: over, and not to be retried.
            return Some(self.refused(error, out));
        }
        // While logging in, a refusal is the login's.
        let online = self.is_online();
        match &mut self.state {
            State::Connecting { first, .. } if first.is_some() => {
                // A refused login: the socket has no further use.
                if let Some(reply) = first.take() {
                    answer(reply, Err::<String, _>(error));
                }
                self.state = State::Offline;
                None
            }
            State::Connecting { .. } if login || code.close_code().is_some() => {
                // Logging in again after a drop was refused (the server restarted with
                // another key and someone took the name meanwhile, the token expired, a
                // moderator removed us).
                let message = ["could not log in again: ", &error.message].concat();
                Some(self.refused(Error::new(error.code, message), out))
            }
            _ if code == WireCode::NotInCall => to.map(|to| Heard::NotInCall(error, to, call)),
            // A refusal for going too fast that names nobody is of a request to the server
            // itself: in a call, our asking to join it.
            _ if code == WireCode::CallFull
                || (code == WireCode::RateLimited && to.is_none() && online) =>
            {
                Some(Heard::CallRefused(error))
            }
            _ => {
                out.report(error);
                match code {
                    WireCode::PeerUnavailable => to.map(Heard::Unavailable),
                    WireCode::RateLimited => to.map(Heard::Undelivered),
                    _ => None,
                }
            }
        }
    }

    /// Offline for good after a final refusal, which the page hears as `error`.
    fn refused(&mut self, error: Error, out: &mut Actions) -> Heard {
        self.state = State::Offline;
        self.outgoing.clear();
        self.unconfirmed.clear();
        self.me = None;
        self.resume = None;
        self.presence.replace(Vec::new(), out);
        out.report(error);
        Heard::Refused
    }

    /// The socket closed (or went silent).
    fn lost(&mut self, code: Option<u16>, out: &mut Actions) -> Option<Heard> {
        // A final refusal whose `error` frame never came: the close code says it all.
        let refusal = code.and_then(WireCode::from_close_code).map(|wire| {
            Error::new(
                ErrorCode::from_wire(wire),
                crate::signaling::why_closed(code),
            )
        });
        match (std::mem::replace(&mut self.state, State::Offline), refusal) {
            (
                State::Connecting {
                    first: Some(reply), ..
                },
                refusal,
            ) => {
                // The first connection never came up: say so, and do not insist.
                let error = refusal.unwrap_or_else(|| {
                    let message = ["cannot reach the signaling server at ", &self.url].concat();
                    Error::new(ErrorCode::ConnectFailed, message)
                });
                answer(reply, Err::<String, _>(error));
            }
            (State::Connecting { .. } | State::Online { .. }, Some(error)) => {
                return Some(self.refused(error, out));
            }
            (State::Connecting { attempts, .. }, None) => self.retry(attempts),
            (State::Online { .. }, None) => {
                let why = crate::signaling::why_closed(code);
                let message = [
                    "lost the connection to the signaling server (",
                    &why,
                    "): reconnecting",
                ]
                .concat();
                out.report(Error::new(ErrorCode::SignalingClosed, message));
                self.presence.replace(Vec::new(), out);
                self.retry(0);
            }
            (state @ (State::Offline | State::Reconnecting { .. }), _) => self.state = state,
        }
        None
    }

    /// Tries again after a pause that grows with `attempts`.
    fn retry(&mut self, attempts: u32) {
        // Full jitter over a capped doubling: many clients of one restarted server do
        // not all come back in the same millisecond.
        let ceiling = (BACKOFF_FIRST_MS * f64::from(1u32 << attempts.min(16))).min(BACKOFF_CAP_MS);
        let delay = ceiling * (0.5 + 0.5 * js_sys::Math::random());
        let (generation, wake) = (self.generation, self.wake.clone());
        self.state = State::Reconnecting {
            _retry: Timer::new(delay as u32, move || wake(generation, LinkInput::Retry)),
            attempts: attempts.saturating_add(1),
        };
    }

    /// The heartbeat of a new socket.
    fn heartbeat_start(&self) -> Heartbeat {
        Heartbeat {
            _next: self.heartbeat_timer(),
            pinged: None,
        }
    }

    fn heartbeat_timer(&self) -> Timer {
        let (generation, wake) = (self.generation, self.wake.clone());
        Timer::new(self.heartbeat_ms, move || {
            wake(generation, LinkInput::Heartbeat);
        })
    }

    /// Pings the server, or gives the socket up if its last ping went unanswered and it
    /// has said nothing for too long ([`is_dead`]).
    fn heartbeat(&mut self, out: &mut Actions) -> Option<Heard> {
        let timer = self.heartbeat_timer();
        let limit = 2.0 * f64::from(self.heartbeat_ms);
        let (State::Connecting {
            socket, heartbeat, ..
        }
        | State::Online { socket, heartbeat }) = &mut self.state
        else {
            return None;
        };
        let now = js_sys::Date::now();
        if is_dead(now, socket.last_heard(), heartbeat.pinged, limit) {
            // Close it saying we mean to come back, then treat it as lost.
            socket.abandon();
            return self.lost(None, out);
        }
        let _ = socket.send(&ClientMessage::Ping);
        *heartbeat = Heartbeat {
            _next: timer,
            pinged: Some(now),
        };
        self.acknowledge();
        None
    }

    /// Sends `message` to the server, or keeps it for when the socket is back. A signal
    /// is numbered and kept until the server confirms it.
    pub fn send(&mut self, mut message: ClientMessage, out: &mut Actions) {
        match &self.state {
            State::Online { socket, .. } => {
                let numbered = message.seq_mut().map(|seq| {
                    self.sent += 1;
                    *seq = Some(self.sent);
                    self.sent
                });
                let sent = crate::signaling::encode(&message).and_then(|text| {
                    if let Some(seq) = numbered {
                        if self.unconfirmed.len() == MAX_UNCONFIRMED {
                            self.unconfirmed.remove(0);
                        }
                        self.unconfirmed.push((seq, text.clone()));
                    }
                    socket.send_text(text)
                });
                // A frame refused unsent leaves a gap in the numbers, which the server
                // does not mind: it only drops what it has had.
                if let Err(error) = sent {
                    out.report(error);
                }
            }
            State::Connecting { .. } | State::Reconnecting { .. }
                if self.outgoing.len() < MAX_OUTGOING =>
            {
                self.outgoing.push(message);
            }
            _ => {}
        }
    }

    /// `close()`: offline for good.
    pub fn close(&mut self) {
        match std::mem::replace(&mut self.state, State::Offline) {
            State::Connecting { socket, first, .. } => {
                socket.leave();
                if let Some(reply) = first {
                    let error = Error::new(ErrorCode::NotConnected, "closed");
                    answer(reply, Err::<String, _>(error));
                }
            }
            State::Online { socket, .. } => socket.leave(),
            State::Offline | State::Reconnecting { .. } => {}
        }
        self.me = None;
    }
}

#[cfg(test)]
mod tests {
    use super::is_dead;

    /// Two heartbeats of 5 s.
    const LIMIT: f64 = 10_000.0;

    #[test]
    fn a_hidden_tab_whose_timer_fires_a_minute_late_keeps_its_answered_socket() {
        // Pinged at 0, answered at 20 ms; the next beat comes a minute later.
        assert!(!is_dead(60_000.0, 20.0, Some(0.0), LIMIT));
    }

    #[test]
    fn a_ping_unanswered_past_the_limit_gives_the_socket_up() {
        // Last heard at 0, pinged at 5 s, nothing since: dead at 10 s and after.
        assert!(!is_dead(10_000.0, 0.0, Some(5_000.0), LIMIT));
        assert!(is_dead(10_001.0, 0.0, Some(5_000.0), LIMIT));
        // The same after a late timer: a minute of silence after an unanswered ping.
        assert!(is_dead(65_000.0, 0.0, Some(5_000.0), LIMIT));
    }

    #[test]
    fn a_socket_not_yet_pinged_is_not_given_up() {
        assert!(!is_dead(60_000.0, 0.0, None, LIMIT));
    }
}
