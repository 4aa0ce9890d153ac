//! Screen sharing and what the others send, on the demo page: the share button (and `s`),
//! the other side's shared screen beside their camera, "X is sharing their screen", and
//! the muted and camera-off marks each side tells the other.

use std::rc::Rc;

use wasm_bindgen::{JsCast, JsValue};
use web_sys::MediaStream;

use super::{
    App, keys,
    page::{say, show, text_field},
};
use crate::{api::PeerCall, js::field};

impl App {
    /// Starts sharing the screen, or stops it.
    pub(super) fn toggle_share(self: &Rc<Self>) {
        if self.memory.borrow().sharing {
            self.with_call(PeerCall::stop_share);
            return;
        }
        // The promise says what went wrong (a cancelled prompt, say) as an alert; the
        // `share-started` event does the rest.
        self.settle(PeerCall::share_screen, |_, _| {});
    }

    /// `remote-stream` of the two-person call: a shared screen plays beside the camera
    /// (which the call itself puts in the remote video).
    pub(super) fn on_remote_stream(&self, stream: JsValue, kind: JsValue) {
        if kind.as_string().as_deref() == Some("screen")
            && let Ok(stream) = stream.dyn_into::<MediaStream>()
        {
            self.page.remote_screen.set_src_object(Some(&stream));
            show(self.page.remote_screen.unchecked_ref(), true);
        }
    }

    pub(super) fn on_share_started(&self, payload: JsValue) {
        let id = text_field(&payload, "id");
        if self.is_me(&id) {
            self.memory.borrow_mut().sharing = true;
            self.paint_share();
            keys::announce(self, "Sharing your screen");
            return;
        }
        let text = format!("{} is sharing their screen", self.name_of(&id));
        say(&self.page.notice, &text);
        keys::announce(self, &text);
    }

    pub(super) fn on_share_ended(&self, payload: JsValue) {
        let id = text_field(&payload, "id");
        if self.is_me(&id) {
            self.memory.borrow_mut().sharing = false;
            self.paint_share();
            keys::announce(self, "Stopped sharing your screen");
            return;
        }
        self.page.remote_screen.set_src_object(None);
        show(self.page.remote_screen.unchecked_ref(), false);
        self.grid.borrow_mut().unshare(&id);
        say(&self.page.notice, "");
        keys::announce(self, &format!("{} stopped sharing", self.name_of(&id)));
    }

    /// What the other side (or a participant) sends: their marks.
    pub(super) fn on_participant_media(&self, payload: JsValue) {
        let id = text_field(&payload, "id");
        let on = |key: &str| field(&payload, key).as_bool().unwrap_or(true);
        let (audio, video) = (on("audio"), on("video"));
        if self.memory.borrow().group {
            self.grid.borrow().marks(&id, audio, video);
            return;
        }
        say(
            &self.page.remote_marks,
            super::grid::marks_text(audio, video),
        );
    }

    /// The share button, pressed while we share.
    pub(super) fn paint_share(&self) {
        let sharing = self.memory.borrow().sharing;
        let button = &self.page.share_button;
        button
            .set_attribute("aria-pressed", if sharing { "true" } else { "false" })
            .ok();
        button.set_text_content(Some(if sharing {
            "Stop sharing"
        } else {
            "Share screen"
        }));
    }

    fn is_me(&self, id: &str) -> bool {
        let me = self.call.borrow().as_ref().and_then(PeerCall::id);
        me.as_deref() == Some(id)
    }

    /// The name of `id`: a participant's, or the other side's of a two-person call.
    pub(super) fn name_of(&self, id: &str) -> String {
        self.grid
            .borrow()
            .name_of(id)
            .unwrap_or_else(|| self.memory.borrow().other.clone())
    }
}
