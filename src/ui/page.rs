//! The demo page's elements, bound by id, and the little it does to them.

use wasm_bindgen::{JsCast, JsValue};
use web_sys::{
    Document, Element, HtmlElement, HtmlInputElement, HtmlSelectElement, HtmlVideoElement,
};

/// The page's elements.
pub struct Page {
    pub document: Document,
    pub status: Element,
    pub me: Element,
    pub alert: Element,
    pub notice: Element,
    pub login: Element,
    pub room_invite: Element,
    pub invite_room: Element,
    pub new_room_password: HtmlInputElement,
    pub new_room_button: Element,
    pub room_bar: Element,
    pub room_name: Element,
    pub room_locked: Element,
    pub room_link: HtmlInputElement,
    pub lock_button: Element,
    pub join_call_button: Element,
    pub shortcuts: Element,
    pub announcer: Element,
    pub call_timer: Element,
    pub grid: Element,
    pub name_input: HtmlInputElement,
    pub login_button: Element,
    pub lobby: Element,
    pub peer_list: Element,
    pub peer_empty: Element,
    pub incoming: Element,
    pub incoming_name: Element,
    pub call: Element,
    pub remote_name: Element,
    pub local_video: HtmlVideoElement,
    pub remote_video: HtmlVideoElement,
    pub remote_screen: HtmlVideoElement,
    pub remote_marks: Element,
    pub mic_button: Element,
    pub share_button: Element,
    pub pip_button: Element,
    pub prejoin: Element,
    pub prejoin_video: HtmlVideoElement,
    pub prejoin_mic_off: HtmlInputElement,
    pub prejoin_camera_off: HtmlInputElement,
    pub relay_only: HtmlInputElement,
    pub quality_button: Element,
    pub quality_panel: Element,
    pub quality_figures: Element,
    pub quality_graph: HtmlSelectElement,
    pub quality_graph_label: Element,
    pub quality_rate: web_sys::HtmlCanvasElement,
    pub quality_delay: web_sys::HtmlCanvasElement,
    pub remote_quality: Element,
    pub camera_button: Element,
    pub chat_log: Element,
    pub chat_body: HtmlElement,
    pub chat_toggle: Element,
    pub chat_unread: Element,
    pub chat_input: HtmlInputElement,
    pub file_input: HtmlInputElement,
    pub drop_hint: Element,
    pub transfers: Element,
}

impl Page {
    /// Who is online, as buttons that call them; for a moderator, each with a button that
    /// removes them from the room.
    pub fn show_peers(&self, peers: &js_sys::Array, moderator: bool) {
        self.peer_list.set_text_content(None);
        for peer in peers.iter() {
            let Ok(item) = self.document.create_element("li") else {
                continue;
            };
            let (id, name) = (text_field(&peer, "id"), text_field(&peer, "name"));
            // Names come from other people: text, never markup.
            self.add_button(&item, "peer", &id, &format!("Call {name}"), &name);
            if moderator {
                let label = format!("Remove {name} from the room");
                let class = "btn btn-danger remove-peer";
                self.add_button(&item, class, &id, &label, "Remove");
            }
            self.peer_list.append_child(&item).ok();
        }
        show(&self.peer_empty, peers.length() == 0);
    }

    /// Adds to `parent` a button of `class` for the peer `id`, labelled `label` for
    /// assistive technology and showing `text`.
    fn add_button(&self, parent: &Element, class: &str, id: &str, label: &str, text: &str) {
        let Ok(button) = self.document.create_element("button") else {
            return;
        };
        button.set_class_name(class);
        button.set_attribute("type", "button").ok();
        button.set_attribute("data-id", id).ok();
        button.set_attribute("aria-label", label).ok();
        button.set_text_content(Some(text));
        parent.append_child(&button).ok();
    }

    /// The mute and camera buttons, pressed or not.
    pub fn paint_toggles(&self, mic_muted: bool, camera_off: bool) {
        let paint = |button: &Element, pressed: bool, on: &str, off: &str| {
            button
                .set_attribute("aria-pressed", if pressed { "true" } else { "false" })
                .ok();
            button.set_text_content(Some(if pressed { off } else { on }));
        };
        paint(&self.mic_button, mic_muted, "Mute", "Unmute");
        paint(&self.camera_button, camera_off, "Camera off", "Camera on");
    }

    /// Finds every element of the page.
    pub fn bind(document: Document) -> Result<Self, JsValue> {
        let find = |id| element(&document, id);
        Ok(Self {
            status: find("status")?,
            me: find("me")?,
            alert: find("alert")?,
            notice: find("notice")?,
            login: find("login")?,
            room_invite: find("room-invite")?,
            invite_room: find("invite-room")?,
            new_room_password: typed(&document, "new-room-password")?,
            new_room_button: find("new-room-button")?,
            room_bar: find("room-bar")?,
            room_name: find("room-name")?,
            room_locked: find("room-locked")?,
            room_link: typed(&document, "room-link")?,
            lock_button: find("lock-button")?,
            join_call_button: find("join-call-button")?,
            shortcuts: find("shortcuts")?,
            announcer: find("announcer")?,
            call_timer: find("call-timer")?,
            grid: find("grid")?,
            name_input: typed(&document, "name-input")?,
            login_button: find("login-button")?,
            lobby: find("lobby")?,
            peer_list: find("peer-list")?,
            peer_empty: find("peer-empty")?,
            incoming: find("incoming")?,
            incoming_name: find("incoming-name")?,
            call: find("call")?,
            remote_name: find("remote-name")?,
            local_video: typed(&document, "local-video")?,
            remote_video: typed(&document, "remote-video")?,
            remote_screen: typed(&document, "remote-screen")?,
            remote_marks: find("remote-marks")?,
            mic_button: find("mic-button")?,
            share_button: find("share-button")?,
            pip_button: find("pip-button")?,
            prejoin: find("prejoin")?,
            prejoin_video: typed(&document, "prejoin-video")?,
            prejoin_mic_off: typed(&document, "prejoin-mic-off")?,
            prejoin_camera_off: typed(&document, "prejoin-camera-off")?,
            relay_only: typed(&document, "relay-only")?,
            quality_button: find("quality-button")?,
            quality_panel: find("quality-panel")?,
            quality_figures: find("quality-figures")?,
            quality_graph: typed(&document, "quality-graph")?,
            quality_graph_label: find("quality-graph-label")?,
            quality_rate: typed(&document, "quality-rate")?,
            quality_delay: typed(&document, "quality-delay")?,
            remote_quality: find("remote-quality")?,
            camera_button: find("camera-button")?,
            chat_log: find("chat-log")?,
            chat_body: typed(&document, "chat-body")?,
            chat_toggle: find("chat-toggle")?,
            chat_unread: find("chat-unread")?,
            chat_input: typed(&document, "chat-input")?,
            file_input: typed(&document, "file-input")?,
            drop_hint: find("drop-hint")?,
            transfers: find("transfers")?,
            document,
        })
    }
}

/// The page's element `id`.
fn element(document: &Document, id: &str) -> Result<Element, JsValue> {
    document
        .get_element_by_id(id)
        .ok_or_else(|| JsValue::from(format!("the page has no #{id}")))
}

/// The page's element `id`, which must be a `T`.
fn typed<T: JsCast>(document: &Document, id: &str) -> Result<T, JsValue> {
    element(document, id)?
        .dyn_into()
        .map_err(|_| JsValue::from(format!("#{id} is not the kind of element the page needs")))
}

pub fn show(element: &Element, visible: bool) {
    if let Some(element) = element.dyn_ref::<HtmlElement>() {
        element.set_hidden(!visible);
    }
}

pub fn say(element: &Element, text: &str) {
    element.set_text_content(Some(text));
    show(element, !text.is_empty());
}

/// A string property of an event's payload; empty if it has none.
pub fn text_field(payload: &JsValue, key: &str) -> String {
    crate::js::text_of(payload, key).unwrap_or_default()
}
