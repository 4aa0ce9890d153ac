//! The demo page (www/index.html): one user of the [`PeerCall`] API, and nothing more.
//!
//! It binds to the page's elements by id, registers handlers with `PeerCall::on` exactly
//! as any embedding page would, and keeps every listener for as long as the page lives.

use std::{cell::RefCell, rc::Rc};

use js_sys::{Function, Reflect};
use wasm_bindgen::{JsCast, JsValue, closure::Closure, prelude::wasm_bindgen};
use wasm_bindgen_futures::{JsFuture, spawn_local};
use web_sys::{Element, Event, HtmlElement};

use crate::{api::PeerCall, js::Listener};

mod chat;
mod devices;
mod files;
mod grid;
mod keys;
mod page;
mod quality;
mod room;
mod share;
mod tone;

use crate::js::field;
use gloo_timers::callback::Interval;
use grid::Grid;
use page::{Page, say, show, text_field};
use protocol::ErrorCode as Refusal;
use room::Invitation;
use tone::{Tone, Tones};

/// What the page remembers between events.
#[derive(Default)]
struct Memory {
    /// The name of whoever the current (or last) call is with.
    other: String,
    /// We were called (rather than calling).
    callee: bool,
    /// The last call's ending, shown until the next call.
    ended: Option<String>,
    mic_muted: bool,
    camera_off: bool,
    /// Chat messages that came while the panel was collapsed.
    unread: u32,
    /// Object URLs of received files, released when the next call starts.
    downloads: Vec<String>,
    /// The browser plays the call muted until the next click or key press.
    sound_held: bool,
    /// Everyone else online, as last heard.
    peers: js_sys::Array,
    /// We may lock the room and remove people.
    moderator: bool,
    /// The room is locked.
    locked: bool,
    /// The server refused us for good (removed, replaced): no reconnecting to wait for.
    refused: bool,
    /// We are in a call (or placing or taking one): choosing someone invites them.
    in_call: bool,
    /// The call we are in is the room call.
    group: bool,
    /// When `h` was pressed to hang up, waiting for the second press.
    hang_up_asked: Option<f64>,
    /// We share our screen.
    sharing: bool,
    /// The alert says the connection to the server was lost.
    connection_lost: bool,
}

/// A function handed to `PeerCall::on`.
type Handler = Closure<dyn FnMut(JsValue)>;

/// A `remote-stream` handler: the stream, and what it carries.
type StreamHandler = Closure<dyn FnMut(JsValue, JsValue)>;

struct App {
    page: Page,
    /// The room this page was opened for (`/r/<room>`), if any.
    invitation: Option<Invitation>,
    memory: RefCell<Memory>,
    call: RefCell<Option<PeerCall>>,
    /// The handlers given to the current `PeerCall`.
    handlers: RefCell<Vec<Handler>>,
    /// Its `remote-stream` handler, which takes two arguments.
    remote_stream: RefCell<Option<StreamHandler>>,
    /// The room call's tiles.
    grid: RefCell<Grid>,
    /// The quality panel's last minute of figures.
    quality: RefCell<quality::History>,
    /// The self view of the pre-join check, while it is open.
    preview: RefCell<Option<web_sys::MediaStream>>,
    /// The ringtone and ring-back tone.
    tones: RefCell<Tones>,
    /// The call timer's tick, while a call is connected.
    timer: RefCell<Option<Interval>>,
    /// The system notification of an incoming call, while it rings in a hidden tab.
    notification: RefCell<Option<web_sys::Notification>>,
}

thread_local! {
    /// The page's listeners live as long as the page.
    static LISTENERS: RefCell<Vec<Listener>> = const { RefCell::new(Vec::new()) };
}

/// Starts the demo page.
#[wasm_bindgen(start)]
pub fn start() -> Result<(), JsValue> {
    console_error_panic_hook::set_once();
    let document = web_sys::window()
        .and_then(|window| window.document())
        .ok_or("no document")?;
    let page = Page::bind(document)?;
    let invitation = room::invitation();
    if let Some(invitation) = &invitation {
        say(&page.invite_room, &invitation.room);
        show(&page.room_invite, true);
    }
    let grid = Grid::new(page.document.clone(), page.grid.clone());
    let tones = Tones::new(page.document.body());
    let app = Rc::new(App {
        grid: RefCell::new(grid),
        quality: RefCell::default(),
        preview: RefCell::default(),
        tones: RefCell::new(tones),
        timer: RefCell::default(),
        notification: RefCell::default(),
        page,
        invitation,
        memory: RefCell::default(),
        call: RefCell::new(None),
        handlers: RefCell::default(),
        remote_stream: RefCell::default(),
    });
    let listeners = vec![
        app.listen("login-form", "submit", |app, event| {
            event.prevent_default();
            App::log_in(app);
        }),
        app.listen("new-room-form", "submit", |app, event| {
            event.prevent_default();
            app.new_room();
        }),
        app.listen("copy-link", "click", |app, _| app.copy_link()),
        app.listen("join-call-button", "click", |app, _| app.open_prejoin()),
        app.listen("prejoin-join", "click", |app, _| app.join_from_prejoin()),
        app.listen("prejoin-cancel", "click", |app, _| app.cancel_prejoin()),
        app.listen("prejoin-camera", "change", |app, _| app.prejoin_changed()),
        app.listen("prejoin-microphone", "change", |app, _| {
            app.prejoin_changed()
        }),
        app.listen("camera-select", "change", |app, _| {
            app.device_chosen("camera-select")
        }),
        app.listen("microphone-select", "change", |app, _| {
            app.device_chosen("microphone-select")
        }),
        app.listen("speaker-select", "change", |app, _| {
            app.device_chosen("speaker-select")
        }),
        app.listen("pip-button", "click", |app, _| app.picture_in_picture()),
        app.listen("lock-button", "click", |app, _| {
            let locked = app.memory.borrow().locked;
            app.with_call(|call| {
                if locked {
                    call.unlock_room();
                } else {
                    call.lock_room();
                }
            });
        }),
        app.listen("peer-list", "click", |app, event| {
            let target = event
                .target()
                .and_then(|target| target.dyn_into::<Element>().ok());
            let closest = |selector: &str| {
                target
                    .as_ref()
                    .and_then(|target| target.closest(selector).ok().flatten())
            };
            if let Some(remove) = closest("button.remove-peer") {
                let id = remove.get_attribute("data-id").unwrap_or_default();
                app.with_call(|call| call.remove_peer(id));
            } else if let Some(button) = closest("button.peer") {
                let id = button.get_attribute("data-id").unwrap_or_default();
                let name = button.text_content().unwrap_or_default();
                if app.memory.borrow().in_call {
                    app.with_call(|call| call.invite(id));
                    say(&app.page.notice, &format!("Inviting {name} into the call…"));
                } else {
                    app.place_call(id, name);
                }
            }
        }),
        app.listen("accept-button", "click", |app, _| {
            app.with_call(PeerCall::accept);
            // The call begins once the camera and microphone are allowed.
            say(&app.page.status, "starting your camera and microphone…");
        }),
        app.listen("decline-button", "click", |app, _| {
            app.with_call(PeerCall::decline)
        }),
        app.listen("hangup-button", "click", |app, _| {
            app.with_call(PeerCall::hangup)
        }),
        app.listen("mic-button", "click", |app, _| app.toggle(false)),
        app.listen("camera-button", "click", |app, _| app.toggle(true)),
        app.listen("share-button", "click", |app, _| app.toggle_share()),
        app.listen("quality-button", "click", |app, _| app.toggle_quality()),
        app.listen("quality-graph", "change", |app, _| app.graph_picked()),
        app.listen("chat-form", "submit", |app, event| {
            event.prevent_default();
            app.send_chat();
        }),
        app.listen("chat-toggle", "click", |app, _| app.toggle_chat()),
        app.listen("file-input", "change", |app, _| app.on_file_input()),
        app.listen("transfers", "click", |app, event| {
            app.on_transfer_click(event)
        }),
        app.listen("call", "dragover", |app, event| app.on_drag(event)),
        app.listen("call", "dragleave", |app, event| app.on_drag(event)),
        app.listen("call", "drop", |app, event| app.on_drag(event)),
    ];
    // The client gives a held-back call its sound at the first click or key press
    // anywhere on the page; the hint goes with it.
    let listeners = listeners
        .into_iter()
        .chain(["pointerdown", "keydown"].map(|event| {
            let (app, document) = (Rc::clone(&app), app.page.document.clone());
            Listener::new(document.unchecked_ref(), event, move |_| app.sound_heard())
        }))
        .chain(std::iter::once({
            let (app, document) = (Rc::clone(&app), app.page.document.clone());
            Listener::new(document.unchecked_ref(), "keydown", move |event| {
                keys::pressed(&app, event);
            })
        }));
    LISTENERS.with(|all| all.borrow_mut().extend(listeners));
    show(&app.page.pip_button, devices::has_picture_in_picture());
    // The forms' buttons come disabled with the page, so that nothing submits them to the
    // browser (a reload that drops the name, a password in the address) before they are
    // ours.
    for button in [&app.page.login_button, &app.page.new_room_button] {
        button.remove_attribute("disabled").ok();
    }
    app.page.name_input.focus().ok();
    Ok(())
}

impl App {
    fn listen(
        self: &Rc<Self>,
        id: &str,
        event: &'static str,
        mut act: impl FnMut(&Rc<Self>, &Event) + 'static,
    ) -> Listener {
        let target: JsValue = self
            .page
            .document
            .get_element_by_id(id)
            .map(JsValue::from)
            .unwrap_or_else(|| self.page.document.clone().into());
        let app = Rc::clone(self);
        Listener::new(target.unchecked_ref(), event, move |e| act(&app, e))
    }

    fn with_call(&self, act: impl FnOnce(&PeerCall)) {
        if let Some(call) = self.call.borrow().as_ref() {
            act(call);
        }
    }

    fn log_in(app: &Rc<Self>) {
        let page = &app.page;
        let name = page.name_input.value();
        // Within the click: the tones may sound from now on, and the browser may ask
        // whether calls may show a notification while the tab is hidden.
        app.tones.borrow_mut().allow();
        if web_sys::Notification::permission() == web_sys::NotificationPermission::Default {
            let _ = web_sys::Notification::request_permission();
        }
        say(&page.alert, "");
        let Some(location) = web_sys::window().map(|window| window.location()) else {
            return;
        };
        let secure = location.protocol().ok().as_deref() == Some("https:");
        let host = location.host().unwrap_or_default();
        let url = format!("{}://{host}/ws", if secure { "wss" } else { "ws" });
        let invitation = app.invitation.as_ref();
        let optional = |value: Option<&String>| value.map_or(JsValue::UNDEFINED, |v| v.into());
        let options = crate::js::object(&[
            ("url", url.into()),
            ("name", name.as_str().into()),
            ("room", optional(invitation.map(|i| &i.room))),
            (
                "password",
                optional(invitation.and_then(|i| i.password.as_ref())),
            ),
            ("localVideo", page.local_video.clone().into()),
            (
                "iceTransportPolicy",
                if page.relay_only.checked() {
                    "relay".into()
                } else {
                    JsValue::UNDEFINED
                },
            ),
            ("remoteVideo", page.remote_video.clone().into()),
        ]);
        app.memory.borrow_mut().refused = false;
        let call = match PeerCall::new(options) {
            Ok(call) => call,
            Err(error) => return app.alert(&error),
        };
        app.handle(&call);
        let connecting = call.connect();
        *app.call.borrow_mut() = Some(call);
        say(&page.status, "connecting…");
        page.login_button.set_attribute("disabled", "").ok();
        let app = Rc::clone(app);
        spawn_local(async move {
            let result = JsFuture::from(connecting).await;
            let page = &app.page;
            page.login_button.remove_attribute("disabled").ok();
            match result {
                Ok(_) => {
                    show(&page.login, false);
                    show(&page.lobby, true);
                    say(&page.me, &format!("you are {}", name.trim()));
                    say(&page.status, "online");
                }
                Err(error) => {
                    app.alert(&error);
                    say(&page.status, "offline");
                    app.handlers.borrow_mut().clear();
                    app.remote_stream.borrow_mut().take();
                    if let Some(call) = app.call.borrow_mut().take() {
                        call.close();
                    }
                    page.name_input.focus().ok();
                }
            }
        });
    }

    /// Registers the page's handlers with `call`, through its public `on`.
    fn handle(self: &Rc<Self>, call: &PeerCall) {
        let mut handlers = self.handlers.borrow_mut();
        handlers.clear();
        let mut on = |event: &str, act: fn(&Rc<App>, JsValue)| {
            let app = Rc::clone(self);
            let handler = Handler::new(move |payload| act(&app, payload));
            call.on(
                event.to_owned(),
                handler.as_ref().unchecked_ref::<Function>().clone(),
            );
            handlers.push(handler);
        };
        on("peers", |app, payload| app.on_peers(payload));
        on("room", |app, payload| app.on_room(payload));
        on("incoming", |app, payload| app.on_incoming(payload));
        on("state", |app, payload| app.on_state(payload));
        on("ended", |app, payload| app.on_ended(payload));
        on("error", |app, payload| app.on_error(payload));
        on("media", |app, payload| {
            app.on_media(payload);
            app.refresh_devices();
        });
        on("devices", |app, payload| app.on_devices(payload));
        on("text", |app, payload| app.on_text(payload));
        on("file-offer", |app, payload| app.on_file_offer(payload));
        on("file-progress", |app, payload| {
            app.on_file_progress(payload)
        });
        on("file-done", |app, payload| app.on_file_done(payload));
        on("file-cancelled", |app, payload| {
            app.on_file_cancelled(payload)
        });
        on("file-error", |app, payload| app.on_file_error(payload));
        on("participant-joined", |app, payload| {
            app.on_participant_joined(payload)
        });
        on("participant-stream", |app, payload| {
            app.on_participant_stream(payload)
        });
        on("participant-left", |app, payload| {
            app.on_participant_left(payload)
        });
        on("participants", |app, payload| app.on_participants(payload));
        on("participant-media", |app, payload| {
            app.on_participant_media(payload)
        });
        on("share-started", |app, payload| {
            app.on_share_started(payload)
        });
        on("share-ended", |app, payload| app.on_share_ended(payload));
        on("stats", |app, payload| app.on_stats(payload));
        on("quality", |app, payload| app.on_quality(payload));
        // `remote-stream` handlers also get the stream's kind.
        let app = Rc::clone(self);
        let remote = StreamHandler::new(move |stream, kind| {
            app.on_remote_stream(stream, kind);
        });
        call.on(
            "remote-stream".to_owned(),
            remote.as_ref().unchecked_ref::<Function>().clone(),
        );
        *self.remote_stream.borrow_mut() = Some(remote);
    }

    /// "Join the room call": everyone in it connects to us, tile by tile.
    fn join_call(self: &Rc<Self>) {
        let app = Rc::clone(self);
        let asked = self.settle_or(
            PeerCall::join_call,
            move |_, _| app.grid_started(),
            |app, error| {
                // Not in it: a later two-person call is not taken for the room call.
                app.memory.borrow_mut().group = false;
                app.alert(&error);
            },
        );
        if asked {
            let mut memory = self.memory.borrow_mut();
            memory.group = true;
            memory.callee = false;
            drop(memory);
            // A new call: the last one's words, chat and files go.
            self.clear_call_leftovers();
            say(&self.page.status, "starting your camera and microphone…");
        }
    }

    /// What the last call left on the page: its alert, notice, chat and files.
    fn clear_call_leftovers(&self) {
        say(&self.page.alert, "");
        say(&self.page.notice, "");
        self.memory.borrow_mut().connection_lost = false;
        self.clear_chat();
        self.clear_transfers();
    }

    /// The call is (or became) the room call: the grid takes the stage, and its levels
    /// are read.
    fn grid_started(self: &Rc<Self>) {
        self.memory.borrow_mut().group = true;
        show(self.page.remote_video.unchecked_ref(), false);
        say(&self.page.remote_name, "");
        // A two-person call that grew: its screen and marks are the grid's now.
        self.clear_remote();
        say(&self.page.status, "in the room call");
        let app = Rc::downgrade(self);
        self.grid.borrow_mut().watch(move |id| {
            let app = app.upgrade()?;
            let call = app.call.borrow();
            Some(call.as_ref()?.get_stats(Some(id)))
        });
    }

    fn on_participant_joined(self: &Rc<Self>, payload: JsValue) {
        let (id, name) = (text_field(&payload, "id"), text_field(&payload, "name"));
        if !self.memory.borrow().group {
            // A two-person call grew.
            self.grid_started();
        }
        self.grid.borrow_mut().joined(&id, &name);
        say(&self.page.notice, &format!("{name} joined the call"));
    }

    fn on_participant_stream(self: &Rc<Self>, payload: JsValue) {
        let id = text_field(&payload, "id");
        let screen = text_field(&payload, "kind") == "screen";
        if let Ok(stream) = field(&payload, "stream").dyn_into::<web_sys::MediaStream>() {
            self.grid.borrow_mut().stream(&id, &stream, screen);
        }
    }

    fn on_participant_left(self: &Rc<Self>, payload: JsValue) {
        let id = text_field(&payload, "id");
        self.quality_left(&id);
        let name = self.grid.borrow().name_of(&id);
        self.grid.borrow_mut().left(&id);
        if let Some(name) = name {
            say(&self.page.notice, &format!("{name} left the call"));
        }
    }

    fn on_participants(self: &Rc<Self>, payload: JsValue) {
        self.grid.borrow().states(&payload);
    }

    /// Asks the current call for something (`ask` returns the API's promise); `then` gets
    /// the answer, and a refusal is shown as an alert. Returns false if there is no call.
    fn settle(
        self: &Rc<Self>,
        ask: impl FnOnce(&PeerCall) -> js_sys::Promise,
        then: impl FnOnce(&App, JsValue) + 'static,
    ) -> bool {
        self.settle_or(ask, then, |app, error| app.alert(&error))
    }

    /// The same, with `refused` hearing a refusal instead.
    fn settle_or(
        self: &Rc<Self>,
        ask: impl FnOnce(&PeerCall) -> js_sys::Promise,
        then: impl FnOnce(&App, JsValue) + 'static,
        refused: impl FnOnce(&App, JsValue) + 'static,
    ) -> bool {
        let Some(promise) = self.call.borrow().as_ref().map(ask) else {
            return false;
        };
        let app = Rc::clone(self);
        spawn_local(async move {
            match JsFuture::from(promise).await {
                Ok(answer) => then(&app, answer),
                Err(error) => refused(&app, error),
            }
        });
        true
    }

    fn place_call(self: &Rc<Self>, id: String, name: String) {
        if self.settle(|call| call.call(id), |_, _| {}) {
            let mut memory = self.memory.borrow_mut();
            memory.other = name;
            memory.callee = false;
        }
    }

    fn on_peers(&self, peers: JsValue) {
        let peers: js_sys::Array = peers.dyn_into().unwrap_or_default();
        let moderator = self.memory.borrow().moderator;
        self.page.show_peers(&peers, moderator);
        self.memory.borrow_mut().peers = peers;
    }

    /// The room we are in: its name, its link, its lock, and our part in it.
    fn on_room(&self, payload: JsValue) {
        let page = &self.page;
        let locked = field(&payload, "locked").is_truthy();
        let moderator = field(&payload, "moderator").is_truthy();
        let name = text_field(&payload, "room");
        let password = self.invitation.as_ref().and_then(|i| i.password.as_deref());
        say(&page.room_name, &name);
        page.room_link.set_value(&room::link(&name, password));
        show(&page.room_locked, locked);
        // Only a moderator sees it: its words change, never whether it shows.
        page.lock_button
            .set_text_content(Some(if locked { "Unlock room" } else { "Lock room" }));
        show(&page.lock_button, moderator);
        show(&page.room_bar, true);
        let peers = {
            let mut memory = self.memory.borrow_mut();
            memory.locked = locked;
            memory.moderator = moderator;
            memory.peers.clone()
        };
        page.show_peers(&peers, moderator);
    }

    /// "New room": opens the link of a new room, with the password typed, if any.
    fn new_room(&self) {
        let Some(room) = room::new_room() else {
            return say(
                &self.page.alert,
                "This browser cannot make a random room name.",
            );
        };
        let password = self.page.new_room_password.value();
        if let Some(window) = web_sys::window() {
            let _ = window
                .location()
                .assign(&room::link(&room, Some(password.as_str())));
        }
    }

    /// "Copy link": the room's link to the clipboard (it is selected, too, for browsers
    /// that do not let the page write there).
    fn copy_link(&self) {
        let link = self.page.room_link.value();
        self.page.room_link.select();
        if let Some(window) = web_sys::window() {
            let _ = window.navigator().clipboard().write_text(&link);
            say(
                &self.page.notice,
                "Link copied: send it to the people you want to call.",
            );
        }
    }

    fn on_incoming(&self, payload: JsValue) {
        let name = text_field(&payload, "name");
        self.page.incoming_name.set_text_content(Some(&name));
        let mut memory = self.memory.borrow_mut();
        memory.other = name;
        memory.callee = true;
    }

    fn on_state(&self, state: JsValue) {
        let page = &self.page;
        let state = state.as_string().unwrap_or_default();
        let (other, group) = {
            let memory = self.memory.borrow();
            (memory.other.clone(), memory.group)
        };
        let status = match state.as_str() {
            "connecting" if group => "joining the room call…".to_owned(),
            "connected" if group => "in the room call".to_owned(),
            "calling" => format!("calling {other}…"),
            "ringing" => format!("{other} is calling"),
            "connecting" => format!("connecting to {other}…"),
            "connected" => format!("in a call with {other}"),
            "reconnecting" => format!("connection to {other} dropped: reconnecting…"),
            "offline" if self.memory.borrow().refused => {
                say(&page.status, "offline");
                return;
            }
            // The call (if any) goes on while the client reconnects: leave the stage be.
            "offline" => {
                say(&page.status, "connection to the server lost: reconnecting…");
                return;
            }
            _ => self
                .memory
                .borrow_mut()
                .ended
                .take()
                .unwrap_or_else(|| "online".to_owned()),
        };
        say(&page.status, &status);
        if matches!(state.as_str(), "calling" | "ringing") {
            self.clear_call_leftovers();
        }
        // Back in touch with the server: its loss is no longer news.
        if std::mem::take(&mut self.memory.borrow_mut().connection_lost) {
            say(&page.alert, "");
        }
        show(&page.incoming, state == "ringing");
        self.tones.borrow_mut().play(match state.as_str() {
            "ringing" => Some(Tone::Ring),
            "calling" => Some(Tone::RingBack),
            _ => None,
        });
        self.notify(state == "ringing");
        self.time_call(
            matches!(state.as_str(), "connected" | "reconnecting")
                || (state == "offline" && self.timer.borrow().is_some()),
        );
        let in_call = matches!(
            state.as_str(),
            "calling" | "connecting" | "connected" | "reconnecting"
        );
        self.memory.borrow_mut().in_call = in_call;
        if in_call {
            // A call taken or placed meanwhile: the check before joining has no use now.
            self.cancel_prejoin();
        }
        show(&page.call, in_call);
        show(&page.join_call_button, !in_call);
        say(
            &page.remote_name,
            if in_call && !group { &other } else { "" },
        );
        if state == "ringing"
            && let Some(accept) = page.document.get_element_by_id("accept-button")
        {
            accept.unchecked_ref::<HtmlElement>().focus().ok();
        }
    }

    /// While an incoming call rings in a hidden tab, a system notification says who
    /// calls (where the person allowed them); it goes when the ringing stops.
    fn notify(&self, ringing: bool) {
        if !ringing {
            if let Some(shown) = self.notification.borrow_mut().take() {
                shown.close();
            }
            return;
        }
        let hidden = self.page.document.visibility_state() == web_sys::VisibilityState::Hidden;
        let allowed =
            web_sys::Notification::permission() == web_sys::NotificationPermission::Granted;
        if !(hidden && allowed) || self.notification.borrow().is_some() {
            return;
        }
        let options = web_sys::NotificationOptions::new();
        options.set_body("peercall: open the tab to answer");
        options.set_tag("peercall-incoming");
        let title = format!("{} is calling", self.memory.borrow().other);
        *self.notification.borrow_mut() =
            web_sys::Notification::new_with_options(&title, &options).ok();
    }

    /// The call timer runs while the call is connected (and through a reconnection).
    fn time_call(&self, running: bool) {
        let timer = &self.page.call_timer;
        if !running {
            self.timer.borrow_mut().take();
            say(timer, "");
            return;
        }
        if self.timer.borrow().is_some() {
            return;
        }
        let started = js_sys::Date::now();
        let shown = timer.clone();
        let tick = move || say(&shown, &elapsed(js_sys::Date::now() - started));
        tick();
        *self.timer.borrow_mut() = Some(Interval::new(1_000, tick));
    }

    fn on_ended(&self, payload: JsValue) {
        let reason = text_field(&payload, "reason");
        self.time_call(false);
        self.quality_ended();
        self.tones.borrow_mut().play(None);
        self.notify(false);
        self.grid.borrow_mut().clear();
        show(self.page.remote_video.unchecked_ref(), true);
        let mut memory = self.memory.borrow_mut();
        if std::mem::take(&mut memory.group) {
            memory.ended = Some(match reason.as_str() {
                "hangup" => "you left the room call".to_owned(),
                _ => "the room call ended".to_owned(),
            });
            memory.sharing = false;
            drop(memory);
            self.paint_share();
            self.clear_remote();
            say(&self.page.notice, "");
            return;
        }
        let other = memory.other.clone();
        let text = match (reason.as_str(), memory.callee) {
            ("hangup", _) => "call ended".to_owned(),
            ("remote-hangup", true) if self.page.call.unchecked_ref::<HtmlElement>().hidden() => {
                format!("missed call from {other}")
            }
            ("remote-hangup", _) => format!("{other} hung up"),
            ("peer-left", _) => format!("{other} left"),
            ("failed", _) => "connection failed".to_owned(),
            ("declined", true) => format!("you declined {other}"),
            ("declined", false) => format!("{other} declined"),
            ("busy", _) => format!("{other} is busy"),
            ("no-answer", true) => format!("missed call from {other}"),
            ("no-answer", false) => format!("no answer from {other}"),
            (other_reason, _) => format!("call ended ({other_reason})"),
        };
        memory.ended = Some(text);
        // Muted stays muted, and a camera turned off stays off, for the next call: the
        // client keeps them so.
        memory.sound_held = false;
        memory.sharing = false;
        drop(memory);
        self.paint_share();
        self.clear_remote();
        say(&self.page.notice, "");
    }

    /// The other side's shared screen and its marks go from the stage.
    fn clear_remote(&self) {
        self.page.remote_screen.set_src_object(None);
        show(self.page.remote_screen.unchecked_ref(), false);
        say(&self.page.remote_marks, "");
        say(&self.page.remote_quality, "");
    }

    fn on_media(&self, payload: JsValue) {
        let audio = field(&payload, "audio").is_truthy();
        let video = field(&payload, "video").is_truthy();
        let notice = match (audio, video) {
            (true, true) => "",
            (true, false) => "No camera: the call is audio only.",
            (false, true) => "No microphone: the other side sees you but cannot hear you.",
            (false, false) => {
                "No camera or microphone: you see and hear the other side, they cannot see or hear you."
            }
        };
        say(&self.page.notice, notice);
    }

    /// Turns the camera (or, with `camera` false, the microphone) off if on, on if off.
    fn toggle(&self, camera: bool) {
        let off = {
            let mut memory = self.memory.borrow_mut();
            let flag = if camera {
                &mut memory.camera_off
            } else {
                &mut memory.mic_muted
            };
            *flag = !*flag;
            *flag
        };
        self.with_call(|call| {
            if camera {
                call.set_camera_enabled(!off);
            } else {
                call.set_mic_enabled(!off);
            }
        });
        self.paint_toggles();
        keys::announce(
            self,
            match (camera, off) {
                (true, true) => "Camera off",
                (true, false) => "Camera on",
                (false, true) => "Microphone muted",
                (false, false) => "Microphone on",
            },
        );
    }

    fn paint_toggles(&self) {
        let memory = self.memory.borrow();
        self.page.paint_toggles(memory.mic_muted, memory.camera_off);
    }

    fn on_error(&self, error: JsValue) {
        let code = text_field(&error, "code");
        let logged_in = self.page.login.unchecked_ref::<HtmlElement>().hidden();
        let over = Refusal::from_wire(&code).is_some_and(|code| {
            code.close_code().is_some()
                // Logging in again after a drop was refused: the client has given up.
                || (logged_in && matches!(code, Refusal::NameTaken | Refusal::InvalidName))
        });
        if over {
            // Removed, replaced, or not let back in: this page is out, and says why.
            self.memory.borrow_mut().refused = true;
            self.with_call(PeerCall::close);
            let page = &self.page;
            show(&page.lobby, false);
            show(&page.room_bar, false);
            show(&page.call, false);
            show(&page.incoming, false);
            self.tones.borrow_mut().play(None);
            self.notify(false);
            self.cancel_prejoin();
            show(&page.login, true);
            say(&page.me, "");
            return self.alert(&error);
        }
        if code != "autoplay-blocked" {
            // Said until the client is back in touch (see `on_state`).
            self.memory.borrow_mut().connection_lost = code == "signaling-closed";
            return self.alert(&error);
        }
        let mut memory = self.memory.borrow_mut();
        memory.sound_held = true;
        let hint = format!(
            "Click or tap anywhere on the page to hear {}.",
            memory.other
        );
        say(&self.page.notice, &hint);
    }

    fn sound_heard(&self) {
        if std::mem::take(&mut self.memory.borrow_mut().sound_held) {
            say(&self.page.notice, "");
        }
    }

    fn alert(&self, error: &JsValue) {
        let message = Refusal::from_wire(&text_field(error, "code"))
            .and_then(words)
            .map(str::to_owned)
            .or_else(|| {
                Reflect::get(error, &"message".into())
                    .ok()
                    .and_then(|message| message.as_string())
            })
            .or_else(|| error.as_string())
            .unwrap_or_else(|| "something went wrong".to_owned());
        say(&self.page.alert, &message);
    }
}

/// `millis` as the call timer shows it: `m:ss`, or `h:mm:ss` from an hour on.
fn elapsed(millis: f64) -> String {
    let seconds = (millis / 1000.0) as u64;
    let (hours, minutes, seconds) = (seconds / 3600, seconds / 60 % 60, seconds % 60);
    if hours > 0 {
        format!("{hours}:{minutes:02}:{seconds:02}")
    } else {
        format!("{minutes}:{seconds:02}")
    }
}

/// What a refusal about rooms and access means, in words for the person at the page.
fn words(code: Refusal) -> Option<&'static str> {
    Some(match code {
        Refusal::BadRoom => {
            "There is no such room here: open the link you were given, or start a new room."
        }
        Refusal::RoomFull => "This room is full.",
        Refusal::RoomLocked => {
            "This room is locked: nobody new may join. Ask someone in it to unlock it."
        }
        Refusal::RoomPassword => "Wrong password for this room: check the link you were given.",
        Refusal::Unauthorized => "This server lets people in only with a valid invitation.",
        Refusal::OriginRefused => "This page may not use that server.",
        Refusal::Removed => "A moderator removed you from this room.",
        Refusal::SessionReplaced => {
            "This session went on over another connection, so this page left it."
        }
        Refusal::NotModerator => "Only a moderator of the room can do that.",
        Refusal::TooManyConnections => {
            "Too many connections to this server from your network: close some tabs and try again."
        }
        _ => return None,
    })
}
