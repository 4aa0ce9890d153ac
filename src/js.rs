//! The JavaScript helpers the engine and the demo page share: plain objects read and
//! built, and owned browser callbacks, counted.
//!
//! Every callback the client hands the browser is a [`Listener`] (or a [`Timer`]) owned by
//! the object it serves; dropping it removes it from the browser. The live count lets tests
//! prove that a call leaves nothing behind.

use std::{
    cell::{Cell, RefCell},
    future::Future,
    pin::Pin,
    rc::Rc,
    task::{Context, Poll, Waker},
};

use gloo_events::{EventListener, EventListenerOptions};
use gloo_timers::callback::Timeout;
use js_sys::{Object, Reflect};
use wasm_bindgen::JsValue;
use web_sys::{Event, EventTarget};

/// The page's window: the module runs in pages, whose global object is their window (no
/// `instanceof` test, whose glue every download would carry).
pub fn window() -> Option<web_sys::Window> {
    Some(wasm_bindgen::JsCast::unchecked_into(js_sys::global()))
}

/// Characters of random names; 64 of them, so each random byte gives 6 bits evenly.
const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Characters of a random name: 22 of 6 bits each, 132 random bits.
pub const RANDOM_NAME_CHARS: usize = 22;

/// A name of [`RANDOM_NAME_CHARS`] characters from the browser's cryptographic random
/// numbers: what must be unguessable, such as a room's name.
pub fn random_name() -> Option<String> {
    let crypto = window()?.crypto().ok()?;
    let mut bytes = [0u8; RANDOM_NAME_CHARS];
    crypto.get_random_values_with_u8_array(&mut bytes).ok()?;
    Some(bytes.iter().map(|byte| name_char(*byte)).collect())
}

/// A name of [`RANDOM_NAME_CHARS`] characters from `Math.random`: unique, not secret,
/// such as a call's id (the server checks who is in a call; the id grants nothing).
pub fn unique_name() -> String {
    (0..RANDOM_NAME_CHARS)
        .map(|_| name_char((js_sys::Math::random() * 64.0) as u8))
        .collect()
}

fn name_char(byte: u8) -> char {
    char::from(ALPHABET[usize::from(byte & 63)])
}

/// A plain object with the given properties.
pub fn object(properties: &[(&str, JsValue)]) -> JsValue {
    let object = Object::new();
    for (key, value) in properties {
        let _ = Reflect::set(&object, &(*key).into(), value);
    }
    object.into()
}

/// A property of `value`; `undefined` when it has none (or is no object).
pub fn field(value: &JsValue, key: &str) -> JsValue {
    Reflect::get(value, &key.into()).unwrap_or(JsValue::UNDEFINED)
}

/// `value` as text, if it is a string of at most `max` UTF-16 units: a longer one (a
/// hostile peer's message of a gigabyte) is never copied into the module.
pub fn short_text(value: &JsValue, max: u32) -> Option<String> {
    let text = wasm_bindgen::JsCast::dyn_ref::<js_sys::JsString>(value)?;
    if text.length() > max {
        return None;
    }
    text.as_string()
}

/// A string property of `value`.
pub fn text_of(value: &JsValue, key: &str) -> Option<String> {
    field(value, key).as_string()
}

/// A number property of `value`.
pub fn number_of(value: &JsValue, key: &str) -> Option<f64> {
    field(value, key).as_f64()
}

thread_local! {
    static LIVE: Cell<usize> = const { Cell::new(0) };
}

/// How many listeners and timers of this client are attached to the browser right now.
pub fn live_callbacks() -> usize {
    LIVE.try_with(Cell::get).unwrap_or(0)
}

fn born() {
    // `try_with`: the count is not worth a panic path of its own.
    let _ = LIVE.try_with(|live| live.set(live.get() + 1));
}

fn died() {
    let _ = LIVE.try_with(|live| live.set(live.get().saturating_sub(1)));
}

/// An event listener that is removed when dropped.
#[must_use = "a dropped listener is removed at once"]
pub struct Listener(#[allow(dead_code)] EventListener);

impl Listener {
    /// Listens for `event` on `target`.
    pub fn new(
        target: &EventTarget,
        event: &'static str,
        callback: impl FnMut(&Event) + 'static,
    ) -> Self {
        born();
        // Boxed here, so that the browser-facing code below exists once, not once per
        // kind of callback.
        let callback: Box<dyn FnMut(&Event)> = Box::new(callback);
        Self(EventListener::new_with_options(
            target,
            event,
            EventListenerOptions::enable_prevent_default(),
            callback,
        ))
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        died();
    }
}

/// What a promise settled to: its value, or what it was rejected with.
pub type Settled = Result<JsValue, JsValue>;

/// Calls `then` with what `promise` settles to. One future type for every promise the
/// client hands back to itself (an `async` block per call site is a state machine each).
pub fn when_settled(promise: js_sys::Promise, then: Box<dyn FnOnce(Settled)>) {
    wasm_bindgen_futures::spawn_local(async move {
        then(wasm_bindgen_futures::JsFuture::from(promise).await);
    });
}

/// A one-shot timer that is cancelled when dropped.
#[must_use = "a dropped timer is cancelled at once"]
pub struct Timer(#[allow(dead_code)] Timeout);

impl Timer {
    /// Calls `callback` once after `millis` milliseconds.
    pub fn new(millis: u32, callback: impl FnOnce() + 'static) -> Self {
        born();
        // Boxed for the same reason as in [`Listener::new`].
        let callback: Box<dyn FnOnce()> = Box::new(callback);
        Self(Timeout::new(millis, callback))
    }
}

impl Drop for Timer {
    fn drop(&mut self) {
        died();
    }
}

/// A task on the page's event loop that stops wherever it waits when this handle is
/// dropped: what it holds (listeners, timers) goes with it.
#[must_use = "a dropped task stops at once"]
pub struct Task(Rc<Stop>);

/// Whether a task was stopped, and how to wake it so that it sees it.
#[derive(Default)]
struct Stop {
    stopped: Cell<bool>,
    waker: RefCell<Option<Waker>>,
}

impl Task {
    /// Runs `future` until it ends or the handle is dropped.
    pub fn spawn(future: impl Future<Output = ()> + 'static) -> Self {
        let stop = Rc::new(Stop::default());
        wasm_bindgen_futures::spawn_local(Stoppable {
            future: Box::pin(future),
            stop: Rc::clone(&stop),
        });
        Self(stop)
    }
}

impl Drop for Task {
    fn drop(&mut self) {
        self.0.stopped.set(true);
        if let Some(waker) = self.0.waker.take() {
            waker.wake();
        }
    }
}

/// A task's future, boxed so that one poll function serves every kind of task.
struct Stoppable {
    future: Pin<Box<dyn Future<Output = ()>>>,
    stop: Rc<Stop>,
}

impl Future for Stoppable {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.stop.stopped.get() {
            return Poll::Ready(());
        }
        *self.stop.waker.borrow_mut() = Some(cx.waker().clone());
        self.future.as_mut().poll(cx)
    }
}
