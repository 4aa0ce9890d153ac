//! A person may take their time with the camera and microphone permission prompt. The
//! call waits for the devices; everything else goes on meanwhile, and devices granted
//! too late are let go at once.

#![cfg(target_arch = "wasm32")]

mod common;

use std::{
    cell::{Cell, RefCell},
    rc::Rc,
};

use common::{PATIENCE_MS, Side, field, pair};
use futures::{
    StreamExt,
    channel::{mpsc, oneshot},
    future::{Either, select},
};
use gloo_timers::future::TimeoutFuture;
use js_sys::{Function, Promise, Reflect};
use wasm_bindgen::{JsCast, JsValue, closure::Closure};
use wasm_bindgen_futures::{JsFuture, future_to_promise};
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};
use web_sys::{MediaDevices, MediaStream};

wasm_bindgen_test_configure!(run_in_browser);

/// This page's getUserMedia behind a permission prompt the test answers: each request
/// waits until it is granted, then gets the real (fake) devices.
struct Prompt {
    devices: MediaDevices,
    requests: mpsc::UnboundedReceiver<oneshot::Sender<()>>,
    /// Once set, every request is granted at once.
    granting: Rc<Cell<bool>>,
    /// Every stream handed out.
    streams: Rc<RefCell<Vec<MediaStream>>>,
    /// Told each time a stream is handed out.
    handed: mpsc::UnboundedReceiver<()>,
    _ask: Closure<dyn FnMut(JsValue) -> Promise>,
}

impl Prompt {
    fn open() -> Self {
        let devices = web_sys::window()
            .expect("a window")
            .navigator()
            .media_devices()
            .expect("media devices");
        let real: Function = Reflect::get(&devices, &"getUserMedia".into())
            .expect("getUserMedia")
            .unchecked_into();
        let (asked, requests) = mpsc::unbounded();
        let (hand, handed) = mpsc::unbounded();
        let granting = Rc::new(Cell::new(false));
        let streams = Rc::new(RefCell::new(Vec::new()));
        let ask = {
            let (devices, granting, streams) = (devices.clone(), granting.clone(), streams.clone());
            Closure::<dyn FnMut(JsValue) -> Promise>::new(move |constraints: JsValue| {
                let (grant, granted) = oneshot::channel();
                if granting.get() {
                    let _ = grant.send(());
                } else {
                    asked.unbounded_send(grant).expect("the test listens");
                }
                let (devices, real, streams) = (devices.clone(), real.clone(), streams.clone());
                let hand = hand.clone();
                future_to_promise(async move {
                    granted
                        .await
                        .map_err(|_| JsValue::from("the prompt went away"))?;
                    let asking: Promise = real.call1(&devices, &constraints)?.unchecked_into();
                    let stream = JsFuture::from(asking).await?;
                    streams.borrow_mut().push(stream.clone().unchecked_into());
                    let _ = hand.unbounded_send(());
                    Ok(stream)
                })
            })
        };
        Reflect::set(&devices, &"getUserMedia".into(), ask.as_ref()).expect("replaced");
        Self {
            devices,
            requests,
            granting,
            streams,
            handed,
            _ask: ask,
        }
    }

    /// Waits until the page asks for the devices; returns the way to grant them.
    async fn asked(&mut self) -> oneshot::Sender<()> {
        let next = self.requests.next();
        match select(next, TimeoutFuture::new(PATIENCE_MS)).await {
            Either::Left((Some(grant), _)) => grant,
            _ => panic!("nobody asked for the camera and microphone"),
        }
    }

    /// Grants the request `grant` answers, and waits until the devices are handed out.
    async fn grant(&mut self, grant: oneshot::Sender<()>) {
        grant.send(()).expect("the request still waits");
        let handed = self.handed.next();
        match select(handed, TimeoutFuture::new(PATIENCE_MS)).await {
            Either::Left((Some(()), _)) => {}
            _ => panic!("no devices were handed out"),
        }
    }

    /// Waits until every track handed out has been stopped. A track stopped by the page
    /// fires no event, so this looks every few milliseconds.
    async fn all_let_go(&self) {
        let started = js_sys::Date::now();
        while self.live_tracks() > 0 {
            assert!(
                js_sys::Date::now() - started < f64::from(PATIENCE_MS),
                "a camera or microphone was left on"
            );
            TimeoutFuture::new(20).await;
        }
    }

    /// Grants every request from now on.
    fn grant_all(&self) {
        self.granting.set(true);
    }

    /// Tracks handed out that are still live: a camera or microphone still on.
    fn live_tracks(&self) -> usize {
        self.streams
            .borrow()
            .iter()
            .flat_map(|stream| stream.get_tracks().to_vec())
            .filter(|track| field(track, "readyState") == "live")
            .count()
    }
}

impl Drop for Prompt {
    fn drop(&mut self) {
        // The prototype's getUserMedia shows through again.
        let _ = Reflect::delete_property(&self.devices, &"getUserMedia".into());
    }
}

/// How many calls rang for `side` so far.
fn rings(side: &Side) -> usize {
    side.seen
        .borrow()
        .iter()
        .filter(|(event, _)| event == "incoming")
        .count()
}

/// `caller` calls `callee`, who takes it; both hear and see the other; `caller` hangs up.
async fn whole_call(caller: &mut Side, callee: &mut Side) {
    caller.ring(callee).await;
    callee.call.accept();
    caller.reach("connected").await;
    callee.reach("connected").await;
    caller.media_flows_past(0.0, 0.0).await;
    callee.media_flows_past(0.0, 0.0).await;
    caller.call.hangup();
    assert_eq!(caller.ended().await, "hangup");
    assert_eq!(callee.ended().await, "remote-hangup");
}

/// `caller` calls `callee` (the caller's devices granted at once); `callee` accepts and
/// sits at the prompt. Returns the way to grant the callee's devices.
async fn accepted_at_the_prompt(
    prompt: &mut Prompt,
    caller: &mut Side,
    callee: &mut Side,
) -> oneshot::Sender<()> {
    let placed = caller.call.call(callee.id.clone());
    let grant = prompt.asked().await;
    prompt.grant(grant).await;
    JsFuture::from(placed).await.expect("placed once it rings");
    callee.next("incoming").await;
    callee.call.accept();
    prompt.asked().await
}

#[wasm_bindgen_test]
async fn the_caller_can_hang_up_while_the_prompt_is_open() {
    let mut prompt = Prompt::open();
    let (mut alice, mut bob) = pair().await;
    let placed = alice.call.call(bob.id.clone());
    alice.reach("calling").await;
    let grant = prompt.asked().await;

    alice.call.hangup();
    assert_eq!(alice.ended().await, "hangup");
    assert_eq!(alice.call.state(), "idle");
    let never = JsFuture::from(placed).await.expect_err("it never rang");
    assert_eq!(field(&never, "code"), "invalid-state");

    // The person allows the devices after all: too late for that call, so they are let go.
    prompt.grant(grant).await;
    prompt.all_let_go().await;
    assert_eq!(alice.call.state(), "idle");

    prompt.grant_all();
    whole_call(&mut alice, &mut bob).await;
    assert_eq!(rings(&bob), 1, "bob rang for the call that was hung up");
    prompt.all_let_go().await;
}

#[wasm_bindgen_test]
async fn the_caller_giving_up_reaches_a_callee_whose_prompt_is_open() {
    let mut prompt = Prompt::open();
    let (mut alice, mut bob) = pair().await;
    let grant = accepted_at_the_prompt(&mut prompt, &mut alice, &mut bob).await;
    // What needs bob's devices waits for them, and is refused once the call is over.
    let share = bob.call.share_screen();

    alice.call.hangup();
    assert_eq!(alice.ended().await, "hangup");
    assert_eq!(bob.ended().await, "remote-hangup");
    assert_eq!(bob.call.state(), "idle");
    let refused = JsFuture::from(share)
        .await
        .expect_err("no call to share in");
    assert_eq!(field(&refused, "code"), "invalid-state");

    // Alice's devices went with her call; bob's come too late for his.
    prompt.grant(grant).await;
    prompt.all_let_go().await;

    prompt.grant_all();
    whole_call(&mut bob, &mut alice).await;
    prompt.all_let_go().await;
}

#[wasm_bindgen_test]
async fn what_the_callee_does_right_after_accepting_goes_on_while_the_prompt_is_open() {
    let mut prompt = Prompt::open();
    let (mut alice, mut bob) = pair().await;
    let grant = accepted_at_the_prompt(&mut prompt, &mut alice, &mut bob).await;
    // Taken: the call rings no more on either side.
    bob.reach("connecting").await;
    alice.reach("connecting").await;
    // A second click on Accept does nothing more.
    bob.call.accept();
    // The chat needs no camera: it reaches alice while bob still reads the prompt.
    let chat = bob.call.send_text("hello from behind the prompt".into());
    JsFuture::from(chat).await.expect("sent");
    let text = alice.next("text").await;
    assert_eq!(field(&text, "text"), "hello from behind the prompt");

    prompt.grant(grant).await;
    alice.reach("connected").await;
    bob.reach("connected").await;
    alice.media_flows_past(0.0, 0.0).await;
    // Alice was never told bob's camera was off or his microphone muted: his devices
    // were only on their way.
    let told_off = alice.seen.borrow().iter().any(|(event, media)| {
        event == "participant-media"
            && ["audio", "video"].iter().any(|kind| {
                Reflect::get(media, &(*kind).into())
                    .ok()
                    .and_then(|v| v.as_bool())
                    == Some(false)
            })
    });
    assert!(!told_off, "{:?}", alice.history());
    bob.call.hangup();
    assert_eq!(bob.ended().await, "hangup");
    assert_eq!(alice.ended().await, "remote-hangup");
    let errors = bob
        .seen
        .borrow()
        .iter()
        .filter(|(event, _)| event == "error")
        .count();
    assert_eq!(errors, 0, "{:?}", bob.history());
    prompt.all_let_go().await;
}

#[wasm_bindgen_test]
async fn declining_a_call_taken_at_the_prompt_hangs_it_up() {
    let mut prompt = Prompt::open();
    let (mut alice, mut bob) = pair().await;
    let grant = accepted_at_the_prompt(&mut prompt, &mut alice, &mut bob).await;
    bob.call.decline();
    assert_eq!(bob.ended().await, "hangup");
    assert_eq!(alice.ended().await, "remote-hangup");
    // Allowed after all: too late for that call.
    prompt.grant(grant).await;
    prompt.all_let_go().await;
}

#[wasm_bindgen_test]
async fn a_call_taken_at_the_prompt_rings_no_more_and_connects_when_the_devices_come() {
    let mut prompt = Prompt::open();
    // Each side rings for 1.5 s at most.
    let short = [("ringTimeoutMs", JsValue::from(1_500))];
    let mut alice = Side::online_with("alice", &short).await;
    let mut bob = Side::online_with("bob", &short).await;
    alice.sees(&bob).await;
    let grant = accepted_at_the_prompt(&mut prompt, &mut alice, &mut bob).await;
    // Bob reads the prompt for longer than a call rings.
    TimeoutFuture::new(2_500).await;
    // Still in the call, connecting or already connected (its channels need no devices).
    for side in [&alice, &bob] {
        let state = side.call.state();
        assert!(
            state == "connecting" || state == "connected",
            "{}: {state}, {:?}",
            side.name,
            side.history()
        );
    }
    prompt.grant(grant).await;
    // His camera and microphone join the call: each side sees and hears the other.
    alice.reach("connected").await;
    bob.reach("connected").await;
    alice.media_flows_past(0.0, 0.0).await;
    bob.media_flows_past(0.0, 0.0).await;
    alice.call.hangup();
    assert_eq!(bob.ended().await, "remote-hangup");
    prompt.all_let_go().await;
}
