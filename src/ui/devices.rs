//! Devices on the demo page: the pre-join check of a room call (a self view, which
//! camera and microphone, and joining with either off), the camera, microphone and
//! speaker menus during a call (kept up to date as devices come and go), and
//! picture-in-picture of the other side where the browser has it.

use std::rc::Rc;

use js_sys::{Array, Function, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::{JsFuture, spawn_local};
use web_sys::HtmlSelectElement;

use super::{
    App,
    page::{say, show, text_field},
};
use crate::{api::PeerCall, js::field, media, media::tracks_of};

/// The device menus: camera, microphone, speaker.
const MENUS: [(&str, &str); 3] = [
    ("camera", "camera-select"),
    ("microphone", "microphone-select"),
    ("speaker", "speaker-select"),
];

impl App {
    /// "Join the room call": the pre-join check first, with a self view.
    pub(super) fn open_prejoin(self: &Rc<Self>) {
        show(&self.page.prejoin, true);
        // Keyboard and screen-reader users land in it; Escape cancels it.
        if let Some(join) = self.page.document.get_element_by_id("prejoin-join") {
            join.unchecked_ref::<web_sys::HtmlElement>().focus().ok();
        }
        self.preview(None, None);
    }

    /// Shows what the camera (`camera`, or the one chosen) sees in the pre-join check.
    fn preview(self: &Rc<Self>, camera: Option<String>, microphone: Option<String>) {
        self.stop_preview();
        let wanted = |id: Option<String>| match id {
            Some(id) => {
                crate::js::object(&[("deviceId", crate::js::object(&[("exact", id.into())]))])
            }
            None => JsValue::TRUE,
        };
        let constraints =
            crate::js::object(&[("video", wanted(camera)), ("audio", wanted(microphone))]);
        let app = Rc::clone(self);
        // With no camera, the check goes on with the microphone alone.
        media::acquire(
            &constraints,
            Box::new(move |got| {
                if let Some(problem) = &got.problem {
                    say(&app.page.alert, &problem.message);
                }
                if let Some(stream) = got.stream {
                    // Closed meanwhile (joined, cancelled): the camera goes off at once.
                    if app
                        .page
                        .prejoin
                        .unchecked_ref::<web_sys::HtmlElement>()
                        .hidden()
                    {
                        return crate::media::stop(&stream);
                    }
                    // An earlier answer that came later than this one's request.
                    app.stop_preview();
                    app.page.prejoin_video.set_src_object(Some(&stream));
                    *app.preview.borrow_mut() = Some(stream);
                }
                // Allowed now: the lists have their labels.
                app.refresh_devices();
            }),
        );
    }

    fn stop_preview(&self) {
        if let Some(stream) = self.preview.borrow_mut().take() {
            media::stop(&stream);
        }
        self.page.prejoin_video.set_src_object(None);
    }

    /// "Join now": the devices picked and the microphone and camera as set, then in.
    pub(super) fn join_from_prejoin(self: &Rc<Self>) {
        let mic_off = self.page.prejoin_mic_off.checked();
        let camera_off = self.page.prejoin_camera_off.checked();
        let (camera, microphone) = (
            self.picked("prejoin-camera"),
            self.picked("prejoin-microphone"),
        );
        self.stop_preview();
        show(&self.page.prejoin, false);
        self.with_call(|call| {
            if let Some(id) = camera {
                let _ = call.use_camera(id.into());
            }
            if let Some(id) = microphone {
                let _ = call.use_microphone(id.into());
            }
            call.set_mic_enabled(!mic_off);
            call.set_camera_enabled(!camera_off);
        });
        {
            let mut memory = self.memory.borrow_mut();
            memory.mic_muted = mic_off;
            memory.camera_off = camera_off;
        }
        self.paint_toggles();
        self.join_call();
    }

    pub(super) fn cancel_prejoin(&self) {
        self.stop_preview();
        show(&self.page.prejoin, false);
    }

    /// A pre-join menu changed: the self view follows it.
    pub(super) fn prejoin_changed(self: &Rc<Self>) {
        self.preview(
            self.picked("prejoin-camera"),
            self.picked("prejoin-microphone"),
        );
    }

    /// Asks for the devices, and fills every menu.
    pub(super) fn refresh_devices(self: &Rc<Self>) {
        let Some(promise) = self.call.borrow().as_ref().map(PeerCall::devices) else {
            return;
        };
        let app = Rc::clone(self);
        spawn_local(async move {
            if let Ok(list) = JsFuture::from(promise).await {
                app.on_devices(list);
            }
        });
    }

    /// The devices (from `devices()` or the `devices` event): the menus list them.
    pub(super) fn on_devices(&self, list: JsValue) {
        let list = Array::from(&list);
        for (kind, id) in MENUS.into_iter().chain([
            ("camera", "prejoin-camera"),
            ("microphone", "prejoin-microphone"),
        ]) {
            let Some(select) = self.select(id) else {
                continue;
            };
            let chosen = select.value();
            select.set_text_content(None);
            let mut count = 0;
            for device in list.iter().filter(|d| text_field(d, "kind") == kind) {
                count += 1;
                let Ok(option) = self.page.document.create_element("option") else {
                    continue;
                };
                let value = text_field(&device, "id");
                option.set_attribute("value", &value).ok();
                let label = text_field(&device, "label");
                // Labels come from the system: text, never markup.
                option.set_text_content(Some(if label.is_empty() {
                    "(allow the camera and microphone to see names)"
                } else {
                    &label
                }));
                select.append_child(&option).ok();
            }
            // The device in use, else the one picked before.
            let in_use = self.in_use(kind);
            if let Some(id) = in_use
                .as_deref()
                .or((!chosen.is_empty()).then_some(chosen.as_str()))
            {
                select.set_value(id);
            }
            // A menu with nothing to choose from is not offered (no speaker choice in
            // this browser, say).
            show(select.unchecked_ref(), count > 0);
        }
    }

    /// The menu `id` of the page.
    fn select(&self, id: &str) -> Option<HtmlSelectElement> {
        self.page.document.get_element_by_id(id)?.dyn_into().ok()
    }

    /// What the menu `id` has picked, if anything.
    fn picked(&self, id: &str) -> Option<String> {
        Some(self.select(id)?.value()).filter(|value| !value.is_empty())
    }

    /// The device our `kind` (`camera`, `microphone`) track comes from, in the call; a
    /// speaker is no track of ours.
    fn in_use(&self, kind: &str) -> Option<String> {
        let track_kind = match kind {
            "camera" => "video",
            "microphone" => "audio",
            _ => return None,
        };
        let stream = self.page.local_video.src_object()?;
        let track = tracks_of(&stream).find(|t| t.kind() == track_kind)?;
        crate::media::choice::device_of(&track)
    }

    /// A device menu of the call changed: the call switches to it.
    pub(super) fn device_chosen(self: &Rc<Self>, menu: &str) {
        let Some(id) = self.select(menu).map(|select| select.value()) else {
            return;
        };
        match menu {
            "camera-select" => {
                self.settle(|call| call.use_camera(id.clone().into()), |_, _| {});
            }
            "microphone-select" => {
                self.settle(|call| call.use_microphone(id.clone().into()), |_, _| {});
            }
            _ => {
                let sink = id.clone();
                self.settle(
                    |call| call.use_speaker(id),
                    move |app, _| app.grid.borrow_mut().play_through(&sink),
                );
            }
        }
    }

    /// Picture-in-picture of the other side (or the first tile), where the browser has it.
    pub(super) fn picture_in_picture(&self) {
        let group = self.memory.borrow().group;
        let video = if group {
            self.grid.borrow().first_video()
        } else {
            Some(self.page.remote_video.clone())
        };
        let Some(video) = video else {
            return;
        };
        if let Ok(request) = field(&video, "requestPictureInPicture").dyn_into::<Function>() {
            let _ = request.call0(&video);
        }
    }
}

/// Whether the browser can show a video in picture-in-picture.
pub fn has_picture_in_picture() -> bool {
    web_sys::window()
        .and_then(|w| w.document())
        .is_some_and(|d| {
            Reflect::get(&d, &"pictureInPictureEnabled".into()).is_ok_and(|v| v.is_truthy())
        })
}
