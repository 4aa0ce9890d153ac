//! The demo page's file transfers: picker, drag and drop, offers, progress, downloads.

use std::rc::Rc;

use wasm_bindgen::{JsCast, JsValue};
use web_sys::{Blob, DragEvent, Element, Event, File, FileList, HtmlProgressElement, Url};

use super::{
    App,
    page::{show, text_field},
};
use crate::js::field;

/// Transfer rows the page keeps: past this the oldest finished one goes, and the memory
/// of its download with it, so that a peer sending file after file cannot fill the page.
const TRANSFERS_KEPT: u32 = 50;

/// `1.2 MB`, `512 B`: sizes the way people read them.
///
/// Whole numbers only go through formatting: float formatting would add kilobytes of
/// code to the page.
fn bytes(size: f64) -> String {
    const UNITS: [&str; 5] = ["B", "KB", "MB", "GB", "TB"];
    let mut tenths = (size.max(0.0) * 10.0).round() as u64;
    let mut unit = 0;
    while tenths >= 9_995 && unit < UNITS.len() - 1 {
        tenths = (tenths + 500) / 1000;
        unit += 1;
    }
    if unit == 0 {
        format!("{} B", tenths / 10)
    } else {
        format!("{}.{} {}", tenths / 10, tenths % 10, UNITS[unit])
    }
}

fn time_left(seconds: f64) -> String {
    if !seconds.is_finite() {
        String::new()
    } else if seconds < 90.0 {
        format!(", {} s left", seconds.ceil() as u64)
    } else {
        format!(", {} min left", (seconds / 60.0).ceil() as u64)
    }
}

impl App {
    /// The row of transfer `id`, made (with name and size) if it is new.
    fn row(&self, id: &str, name: &str, size: f64) -> Option<Element> {
        let list = &self.page.transfers;
        if let Ok(Some(row)) = list.query_selector(&format!("li[data-id=\"{id}\"]")) {
            return Some(row);
        }
        let document = &self.page.document;
        let row = document.create_element("li").ok()?;
        row.set_attribute("data-id", id).ok();
        let parts = [
            ("span", "name", name.to_owned()),
            ("span", "size", bytes(size)),
            ("progress", "", String::new()),
            ("span", "detail", String::new()),
            ("span", "actions", String::new()),
        ];
        for (tag, class, text) in parts {
            let part = document.create_element(tag).ok()?;
            if !class.is_empty() {
                part.set_class_name(class);
                part.set_text_content(Some(&text));
            } else {
                part.set_attribute("max", "100").ok();
                part.set_attribute("value", "0").ok();
            }
            row.append_child(&part).ok();
        }
        list.append_child(&row).ok();
        self.forget_finished_transfers();
        Some(row)
    }

    /// Sets a row's state class, detail text and buttons (`(class, label)`).
    fn paint_row(&self, row: &Element, state: &str, detail: &str, buttons: &[(&str, &str)]) {
        row.set_class_name(&format!("transfer {state}"));
        if let Ok(Some(part)) = row.query_selector(".detail") {
            part.set_text_content(Some(detail));
        }
        let Ok(Some(actions)) = row.query_selector(".actions") else {
            return;
        };
        actions.set_text_content(None);
        for (class, label) in buttons {
            if let Ok(button) = self.page.document.create_element("button") {
                button.set_class_name(class);
                button.set_attribute("type", "button").ok();
                button.set_text_content(Some(label));
                actions.append_child(&button).ok();
            }
        }
    }

    fn set_progress(row: &Element, percent: f64) {
        if let Ok(Some(bar)) = row.query_selector("progress")
            && let Some(bar) = bar.dyn_ref::<HtmlProgressElement>()
        {
            bar.set_value(percent);
        }
    }

    /// Offers every file of `files` to the other side; in the room call, to everyone in
    /// it.
    pub(super) fn send_files(self: &Rc<Self>, files: Option<FileList>) {
        let Some(files) = files else {
            return;
        };
        let list: Vec<File> = (0..files.length()).filter_map(|i| files.get(i)).collect();
        // Who gets them: each participant by id and name, or the other side of the call.
        let to: Vec<(Option<String>, String)> = if self.memory.borrow().group {
            self.grid
                .borrow()
                .participants()
                .into_iter()
                .map(|(id, name)| (Some(id), name))
                .collect()
        } else {
            vec![(None, self.memory.borrow().other.clone())]
        };
        for file in list {
            for (id, name) in &to {
                let (offered, file, name) = (file.clone(), file.clone(), name.clone());
                self.settle(
                    |call| call.send_file(offered, id.clone()),
                    move |app, id| {
                        let id = id.as_string().unwrap_or_default();
                        if let Some(row) = app.row(&id, &file.name(), file.size()) {
                            row.set_attribute("data-with", &name).ok();
                            let waiting = format!("waiting for {name}");
                            app.paint_row(&row, "sending", &waiting, &[("cancel", "Cancel")]);
                        }
                    },
                );
            }
        }
    }

    pub(super) fn on_file_input(self: &Rc<Self>) {
        self.send_files(self.page.file_input.files());
        self.page.file_input.set_value("");
    }

    /// Drag and drop onto the call: `dragover` must be refused by default for a drop.
    pub(super) fn on_drag(self: &Rc<Self>, event: &Event) {
        event.prevent_default();
        let dragging = event.type_() == "dragover";
        show(&self.page.drop_hint, dragging);
        let classes = self.page.call.class_list();
        let _ = if dragging {
            classes.add_1("dragging")
        } else {
            classes.remove_1("dragging")
        };
        if event.type_() == "drop" {
            let files = event
                .dyn_ref::<DragEvent>()
                .and_then(DragEvent::data_transfer)
                .and_then(|transfer| transfer.files());
            self.send_files(files);
        }
    }

    /// A click on a transfer's button.
    pub(super) fn on_transfer_click(&self, event: &Event) {
        let Some(button) = event
            .target()
            .and_then(|target| target.dyn_into::<Element>().ok())
            .filter(|target| target.tag_name() == "BUTTON")
        else {
            return;
        };
        let Some(id) = button
            .closest("li[data-id]")
            .ok()
            .flatten()
            .and_then(|row| row.get_attribute("data-id"))
        else {
            return;
        };
        let call = self.call.borrow();
        let Some(call) = call.as_ref() else {
            return;
        };
        match button.class_name().as_str() {
            "accept" => call.accept_file(id),
            "decline" => call.decline_file(id),
            "cancel" => call.cancel_file(id),
            _ => {}
        }
    }

    pub(super) fn on_file_offer(&self, offer: JsValue) {
        let (id, name) = (text_field(&offer, "id"), text_field(&offer, "name"));
        let size = field(&offer, "size").as_f64().unwrap_or(0.0);
        if let Some(row) = self.row(&id, &name, size) {
            // In a room call, the participant who offers it.
            let from = self.name_of(&text_field(&offer, "from"));
            row.set_attribute("data-with", &from).ok();
            let detail = format!("{from} sends you this");
            let buttons = [("accept", "Accept"), ("decline", "Decline")];
            self.paint_row(&row, "offered", &detail, &buttons);
        }
    }

    pub(super) fn on_file_progress(&self, progress: JsValue) {
        let id = text_field(&progress, "id");
        let number = |key: &str| field(&progress, key).as_f64().unwrap_or(0.0);
        let (done, size) = (number("bytes"), number("size"));
        let Some(row) = self.row(&id, &text_field(&progress, "name"), size) else {
            return;
        };
        let state = if text_field(&progress, "direction") == "send" {
            "sending"
        } else {
            "receiving"
        };
        let detail = format!("{}/s{}", bytes(number("rate")), time_left(number("eta")));
        self.paint_row(&row, state, &detail, &[("cancel", "Cancel")]);
        let percent = if size > 0.0 {
            100.0 * done / size
        } else {
            100.0
        };
        Self::set_progress(&row, percent);
    }

    pub(super) fn on_file_done(&self, done: JsValue) {
        let (id, name) = (text_field(&done, "id"), text_field(&done, "name"));
        let size = field(&done, "size").as_f64().unwrap_or(0.0);
        let Some(row) = self.row(&id, &name, size) else {
            return;
        };
        Self::set_progress(&row, 100.0);
        let blob = field(&done, "blob").dyn_into::<Blob>().ok();
        let Some(url) = blob.and_then(|blob| Url::create_object_url_with_blob(&blob).ok()) else {
            self.paint_row(&row, "done", "sent", &[]);
            self.forget_finished_transfers();
            return;
        };
        self.paint_row(&row, "done", "received", &[]);
        if let (Ok(Some(actions)), Ok(link)) = (
            row.query_selector(".actions"),
            self.page.document.create_element("a"),
        ) {
            link.set_class_name("download");
            link.set_attribute("href", &url).ok();
            link.set_attribute("download", &name).ok();
            link.set_text_content(Some(&format!("Save {name}")));
            actions.append_child(&link).ok();
        }
        self.memory.borrow_mut().downloads.push(url);
        self.forget_finished_transfers();
    }

    pub(super) fn on_file_cancelled(&self, cancelled: JsValue) {
        let id = text_field(&cancelled, "id");
        let Some(row) = self.row(&id, &text_field(&cancelled, "name"), 0.0) else {
            return;
        };
        // Who the transfer is with, as its row was told.
        let other = row
            .get_attribute("data-with")
            .unwrap_or_else(|| self.memory.borrow().other.clone());
        let detail = match text_field(&cancelled, "by").as_str() {
            "me" => "cancelled".to_owned(),
            "declined" if text_field(&cancelled, "direction") == "send" => {
                format!("{other} declined")
            }
            "declined" => "declined".to_owned(),
            "ended" => "stopped: the call ended".to_owned(),
            _ => format!("{other} cancelled"),
        };
        self.paint_row(&row, "cancelled", &detail, &[]);
        self.forget_finished_transfers();
    }

    pub(super) fn on_file_error(&self, error: JsValue) {
        let id = text_field(&error, "id");
        if let Some(row) = self.row(&id, &text_field(&error, "name"), 0.0) {
            self.paint_row(&row, "failed", &text_field(&error, "message"), &[]);
            self.forget_finished_transfers();
        }
    }

    /// Removes the oldest finished rows while there are more than the page keeps.
    fn forget_finished_transfers(&self) {
        let list = &self.page.transfers;
        while list.child_element_count() > TRANSFERS_KEPT {
            let Ok(Some(oldest)) = list.query_selector("li.done, li.cancelled, li.failed") else {
                return;
            };
            if let Ok(Some(link)) = oldest.query_selector("a.download")
                && let Some(url) = link.get_attribute("href")
            {
                let _ = Url::revoke_object_url(&url);
                self.memory
                    .borrow_mut()
                    .downloads
                    .retain(|kept| *kept != url);
            }
            oldest.remove();
        }
    }

    /// Empties the transfers for a new call, releasing the downloads' memory.
    pub(super) fn clear_transfers(&self) {
        self.page.transfers.set_text_content(None);
        for url in self.memory.borrow_mut().downloads.drain(..) {
            let _ = Url::revoke_object_url(&url);
        }
    }
}
