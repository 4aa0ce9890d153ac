//! The call's chat and file transfers, as the session sees them.
//!
//! Outgoing files queue up and are offered one at a time; the bytes of an accepted one
//! are pumped by their own task, which reports back here. Incoming files are offered to
//! the page, which accepts or declines; their chunks are kept as JavaScript buffers until
//! the sender's `end`, when the digest is checked and a `Blob` handed over.

use std::{collections::VecDeque, rc::Rc};

use futures::future::{AbortHandle, abortable};

use js_sys::{Array, ArrayBuffer};
use protocol::FileControl;
use wasm_bindgen::JsValue;
use web_sys::{Blob, BlobPropertyBag, File};

use super::{Input, Session, call::Phase};
use crate::{
    channel::{
        chat::ChatEvent,
        files::{self, FileEvent, PumpEvent},
    },
    error::{Error, ErrorCode},
    events::object,
};

/// Progress events at most this often (ms), besides the last one.
const PROGRESS_EVERY_MS: f64 = 200.0;

struct Outgoing {
    id: u32,
    file: File,
    offered: bool,
    started: f64,
    last_report: f64,
    /// Stops the pump, once one runs.
    pump: Option<AbortHandle>,
}

impl Drop for Outgoing {
    fn drop(&mut self) {
        // Cancelled, declined, done, or the call ended: the pump stops wherever it waits.
        if let Some(pump) = &self.pump {
            pump.abort();
        }
    }
}

/// A file the other side offered.
pub struct Incoming {
    offer: files::Offer,
    accepted: bool,
    parts: Array,
    /// The SHA-256 of each part, under way.
    hashes: Vec<js_sys::Promise>,
    received: f64,
    started: f64,
    last_report: f64,
}

/// The file transfers of one call.
#[derive(Default)]
pub struct Transfers {
    next_id: u32,
    outgoing: VecDeque<Outgoing>,
    incoming: Option<Incoming>,
}

fn out_id(id: u32) -> String {
    format!("out-{id}")
}

fn in_id(id: u32) -> String {
    format!("in-{id}")
}

/// `(outgoing, id)` from an API id (`out-3`, `in-3`).
fn parse_id(id: &str) -> Option<(bool, u32)> {
    let (side, number) = id.split_once('-')?;
    let number = number.parse().ok()?;
    match side {
        "out" => Some((true, number)),
        "in" => Some((false, number)),
        _ => None,
    }
}

impl Session {
    pub(super) fn send_text(&mut self, text: &str) -> Result<f64, Error> {
        match &mut self.phase {
            Phase::InCall(active) => active.chat.send(text),
            _ => Err(Error::new(ErrorCode::InvalidState, "no call to chat in")),
        }
    }

    pub(super) fn chat_event(&mut self, event: ChatEvent) {
        let Phase::InCall(active) = &mut self.phase else {
            return;
        };
        match event {
            ChatEvent::Open => active.chat.flush(),
            ChatEvent::Message { text, at } => {
                let message = object(&[
                    ("from", active.with.id.0.as_str().into()),
                    ("name", active.with.name.as_str().into()),
                    ("text", text.into()),
                    ("at", at.into()),
                ]);
                self.emitter.emit("text", &message);
            }
            ChatEvent::Invalid(error) => self.report(&error),
        }
    }

    pub(super) fn send_file(&mut self, file: File) -> Result<String, Error> {
        let Phase::InCall(active) = &mut self.phase else {
            return Err(Error::new(
                ErrorCode::InvalidState,
                "no call to send a file in",
            ));
        };
        let transfers = &mut active.transfers;
        transfers.next_id += 1;
        let id = transfers.next_id;
        transfers.outgoing.push_back(Outgoing {
            id,
            file,
            offered: false,
            started: 0.0,
            last_report: 0.0,
            pump: None,
        });
        self.offer_next();
        Ok(out_id(id))
    }

    /// Offers the first queued file, unless one is offered or sending already.
    fn offer_next(&mut self) {
        let Phase::InCall(active) = &mut self.phase else {
            return;
        };
        let Some(next) = active.transfers.outgoing.front_mut() else {
            return;
        };
        if next.offered || !active.files.is_open() {
            return;
        }
        next.offered = true;
        active.files.send(&FileControl::Offer {
            id: next.id,
            name: next.file.name(),
            size: next.file.size(),
            kind: next.file.type_(),
        });
    }

    pub(super) fn file_event(&mut self, event: FileEvent) {
        match event {
            FileEvent::Open => self.offer_next(),
            FileEvent::Control(message) => self.file_control(message),
            FileEvent::BadOffer(id, error) => {
                if let Phase::InCall(active) = &self.phase {
                    active.files.send(&FileControl::Decline { id });
                }
                self.report(&error);
            }
            FileEvent::Chunk(buffer) => self.file_chunk(buffer),
            FileEvent::Invalid(error) => self.report(&error),
            // News from a newer version of the other side: nothing to do.
            FileEvent::Unknown => {}
        }
    }

    fn file_control(&mut self, message: FileControl) {
        let id = message.id();
        let Phase::InCall(active) = &mut self.phase else {
            return;
        };
        let head = active
            .transfers
            .outgoing
            .front()
            .filter(|o| o.id == id && o.offered);
        match message {
            FileControl::Offer { .. } if active.transfers.incoming.is_some() => {
                // One at a time: the other side breaks the rule.
                active.files.send(&FileControl::Decline { id });
            }
            FileControl::Offer {
                id,
                name,
                size,
                kind,
            } => {
                let payload = object(&[
                    ("id", in_id(id).into()),
                    ("name", name.as_str().into()),
                    ("size", size.into()),
                    ("type", kind.as_str().into()),
                ]);
                active.transfers.incoming = Some(Incoming {
                    offer: files::Offer {
                        id,
                        name,
                        size,
                        kind,
                    },
                    accepted: false,
                    parts: Array::new(),
                    hashes: Vec::new(),
                    received: 0.0,
                    started: 0.0,
                    last_report: 0.0,
                });
                self.emitter.emit("file-offer", &payload);
            }
            FileControl::Accept { .. } if head.is_some() => self.start_pump(),
            FileControl::Decline { .. } if head.is_some() => self.finish_outgoing("declined"),
            FileControl::Cancel { .. } if head.is_some() => self.finish_outgoing("peer"),
            FileControl::Cancel { .. }
                if active
                    .transfers
                    .incoming
                    .as_ref()
                    .is_some_and(|i| i.offer.id == id) =>
            {
                let incoming = active.transfers.incoming.take();
                if let Some(incoming) = incoming {
                    self.emit_cancelled(&in_id(id), "receive", &incoming.offer.name, "peer");
                }
            }
            FileControl::End { digest, .. } => self.file_end(id, digest),
            FileControl::Received { ok, .. } if head.is_some() => self.receipt(ok),
            // Late news about a transfer that is over.
            _ => {}
        }
    }

    fn start_pump(&mut self) {
        let generation = self.generation;
        let Phase::InCall(active) = &mut self.phase else {
            return;
        };
        let chunk = files::chunk_size(active.peer.pc());
        let Some(head) = active.transfers.outgoing.front_mut() else {
            return;
        };
        head.started = js_sys::Date::now();
        let (id, inputs) = (head.id, self.inputs.clone());
        let (pump, handle) = abortable(files::pump(
            active.files.clone(),
            head.file.clone().into(),
            id,
            chunk,
            Rc::new(move |event| {
                let _ = inputs.unbounded_send(Input::Pump(generation, id, event));
            }),
        ));
        head.pump = Some(handle);
        wasm_bindgen_futures::spawn_local(async move {
            let _ = pump.await;
        });
    }

    pub(super) fn pump_event(&mut self, id: u32, event: PumpEvent) {
        let Phase::InCall(active) = &mut self.phase else {
            return;
        };
        let Some(head) = active.transfers.outgoing.front_mut().filter(|o| o.id == id) else {
            return;
        };
        match event {
            PumpEvent::Progress(bytes) => {
                let now = js_sys::Date::now();
                let size = head.file.size();
                if bytes < size && now - head.last_report < PROGRESS_EVERY_MS {
                    return;
                }
                head.last_report = now;
                let payload = progress(
                    &out_id(id),
                    "send",
                    &head.file.name(),
                    bytes,
                    size,
                    head.started,
                );
                // How much waits in the channel: the pacing keeps it bounded.
                let buffered = active.files.channel().buffered_amount();
                let _ = js_sys::Reflect::set(&payload, &"buffered".into(), &buffered.into());
                self.emitter.emit("file-progress", &payload);
            }
            // Done only when the other side says it arrived whole (`received`).
            PumpEvent::Sent => {}
            PumpEvent::Failed(error) => {
                active.files.send(&FileControl::Cancel { id });
                let name = head.file.name();
                active.transfers.outgoing.pop_front();
                self.emit_file_error(&out_id(id), "send", &name, &error);
                self.offer_next();
            }
        }
    }

    /// The other side's word on the file at the head of the queue.
    fn receipt(&mut self, whole: bool) {
        let Phase::InCall(active) = &mut self.phase else {
            return;
        };
        let Some(head) = active.transfers.outgoing.pop_front() else {
            return;
        };
        let (id, name) = (out_id(head.id), head.file.name());
        if whole {
            let payload = object(&[
                ("id", id.as_str().into()),
                ("direction", "send".into()),
                ("name", name.as_str().into()),
                ("size", head.file.size().into()),
                ("type", head.file.type_().into()),
            ]);
            self.emitter.emit("file-done", &payload);
        } else {
            let error = Error::new(
                ErrorCode::IntegrityFailed,
                format!("{name} arrived damaged at the other side"),
            );
            self.emit_file_error(&id, "send", &name, &error);
        }
        self.offer_next();
    }

    fn file_chunk(&mut self, buffer: ArrayBuffer) {
        let Phase::InCall(active) = &mut self.phase else {
            return;
        };
        let Some(incoming) = active.transfers.incoming.as_mut().filter(|i| i.accepted) else {
            return; // bytes of a transfer cancelled meanwhile
        };
        incoming.received += f64::from(buffer.byte_length());
        // A hash that cannot start leaves a gap, and the digest check then fails.
        if let Ok(hash) = files::start_sha256(&buffer) {
            incoming.hashes.push(hash);
        }
        incoming.parts.push(&buffer);
        let (id, size) = (incoming.offer.id, incoming.offer.size);
        if incoming.received > size {
            active.files.send(&FileControl::Cancel { id });
            let name = incoming.offer.name.clone();
            active.transfers.incoming = None;
            let error = Error::new(
                ErrorCode::TransferFailed,
                "more bytes came than were offered",
            );
            self.emit_file_error(&in_id(id), "receive", &name, &error);
            return;
        }
        let now = js_sys::Date::now();
        if incoming.received < size && now - incoming.last_report < PROGRESS_EVERY_MS {
            return;
        }
        incoming.last_report = now;
        let payload = progress(
            &in_id(id),
            "receive",
            &incoming.offer.name,
            incoming.received,
            size,
            incoming.started,
        );
        self.emitter.emit("file-progress", &payload);
    }

    /// The sender says all bytes went: check them and hand the file over.
    fn file_end(&mut self, id: u32, digest: Option<String>) {
        let Phase::InCall(active) = &mut self.phase else {
            return;
        };
        let Some(incoming) = active
            .transfers
            .incoming
            .take_if(|i| i.offer.id == id && i.accepted)
        else {
            return;
        };
        let inputs = self.inputs.clone();
        let generation = self.generation;
        // Hashing a large file takes a moment: do it beside the session, not in it.
        wasm_bindgen_futures::spawn_local(async move {
            let mut incoming = incoming;
            let verdict = verify(&mut incoming, digest.as_deref()).await;
            let _ =
                inputs.unbounded_send(Input::Received(generation, Box::new((incoming, verdict))));
        });
    }

    /// A received file has been checked: tell the sender (if the call it came in goes
    /// on) and hand the file over (even if the call has ended since: it is whole).
    pub(super) fn received(
        &mut self,
        generation: u32,
        incoming: Incoming,
        verdict: Result<Blob, Error>,
    ) {
        let offer = &incoming.offer;
        if let Phase::InCall(active) = &self.phase
            && generation == self.generation
        {
            let ok = verdict.is_ok();
            active
                .files
                .send(&FileControl::Received { id: offer.id, ok });
        }
        match verdict {
            Ok(blob) => {
                let payload = object(&[
                    ("id", in_id(offer.id).into()),
                    ("direction", "receive".into()),
                    ("name", offer.name.as_str().into()),
                    ("size", offer.size.into()),
                    ("type", offer.kind.as_str().into()),
                    ("blob", blob.into()),
                ]);
                self.emitter.emit("file-done", &payload);
            }
            Err(error) => self.emit_file_error(&in_id(offer.id), "receive", &offer.name, &error),
        }
    }

    pub(super) fn accept_file(&mut self, id: &str) {
        let Phase::InCall(active) = &mut self.phase else {
            return;
        };
        if let (Some((false, id)), Some(incoming)) = (parse_id(id), &mut active.transfers.incoming)
            && incoming.offer.id == id
            && !incoming.accepted
        {
            incoming.accepted = true;
            incoming.started = js_sys::Date::now();
            active.files.send(&FileControl::Accept { id });
        }
    }

    pub(super) fn decline_file(&mut self, id: &str) {
        let Phase::InCall(active) = &mut self.phase else {
            return;
        };
        if let Some((false, id)) = parse_id(id)
            && let Some(incoming) = active.transfers.incoming.take_if(|i| i.offer.id == id)
        {
            active.files.send(&FileControl::Decline { id });
            self.emit_cancelled(&in_id(id), "receive", &incoming.offer.name, "declined");
        }
    }

    pub(super) fn cancel_file(&mut self, id: &str) {
        let Phase::InCall(active) = &mut self.phase else {
            return;
        };
        match parse_id(id) {
            Some((true, id)) => {
                let is_head = active
                    .transfers
                    .outgoing
                    .front()
                    .is_some_and(|o| o.id == id);
                if is_head {
                    if active.transfers.outgoing.front().is_some_and(|o| o.offered) {
                        active.files.send(&FileControl::Cancel { id });
                    }
                    self.finish_outgoing("me");
                } else if let Some(at) = active.transfers.outgoing.iter().position(|o| o.id == id)
                    && let Some(queued) = active.transfers.outgoing.remove(at)
                {
                    self.emit_cancelled(&out_id(id), "send", &queued.file.name(), "me");
                }
            }
            Some((false, id)) => {
                if let Some(incoming) = active.transfers.incoming.take_if(|i| i.offer.id == id) {
                    active.files.send(&FileControl::Cancel { id });
                    self.emit_cancelled(&in_id(id), "receive", &incoming.offer.name, "me");
                }
            }
            None => {}
        }
    }

    /// Ends the outgoing transfer at the head of the queue (cancelled `by`), then offers the
    /// next.
    fn finish_outgoing(&mut self, by: &str) {
        let Phase::InCall(active) = &mut self.phase else {
            return;
        };
        if let Some(head) = active.transfers.outgoing.pop_front() {
            self.emit_cancelled(&out_id(head.id), "send", &head.file.name(), by);
        }
        self.offer_next();
    }

    /// The call ended: every transfer still under way or queued ends with it.
    pub(super) fn end_transfers(&self, transfers: Transfers) {
        for outgoing in &transfers.outgoing {
            self.emit_cancelled(&out_id(outgoing.id), "send", &outgoing.file.name(), "ended");
        }
        if let Some(incoming) = &transfers.incoming {
            let id = in_id(incoming.offer.id);
            self.emit_cancelled(&id, "receive", &incoming.offer.name, "ended");
        }
    }

    fn emit_cancelled(&self, id: &str, direction: &str, name: &str, by: &str) {
        let payload = object(&[
            ("id", id.into()),
            ("direction", direction.into()),
            ("name", name.into()),
            ("by", by.into()),
        ]);
        self.emitter.emit("file-cancelled", &payload);
    }

    fn emit_file_error(&self, id: &str, direction: &str, name: &str, error: &Error) {
        let payload = object(&[
            ("id", id.into()),
            ("direction", direction.into()),
            ("name", name.into()),
            ("code", error.code.as_str().into()),
            ("message", error.message.as_str().into()),
        ]);
        self.emitter.emit("file-error", &payload);
    }
}

fn progress(id: &str, direction: &str, name: &str, bytes: f64, size: f64, started: f64) -> JsValue {
    let seconds = ((js_sys::Date::now() - started) / 1000.0).max(0.001);
    let rate = bytes / seconds;
    let eta = if rate > 0.0 {
        (size - bytes) / rate
    } else {
        f64::INFINITY
    };
    object(&[
        ("id", id.into()),
        ("direction", direction.into()),
        ("name", name.into()),
        ("bytes", bytes.into()),
        ("size", size.into()),
        ("rate", rate.into()),
        ("eta", eta.into()),
    ])
}

/// Checks a received file against the sender's digest and builds its `Blob`.
async fn verify(incoming: &mut Incoming, digest: Option<&str>) -> Result<Blob, Error> {
    if incoming.received != incoming.offer.size {
        // Whole numbers of bytes: printed as integers, not through float formatting.
        let message = format!(
            "{} bytes arrived of {}",
            incoming.received as u64, incoming.offer.size as u64
        );
        return Err(Error::new(ErrorCode::TransferFailed, message));
    }
    let ours = files::transfer_digest(std::mem::take(&mut incoming.hashes)).await?;
    if digest != Some(ours.as_str()) {
        return Err(Error::new(
            ErrorCode::IntegrityFailed,
            format!(
                "{} arrived damaged (its SHA-256 differs): not saved",
                incoming.offer.name
            ),
        ));
    }
    let options = BlobPropertyBag::new();
    options.set_type(&incoming.offer.kind);
    Blob::new_with_buffer_source_sequence_and_options(&incoming.parts, &options)
        .map_err(|e| Error::from_js(ErrorCode::TransferFailed, "cannot assemble the file", &e))
}
