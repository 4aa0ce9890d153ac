//! Keyboard shortcuts of the demo page, listed on `?`: `m` microphone, `v` camera, `s`
//! screen sharing, `h`
//! hang up (pressed twice: the first press asks). None fires while the person types in a
//! field, nor with a modifier key held; every change is announced to screen readers.

use std::rc::Rc;

use wasm_bindgen::JsCast;
use web_sys::{Element, Event, HtmlElement, KeyboardEvent};

use super::{App, page::say, page::show};
use crate::api::PeerCall;

/// How long the first press of `h` waits for the second (ms).
const HANG_UP_WITHIN_MS: f64 = 3_000.0;

/// A key pressed anywhere on the page.
pub fn pressed(app: &Rc<App>, event: &Event) {
    let Some(key) = event.dyn_ref::<KeyboardEvent>() else {
        return;
    };
    if key.ctrl_key() || key.meta_key() || key.alt_key() || key.repeat() || typing(event) {
        return;
    }
    let in_call = app.memory.borrow().in_call;
    match key.key().as_str() {
        "?" => {
            let help = &app.page.shortcuts;
            let open = help.unchecked_ref::<HtmlElement>().hidden();
            show(help, open);
        }
        "Escape" => {
            show(&app.page.shortcuts, false);
            if !app.page.prejoin.unchecked_ref::<HtmlElement>().hidden() {
                app.cancel_prejoin();
            }
        }
        "m" if in_call => app.toggle(false),
        "v" if in_call => app.toggle(true),
        "s" if in_call => app.toggle_share(),
        "h" if in_call => hang_up(app),
        _ => return,
    }
    event.prevent_default();
}

/// Whether the key goes into a field the person types in.
fn typing(event: &Event) -> bool {
    let Some(target) = event.target().and_then(|t| t.dyn_into::<Element>().ok()) else {
        return false;
    };
    matches!(target.tag_name().as_str(), "INPUT" | "TEXTAREA" | "SELECT")
        || target
            .dyn_ref::<HtmlElement>()
            .is_some_and(HtmlElement::is_content_editable)
}

/// The first `h` asks; a second within a moment hangs up.
fn hang_up(app: &Rc<App>) {
    let now = js_sys::Date::now();
    let asked = app.memory.borrow_mut().hang_up_asked.replace(now);
    if asked.is_some_and(|asked| now - asked < HANG_UP_WITHIN_MS) {
        app.memory.borrow_mut().hang_up_asked = None;
        app.with_call(PeerCall::hangup);
        announce(app, "Hanging up");
    } else {
        say(&app.page.notice, "Press h again to hang up.");
        announce(app, "Press h again to hang up");
    }
}

/// Tells screen readers `what` changed.
pub fn announce(app: &App, what: &str) {
    // The same words twice in a row are announced again only if the text changes.
    app.page.announcer.set_text_content(Some(""));
    app.page.announcer.set_text_content(Some(what));
}
