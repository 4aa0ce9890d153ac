//! Rooms on the demo page: a room's link is `/r/<room>`, and a room's password travels in
//! the link's fragment (`#p=<password>`), which browsers never send to a server, so it
//! stays out of requests and logs. The client sends it in `login` only.

use js_sys::{decode_uri_component, encode_uri_component};

/// The room a page was opened for.
pub struct Invitation {
    /// The room's name, from the path.
    pub room: String,
    /// The room's password, from the fragment.
    pub password: Option<String>,
}

/// The room in this page's address, if it is a room's link.
pub fn invitation() -> Option<Invitation> {
    let location = web_sys::window()?.location();
    let path = location.pathname().ok()?;
    let room = path.strip_prefix("/r/")?.trim_end_matches('/');
    let room = decode_uri_component(room).ok()?.as_string()?;
    let password = location
        .hash()
        .ok()
        .and_then(|hash| {
            let encoded = hash.strip_prefix("#p=")?.to_owned();
            decode_uri_component(&encoded).ok()?.as_string()
        })
        .filter(|password| !password.is_empty());
    (!room.is_empty()).then_some(Invitation { room, password })
}

/// A new, unguessable room name.
pub fn new_room() -> Option<String> {
    crate::js::random_name()
}

/// The link that opens `room`, with its password if it has one.
pub fn link(room: &str, password: Option<&str>) -> String {
    let origin = web_sys::window()
        .and_then(|window| window.location().origin().ok())
        .unwrap_or_default();
    let fragment = password
        .filter(|password| !password.is_empty())
        .map(|password| format!("#p={}", String::from(encode_uri_component(password))))
        .unwrap_or_default();
    format!("{origin}/r/{room}{fragment}")
}
