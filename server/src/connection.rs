//! One signaling socket: a reader that parses and routes, a writer that drains the outbox.

use std::{
    error::Error as _,
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
};

use axum::extract::ws::{CloseFrame, Message, WebSocket, close_code};
use futures_util::{Sink, SinkExt, Stream, StreamExt};
use protocol::{ClientMessage, ErrorCode, ServerMessage, validate_room};
use tokio::{sync::watch, time::Instant};

use crate::{
    AppState,
    addresses::AddressLogins,
    identity::display_name,
    outbox::{Eviction, Evictor, Frames, Outbox, cost, frame},
    rates::Rates,
    refusal::Refusal,
    registry::{Login, Seat, now_ms},
    rooms::RoomKey,
    routing::Place,
    tunnel::{MOVED, Tunnel, Visit, VisitorFrames, VisitorSink},
};

/// Read buffer per socket, grown only while a larger frame comes in. Signaling frames are
/// small; tungstenite's default (128 KiB) would cost that much per idle connection, and
/// 512 bytes keep an idle logged-in connection under 8 KiB (see BENCHMARKS.md).
pub const READ_BUFFER_BYTES: usize = 512;

/// Frames gather in the socket's write buffer up to this many bytes before they are
/// written, so that what waits goes out in one system call (the writer flushes after
/// each batch).
pub const WRITE_BUFFER_BYTES: usize = 8 * 1024;

/// The most a single message may be before the socket itself refuses to read it. Between
/// this and [`protocol::MAX_FRAME_BYTES`] the frame is read whole and refused with 1009
/// and a clean close; past it the socket is dropped.
pub const HARD_FRAME_BYTES: usize = 4 * protocol::MAX_FRAME_BYTES;

/// Frames written at most in one go.
const WRITE_BATCH: usize = 64;

/// How long a closing socket waits for the client to answer its close frame.
const CLOSE_GRACE: std::time::Duration = std::time::Duration::from_secs(2);

const TOO_LARGE: &str = "frame larger than 64 KiB";

/// Numbers connections, so that a resumed user's old socket cannot log the new one out.
static CONNECTIONS: AtomicU64 = AtomicU64::new(0);

/// Why a connection ended, for the log.
#[derive(Debug)]
enum Ending {
    /// The client sent a close frame: its user leaves.
    ClientClosed,
    /// The socket ended without a close frame: its user is away and may resume.
    Vanished,
    TooLarge,
    BrokenSocket,
    /// Evicted: too slow to keep up, replaced by a resume on another socket, or removed.
    Evicted(Eviction),
    /// No login in time.
    NoLogin,
    /// Too many refused messages.
    Abusive,
    /// A final refusal: the client must not try the same again.
    Refused(#[allow(dead_code, reason = "read by the disconnect log line")] ErrorCode),
    /// Nothing came back for two pings.
    Silent,
    ServerShutdown,
    /// A visitor whose room has moved on from this node: its socket goes back to find it.
    Moved,
    /// A login refused for its address's share: the client comes back later.
    TryLater,
}

impl Ending {
    /// Whether the user meant to leave (rather than lost the connection). A shutdown is
    /// not: calls go on without the server, and telling everyone that everyone left would
    /// end them.
    fn is_clean(&self) -> bool {
        matches!(
            self,
            Self::ClientClosed | Self::TooLarge | Self::Abusive | Self::Refused(_)
        )
    }

    /// Whether the server has sent a close frame and waits for the client's answer.
    fn said_goodbye(&self) -> bool {
        matches!(
            self,
            Self::TooLarge
                | Self::NoLogin
                | Self::Abusive
                | Self::ServerShutdown
                | Self::TryLater
                | Self::Refused(_)
                | Self::Moved
                | Self::Evicted(Eviction::Replaced | Eviction::Removed | Eviction::Ended)
        )
    }
}

/// How a connection reaches its client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Via {
    /// Through a socket of this node's.
    Socket,
    /// Through another node's socket, whose frames come and go over Redis: the room lives
    /// here.
    Tunnel,
}

/// Serves one socket until it closes; `refused`: a socket from a page the server does not
/// serve, told so and closed at once. Its login attempts count against its address too,
/// through `logins`.
///
/// Not an `async fn`: one would keep its arguments beside the connection's future, which
/// holds them already, and every idle connection would pay for both.
pub fn run(
    socket: WebSocket,
    remote: SocketAddr,
    state: AppState,
    refused: Option<Refusal>,
    logins: Option<AddressLogins>,
) -> impl Future<Output = ()> + Send {
    let (sink, stream) = socket.split();
    serve(stream, sink, remote, state, refused, Via::Socket, logins)
}

/// Serves another node's socket whose room lives here, until it ends.
pub async fn visit(visit: Visit, state: AppState) {
    let Some(cluster) = state.routing.cluster().cloned() else {
        return;
    };
    let Visit {
        edge,
        conn,
        remote,
        frames,
    } = visit;
    let sink = VisitorSink::new(Arc::clone(&cluster.bus), edge.clone(), conn);
    // Its node counted its logins against its address.
    serve(
        VisitorFrames(frames),
        sink,
        remote,
        state,
        None,
        Via::Tunnel,
        None,
    )
    .await;
    cluster.bus.visitor_ended(&edge, conn);
}

async fn serve<S, K>(
    mut stream: S,
    sink: K,
    remote: SocketAddr,
    state: AppState,
    refused: Option<Refusal>,
    via: Via,
    logins: Option<AddressLogins>,
) where
    S: Stream<Item = Result<Message, axum::Error>> + Unpin + Send,
    K: Sink<Message> + Unpin + Send + 'static,
{
    let _alive = state.alive.clone();
    tracing::info!(%remote, ?via, "connect");
    let socket = via == Via::Socket;
    if socket {
        state.metrics.sockets.inc();
    }
    let (outbox, frames) = Outbox::new(state.registry.outbox_bytes());
    let writer = tokio::spawn(write_frames(
        sink,
        frames,
        state.write_timeout,
        outbox.evictor(),
    ));
    // Until logged in: a socket that never logs in does not keep its slot.
    let mut login_by = Some(Instant::now() + state.login_timeout);
    let mut shutdown = state.shutdown.clone();
    let mut me: Option<Seat> = None;
    // The way to the room's home, when it lives on another node.
    let mut tunnel: Option<Tunnel> = None;
    let conn = CONNECTIONS.fetch_add(1, Ordering::Relaxed);
    let mut pings = tokio::time::interval(state.ping_interval);
    pings.tick().await; // the first tick is immediate
    let mut heard = Instant::now();
    // When fresh TURN credentials go out, once logged in.
    let mut refresh_at: Option<Instant> = None;
    // When a fresh resume token goes out, once logged in.
    let mut resume_at: Option<Instant> = None;
    let resume_every = state.resume_refresh;
    // Made here, not passed in: an async fn keeps its arguments beside its locals, and
    // every idle connection would hold the rates twice.
    let mut rates = Rates::new(state.rate_factor, logins);

    let ending = if let Some(refusal) = refused {
        Ending::Refused(
            refuse(&state, &outbox, remote, None, refusal).unwrap_or(ErrorCode::BadRequest),
        )
    } else {
        loop {
            tokio::select! {
                incoming = stream.next() => {
                    heard = Instant::now();
                    match incoming {
                    Some(Ok(Message::Text(text))) if text.len() > protocol::MAX_FRAME_BYTES => {
                        outbox.push(close(close_code::SIZE, TOO_LARGE));
                        break Ending::TooLarge;
                    }
                    Some(Ok(Message::Text(text))) if let Some(tunnel) = &tunnel => {
                        // The rates hold here too, before anything crosses Redis.
                        let allowed = read(text.as_str()).and_then(|message| {
                            rates.allow(&message, text.len())?;
                            Ok(message)
                        });
                        match allowed {
                            // A login again (the room's home refused the first: a name
                            // taken, say) counts against the address, as on one node.
                            Ok(ClientMessage::Login { .. }) if !rates.address_allows() => {
                                refuse(&state, &outbox, remote, None, address_refusal());
                                outbox.push(close(close_code::AGAIN, TOO_MANY_LOGINS));
                                break Ending::TryLater;
                            }
                            Ok(message) => {
                                // Pings and acknowledgements are small and keep the session
                                // alive: they cross whatever waits. A frame held back while
                                // Redis is slow is no abuse, and costs no strike.
                                let bounded = !matches!(message, ClientMessage::Ping | ClientMessage::Ack { .. });
                                if let Err(refusal) = tunnel.forward(text.as_str(), bounded) {
                                    refuse(&state, &outbox, remote, None, refusal.of(&message));
                                }
                            }
                            Err(refusal) => {
                                refuse(&state, &outbox, remote, None, refusal);
                                if struck_out(&mut rates, &outbox) {
                                    break Ending::Abusive;
                                }
                            }
                        }
                    }
                    Some(Ok(Message::Text(text))) => {
                        let was_in = me.is_some();
                        let at = Source { conn, remote, via };
                        match handle(&state, &outbox, at, &mut me, &mut rates, text.as_str()).await {
                            Ok(Handled::Done) => {}
                            Ok(Handled::Tunnelled(opened)) => {
                                // The home sees to the login's deadline from now on.
                                tunnel = Some(opened);
                                login_by = None;
                            }
                            Ok(Handled::Moved) => {
                                outbox.push(close(close_code::RESTART, MOVED));
                                break Ending::Moved;
                            }
                            // A socket that will not log in now has no use: it closes, and
                            // the client comes back (1013: try again later).
                            Ok(Handled::TryLater) => {
                                outbox.push(close(close_code::AGAIN, TOO_MANY_LOGINS));
                                break Ending::TryLater;
                            }
                            Err(refusal) => {
                            // A connection that just ended still has candidates on their
                            // way: their refusal is no abuse (and they cost their rate).
                            let strikes = refusal.code != ErrorCode::NotInCall;
                            if let Some(code) = refuse(&state, &outbox, remote, me.as_ref(), refusal) {
                                break Ending::Refused(code);
                            }
                            if strikes && struck_out(&mut rates, &outbox) {
                                break Ending::Abusive;
                            }
                            }
                        }
                        if !was_in && me.is_some() {
                            login_by = None;
                            refresh_at = state.ice.refresh_after().map(|after| Instant::now() + after);
                            resume_at = Some(Instant::now() + resume_every);
                        }
                    }
                    Some(Ok(Message::Binary(_))) => {
                        let refusal = Refusal::new(
                            ErrorCode::BadRequest,
                            "frames must be text holding one JSON object",
                        );
                        refuse(&state, &outbox, remote, me.as_ref(), refusal);
                        if struck_out(&mut rates, &outbox) {
                            break Ending::Abusive;
                        }
                    }
                    // Pings are answered by the socket itself.
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                    // 1000 and 1001 (a page that closes the socket, a tab that goes away) mean
                    // leaving; a client that gives up on a dead-looking link says 4000 and
                    // means to come back.
                    Some(Ok(Message::Close(frame))) => match frame.map(|f| f.code) {
                        None | Some(1000) | Some(1001) => break Ending::ClientClosed,
                        Some(_) => break Ending::Vanished,
                    },
                    None => break Ending::Vanished,
                    Some(Err(error)) if is_too_large(&error) => {
                        // Past the hard limit the stream is out of step: no goodbye to wait for.
                        outbox.push(close(close_code::SIZE, TOO_LARGE));
                        break Ending::TooLarge;
                    }
                    Some(Err(error)) => {
                        tracing::debug!(%remote, %error, "socket error");
                        break Ending::BrokenSocket;
                    }
                }},
                // A visitor's socket is pinged by its own node.
                _ = pings.tick(), if via == Via::Socket => {
                    if heard.elapsed() > 2 * state.ping_interval {
                        break Ending::Silent;
                    }
                    outbox.push(Message::Ping(Default::default()));
                }
                // One timer for the three deadlines: each costs every connection its room.
                () = until([login_by, resume_at, refresh_at].into_iter().flatten().min()) => {
                    let now = Instant::now();
                    if login_by.is_some_and(|at| at <= now) {
                        outbox.push(close(close_code::POLICY, "log in within the time allowed"));
                        break Ending::NoLogin;
                    }
                    if resume_at.is_some_and(|at| at <= now) {
                        if let Some(seat) = &me {
                            outbox.push(frame(&ServerMessage::ResumeToken {
                                resume: state.registry.resume_token(seat),
                            }));
                        }
                        resume_at = Some(now + resume_every);
                    }
                    if refresh_at.is_some_and(|at| at <= now) {
                        if let Some(seat) = &me {
                            outbox.push(frame(&ServerMessage::IceServers {
                                ice_servers: state.ice.for_peer(&seat.id),
                            }));
                            state.metrics.turn_credentials.inc();
                        }
                        refresh_at = state.ice.refresh_after().map(|after| now + after);
                    }
                }
            why = outbox.evicted() => {
                    let code = match why {
                        Eviction::TooSlow | Eviction::Ended => None,
                        Eviction::Removed => Some(ErrorCode::Removed),
                        Eviction::Replaced => {
                            let refusal = Refusal::new(
                                ErrorCode::SessionReplaced,
                                "you resumed this session on another connection",
                            );
                            outbox.push(frame(&refusal.into_message()));
                            Some(ErrorCode::SessionReplaced)
                        }
                    };
                    if let Some(code) = code {
                        outbox.push(final_close(code));
                    }
                    break Ending::Evicted(why);
                }
                () = stopping(&mut shutdown) => {
                    outbox.push(close(close_code::AWAY, "server shutting down"));
                    break Ending::ServerShutdown;
                }
            }
        }
    };

    if let Some(seat) = &me {
        // Only a leave that took effect is told to the other nodes: a connection a resume
        // took over may end cleanly without its user leaving.
        if state.registry.depart(seat, conn, ending.is_clean()) {
            state
                .routing
                .note_left(&seat.id, state.registry.token_lifetime())
                .await;
        }
    }
    if let Some(tunnel) = tunnel {
        tunnel.close(ending.is_clean());
    }
    // A visitor's goodbye is answered on its own node.
    if ending.said_goodbye() && via == Via::Socket {
        // Our close frame is on its way: read until the client answers it, so the socket
        // is not torn down under unread data (which would turn into a reset).
        let goodbye = async {
            while let Some(Ok(message)) = stream.next().await {
                if let Message::Close(_) = message {
                    break;
                }
            }
        };
        let _ = tokio::time::timeout(CLOSE_GRACE, goodbye).await;
    }
    tracing::info!(%remote, id = me.as_ref().map(|seat| seat.id.0.as_str()), reason = ?ending, "disconnect");
    if socket {
        state.metrics.sockets.dec();
    }
    // The writer ends once every handle on the outbox is gone (ours and the registry's).
    drop(outbox);
    if matches!(ending, Ending::Evicted(Eviction::TooSlow)) {
        // Too slow to take its frames: what waits goes with the socket, unsent, and no
        // close frame follows (it may resume, as after any lost connection).
        writer.abort();
    }
    let _ = writer.await;
}

/// Completes at `at`; never without it.
async fn until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Completes once the server is shutting down.
pub async fn stopping(shutdown: &mut watch::Receiver<bool>) {
    // An error means the server is gone altogether: that is stopping too.
    let _ = shutdown.wait_for(|stopping| *stopping).await;
}

/// Which connection a frame came on, and how it is reached.
#[derive(Clone, Copy)]
struct Source {
    conn: u64,
    remote: SocketAddr,
    via: Via,
}

/// What came of a frame.
enum Handled {
    /// Done here.
    Done,
    /// A login to a room whose home is another node: from now on the socket's frames go
    /// there.
    Tunnelled(Tunnel),
    /// A visitor's login to a room that lives on another node by now.
    Moved,
    /// A login over its address's share: told so, and the socket is to close.
    TryLater,
}

/// The close reason of a socket whose login was over its address's share.
const TOO_MANY_LOGINS: &str = "too many logins from your address";

/// A login over its address's share.
fn address_refusal() -> Refusal {
    Refusal::new(
        ErrorCode::RateLimited,
        "too many logins from your address: try again in a moment",
    )
}

/// Acts on one text frame; `Err` is the refusal to send back.
async fn handle(
    state: &AppState,
    outbox: &Outbox,
    at: Source,
    me: &mut Option<Seat>,
    rates: &mut Rates,
    text: &str,
) -> Result<Handled, Refusal> {
    let message = read(text)?;
    // A visitor's frames were counted at the node its socket reaches, as they came:
    // counted again here, those that waited for a slow Redis and crossed at once would
    // be refused, and their refusals would count against an innocent socket.
    if at.via == Via::Socket {
        rates.allow(&message, text.len())?;
    }
    // Logins on fresh sockets count against their address too (a second login on this
    // one is refused below, and costs it nothing).
    if me.is_none() && matches!(message, ClientMessage::Login { .. }) && !rates.address_allows() {
        refuse(state, outbox, at.remote, None, address_refusal());
        return Ok(Handled::TryLater);
    }
    match me {
        Some(seat) => act(state, outbox, seat, message).map(|()| Handled::Done),
        // Only a frame before the login awaits anything (the cluster, for the room's
        // home). It is served in a box, so that every connection's future does not keep
        // room for that all its life.
        None => Box::pin(arrive(state, outbox, at, me, message, text)).await,
    }
}

/// Acts on a frame of a connection not logged in yet: a login, or a ping.
async fn arrive(
    state: &AppState,
    outbox: &Outbox,
    at: Source,
    me: &mut Option<Seat>,
    message: ClientMessage,
    text: &str,
) -> Result<Handled, Refusal> {
    match message {
        ClientMessage::Ping => {
            outbox.push(frame(&ServerMessage::Pong { received: None }));
            Ok(Handled::Done)
        }
        ClientMessage::Login {
            name,
            resume,
            room,
            token,
            password,
            ack,
            sent,
            call,
            with,
        } => {
            let name = display_name(&name)?;
            let room = match room {
                Some(room) => RoomKey::named(
                    validate_room(&room)
                        .map_err(|error| Refusal::new(ErrorCode::BadRoom, error.to_string()))?,
                ),
                None if state.registry.has_default_room() => RoomKey::default_room(),
                None => {
                    return Err(Refusal::new(
                        ErrorCode::BadRoom,
                        "this server has no default room: join a room by its link",
                    ));
                }
            };
            let mut resume = state.registry.resumable(resume.as_deref(), &room, &name);
            if let Some(claim) = &resume
                && state.routing.has_left(&claim.id).await
            {
                resume = None;
            }
            let grant = match &state.auth {
                None => None,
                Some(auth) => {
                    let mut instants = vec![now_ms() / 1000];
                    instants.extend(resume.as_ref().map(|claim| claim.started_ms / 1000));
                    Some(auth.check(token.as_deref(), &name, &room, &instants)?)
                }
            };
            // Only a login that could be taken reaches for the room's home.
            if let Place::Elsewhere(elsewhere) = state.routing.place_of(&room).await {
                return Ok(match at.via {
                    Via::Socket => {
                        Handled::Tunnelled(elsewhere.tunnel(at.conn, at.remote, outbox, text))
                    }
                    Via::Tunnel => Handled::Moved,
                });
            }
            let login = Login {
                name: &name,
                room,
                resume,
                password: password.as_deref(),
                admin: grant.is_some_and(|grant| grant.admin),
                token_current: grant.is_none_or(|grant| grant.current),
                ack: ack.map(|seq| seq.min(protocol::MAX_EXACT)),
                sent: sent.map(|seq| seq.min(protocol::MAX_EXACT)),
                claim: call.zip(with),
            };
            let welcomed = state.registry.login(login, at.conn, outbox, &state.ice)?;
            let seat = welcomed.seat;
            tracing::info!(id = %seat.id, name = %seat.name, room = seat.room.as_str(), resumed = welcomed.resumed, "login");
            state.metrics.logins.inc();
            if state.ice.refresh_after().is_some() {
                state.metrics.turn_credentials.inc();
            }
            *me = Some(seat);
            Ok(Handled::Done)
        }
        _ => Err(Refusal::new(
            ErrorCode::NotLoggedIn,
            "log in first: send a login message with your name",
        )),
    }
}

/// Acts on a frame of `seat`'s, logged in: nothing here waits.
fn act(
    state: &AppState,
    outbox: &Outbox,
    seat: &Seat,
    message: ClientMessage,
) -> Result<(), Refusal> {
    match message {
        ClientMessage::Ping => {
            let received = state.registry.received(seat);
            outbox.push(frame(&ServerMessage::Pong { received }));
            Ok(())
        }
        ClientMessage::Login { .. } => Err(Refusal::new(
            ErrorCode::BadRequest,
            "already logged in on this connection",
        )),
        ClientMessage::LockRoom => state.registry.set_locked(seat, true),
        ClientMessage::UnlockRoom => state.registry.set_locked(seat, false),
        ClientMessage::RemovePeer { id } => state.registry.remove(seat, &id),
        ClientMessage::JoinCall { seq } => state.registry.join_call(seat, seq),
        ClientMessage::LeaveCall { seq } => state.registry.leave_call(seat, seq),
        ClientMessage::Ack { seq } => {
            state.registry.ack(seat, seq);
            Ok(())
        }
        message => match message.into_signal() {
            Ok(outgoing) => {
                state.registry.relay(seat, outgoing)?;
                state.metrics.relays.inc();
                Ok(())
            }
            Err(_) => Ok(()),
        },
    }
}

/// A client's text frame, read.
fn read(text: &str) -> Result<ClientMessage, Refusal> {
    serde_json::from_str(text).map_err(|error| {
        Refusal::new(
            ErrorCode::BadRequest,
            format!("could not read that message: {error}"),
        )
    })
}

/// Logs `refusal` and sends it back to its sender; for a final refusal, closes the
/// socket with its close code too, and returns the code.
fn refuse(
    state: &AppState,
    outbox: &Outbox,
    remote: SocketAddr,
    me: Option<&Seat>,
    refusal: Refusal,
) -> Option<ErrorCode> {
    let code = refusal.code;
    state.metrics.refused(code.as_str());
    tracing::info!(
        %remote,
        id = me.map(|seat| seat.id.0.as_str()),
        code = code.as_str(),
        message = %refusal.message,
        "refusal"
    );
    // Never wait here: a client that sends junk and reads nothing would hold this task.
    outbox.push(frame(&refusal.into_message()));
    code.close_code().map(|_| {
        outbox.push(final_close(code));
        code
    })
}

/// Counts a refusal against the socket; true once it has been refused too often, with the
/// close that ends it queued.
fn struck_out(rates: &mut Rates, outbox: &Outbox) -> bool {
    if rates.strike() {
        return false;
    }
    outbox.push(close(close_code::POLICY, "too many refused messages"));
    true
}

/// The close frame of a final refusal: its close code, its wire code as the reason.
fn final_close(code: ErrorCode) -> Message {
    Message::Close(Some(CloseFrame {
        code: code.close_code().unwrap_or(close_code::POLICY),
        reason: code.as_str().into(),
    }))
}

fn close(code: u16, reason: &'static str) -> Message {
    Message::Close(Some(CloseFrame {
        code,
        reason: reason.into(),
    }))
}

/// Whether a read failed because the frame or message exceeded the size limit.
fn is_too_large(error: &axum::Error) -> bool {
    let mut source = error.source();
    while let Some(cause) = source {
        if let Some(tungstenite::Error::Capacity(_)) = cause.downcast_ref::<tungstenite::Error>() {
            return true;
        }
        source = cause.source();
    }
    false
}

/// Writes queued frames until the outbox closes or a close frame has gone out. A frame
/// that cannot go out within `deadline` (a client that stopped reading) ends the
/// connection, so that it holds neither its slot nor its queue.
async fn write_frames<K: Sink<Message> + Unpin>(
    mut sink: K,
    mut frames: Frames,
    deadline: std::time::Duration,
    evictor: Evictor,
) {
    // The last write carried more than one frame: the socket is busy.
    let mut busy = false;
    while let Some(first) = frames.recv().await {
        // On a busy socket other sockets' readers, already woken, may queue more for
        // this one: let them run first, so that its frames go out in fewer writes. A
        // socket that gets a frame at a time writes it at once: the turn would only
        // add to its wait and to the server's work.
        if busy {
            tokio::task::yield_now().await;
        }
        // What waits goes out together, flushed once.
        let mut closing = false;
        let mut cost_sent = 0;
        let mut taken = 0;
        let write = async {
            let mut next = Some(first);
            while let Some(frame) = next.take() {
                closing = matches!(frame, Message::Close(_));
                cost_sent += cost(&frame);
                sink.feed(frame).await?;
                taken += 1;
                if !closing && taken < WRITE_BATCH {
                    next = frames.try_recv();
                }
            }
            sink.flush().await
        };
        let sent = tokio::time::timeout(deadline, write).await;
        busy = taken > 1;
        frames.sent(cost_sent);
        match sent {
            Ok(Ok(())) if !closing => {}
            Ok(Ok(())) => return,
            // A sink that fails (a socket, or the way to another node) ends its connection.
            Ok(Err(_)) | Err(_) => {
                evictor.evict(Eviction::TooSlow);
                return;
            }
        }
    }
    let _ = tokio::time::timeout(deadline, sink.close()).await;
}
