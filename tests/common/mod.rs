//! Two (or more) `PeerCall`s in one page, against the real signaling server that
//! `cargo xtask test` starts, and ways to wait for what they report.

#![allow(dead_code, missing_docs)]

use std::{cell::RefCell, rc::Rc};

use futures::{
    StreamExt,
    channel::mpsc,
    future::{Either, select},
};
use gloo_timers::future::TimeoutFuture;
use js_sys::{Function, Reflect};
use peercall::PeerCall;
use wasm_bindgen::{JsCast, JsValue, closure::Closure};
use wasm_bindgen_futures::JsFuture;

/// The signaling server started for the browser tests.
pub mod raw;

pub const SERVER: &str = match option_env!("PEERCALL_TEST_WS") {
    Some(url) => url,
    None => "ws://127.0.0.1:8090/ws",
};

/// How long anything a user would wait for may take.
pub const PATIENCE_MS: u32 = 10_000;

const EVENTS: [&str; 26] = [
    "stats",
    "quality",
    "devices",
    "participant-media",
    "share-started",
    "share-ended",
    "participants",
    "participant-joined",
    "participant-stream",
    "participant-left",
    "room",
    "datachannel",
    "text",
    "file-offer",
    "file-progress",
    "file-done",
    "file-cancelled",
    "file-error",
    "peers",
    "incoming",
    "state",
    "remote-stream",
    "local-stream",
    "media",
    "ended",
    "error",
];

/// One user: a `PeerCall` and everything it reported, in order.
pub struct Side {
    pub call: PeerCall,
    pub name: String,
    pub id: String,
    events: mpsc::UnboundedReceiver<(String, JsValue)>,
    /// Everything seen so far, also the events skipped while waiting for another.
    pub seen: Rc<RefCell<Vec<(String, JsValue)>>>,
    /// How many events were taken off `events`.
    taken: usize,
    /// How many of the first events in `seen` no longer count as news of a state.
    stale_states: usize,
    _handlers: Vec<Closure<dyn FnMut(JsValue)>>,
}

/// A name no other test uses.
pub fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", (js_sys::Math::random() * 1e9) as u64)
}

/// Options for a user named `name`, plus `extra` properties.
pub fn options(name: &str, extra: &[(&str, JsValue)]) -> JsValue {
    let options = js_sys::Object::new();
    let set = |key: &str, value: &JsValue| {
        Reflect::set(&options, &key.into(), value).unwrap();
    };
    set("url", &SERVER.into());
    set("name", &name.into());
    for (key, value) in extra {
        set(key, value);
    }
    options.into()
}

impl Side {
    /// A user created with `options`, not yet connected.
    pub fn new(name: &str, options: JsValue) -> Self {
        let call = PeerCall::new(options).expect("valid options");
        let (tx, events) = mpsc::unbounded();
        let seen = Rc::new(RefCell::new(Vec::new()));
        let handlers = EVENTS
            .iter()
            .map(|event| {
                let tx = tx.clone();
                let seen = seen.clone();
                let name = (*event).to_owned();
                let handler = Closure::<dyn FnMut(JsValue)>::new(move |payload: JsValue| {
                    seen.borrow_mut().push((name.clone(), payload.clone()));
                    let _ = tx.unbounded_send((name.clone(), payload));
                });
                call.on(
                    (*event).to_owned(),
                    handler.as_ref().unchecked_ref::<Function>().clone(),
                );
                handler
            })
            .collect();
        Self {
            call,
            name: name.to_owned(),
            id: String::new(),
            events,
            seen,
            taken: 0,
            stale_states: 0,
            _handlers: handlers,
        }
    }

    /// A user named after `prefix`, connected.
    pub async fn online(prefix: &str) -> Self {
        Self::online_with(prefix, &[]).await
    }

    /// A user named after `prefix` with extra options, connected.
    pub async fn online_with(prefix: &str, extra: &[(&str, JsValue)]) -> Self {
        let name = unique(prefix);
        let mut side = Self::new(&name, options(&name, extra));
        let id = JsFuture::from(side.call.connect()).await.expect("connects");
        side.id = id.as_string().expect("an id");
        side
    }

    /// The next event named `kind`, skipping others; fails the test after the patience.
    pub async fn next(&mut self, kind: &str) -> JsValue {
        self.next_within(kind, PATIENCE_MS).await
    }

    /// The next event named `kind`, skipping others; fails the test after `patience_ms`.
    pub async fn next_within(&mut self, kind: &str, patience_ms: u32) -> JsValue {
        let deadline = TimeoutFuture::new(patience_ms);
        let wanted = async {
            while let Some((name, payload)) = self.events.next().await {
                self.taken += 1;
                if name == kind {
                    return payload;
                }
            }
            panic!("{}: the event stream ended", self.name);
        };
        futures::pin_mut!(wanted);
        match select(wanted, deadline).await {
            Either::Left((payload, _)) => payload,
            Either::Right(_) => panic!("{}: no `{kind}` event within {patience_ms} ms", self.name),
        }
    }

    /// The first `event` at or after `since` in what `side` saw whose payload passes
    /// `test`, waiting for it; returns it and where it is.
    pub async fn seen_where(
        &mut self,
        since: usize,
        event: &str,
        test: impl Fn(&JsValue) -> bool,
    ) -> (JsValue, usize) {
        loop {
            let found = self
                .seen
                .borrow()
                .iter()
                .enumerate()
                .skip(since)
                .find(|(_, (name, payload))| name == event && test(payload))
                .map(|(at, (_, payload))| (payload.clone(), at));
            if let Some(found) = found {
                return found;
            }
            self.next(event).await;
        }
    }

    /// The states and error messages seen so far, for failure messages.
    pub fn history(&self) -> Vec<String> {
        self.seen
            .borrow()
            .iter()
            .filter(|(event, _)| event == "state" || event == "error")
            .map(|(event, payload)| match payload.as_string() {
                Some(state) => format!("{event}: {state}"),
                None => format!("{event}: {}", field(payload, "message")),
            })
            .collect()
    }

    /// The next event named any of `kinds`, with its name.
    pub async fn next_of(&mut self, kinds: &[&str]) -> (String, JsValue) {
        let deadline = TimeoutFuture::new(PATIENCE_MS * 6);
        let wanted = async {
            while let Some((name, payload)) = self.events.next().await {
                self.taken += 1;
                if kinds.contains(&name.as_str()) {
                    return (name, payload);
                }
            }
            panic!("{}: the event stream ended", self.name);
        };
        futures::pin_mut!(wanted);
        match select(wanted, deadline).await {
            Either::Left((found, _)) => found,
            Either::Right(_) => panic!("{}: none of {kinds:?} in time", self.name),
        }
    }

    /// The first `kind` event seen at or after position `since` of `seen`, waiting for it
    /// if it has not come yet.
    pub async fn seen_since(&mut self, since: usize, kind: &str) -> JsValue {
        let earlier = self
            .seen
            .borrow()
            .iter()
            .skip(since)
            .find(|(name, _)| name == kind)
            .map(|(_, payload)| payload.clone());
        match earlier {
            Some(payload) => payload,
            None => self.next(kind).await,
        }
    }

    /// Waits for the state `state`. A state reported before the current one was read
    /// is never taken for a new one.
    pub async fn reach(&mut self, state: &str) {
        self.reach_within(state, PATIENCE_MS).await;
    }

    /// [`Side::reach`], where each state change may take up to `patience_ms`.
    pub async fn reach_within(&mut self, state: &str, patience_ms: u32) {
        if self.call.state() == state {
            // The events that led here are stale for any later wait for a state.
            self.stale_states = self.seen.borrow().len();
            return;
        }
        loop {
            let now = self.next_within("state", patience_ms).await;
            let fresh = self.taken > self.stale_states;
            if fresh && now.as_string().as_deref() == Some(state) {
                return;
            }
        }
    }

    /// Waits for the call to end; returns the reason.
    pub async fn ended(&mut self) -> String {
        let ended = self.next("ended").await;
        field(&ended, "reason")
    }

    /// Waits until `peer` is in this user's list of who is online.
    pub async fn sees(&mut self, peer: &Side) {
        self.sees_id(&peer.id).await;
    }

    /// Waits until the peer with id `id` is in this user's list of who is online.
    pub async fn sees_id(&mut self, id: &str) {
        let listed = |peers: &JsValue| {
            js_sys::Array::from(peers)
                .iter()
                .any(|p| field(&p, "id") == id)
        };
        // The latest list is what the page shows now; earlier ones may be stale.
        if self
            .seen
            .borrow()
            .iter()
            .rev()
            .find(|(n, _)| n == "peers")
            .is_some_and(|(_, p)| listed(p))
        {
            return;
        }
        while !listed(&self.next("peers").await) {}
    }

    /// Places a call to `peer` and waits until it rings there.
    pub async fn ring(&mut self, peer: &mut Side) {
        if let Err(error) = JsFuture::from(self.call.call(peer.id.clone())).await {
            panic!(
                "the call is not placed: {}; {:?}",
                field(&error, "message"),
                self.history()
            );
        }
        let incoming = peer.next("incoming").await;
        assert_eq!(field(&incoming, "from"), self.id);
        assert_eq!(field(&incoming, "name"), self.name);
    }

    /// Totals from `getStats()`: video frames decoded and audio packets received.
    pub async fn received(&self) -> (f64, f64) {
        self.received_from(None).await
    }

    /// Totals from `getStats(participant)` (the call's, for `None`): video frames decoded
    /// and audio packets received; none from someone not (yet) in the call.
    pub async fn received_from(&self, participant: Option<&str>) -> (f64, f64) {
        let asked = JsFuture::from(self.call.get_stats(participant.map(str::to_owned))).await;
        let report = match (asked, participant) {
            (Ok(report), _) => report,
            // The news that they joined may still be on its way.
            (Err(_), Some(_)) => JsValue::NULL,
            (Err(error), None) => panic!("stats: {error:?}"),
        };
        if report.is_null() {
            return (0.0, 0.0);
        }
        let (mut frames, mut packets) = (0.0, 0.0);
        let report: js_sys::Map = report.unchecked_into();
        report.for_each(&mut |stat, _| {
            if field(&stat, "type") != "inbound-rtp" {
                return;
            }
            let number = |key: &str| {
                Reflect::get(&stat, &key.into())
                    .ok()
                    .and_then(|v| v.as_f64())
                    .unwrap_or(0.0)
            };
            match field(&stat, "kind").as_str() {
                "video" => frames += number("framesDecoded"),
                "audio" => packets += number("packetsReceived"),
                _ => {}
            }
        });
        (frames, packets)
    }

    /// Waits until remote video frames have been decoded and audio packets received,
    /// past `frames` and `packets`; returns the new totals.
    pub async fn media_flows_past(&self, frames: f64, packets: f64) -> (f64, f64) {
        self.media_from_past(None, frames, packets).await
    }

    /// The same, from one participant of the room call (the call's, for `None`).
    pub async fn media_from_past(
        &self,
        participant: Option<&str>,
        frames: f64,
        packets: f64,
    ) -> (f64, f64) {
        let started = js_sys::Date::now();
        loop {
            let now = self.received_from(participant).await;
            if now.0 > frames && now.1 > packets {
                return now;
            }
            assert!(
                js_sys::Date::now() - started < f64::from(PATIENCE_MS),
                "{}: no media within {PATIENCE_MS} ms (frames {}, packets {})",
                self.name,
                now.0,
                now.1
            );
            // getStats has no change event: look again after a frame or so.
            TimeoutFuture::new(100).await;
        }
    }
}

/// A file of `size` random bytes, made in JavaScript memory (not wasm memory).
pub fn random_file(name: &str, size: usize) -> web_sys::File {
    let make = Function::new_with_args(
        "n",
        "const a = new Uint8Array(n);
         for (let i = 0; i < n; i += 65536) crypto.getRandomValues(a.subarray(i, Math.min(n, i + 65536)));
         return a;",
    );
    let bytes = make
        .call1(&JsValue::NULL, &(size as f64).into())
        .expect("random bytes");
    let options = web_sys::FilePropertyBag::new();
    options.set_type("application/octet-stream");
    web_sys::File::new_with_u8_array_sequence_and_options(
        &js_sys::Array::of1(&bytes),
        name,
        &options,
    )
    .expect("a file")
}

/// A string property of a payload ("" when absent).
pub fn field(payload: &JsValue, key: &str) -> String {
    Reflect::get(payload, &key.into())
        .ok()
        .and_then(|v| v.as_string())
        .unwrap_or_default()
}

/// Two users who see each other.
pub async fn pair() -> (Side, Side) {
    let mut alice = Side::online("alice").await;
    let bob = Side::online("bob").await;
    alice.sees(&bob).await;
    (alice, bob)
}

/// Two users in a connected call, alice having called bob.
pub async fn connected_pair() -> (Side, Side) {
    let (mut alice, mut bob) = pair().await;
    alice.ring(&mut bob).await;
    bob.call.accept();
    alice.reach("connected").await;
    bob.reach("connected").await;
    (alice, bob)
}

/// A browser engine the tests run in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    Chromium,
    Firefox,
}

impl Engine {
    /// The engine this page runs in, from its user agent.
    pub fn here() -> Self {
        let agent = web_sys::window()
            .and_then(|w| w.navigator().user_agent().ok())
            .unwrap_or_default();
        if agent.contains("Firefox/") {
            Self::Firefox
        } else {
            Self::Chromium
        }
    }
}

/// Whether `test` must be skipped here because `engine` cannot run it, for the browser
/// behaviour named in `why`. A skip prints a `SKIP` line that `cargo xtask test` counts
/// and reports (wasm-bindgen-test would count the early return as a pass).
pub fn skipped_in(engine: Engine, test: &str, why: &str) -> bool {
    if Engine::here() != engine {
        return false;
    }
    wasm_bindgen_test::console_log!("SKIP {test} in {engine:?}: {why}");
    true
}

/// A small camera: a mesh encodes one stream per other member.
pub fn small_media() -> JsValue {
    let video = js_sys::Object::new();
    for (key, value) in [("width", 160), ("height", 120), ("frameRate", 10)] {
        js_sys::Reflect::set(&video, &key.into(), &value.into()).unwrap();
    }
    let media = js_sys::Object::new();
    js_sys::Reflect::set(&media, &"audio".into(), &true.into()).unwrap();
    js_sys::Reflect::set(&media, &"video".into(), &video).unwrap();
    media.into()
}

/// Joins the room call; the ids of those in it already.
pub async fn join(side: &Side) -> Vec<String> {
    let peers = JsFuture::from(side.call.join_call())
        .await
        .unwrap_or_else(|error| panic!("{} joins: {error:?}", side.name));
    js_sys::Array::from(&peers)
        .iter()
        .map(|p| field(&p, "id"))
        .collect()
}

/// Waits until `side` decodes video (and hears audio) from each of `others`, twice, so
/// that it is a stream and not a first frame.
pub async fn decodes_from_all(side: &Side, others: &[&Side]) {
    for other in others {
        let first = side.media_from_past(Some(&other.id), 0.0, 0.0).await;
        side.media_from_past(Some(&other.id), first.0, first.1)
            .await;
    }
}

/// Frames decoded so far of the remote video track `track` (on the connection with
/// participant `with`, in a room call).
pub async fn frames_of(side: &Side, with: Option<&str>, track: &str) -> f64 {
    let report = JsFuture::from(side.call.get_stats(with.map(str::to_owned)))
        .await
        .expect("stats");
    let report: js_sys::Map = report.unchecked_into();
    let mut frames = 0.0;
    report.for_each(&mut |stat, _| {
        if field(&stat, "type") == "inbound-rtp" && field(&stat, "trackIdentifier") == track {
            frames = Reflect::get(&stat, &"framesDecoded".into())
                .ok()
                .and_then(|v| v.as_f64())
                .unwrap_or(0.0);
        }
    });
    frames
}

/// Waits until the remote track `track` (of participant `with`) has decoded past
/// `frames`; returns the count.
pub async fn decodes_past(side: &Side, with: Option<&str>, track: &str, frames: f64) -> f64 {
    let started = js_sys::Date::now();
    loop {
        let now = frames_of(side, with, track).await;
        if now > frames {
            return now;
        }
        assert!(
            js_sys::Date::now() - started < f64::from(PATIENCE_MS),
            "{}: the track {track} decodes no frames past {frames}",
            side.name
        );
        // getStats has no change event: look again after a frame or so.
        TimeoutFuture::new(100).await;
    }
}

/// A stand-in of `kind` made by the page: a canvas drawn on for video, a tone for audio.
pub fn stand_in(kind: &str) -> web_sys::MediaStreamTrack {
    let make = Function::new_with_args(
        "kind",
        "if (kind === 'video') {
           const c = document.createElement('canvas');
           c.width = 160; c.height = 120;
           const g = c.getContext('2d');
           let n = 0;
           const draw = () => { g.fillStyle = `hsl(${n++ % 360} 80% 50%)`; g.fillRect(0, 0, 160, 120); };
           draw();
           c.dataset.timer = setInterval(draw, 50);
           return c.captureStream(20).getVideoTracks()[0];
         }
         const a = new AudioContext();
         const o = a.createOscillator();
         const d = a.createMediaStreamDestination();
         o.connect(d); o.start();
         return d.stream.getAudioTracks()[0];",
    );
    make.call1(&JsValue::NULL, &kind.into())
        .expect("a stand-in track")
        .unchecked_into()
}
