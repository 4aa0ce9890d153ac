//! One RTCPeerConnection: perfect negotiation, trickle ICE, tracks and state.
//!
//! The browser's callbacks only report [`PeerEvent`]s; the session decides, calling the
//! async methods here one at a time, so negotiation steps never interleave. Roles follow
//! MDN's perfect negotiation pattern
//! (<https://developer.mozilla.org/docs/Web/API/WebRTC_API/Perfect_negotiation>): the
//! polite peer yields to a colliding offer by rolling back, the impolite one ignores it.

mod bitrate;
mod dtls;
mod ice;
pub mod quality;

pub use bitrate::{cap_video, with_start_bitrate};
pub use ice::{IceRestart, IceRole, ice_servers_js};

use std::rc::Rc;

use js_sys::{Array, Promise, Reflect};
use protocol::IceCandidate;
use wasm_bindgen::{JsCast, JsValue, prelude::wasm_bindgen};
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    MediaStream, MediaStreamTrack, RtcConfiguration, RtcDataChannel, RtcDataChannelEvent,
    RtcPeerConnection, RtcPeerConnectionIceEvent, RtcRtpTransceiverDirection,
    RtcRtpTransceiverInit, RtcSdpType, RtcSessionDescriptionInit, RtcTrackEvent,
};

use crate::{
    error::{Error, ErrorCode},
    js::Listener,
    media::tracks_of,
};
use dtls::DtlsRole;

#[wasm_bindgen]
extern "C" {
    /// The parts of `RTCPeerConnection` that web-sys does not bind.
    #[wasm_bindgen(extends = RtcPeerConnection, js_name = RTCPeerConnection)]
    type Connection;

    /// `setLocalDescription()` with no argument: the browser creates the right offer or
    /// answer for the current signaling state (implicit description).
    #[wasm_bindgen(method, js_name = setLocalDescription)]
    fn set_local_description_implicit(this: &Connection) -> Promise;

    /// `restartIce()`: the next offer gathers new ICE credentials. Caught: a browser
    /// without it (Safari before 14.1) keeps its connection rather than crash.
    #[wasm_bindgen(method, catch, js_name = restartIce)]
    fn restart_ice(this: &Connection) -> Result<(), JsValue>;
}

/// Remote candidates kept until the remote description is set; a call gathers a few
/// dozen.
const MAX_PENDING_CANDIDATES: usize = 256;

/// What the connection reports.
pub enum PeerEvent {
    /// Something changed that needs an offer.
    NegotiationNeeded,
    /// A local ICE candidate to send; `None` is the end of candidates.
    Candidate(Option<IceCandidate>),
    /// Remote media arrived.
    Track(MediaStream),
    /// `connectionState` changed (`new`, `connecting`, `connected`, `disconnected`,
    /// `failed`, `closed`).
    ConnectionState(String),
    /// The other side opened a data channel.
    DataChannel(RtcDataChannel),
}

/// A description from the other side.
pub enum Description {
    /// An offer.
    Offer(String),
    /// An answer.
    Answer(String),
}

/// One peer connection and the listeners it owns.
pub struct Peer {
    pc: RtcPeerConnection,
    polite: bool,
    ice_role: IceRole,
    /// Offers from the other side that collided with ours and were ignored (impolite side).
    ignore_offer: bool,
    /// The callee sends nothing until the caller's first offer arrives.
    awaiting_first_offer: bool,
    /// Remote candidates that came before the remote description.
    pending_candidates: Vec<IceCandidate>,
    /// Local tracks (and their streams) to attach once the first offer is in (callee side).
    deferred: Vec<(MediaStreamTrack, MediaStream)>,
    /// The DTLS role the last negotiation settled on (see [`dtls`]).
    dtls_role: Option<DtlsRole>,
    /// The track each sender was last told to send: `replaceTrack` settles later, and
    /// until then the sender still names the track before. Only the camera's and the
    /// microphone's are ever replaced, and they stay for the connection's life.
    replaced: Vec<(web_sys::RtcRtpSender, MediaStreamTrack)>,
    _listeners: [Listener; 5],
}

impl Peer {
    /// A new connection using `ice_servers` (an `RTCIceServer[]`) and, if given, the ICE
    /// transport policy (`all` or `relay`), reporting to `on_event`.
    pub fn new(
        ice_servers: &JsValue,
        ice_transport_policy: Option<&str>,
        polite: bool,
        on_event: Rc<dyn Fn(PeerEvent)>,
    ) -> Result<Self, Error> {
        let config = RtcConfiguration::new();
        config.set_ice_servers(ice_servers);
        // Everything on one transport from the first offer: one set of candidates to
        // gather, send and check instead of one per media section.
        let _ = Reflect::set(&config, &"bundlePolicy".into(), &"max-bundle".into());
        if let Some(policy) = ice_transport_policy {
            let _ = Reflect::set(&config, &"iceTransportPolicy".into(), &policy.into());
        }
        let pc = RtcPeerConnection::new_with_configuration(&config).map_err(|error| {
            Error::from_js(
                ErrorCode::NegotiationFailed,
                "cannot create the connection",
                &error,
            )
        })?;
        let target = pc.as_ref();
        let listeners = [
            {
                let on_event = on_event.clone();
                Listener::new(target, "negotiationneeded", move |_| {
                    on_event(PeerEvent::NegotiationNeeded);
                })
            },
            {
                let on_event = on_event.clone();
                Listener::new(target, "icecandidate", move |event| {
                    // The connection's own events, each of its one kind: the page never
                    // holds the connection to dispatch others.
                    let candidate = event
                        .unchecked_ref::<RtcPeerConnectionIceEvent>()
                        .candidate()
                        .and_then(|c| crate::signaling::read::candidate(&c.to_json().into()).ok());
                    on_event(PeerEvent::Candidate(candidate));
                })
            },
            {
                let on_event = on_event.clone();
                Listener::new(target, "track", move |event| {
                    if let Some(stream) = stream_of(event.unchecked_ref::<RtcTrackEvent>()) {
                        on_event(PeerEvent::Track(stream));
                    }
                })
            },
            {
                let on_event = on_event.clone();
                Listener::new(target, "datachannel", move |event| {
                    let event = event.unchecked_ref::<RtcDataChannelEvent>();
                    on_event(PeerEvent::DataChannel(binary_as_array_buffers(
                        event.channel(),
                    )));
                })
            },
            {
                let pc = pc.clone();
                Listener::new(target, "connectionstatechange", move |_| {
                    on_event(PeerEvent::ConnectionState(connection_state(&pc)));
                })
            },
        ];
        Ok(Self {
            pc,
            polite,
            ice_role: IceRole::Controlled,
            ignore_offer: false,
            awaiting_first_offer: false,
            pending_candidates: Vec::new(),
            deferred: Vec::new(),
            replaced: Vec::new(),
            dtls_role: None,
            _listeners: listeners,
        })
    }

    /// Caller side: sends `local` and asks to receive audio and video either way, which
    /// starts negotiation.
    pub fn start_as_caller(&mut self, local: Option<&MediaStream>) -> Result<(), Error> {
        self.ice_role = IceRole::Controlling;
        let tracks = local.map(MediaStream::get_tracks).unwrap_or_default();
        for kind in ["audio", "video"] {
            // A stream's tracks are tracks.
            let track = tracks
                .iter()
                .map(JsCast::unchecked_into::<MediaStreamTrack>)
                .find(|t| t.kind() == kind);
            match (track, local) {
                (Some(track), Some(stream)) => {
                    self.pc.add_track_0(&track, stream);
                }
                _ => {
                    let init = RtcRtpTransceiverInit::new();
                    init.set_direction(RtcRtpTransceiverDirection::Recvonly);
                    self.pc.add_transceiver_with_str_and_init(kind, &init);
                }
            }
        }
        Ok(())
    }

    /// Callee side: holds `local` back until the caller's first offer, so that the first
    /// offer is the caller's alone and the callee's tracks reuse its transceivers.
    pub fn start_as_callee(&mut self, local: Option<MediaStream>) {
        self.awaiting_first_offer = true;
        if let Some(stream) = local {
            for track in tracks_of(&stream) {
                self.deferred.push((track, Clone::clone(&stream)));
            }
        }
    }

    /// Answers `negotiationneeded`: returns the offer to send, if one is due.
    pub async fn make_offer(&mut self) -> Result<Option<String>, Error> {
        if self.awaiting_first_offer {
            return Ok(None);
        }
        await_promise(
            self.connection().set_local_description_implicit(),
            "cannot create an offer",
        )
        .await?;
        Ok(self.local_sdp_of(RtcSdpType::Offer))
    }

    /// Takes a description from the other side; returns the answer to send, if any.
    pub async fn receive(&mut self, description: Description) -> Result<Option<String>, Error> {
        let (kind, sdp) = match &description {
            Description::Offer(sdp) => (RtcSdpType::Offer, sdp),
            Description::Answer(sdp) => (RtcSdpType::Answer, sdp),
        };
        if kind == RtcSdpType::Offer {
            // Our own offer is in flight (or being made): a collision.
            let collision = self.pc.signaling_state() != web_sys::RtcSignalingState::Stable;
            self.ignore_offer = !self.polite && collision;
            if self.ignore_offer {
                return Ok(None);
            }
        }
        let init = RtcSessionDescriptionInit::new(kind);
        init.set_sdp(&bitrate::with_start_bitrate(sdp));
        // On a collision the polite side rolls back implicitly here (Chromium, Firefox,
        // Safari all do since 2020).
        await_promise(
            self.pc.set_remote_description(&init),
            "cannot apply the other side's description",
        )
        .await?;
        self.flush_candidates();
        let sdp = js_sys::JsString::from(sdp.as_str());
        if kind != RtcSdpType::Offer {
            // Their answer settles the roles: we are the other end.
            self.dtls_role = DtlsRole::of_answer(&sdp)
                .map(DtlsRole::opposite)
                .or(self.dtls_role);
            return Ok(None);
        }
        if self.awaiting_first_offer {
            self.awaiting_first_offer = false;
            self.attach_deferred();
        }
        let answer = match self.dtls_role.filter(|_| !dtls::switches_roles(&sdp)) {
            Some(role) => self.answer_keeping(role).await?,
            // The first answer (the browser picks the role), or one to Firefox.
            None => {
                await_promise(
                    self.connection().set_local_description_implicit(),
                    "cannot create an answer",
                )
                .await?;
                self.local_sdp_of(RtcSdpType::Answer)
            }
        };
        let ours = answer.as_deref().map(js_sys::JsString::from);
        self.dtls_role = ours
            .as_ref()
            .and_then(DtlsRole::of_answer)
            .or(self.dtls_role);
        Ok(answer)
    }

    /// Answers the offer just applied with the DTLS role already settled.
    async fn answer_keeping(&self, role: DtlsRole) -> Result<Option<String>, Error> {
        let created = await_promise(self.pc.create_answer(), "cannot create an answer").await?;
        let sdp = &"sdp".into();
        let answer = Reflect::get(&created, sdp).map(JsCast::dyn_into::<js_sys::JsString>);
        if let Ok(Ok(answer)) = answer {
            let _ = Reflect::set(&created, sdp, &role.keep_in(&answer));
        }
        let created: RtcSessionDescriptionInit = created.unchecked_into();
        await_promise(
            self.pc.set_local_description(&created),
            "cannot apply our answer",
        )
        .await?;
        Ok(self.local_sdp_of(RtcSdpType::Answer))
    }

    /// Takes a remote ICE candidate, queueing it until a remote description exists.
    pub fn add_candidate(&mut self, candidate: Option<IceCandidate>) {
        let Some(candidate) = candidate else {
            return; // end of candidates: nothing to do in current browsers
        };
        if self.pc.remote_description().is_none() {
            // A peer that sends candidates without ever an offer fills nothing up.
            if self.pending_candidates.len() < MAX_PENDING_CANDIDATES {
                self.pending_candidates.push(candidate);
            }
            return;
        }
        ice::add_candidate(&self.pc, &candidate, self.ignore_offer);
    }

    fn flush_candidates(&mut self) {
        for candidate in std::mem::take(&mut self.pending_candidates) {
            ice::add_candidate(&self.pc, &candidate, self.ignore_offer);
        }
    }

    /// Callee tracks go onto the transceivers the caller's offer created.
    fn attach_deferred(&mut self) {
        for (track, stream) in std::mem::take(&mut self.deferred) {
            self.pc.add_track_0(&track, &stream);
        }
    }

    /// Sends `track` (of `stream`) too; `negotiationneeded` follows (on the callee, after
    /// the caller's first offer).
    pub fn add_track(&mut self, track: &MediaStreamTrack, stream: &MediaStream) {
        if self.awaiting_first_offer {
            self.deferred
                .push((Clone::clone(track), Clone::clone(stream)));
        } else {
            self.pc.add_track_0(track, stream);
        }
    }

    /// Stops sending `track`; `negotiationneeded` follows.
    pub fn remove_track(&mut self, track: &MediaStreamTrack) {
        self.deferred.retain(|(kept, _)| kept != track);
        if let Some(sender) = self.sender_of(track) {
            self.pc.remove_track(&sender);
        }
    }

    /// Sends `new` in place of `old`, without renegotiating.
    pub fn replace_track(&mut self, old: &MediaStreamTrack, new: &MediaStreamTrack) {
        for (kept, _) in &mut self.deferred {
            if kept == old {
                *kept = Clone::clone(new);
            }
        }
        if let Some(sender) = self.sender_of(old) {
            // Switched as the promise settles; a refusal (a track the connection cannot
            // send) leaves the sender with nothing to send until the next switch.
            let _ = sender.replace_track(Some(new));
            match self.replaced.iter_mut().find(|(known, _)| *known == sender) {
                Some((_, sent)) => *sent = Clone::clone(new),
                None => self.replaced.push((sender, Clone::clone(new))),
            }
        }
    }

    /// The sender of `track`: the one last told to send it, or the one that does.
    fn sender_of(&self, track: &MediaStreamTrack) -> Option<web_sys::RtcRtpSender> {
        if let Some((sender, _)) = self.replaced.iter().find(|(_, sent)| sent == track) {
            return Some(Clone::clone(sender));
        }
        self.pc
            .get_senders()
            .iter()
            .map(JsCast::unchecked_into::<web_sys::RtcRtpSender>)
            .find(|sender| sender.track().as_ref() == Some(track))
    }

    /// Opens a data channel; the first one makes `negotiationneeded` follow.
    pub fn create_data_channel(&self, label: &str) -> RtcDataChannel {
        binary_as_array_buffers(self.pc.create_data_channel(label))
    }

    /// Asks for new ICE credentials: on the caller `negotiationneeded` follows, the callee
    /// must ask the caller.
    pub fn restart_ice(&self) -> IceRestart {
        match self.ice_role {
            IceRole::Controlling => {
                let _ = self.connection().restart_ice();
                IceRestart::Offered
            }
            IceRole::Controlled => IceRestart::ByTheCaller,
        }
    }

    /// From the next ICE gathering on: `ice_servers`.
    pub fn reconfigure(&self, ice_servers: &JsValue) {
        ice::reconfigure(&self.pc, ice_servers);
    }

    /// Which end of ICE this side is.
    pub fn ice_role(&self) -> IceRole {
        self.ice_role
    }

    /// The current `connectionState`.
    pub fn state(&self) -> String {
        connection_state(&self.pc)
    }

    /// The connection's statistics (`RTCStatsReport`).
    pub fn stats(&self) -> Promise {
        self.pc.get_stats()
    }

    /// The connection itself, for the call's data channels.
    pub fn pc(&self) -> &RtcPeerConnection {
        &self.pc
    }

    fn connection(&self) -> &Connection {
        self.pc.unchecked_ref()
    }

    fn local_sdp_of(&self, kind: RtcSdpType) -> Option<String> {
        self.pc
            .local_description()
            .filter(|d| d.type_() == kind)
            .map(|d| d.sdp())
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        self.pc.close();
    }
}

/// Makes `channel` deliver binary messages as `ArrayBuffer`s, as every channel the client
/// creates or hands to a page does. Firefox before the spec's change of default used
/// `"blob"` (Chromium, and Firefox 153, use `"arraybuffer"`), so a page written against
/// Chromium would get Blobs there.
/// <https://developer.mozilla.org/docs/Web/API/RTCDataChannel/binaryType>
pub fn binary_as_array_buffers(channel: RtcDataChannel) -> RtcDataChannel {
    channel.set_binary_type(web_sys::RtcDataChannelType::Arraybuffer);
    channel
}

fn connection_state(pc: &RtcPeerConnection) -> String {
    Reflect::get(pc, &"connectionState".into())
        .ok()
        .and_then(|state| state.as_string())
        .unwrap_or_default()
}

/// The stream a remote track belongs to, or a new one holding just the track.
fn stream_of(event: &RtcTrackEvent) -> Option<MediaStream> {
    // The event's streams are streams; a track may come without one.
    let first = event.streams().get(0);
    if first.is_undefined() {
        return MediaStream::new_with_tracks(&Array::of1(&event.track())).ok();
    }
    Some(first.unchecked_into())
}

async fn await_promise(promise: Promise, context: &str) -> Result<JsValue, Error> {
    JsFuture::from(promise)
        .await
        .map_err(|error| Error::from_js(ErrorCode::NegotiationFailed, context, &error))
}
