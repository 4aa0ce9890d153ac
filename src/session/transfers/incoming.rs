//! A file the other side sends: offered to the page, its chunks kept as JavaScript
//! buffers until the sender's `end`, then checked against its digest.

use js_sys::{Array, ArrayBuffer};
use protocol::{FileControl, Party, PeerId};
use web_sys::{Blob, BlobPropertyBag};

use super::progress::{PROGRESS_EVERY_MS, progress};
use crate::{
    channel::files::{self, FileChannel, Offer},
    error::{Error, ErrorCode},
    event::{CancelledBy, Event, TransferId},
    session::action::Actions,
    words::decimal,
};

/// The smallest piece a sender sends a file in, but for the last: far below what any
/// connection carries (64 KiB where it does not say).
const MIN_CHUNK: f64 = 1024.0;

/// A file the other side offered.
pub struct Incoming {
    offer: Offer,
    /// Its number for the page (`in-<number>`): the sender's is only unique among the
    /// sender's files.
    number: u32,
    accepted: bool,
    parts: Array,
    /// The SHA-256 of each part, under way.
    hashes: Vec<js_sys::Promise>,
    received: f64,
    started: f64,
    last_report: f64,
}

/// What a chunk did to the transfer.
pub enum Chunk {
    /// It goes on.
    Going,
    /// More came than was offered: it is over.
    TooMuch,
}

impl Incoming {
    /// `offer` from `from`, made to the page as its file `number`.
    pub fn offered(offer: Offer, number: u32, from: &PeerId, out: &mut Actions) -> Self {
        out.emit(Event::FileOffer {
            id: TransferId::In(number),
            from: from.clone(),
            name: offer.name.clone(),
            size: offer.size,
            kind: offer.kind.clone(),
        });
        Self {
            offer,
            number,
            accepted: false,
            parts: Array::new(),
            hashes: Vec::new(),
            received: 0.0,
            started: 0.0,
            last_report: 0.0,
        }
    }

    /// The sender's number for it.
    pub fn number(&self) -> u32 {
        self.offer.id
    }

    /// Whether the page took it.
    pub fn accepted(&self) -> bool {
        self.accepted
    }

    /// The page takes it: its bytes may flow.
    pub fn accept(&mut self, files: &FileChannel) {
        if !self.accepted {
            self.accepted = true;
            self.started = js_sys::Date::now();
            files.send(&FileControl::Accept { id: self.offer.id });
        }
    }

    /// Keeps the bytes of `buffer` (and starts hashing them). More bytes than offered, or
    /// more pieces than a file of that size comes in, end it: each piece costs memory
    /// and a hash of its own, empty or not.
    pub fn chunk(&mut self, buffer: ArrayBuffer, files: &FileChannel, out: &mut Actions) -> Chunk {
        self.received += f64::from(buffer.byte_length());
        // A hash that cannot start leaves a gap, and the digest check then fails.
        if let Ok(hash) = files::start_sha256(&buffer) {
            self.hashes.push(hash);
        }
        let pieces = self.parts.push(&buffer);
        let (id, size) = (self.offer.id, self.offer.size);
        if self.received > size || f64::from(pieces) > size / MIN_CHUNK + 1.0 {
            files.send(&FileControl::Cancel {
                id,
                by: Some(Party::Receiver),
            });
            let error = Error::new(ErrorCode::TransferFailed, "more came than was offered");
            out.emit(self.failed(error));
            return Chunk::TooMuch;
        }
        let now = js_sys::Date::now();
        if self.received < size && now - self.last_report < PROGRESS_EVERY_MS {
            return Chunk::Going;
        }
        self.last_report = now;
        let name = self.offer.name.clone();
        let progress = progress(self.id(), name, self.received, size, self.started);
        out.emit(Event::FileProgress(progress));
        Chunk::Going
    }

    /// Its id for the page.
    pub fn id(&self) -> TransferId {
        TransferId::In(self.number)
    }

    /// It stopped before it completed, `by` whom.
    pub fn cancelled(&self, by: CancelledBy) -> Event {
        Event::FileCancelled {
            id: self.id(),
            name: self.offer.name.clone(),
            by,
        }
    }

    fn failed(&self, error: Error) -> Event {
        Event::FileError {
            id: self.id(),
            name: self.offer.name.clone(),
            error,
        }
    }

    /// Checks the file against the sender's digest and builds its `Blob`.
    pub async fn verify(&mut self, digest: Option<&str>) -> Result<Blob, Error> {
        let offer = &self.offer;
        if self.received != offer.size {
            // Whole numbers of bytes: printed as integers, not through float formatting.
            let (received, size) = (decimal(self.received as u64), decimal(offer.size as u64));
            let message = [&received, " bytes arrived of ", &size].concat();
            return Err(Error::new(ErrorCode::TransferFailed, message));
        }
        let ours = files::transfer_digest(std::mem::take(&mut self.hashes)).await?;
        if digest != Some(ours.as_str()) {
            return Err(Error::new(
                ErrorCode::IntegrityFailed,
                [
                    &offer.name,
                    " arrived damaged (its SHA-256 differs): not saved",
                ]
                .concat(),
            ));
        }
        // Never the type the peer claims: a file from a peer must not open as a page (or
        // anything else) on this origin. The claimed type is shown as text only.
        let options = BlobPropertyBag::new();
        options.set_type("application/octet-stream");
        Blob::new_with_buffer_source_sequence_and_options(&self.parts, &options)
            .map_err(|e| Error::from_js(ErrorCode::TransferFailed, "cannot assemble the file", &e))
    }

    /// The page's word on the checked file: the file itself, or why not.
    pub fn handed_over(&self, verdict: Result<Blob, Error>) -> Event {
        match verdict {
            Ok(blob) => Event::FileDone {
                id: self.id(),
                name: self.offer.name.clone(),
                size: self.offer.size,
                kind: self.offer.kind.clone(),
                blob: Some(blob),
            },
            Err(error) => self.failed(error),
        }
    }
}
