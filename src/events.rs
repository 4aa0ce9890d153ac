//! The event handlers a page registers with `on(event, handler)`.

use std::cell::RefCell;

use js_sys::{Function, Object, Reflect};
use wasm_bindgen::JsValue;

/// Handlers by event name; called in the order they were added.
#[derive(Default)]
pub struct Emitter {
    handlers: RefCell<Vec<(String, Function)>>,
}

impl Emitter {
    /// Adds `handler` for `event`.
    pub fn on(&self, event: String, handler: Function) {
        self.handlers.borrow_mut().push((event, handler));
    }

    /// Removes `handler` from `event`.
    pub fn off(&self, event: &str, handler: &Function) {
        self.handlers
            .borrow_mut()
            .retain(|(name, f)| !(name == event && f == handler));
    }

    /// Forgets every handler.
    pub fn clear(&self) {
        self.handlers.borrow_mut().clear();
    }

    /// Calls every handler of `event` with `payload`. A handler may call back into the API
    /// (its commands are queued), and one that throws does not stop the others.
    pub fn emit(&self, event: &str, payload: &JsValue) {
        let handlers: Vec<Function> = self
            .handlers
            .borrow()
            .iter()
            .filter(|(name, _)| name == event)
            .map(|(_, f)| f.clone())
            .collect();
        for handler in handlers {
            if let Err(error) = handler.call1(&JsValue::NULL, payload) {
                web_sys::console::error_3(&"peercall: a handler of".into(), &event.into(), &error);
            }
        }
    }
}

/// A plain object with the given properties.
pub fn object(properties: &[(&str, JsValue)]) -> JsValue {
    let object = Object::new();
    for (key, value) in properties {
        let _ = Reflect::set(&object, &(*key).into(), value);
    }
    object.into()
}
