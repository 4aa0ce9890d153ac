//! What a session is given at creation.

use wasm_bindgen::JsValue;
use web_sys::HtmlVideoElement;

/// What a session is given at creation.
pub struct Options {
    /// The signaling server's WebSocket URL.
    pub url: String,
    /// The display name to log in with.
    pub name: String,
    /// The room to join; `None`: the server's default room.
    pub room: Option<String>,
    /// The access token for a server in token mode.
    pub token: Option<String>,
    /// The room's password.
    pub password: Option<String>,
    /// `RTCIceServer[]` for every peer connection, if the page gives its own; otherwise
    /// the server's.
    pub ice_servers: Option<JsValue>,
    /// `all` (default) or `relay` (only TURN-relayed candidates: hides addresses).
    pub ice_transport_policy: Option<String>,
    /// Where to show the self view.
    pub local_video: Option<HtmlVideoElement>,
    /// Where to show the other side.
    pub remote_video: Option<HtmlVideoElement>,
    /// getUserMedia constraints.
    pub media: JsValue,
    /// How long a call rings before it ends as `no-answer`.
    pub ring_timeout_ms: u32,
    /// How long an accepted call, or a connection of the room call, may take to connect.
    pub connect_timeout_ms: u32,
    /// How often the server is pinged; silence for two of these drops the socket.
    pub heartbeat_ms: u32,
    /// The video uplink a member of a room call shares among the others, in kbps.
    pub video_budget_kbps: u32,
}
