//! The demo page's chat panel.

use wasm_bindgen::JsValue;

use super::{
    App,
    page::{say, show, text_field},
};
use crate::js::field;
use std::rc::Rc;

/// `HH:MM` of a timestamp (ms since the epoch), in local time.
fn clock(at: f64) -> String {
    let date = js_sys::Date::new(&at.into());
    format!("{:02}:{:02}", date.get_hours(), date.get_minutes())
}

/// Messages the chat log shows; older ones are taken off the page.
const CHAT_LOG_KEPT: u32 = 500;

impl App {
    /// Appends a message to the log; `text` is set as text, never as markup.
    pub(super) fn append_message(&self, mine: bool, who: &str, at: f64, text: &str) {
        let document = &self.page.document;
        let (Ok(item), Ok(name), Ok(time), Ok(body)) = (
            document.create_element("li"),
            document.create_element("span"),
            document.create_element("time"),
            document.create_element("p"),
        ) else {
            return;
        };
        item.set_class_name(if mine { "msg mine" } else { "msg theirs" });
        name.set_class_name("who");
        name.set_text_content(Some(who));
        time.set_class_name("at");
        time.set_text_content(Some(&clock(at)));
        body.set_class_name("text");
        body.set_text_content(Some(text));
        item.append_child(&name).ok();
        item.append_with_str_1(" ").ok();
        item.append_child(&time).ok();
        item.append_child(&body).ok();
        self.page.chat_log.append_child(&item).ok();
        // The page keeps the latest messages only: a chatty peer cannot fill it up.
        while self.page.chat_log.child_element_count() > CHAT_LOG_KEPT {
            match self.page.chat_log.first_element_child() {
                Some(oldest) => oldest.remove(),
                None => break,
            }
        }
        self.page
            .chat_log
            .set_scroll_top(self.page.chat_log.scroll_height());
    }

    pub(super) fn send_chat(self: &Rc<Self>) {
        let text = self.page.chat_input.value();
        if text.trim().is_empty() {
            return;
        }
        let (sent, kept) = (text.clone(), text.clone());
        let asked = self.settle_or(
            |call| call.send_text(text),
            move |app, at| app.append_message(true, "you", at.as_f64().unwrap_or(0.0), &sent),
            // Refused: said so, and the text comes back to the empty field, not lost.
            move |app, error| {
                app.alert(&error);
                if app.page.chat_input.value().is_empty() {
                    app.page.chat_input.set_value(&kept);
                }
            },
        );
        if asked {
            self.page.chat_input.set_value("");
        }
    }

    pub(super) fn on_text(&self, message: JsValue) {
        let at = field(&message, "at").as_f64().unwrap_or(0.0);
        self.append_message(
            false,
            &text_field(&message, "name"),
            at,
            &text_field(&message, "text"),
        );
        if self.page.chat_body.hidden() {
            let unread = {
                let mut memory = self.memory.borrow_mut();
                memory.unread += 1;
                memory.unread
            };
            say(&self.page.chat_unread, &unread.to_string());
        }
    }

    pub(super) fn toggle_chat(&self) {
        let open = self.page.chat_body.hidden();
        self.page.chat_body.set_hidden(!open);
        self.page
            .chat_toggle
            .set_attribute("aria-expanded", if open { "true" } else { "false" })
            .ok();
        if open {
            self.memory.borrow_mut().unread = 0;
            show(&self.page.chat_unread, false);
            self.page.chat_input.focus().ok();
        }
    }

    /// Empties the chat for a new call.
    pub(super) fn clear_chat(&self) {
        self.page.chat_log.set_text_content(None);
        self.memory.borrow_mut().unread = 0;
        show(&self.page.chat_unread, false);
    }
}
