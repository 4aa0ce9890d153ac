//! File transfer on its own channel, one file at a time.
//!
//! Control messages are JSON text, read and written as [`FileControl`]s (the protocol
//! crate says which fields each has); the bytes of the accepted file follow as binary
//! messages in order. The sender reads the file slice by slice and the receiver
//! keeps the slices as JavaScript `ArrayBuffer`s until it builds a `Blob`, so no file ever
//! passes through wasm memory whole. Sending is paced by `bufferedAmountLowThreshold`
//! (<https://developer.mozilla.org/docs/Web/API/RTCDataChannel/bufferedAmountLowThreshold>).
//! Integrity: SHA-256 (SubtleCrypto) of each chunk, started as the chunk goes or comes,
//! then SHA-256 over those digests in order; the receiver recomputes it and refuses a
//! mismatch.

use std::rc::Rc;

use js_sys::{ArrayBuffer, Reflect, Uint8Array};
use protocol::{ControlError, ControlField, ControlFields, FileControl};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{Blob, MessageEvent, RtcDataChannel, RtcPeerConnection};

use super::{FILES_ID, negotiated};
use crate::{
    error::{Error, ErrorCode},
    js::{Listener, number_of, object},
};

/// The largest chunk, whatever the connection allows.
pub const MAX_CHUNK: f64 = 256.0 * 1024.0;
/// Sending pauses while this much is buffered, and resumes at half of it.
pub const HIGH_WATER: u32 = 4 * 1024 * 1024;

/// What the file channel reports.
pub enum FileEvent {
    /// The channel is open: offers can go.
    Open,
    /// A control message.
    Control(FileControl),
    /// An offer whose fields are unusable: to be declined (its id) and reported.
    BadOffer(u32, Error),
    /// Bytes of the file being received.
    Chunk(ArrayBuffer),
    /// Something unreadable arrived.
    Invalid(Error),
    /// A control message of a kind a newer peer sends: ignored.
    Unknown,
    /// The channel closed (the other side closed it, or its connection): nothing more
    /// goes either way.
    Closed,
}

/// The file channel of a call.
pub struct FileChannel {
    channel: RtcDataChannel,
    _listeners: [Listener; 3],
}

impl FileChannel {
    /// Creates the channel on `pc`; what it hears goes to `on_event`.
    pub fn new(pc: &RtcPeerConnection, on_event: Rc<dyn Fn(FileEvent)>) -> Self {
        let channel = negotiated(pc, "files", FILES_ID);
        channel.set_buffered_amount_low_threshold(HIGH_WATER / 2);
        let listeners = [
            {
                let on_event = on_event.clone();
                Listener::new(&channel, "open", move |_| on_event(FileEvent::Open))
            },
            {
                let on_event = on_event.clone();
                Listener::new(&channel, "close", move |_| on_event(FileEvent::Closed))
            },
            // The channel's own `message` events: never another kind (nobody else can
            // reach the channel to dispatch one).
            Listener::new(&channel, "message", move |event| {
                on_event(decode(event.unchecked_ref::<MessageEvent>().data()));
            }),
        ];
        Self {
            channel,
            _listeners: listeners,
        }
    }

    /// The channel, for a sending pump.
    pub fn channel(&self) -> RtcDataChannel {
        self.channel.clone()
    }

    /// Whether control messages can go now.
    pub fn is_open(&self) -> bool {
        self.channel.ready_state() == web_sys::RtcDataChannelState::Open
    }

    /// Whether the channel has closed, or is closing, for good.
    pub fn is_closed(&self) -> bool {
        super::closed(&self.channel)
    }

    /// Sends `message`.
    pub fn send(&self, message: &FileControl) {
        let fields: Vec<(&str, JsValue)> = message
            .fields()
            .into_iter()
            .map(|(key, field)| {
                let value = match field {
                    ControlField::Text(text) => JsValue::from_str(text),
                    ControlField::Number(number) => JsValue::from_f64(number),
                    ControlField::Flag(flag) => JsValue::from_bool(flag),
                };
                (key, value)
            })
            .collect();
        let sent = js_sys::JSON::stringify(&object(&fields))
            .and_then(|json| self.channel.send_with_str(&String::from(json)));
        if let Err(error) = sent {
            web_sys::console::warn_2(&"peercall: a file message was not sent".into(), &error);
        }
    }
}

impl Drop for FileChannel {
    fn drop(&mut self) {
        self.channel.close();
    }
}

fn decode(data: JsValue) -> FileEvent {
    // Told by its tag, not `instanceof`: a page (or an extension) that wraps
    // `RTCPeerConnection` from another realm gets that realm's `ArrayBuffer`s.
    if !data.is_string()
        && js_sys::Object::to_string(data.unchecked_ref::<js_sys::Object>())
            == "[object ArrayBuffer]"
    {
        return FileEvent::Chunk(data.unchecked_into());
    }
    let unreadable = || {
        FileEvent::Invalid(Error::new(
            ErrorCode::BadMessage,
            "the other side sent an unreadable file message",
        ))
    };
    // A control message, with a name of 255 characters escaped as JSON at worst, fits
    // in this.
    let Some(parsed) =
        crate::js::short_text(&data, 16 * 1024).and_then(|json| js_sys::JSON::parse(&json).ok())
    else {
        return unreadable();
    };
    match FileControl::read(&mut Parsed(&parsed)) {
        Ok(control) => FileEvent::Control(control),
        Err(ControlError::BadOffer(id, why)) => {
            FileEvent::BadOffer(id, Error::new(ErrorCode::BadMessage, why))
        }
        Err(ControlError::Unreadable(_)) => unreadable(),
        Err(ControlError::Unknown(_)) => FileEvent::Unknown,
    }
}

/// A control message's fields, from the browser's `JSON.parse`.
struct Parsed<'a>(&'a JsValue);

impl Parsed<'_> {
    fn field(&self, key: &str) -> Option<JsValue> {
        Reflect::get(self.0, &key.into())
            .ok()
            .filter(|v| !v.is_undefined() && !v.is_null())
    }
}

impl ControlFields for Parsed<'_> {
    fn text(&mut self, key: &'static str) -> Result<Option<String>, String> {
        self.field(key)
            .map(|v| v.as_string().ok_or("not a string"))
            .transpose()
            .map_err(str::to_owned)
    }

    fn number(&mut self, key: &'static str) -> Result<Option<f64>, String> {
        self.field(key)
            .map(|v| v.as_f64().ok_or("not a number"))
            .transpose()
            .map_err(str::to_owned)
    }

    fn flag(&mut self, key: &'static str) -> Result<Option<bool>, String> {
        self.field(key)
            .map(|v| v.as_bool().ok_or("not a boolean"))
            .transpose()
            .map_err(str::to_owned)
    }
}

/// A file offered by the other side, checked.
pub struct Offer {
    /// Their transfer id.
    pub id: u32,
    /// The file name, without any folder part.
    pub name: String,
    /// Its size in bytes.
    pub size: f64,
    /// Its MIME type (may be empty).
    pub kind: String,
}

/// What a sending pump reports.
pub enum PumpEvent {
    /// This many bytes have gone into the channel.
    Progress(f64),
    /// All bytes went; the `end` message (with the digest) too. The receiver's
    /// `received` says whether they arrived whole.
    Sent,
    /// Reading or sending failed.
    Failed(Error),
}

/// Sends `file` as transfer `id` in chunks of `chunk` bytes, paced by the channel's
/// buffer, until done or failed. Whoever spawns it runs it abortable: dropping the
/// transfer stops it wherever it waits.
pub async fn pump(
    files: Rc<FileChannel>,
    file: Blob,
    id: u32,
    chunk: f64,
    report: Rc<dyn Fn(PumpEvent)>,
) {
    let channel = files.channel();
    let size = file.size();
    let mut offset = 0.0;
    let mut hashes = Vec::new();
    while offset < size {
        if channel.buffered_amount() > HIGH_WATER {
            buffer_low(&channel).await;
            continue;
        }
        let end = (offset + chunk).min(size);
        let sent = async {
            let slice = file.slice_with_f64_and_f64(offset, end).map_err(|e| {
                Error::from_js(ErrorCode::TransferFailed, "cannot read the file", &e)
            })?;
            let buffer: ArrayBuffer = JsFuture::from(slice.array_buffer())
                .await
                .map_err(|e| Error::from_js(ErrorCode::TransferFailed, "cannot read the file", &e))?
                .unchecked_into();
            hashes.push(start_sha256(&buffer)?);
            channel
                .send_with_array_buffer(&buffer)
                .map_err(|e| Error::from_js(ErrorCode::TransferFailed, "cannot send the file", &e))
        };
        if let Err(error) = sent.await {
            report(PumpEvent::Failed(error));
            return;
        }
        offset = end;
        report(PumpEvent::Progress(offset));
    }
    match transfer_digest(hashes).await {
        Ok(digest) => {
            files.send(&FileControl::End {
                id,
                digest: Some(digest),
            });
            report(PumpEvent::Sent);
        }
        Err(error) => report(PumpEvent::Failed(error)),
    }
}

/// Waits for `bufferedamountlow`.
async fn buffer_low(channel: &RtcDataChannel) {
    let (tx, rx) = crate::queue::queue();
    let _listener = Listener::new(channel, "bufferedamountlow", move |_| {
        let _ = tx.send(());
    });
    // The buffer may have drained between the check and the listener.
    if channel.buffered_amount() <= HIGH_WATER / 2 {
        return;
    }
    rx.next().await;
}

/// Starts hashing `buffer` (SHA-256, SubtleCrypto); the browser does it off the main
/// thread, so callers collect the promises and carry on.
pub fn start_sha256(buffer: &JsValue) -> Result<js_sys::Promise, Error> {
    let failed = |e: &JsValue| Error::from_js(ErrorCode::TransferFailed, "cannot hash the file", e);
    let subtle = crate::js::window()
        .ok_or_else(|| failed(&JsValue::NULL))?
        .crypto()
        .map_err(|e| failed(&e))?
        .subtle();
    subtle
        .digest_with_str_and_buffer_source("SHA-256", buffer.unchecked_ref())
        .map_err(|e| failed(&e))
}

async fn finish_sha256(promise: js_sys::Promise) -> Result<Vec<u8>, Error> {
    let digest = JsFuture::from(promise)
        .await
        .map_err(|e| Error::from_js(ErrorCode::TransferFailed, "cannot hash the file", &e))?;
    Ok(Uint8Array::new(&digest).to_vec())
}

/// The transfer digest from the chunk hashes started in order: SHA-256 over the chunk
/// digests, as hex.
pub async fn transfer_digest(chunks: Vec<js_sys::Promise>) -> Result<String, Error> {
    let mut digests = Vec::with_capacity(chunks.len() * 32);
    for chunk in chunks {
        digests.extend(finish_sha256(chunk).await?);
    }
    let all = Uint8Array::from(digests.as_slice());
    let digest = finish_sha256(start_sha256(&all)?).await?;
    Ok(crate::words::hex(&digest))
}

/// The largest message the connection takes, capped at [`MAX_CHUNK`].
pub fn chunk_size(pc: &RtcPeerConnection) -> f64 {
    Reflect::get(pc, &"sctp".into())
        .ok()
        .and_then(|sctp| number_of(&sctp, "maxMessageSize"))
        .filter(|size| *size >= 1024.0)
        .map_or(MAX_CHUNK / 4.0, |size| size.min(MAX_CHUNK))
}
