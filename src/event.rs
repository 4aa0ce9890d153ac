//! What a page hears through `on(event, handler)`: every event typed, and every string
//! value in it (states, end reasons, directions, who cancelled, transfer ids) an enum
//! with one spelling. The TypeScript definitions of the same events are beside them.

mod values;

use std::cell::RefCell;

use js_sys::{Array, Function};
use protocol::PeerInfo;
use wasm_bindgen::{JsValue, prelude::wasm_bindgen};
use web_sys::{Blob, MediaStream, RtcDataChannel};

pub use values::{CancelledBy, Direction, EndReason, LeftReason, State, StreamKind, TransferId};

use crate::{error::Error, js::object};

/// The events' TypeScript definitions (read by the section below, and by a test).
#[allow(dead_code)]
const TYPES: &str = r#"
export type PeerCallState =
  "offline" | "idle" | "calling" | "ringing" | "connecting" | "connected" | "reconnecting";
export type PeerCallEndReason =
  "hangup" | "remote-hangup" | "peer-left" | "failed" | "declined" | "busy" | "no-answer";
export type PeerCallDirection = "send" | "receive";
/** `out-<n>` for files you send, `in-<n>` for files you receive; never two transfers with one id in a session. */
export type PeerCallTransferId = `out-${number}` | `in-${number}`;
export interface PeerInfo { id: string; name: string; }
/** Someone in the room call with you, and how your connection with them is. */
export interface PeerCallParticipant {
  id: string; name: string; state: "connecting" | "connected" | "reconnecting";
}
export type PeerCallLeftReason = "left" | "gone" | "failed";
/** How the media goes: a direct host address, through a NAT (server- or peer-reflexive), or through a TURN relay. */
export type PeerCallPath = "host" | "srflx" | "prflx" | "relay";
/** The figures of one connection. */
export interface PeerCallStats {
  id: string; sendKbps: number | null; recvKbps: number | null; lossPct: number | null;
  rttMs: number | null; jitterMs: number | null; fps: number | null;
  width: number | null; height: number | null; path: PeerCallPath | null;
  codec: string | null;
  /** 0 to 5, as in `quality`; null on a connection's first reading (no rates yet). */
  quality: number | null;
}
/** A camera, microphone or speaker; `label` is empty until a device was allowed. */
export interface PeerCallDevice { id: string; kind: "camera" | "microphone" | "speaker"; label: string; }
/** What a remote stream carries. */
export type PeerCallStreamKind = "camera" | "screen";
/** Every rejection and `error` event: a stable `code` and a readable `message`. */
export interface PeerCallError extends Error { code: string; }
/** The payload of each event. */
export interface PeerCallEvents {
  peers: PeerInfo[];
  /** The named room you are in: sent after connecting, and when it is locked or unlocked
   * or you become its moderator. */
  room: { room: string; locked: boolean; moderator: boolean };
  incoming: { from: string; name: string };
  state: PeerCallState;
  "remote-stream": MediaStream;
  "local-stream": MediaStream;
  media: { audio: boolean; video: boolean };
  ended: { reason: PeerCallEndReason };
  /** Everyone else in the room call, on every change. */
  participants: PeerCallParticipant[];
  "participant-joined": PeerInfo;
  "participant-stream": { id: string; stream: MediaStream; kind: PeerCallStreamKind };
  /** What someone in the call sends, as they tell it (1:1 and room calls): at the
   * start and on every change. */
  "participant-media": { id: string; audio: boolean; video: boolean };
  /** Once a second while `watchStats(true)`, for each connection (1:1: the other side).
   * A figure the browser does not give is null. */
  stats: PeerCallStats;
  /** Every 3 seconds during a call, for each connection: 0 (nothing comes) to 5 (good). */
  quality: { id: string; quality: number };
  /** The cameras, microphones and speakers, whenever one is plugged in or out. */
  devices: PeerCallDevice[];
  /** Someone (you too, with your own id) started sharing their screen. */
  "share-started": { id: string };
  /** Someone (you too) stopped sharing their screen. */
  "share-ended": { id: string };
  "participant-left": { id: string; reason: PeerCallLeftReason };
  error: PeerCallError;
  datachannel: RTCDataChannel;
  text: { from: string; name: string; text: string; at: number };
  "file-offer": { id: PeerCallTransferId; from: string; name: string; size: number; type: string };
  "file-progress": {
    id: PeerCallTransferId; direction: PeerCallDirection; name: string;
    bytes: number; size: number; rate: number; eta: number;
    /** Sending only: bytes waiting in the channel. */
    buffered?: number;
  };
  "file-done": {
    id: PeerCallTransferId; direction: PeerCallDirection; name: string; size: number;
    type: string;
    /** Receiving only: the file. */
    blob?: Blob;
  };
  "file-cancelled": {
    id: PeerCallTransferId; direction: PeerCallDirection; name: string;
    by: "me" | "peer" | "declined" | "ended";
  };
  "file-error": {
    id: PeerCallTransferId; direction: PeerCallDirection; name: string; code: string;
    message: string;
  };
}
export interface PeerCall {
  /** `remote-stream` handlers also get what the stream carries. */
  on(event: "remote-stream", handler: (stream: MediaStream, kind: PeerCallStreamKind) => void): void;
  off(event: "remote-stream", handler: (stream: MediaStream, kind: PeerCallStreamKind) => void): void;
  /** Calls `handler` with the payload of every `event`. */
  on<K extends keyof PeerCallEvents>(event: K, handler: (payload: PeerCallEvents[K]) => void): void;
  /** Stops calling `handler` for `event`. */
  off<K extends keyof PeerCallEvents>(event: K, handler: (payload: PeerCallEvents[K]) => void): void;
}
"#;

#[wasm_bindgen(typescript_custom_section)]
const TYPESCRIPT: &str = TYPES;

/// A file transfer's progress, as `file-progress` reports it.
pub struct Progress {
    /// Which transfer.
    pub id: TransferId,
    /// The file's name.
    pub name: String,
    /// Bytes gone (or come) so far.
    pub bytes: f64,
    /// The file's size.
    pub size: f64,
    /// Bytes per second since the transfer started.
    pub rate: f64,
    /// Seconds left at that rate.
    pub eta: f64,
    /// Sending only: bytes waiting in the channel.
    pub buffered: Option<u32>,
}

/// One event for the page.
pub enum Event {
    /// Everyone else online.
    Peers(Vec<PeerInfo>),
    /// The room we are in, and our part in it.
    Room {
        /// Its name.
        room: String,
        /// Whether newcomers are turned away.
        locked: bool,
        /// Whether we may lock it and remove people.
        moderator: bool,
    },
    /// Someone calls.
    Incoming(PeerInfo),
    /// The API state changed.
    State(State),
    /// The other side sends a stream.
    RemoteStream(MediaStream, StreamKind),
    /// What we send.
    LocalStream(MediaStream),
    /// Which of camera and microphone we send.
    Media {
        /// A microphone.
        audio: bool,
        /// A camera.
        video: bool,
    },
    /// The call ended.
    Ended(EndReason),
    /// Something went wrong.
    Error(Error),
    /// The other side opened a data channel.
    DataChannel(RtcDataChannel),
    /// A chat message.
    Text {
        /// Who wrote it.
        from: PeerInfo,
        /// What they wrote.
        text: String,
        /// When they sent it (ms since the epoch, their clock).
        at: f64,
    },
    /// The other side offers a file.
    FileOffer {
        /// The transfer.
        id: TransferId,
        /// Who offers it.
        from: protocol::PeerId,
        /// The file's name.
        name: String,
        /// Its size in bytes.
        size: f64,
        /// Its MIME type.
        kind: String,
    },
    /// A transfer moved on.
    FileProgress(Progress),
    /// A transfer is complete.
    FileDone {
        /// The transfer.
        id: TransferId,
        /// The file's name.
        name: String,
        /// Its size in bytes.
        size: f64,
        /// Its MIME type.
        kind: String,
        /// Receiving only: the file.
        blob: Option<Blob>,
    },
    /// A transfer stopped before it completed.
    FileCancelled {
        /// The transfer.
        id: TransferId,
        /// The file's name.
        name: String,
        /// Who stopped it.
        by: CancelledBy,
    },
    /// Everyone else in the room call, and how the connection with each is.
    Participants(Vec<(PeerInfo, State)>),
    /// Someone is in the room call with us now.
    ParticipantJoined(PeerInfo),
    /// Media from someone in the room call.
    ParticipantStream {
        /// Who.
        id: protocol::PeerId,
        /// Their stream.
        stream: MediaStream,
        /// What it carries.
        kind: StreamKind,
    },
    /// What someone in the call sends, as they say.
    ParticipantMedia {
        /// Who.
        id: protocol::PeerId,
        /// Their microphone is on.
        audio: bool,
        /// Their camera is on.
        video: bool,
    },
    /// Someone (or we) started sharing a screen.
    ShareStarted(protocol::PeerId),
    /// The cameras, microphones and speakers, after a change.
    Devices(Array),
    /// The figures of the connection with someone.
    Stats(protocol::PeerId, crate::peer::quality::Figures),
    /// How the connection with someone is, 0 to 5.
    Quality(protocol::PeerId, u8),
    /// Someone (or we) stopped sharing a screen.
    ShareEnded(protocol::PeerId),
    /// Someone is no longer in the room call with us.
    ParticipantLeft {
        /// Who.
        id: protocol::PeerId,
        /// Why.
        reason: LeftReason,
    },
    /// A transfer failed.
    FileError {
        /// The transfer.
        id: TransferId,
        /// The file's name.
        name: String,
        /// Why.
        error: Error,
    },
}

impl Event {
    /// The event's name, as `on()` takes it.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Peers(_) => "peers",
            Self::Room { .. } => "room",
            Self::Incoming(_) => "incoming",
            Self::State(_) => "state",
            Self::RemoteStream(..) => "remote-stream",
            Self::LocalStream(_) => "local-stream",
            Self::Media { .. } => "media",
            Self::Ended(_) => "ended",
            Self::Error(_) => "error",
            Self::DataChannel(_) => "datachannel",
            Self::Text { .. } => "text",
            Self::FileOffer { .. } => "file-offer",
            Self::FileProgress(_) => "file-progress",
            Self::FileDone { .. } => "file-done",
            Self::FileCancelled { .. } => "file-cancelled",
            Self::FileError { .. } => "file-error",
            Self::Participants(_) => "participants",
            Self::ParticipantJoined(_) => "participant-joined",
            Self::ParticipantStream { .. } => "participant-stream",
            Self::ParticipantMedia { .. } => "participant-media",
            Self::ShareStarted(_) => "share-started",
            Self::Devices(_) => "devices",
            Self::Stats(..) => "stats",
            Self::Quality(..) => "quality",
            Self::ShareEnded(_) => "share-ended",
            Self::ParticipantLeft { .. } => "participant-left",
        }
    }

    /// The payload handlers get.
    pub fn payload(&self) -> JsValue {
        match self {
            Self::Peers(peers) => peer_list(peers),
            Self::Participants(participants) => participants
                .iter()
                .map(|(peer, state)| {
                    object(&[
                        ("id", peer.id.0.as_str().into()),
                        ("name", peer.name.as_str().into()),
                        ("state", state.as_str().into()),
                    ])
                })
                .collect::<Array>()
                .into(),
            Self::ParticipantJoined(peer) => object(&[
                ("id", peer.id.0.as_str().into()),
                ("name", peer.name.as_str().into()),
            ]),
            Self::ParticipantStream { id, stream, kind } => object(&[
                ("id", id.0.as_str().into()),
                ("stream", stream.into()),
                ("kind", kind.as_str().into()),
            ]),
            Self::ParticipantMedia { id, audio, video } => object(&[
                ("id", id.0.as_str().into()),
                ("audio", (*audio).into()),
                ("video", (*video).into()),
            ]),
            Self::Devices(list) => list.into(),
            Self::Stats(id, figures) => {
                let number = |n: Option<f64>| n.map_or(JsValue::NULL, JsValue::from);
                let text = |t: &Option<String>| t.as_deref().map_or(JsValue::NULL, JsValue::from);
                object(&[
                    ("id", id.0.as_str().into()),
                    ("sendKbps", number(figures.send_kbps)),
                    ("recvKbps", number(figures.recv_kbps)),
                    ("lossPct", number(figures.loss_pct)),
                    ("rttMs", number(figures.rtt_ms)),
                    ("jitterMs", number(figures.jitter_ms)),
                    ("fps", number(figures.fps)),
                    ("width", number(figures.width)),
                    ("height", number(figures.height)),
                    ("path", text(&figures.path)),
                    ("codec", text(&figures.codec)),
                    (
                        "quality",
                        figures.quality.map_or(JsValue::NULL, JsValue::from),
                    ),
                ])
            }
            Self::Quality(id, quality) => {
                object(&[("id", id.0.as_str().into()), ("quality", (*quality).into())])
            }
            Self::ShareStarted(id) | Self::ShareEnded(id) => {
                object(&[("id", id.0.as_str().into())])
            }
            Self::ParticipantLeft { id, reason } => object(&[
                ("id", id.0.as_str().into()),
                ("reason", reason.as_str().into()),
            ]),
            Self::Incoming(from) => object(&[
                ("from", from.id.0.as_str().into()),
                ("name", from.name.as_str().into()),
            ]),
            Self::State(state) => state.as_str().into(),
            Self::RemoteStream(stream, _) | Self::LocalStream(stream) => stream.into(),
            Self::Media { audio, video } => {
                object(&[("audio", (*audio).into()), ("video", (*video).into())])
            }
            Self::Ended(reason) => object(&[("reason", reason.as_str().into())]),
            Self::Room {
                room,
                locked,
                moderator,
            } => object(&[
                ("room", room.as_str().into()),
                ("locked", (*locked).into()),
                ("moderator", (*moderator).into()),
            ]),
            Self::Error(error) => error.clone().into(),
            Self::DataChannel(channel) => channel.into(),
            Self::Text { from, text, at } => object(&[
                ("from", from.id.0.as_str().into()),
                ("name", from.name.as_str().into()),
                ("text", text.as_str().into()),
                ("at", (*at).into()),
            ]),
            Self::FileOffer {
                id,
                from,
                name,
                size,
                kind,
            } => object(&[
                ("id", id.text().into()),
                ("from", from.0.as_str().into()),
                ("name", name.as_str().into()),
                ("size", (*size).into()),
                ("type", kind.as_str().into()),
            ]),
            Self::FileProgress(progress) => {
                let mut fields = transfer(progress.id, &progress.name);
                fields.extend([
                    ("bytes", progress.bytes.into()),
                    ("size", progress.size.into()),
                    ("rate", progress.rate.into()),
                    ("eta", progress.eta.into()),
                ]);
                fields.extend(progress.buffered.map(|b| ("buffered", b.into())));
                object(&fields)
            }
            Self::FileDone {
                id,
                name,
                size,
                kind,
                blob,
            } => {
                let mut fields = transfer(*id, name);
                fields.extend([("size", (*size).into()), ("type", kind.as_str().into())]);
                fields.extend(blob.as_ref().map(|blob| ("blob", blob.into())));
                object(&fields)
            }
            Self::FileCancelled { id, name, by } => {
                let mut fields = transfer(*id, name);
                fields.push(("by", by.as_str().into()));
                object(&fields)
            }
            Self::FileError { id, name, error } => {
                let mut fields = transfer(*id, name);
                fields.extend([
                    ("code", error.code.as_str().into()),
                    ("message", error.message.as_str().into()),
                ]);
                object(&fields)
            }
        }
    }
}

/// `peers` as `[{id, name}]`: the `peers` event's payload, and what `joinCall()` resolves
/// with.
pub fn peer_list(peers: &[PeerInfo]) -> JsValue {
    peers
        .iter()
        .map(|peer| {
            object(&[
                ("id", peer.id.0.as_str().into()),
                ("name", peer.name.as_str().into()),
            ])
        })
        .collect::<Array>()
        .into()
}

/// The fields every `file-*` event but `file-offer` starts with.
fn transfer(id: TransferId, name: &str) -> Vec<(&'static str, JsValue)> {
    vec![
        ("id", id.text().into()),
        ("direction", id.direction().as_str().into()),
        ("name", name.into()),
    ]
}

/// Handlers by event name; called in the order they were added.
#[derive(Default)]
pub struct Emitter {
    handlers: RefCell<Vec<(String, Function)>>,
}

impl Emitter {
    /// Adds `handler` for `event`.
    pub fn on(&self, event: String, handler: Function) {
        self.handlers.borrow_mut().push((event, handler));
    }

    /// Removes `handler` from `event`.
    pub fn off(&self, event: &str, handler: &Function) {
        self.handlers
            .borrow_mut()
            .retain(|(name, f)| !(name == event && f == handler));
    }

    /// Forgets every handler.
    pub fn clear(&self) {
        self.handlers.borrow_mut().clear();
    }

    /// Calls every handler of `event` with its payload. A handler may call back into the
    /// API (its commands are queued), and one that throws does not stop the others.
    pub fn emit(&self, event: &Event) {
        let name = event.name();
        let handlers: Vec<Function> = self
            .handlers
            .borrow()
            .iter()
            .filter(|(handled, _)| handled == name)
            .map(|(_, f)| f.clone())
            .collect();
        if handlers.is_empty() {
            return;
        }
        let payload = event.payload();
        // `remote-stream` handlers get the kind as a second argument, so that handlers
        // written for the stream alone keep working.
        let kind = match event {
            Event::RemoteStream(_, kind) => kind.as_str().into(),
            _ => JsValue::UNDEFINED,
        };
        for handler in handlers {
            if let Err(error) = handler.call2(&JsValue::NULL, &payload, &kind) {
                web_sys::console::error_3(&"peercall: a handler of".into(), &name.into(), &error);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The TypeScript definitions spell every value as the code does.
    #[test]
    fn the_typescript_types_name_every_value() {
        let spellings = State::ALL
            .map(State::as_str)
            .into_iter()
            .chain(EndReason::ALL.map(EndReason::as_str))
            .chain(Direction::ALL.map(Direction::as_str))
            .chain(CancelledBy::ALL.map(CancelledBy::as_str))
            .chain(LeftReason::ALL.map(LeftReason::as_str))
            .chain(StreamKind::ALL.map(StreamKind::as_str))
            .chain(
                crate::media::choice::DeviceKind::ALL.map(crate::media::choice::DeviceKind::as_str),
            )
            .chain(["host", "srflx", "prflx", "relay"]);
        for spelling in spellings {
            assert!(TYPES.contains(&format!("\"{spelling}\"")), "{spelling}");
        }
    }

    #[test]
    fn transfer_ids_read_back_as_written() {
        for id in [
            TransferId::Out(0),
            TransferId::In(7),
            TransferId::Out(u32::MAX),
        ] {
            assert_eq!(TransferId::parse(&id.to_string()), Some(id));
        }
        for bad in [
            "",
            "out",
            "out-",
            "in-+1",
            "up-1",
            "out-1x",
            "in-99999999999",
        ] {
            assert_eq!(TransferId::parse(bad), None, "{bad}");
        }
    }
}
