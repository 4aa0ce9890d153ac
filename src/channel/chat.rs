//! Text chat: `{"text": "...", "at": <ms since the epoch>}` per message on its own channel,
//! so a file transfer never holds it up. Messages typed before the channel opens wait.
//!
//! The same channel tells the other side what we send, whenever it changes and once it
//! opens: `{"media": {"audio": bool, "video": bool, "screen": "<stream id>" | null}}`, so
//! mute marks are exact and a shared screen is told apart from the camera.

use std::rc::Rc;

use wasm_bindgen::JsValue;
use web_sys::{MessageEvent, RtcDataChannel, RtcDataChannelState, RtcPeerConnection};

use super::{CHAT_ID, negotiated};
use crate::{
    error::{Error, ErrorCode},
    js::{Listener, field, number_of, object, text_of},
    words::decimal,
};

/// The longest message, in characters.
pub const MAX_CHARS: usize = 4_000;

/// Messages kept while the channel is not open yet; past this sending is refused.
pub const MAX_QUEUED: usize = 256;

/// What the chat channel reports.
pub enum ChatEvent {
    /// The channel is open: queued messages can go.
    Open,
    /// A message from the other side.
    Message {
        /// What they wrote, as plain text.
        text: String,
        /// When they sent it (ms since the epoch, their clock).
        at: f64,
    },
    /// The other side says what it sends.
    Media(MediaState),
    /// Something arrived that is not a chat message.
    Invalid(Error),
}

/// What one side sends, as it tells the other.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MediaState {
    /// The microphone is on (a track that is enabled).
    pub audio: bool,
    /// The camera is on.
    pub video: bool,
    /// The id of the stream that carries a shared screen, while one is shared.
    pub screen: Option<String>,
}

impl MediaState {
    fn encode(&self) -> JsValue {
        let screen = self.screen.as_deref().map_or(JsValue::NULL, JsValue::from);
        let state = object(&[
            ("audio", self.audio.into()),
            ("video", self.video.into()),
            ("screen", screen),
        ]);
        object(&[("media", state)])
    }

    fn decode(state: &JsValue) -> Option<Self> {
        let screen = field(state, "screen");
        Some(Self {
            audio: field(state, "audio").as_bool()?,
            video: field(state, "video").as_bool()?,
            screen: match screen.as_string() {
                Some(id) if id.len() <= 256 => Some(id),
                None if screen.is_null() => None,
                _ => return None,
            },
        })
    }
}

/// The chat channel of a call.
pub struct Chat {
    channel: RtcDataChannel,
    /// Encoded messages waiting for the channel to open.
    queued: Vec<String>,
    /// What we send, as last told (or to tell once the channel opens).
    media: Option<MediaState>,
    /// Whether `media` still has to go.
    media_due: bool,
    _listeners: [Listener; 2],
}

impl Chat {
    /// Creates the channel on `pc`; what it hears goes to `on_event`.
    pub fn new(pc: &RtcPeerConnection, on_event: Rc<dyn Fn(ChatEvent)>) -> Self {
        let channel = negotiated(pc, "chat", CHAT_ID);
        let listeners = [
            {
                let on_event = on_event.clone();
                Listener::new(&channel, "open", move |_| on_event(ChatEvent::Open))
            },
            // As the file channel's: only its own `message` events.
            Listener::new(&channel, "message", move |event| {
                let data = wasm_bindgen::JsCast::unchecked_ref::<MessageEvent>(event).data();
                on_event(decode(&data));
            }),
        ];
        Self {
            channel,
            queued: Vec::new(),
            media: None,
            media_due: false,
            _listeners: listeners,
        }
    }

    /// Sends `text` now, or as soon as the channel opens; returns its timestamp.
    pub fn send(&mut self, text: &str) -> Result<f64, Error> {
        if text.trim().is_empty() {
            return Err(Error::new(ErrorCode::InvalidState, "an empty message"));
        }
        if text.chars().count() > MAX_CHARS {
            let max = decimal(MAX_CHARS as u64);
            let message = ["a message can have at most ", &max, " characters"].concat();
            return Err(Error::new(ErrorCode::InvalidState, message));
        }
        if super::closed(&self.channel) {
            let message = "the chat channel has closed";
            return Err(Error::new(ErrorCode::InvalidState, message));
        }
        if self.queued.len() >= MAX_QUEUED {
            let max = decimal(MAX_QUEUED as u64);
            let message = [&max, " messages wait for the chat to open already"].concat();
            return Err(Error::new(ErrorCode::InvalidState, message));
        }
        let at = js_sys::Date::now();
        let payload = object(&[("text", text.into()), ("at", at.into())]);
        let encoded = js_sys::JSON::stringify(&payload)
            .map(String::from)
            .map_err(|e| Error::from_js(ErrorCode::BadMessage, "cannot encode a message", &e))?;
        self.queued.push(encoded);
        self.flush();
        Ok(at)
    }

    /// Tells the other side what we send, if that changed: now, or once the channel
    /// opens (only the latest state goes).
    pub fn tell_media(&mut self, state: &MediaState) {
        if self.media.as_ref() != Some(state) {
            self.media = Some(state.clone());
            self.media_due = true;
            self.flush();
        }
    }

    /// How many messages are still waiting for the channel to open.
    pub fn undelivered(&self) -> usize {
        self.queued.len()
    }

    /// Sends what waited for the channel to open.
    pub fn flush(&mut self) {
        if self.channel.ready_state() != RtcDataChannelState::Open {
            return;
        }
        if let Some(state) = self.media.as_ref().filter(|_| self.media_due) {
            self.media_due = false;
            if let Ok(encoded) = js_sys::JSON::stringify(&state.encode()) {
                let _ = self.channel.send_with_str(&String::from(encoded));
            }
        }
        for encoded in std::mem::take(&mut self.queued) {
            if let Err(error) = self.channel.send_with_str(&encoded) {
                web_sys::console::warn_2(&"peercall: a chat message was not sent".into(), &error);
            }
        }
    }
}

impl Drop for Chat {
    fn drop(&mut self) {
        self.channel.close();
    }
}

fn decode(data: &JsValue) -> ChatEvent {
    let invalid = |why: &str| ChatEvent::Invalid(Error::new(ErrorCode::BadMessage, why));
    // A chat message's text, escaped as JSON at worst, and its fields fit in this.
    let Some(json) = crate::js::short_text(data, 32 * 1024) else {
        return invalid("the other side sent a chat message too long or not text");
    };
    let Ok(value) = js_sys::JSON::parse(&json) else {
        return invalid("the other side sent a chat message that is not JSON");
    };
    let media = field(&value, "media");
    if !media.is_undefined() {
        return MediaState::decode(&media).map_or_else(
            || invalid("the other side sent a malformed media state"),
            ChatEvent::Media,
        );
    }
    match (text_of(&value, "text"), number_of(&value, "at")) {
        (Some(text), Some(at)) if text.chars().count() <= MAX_CHARS && at.is_finite() => {
            ChatEvent::Message { text, at }
        }
        _ => invalid("the other side sent a malformed chat message"),
    }
}
