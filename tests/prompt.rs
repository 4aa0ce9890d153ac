//! A person may take their time with the camera and microphone permission prompt. The
//! call waits for the devices; everything else goes on meanwhile, and devices granted
//! too late are let go at once.

#![cfg(target_arch = "wasm32")]

mod common;

use std::{
    cell::{Cell, RefCell},
    rc::Rc,
};

use common::{PATIENCE_MS, Side, pair};
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
                future_to_promise(async move {
                    granted
                        .await
                        .map_err(|_| JsValue::from("the prompt went away"))?;
                    let asking: Promise = real.call1(&devices, &constraints)?.unchecked_into();
                    let stream = JsFuture::from(asking).await?;
                    streams.borrow_mut().push(stream.clone().unchecked_into());
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
            .filter(|track| common::field(track, "readyState") == "live")
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

#[wasm_bindgen_test]
async fn the_caller_can_hang_up_while_the_prompt_is_open() {
    let mut prompt = Prompt::open();
    let (mut alice, mut bob) = pair().await;
    JsFuture::from(alice.call.call(bob.id.clone()))
        .await
        .expect("the call is placed");
    alice.reach("calling").await;
    let grant = prompt.asked().await;

    alice.call.hangup();
    assert_eq!(alice.ended().await, "hangup");
    assert_eq!(alice.call.state(), "idle");

    // The person allows the devices after all: too late for that call.
    grant.send(()).expect("the request still waits");
    prompt.grant_all();
    whole_call(&mut alice, &mut bob).await;
    assert_eq!(rings(&bob), 1, "bob rang for the call that was hung up");
    assert_eq!(
        prompt.live_tracks(),
        0,
        "a camera or microphone was left on"
    );
}

#[wasm_bindgen_test]
async fn the_caller_giving_up_reaches_a_callee_whose_prompt_is_open() {
    let mut prompt = Prompt::open();
    let (mut alice, mut bob) = pair().await;
    JsFuture::from(alice.call.call(bob.id.clone()))
        .await
        .expect("the call is placed");
    prompt
        .asked()
        .await
        .send(())
        .expect("alice's request waits");
    bob.next("incoming").await;
    bob.call.accept();
    let grant = prompt.asked().await;

    alice.call.hangup();
    assert_eq!(alice.ended().await, "hangup");
    assert_eq!(bob.ended().await, "remote-hangup");
    assert_eq!(bob.call.state(), "idle");

    grant.send(()).expect("the request still waits");
    prompt.grant_all();
    whole_call(&mut bob, &mut alice).await;
    assert_eq!(
        prompt.live_tracks(),
        0,
        "a camera or microphone was left on"
    );
}
