//! The file transfers of one call.
//!
//! Outgoing files queue up and are offered one at a time; the bytes of an accepted one
//! are pumped by their own task, which reports back as a [`TransferInput`]. Incoming files
//! are offered to the page, which accepts or declines; the sender's `end` has the file
//! checked beside the session, and the verdict comes back the same way.

mod incoming;
mod outgoing;
mod progress;

use std::{cell::Cell, collections::VecDeque, rc::Rc};

use js_sys::ArrayBuffer;
use protocol::{FileControl, Party, PeerId};
use web_sys::{Blob, File};

use self::{
    incoming::{Chunk, Incoming},
    outgoing::{Outgoing, Pumped},
};
use super::{action::Actions, command::FileCommand, pace::Pace};
use crate::{
    channel::files::{FileChannel, FileEvent, Offer, PumpEvent},
    error::{Error, ErrorCode},
    event::{CancelledBy, TransferId},
};

/// What the tasks of the transfers report.
pub enum TransferInput {
    /// From the pump sending our file number `.0`.
    Pump(u32, PumpEvent),
    /// A received file, checked.
    Checked(Box<Checked>),
}

/// A received file and the verdict of its check.
pub struct Checked {
    incoming: Incoming,
    verdict: Result<Blob, Error>,
}

/// How the transfers' tasks reach the session.
pub type Wake = Rc<dyn Fn(TransferInput)>;

/// Numbers the session's transfers, over whichever call or connection they go, so that no
/// two transfers the page hears of share an id (each connection counting its own would
/// give two participants' first files the same one).
#[derive(Clone, Default)]
pub struct TransferNumbers(Rc<Cell<u32>>);

impl TransferNumbers {
    fn next(&self) -> u32 {
        let number = self.0.get().wrapping_add(1);
        self.0.set(number);
        number
    }
}

/// The file transfers of one call.
pub struct Transfers {
    files: Rc<FileChannel>,
    wake: Wake,
    numbers: TransferNumbers,
    outgoing: VecDeque<Outgoing>,
    incoming: Option<Incoming>,
}

impl Transfers {
    /// Transfers over `files`, whose tasks report to `wake`, numbered by `numbers`.
    pub fn new(files: FileChannel, wake: Wake, numbers: TransferNumbers) -> Self {
        Self {
            files: Rc::new(files),
            wake,
            numbers,
            outgoing: VecDeque::new(),
            incoming: None,
        }
    }

    /// Queues `file`; returns its id. Refused once the file channel has closed.
    pub fn send(&mut self, file: File) -> Result<TransferId, Error> {
        if self.files.is_closed() {
            let message = "the file channel has closed";
            return Err(Error::new(ErrorCode::TransferFailed, message));
        }
        let outgoing = Outgoing::new(self.numbers.next(), file);
        let id = outgoing.id();
        self.outgoing.push_back(outgoing);
        self.offer_next();
        Ok(id)
    }

    /// Offers the first queued file, unless one is offered or sending already.
    fn offer_next(&mut self) {
        if let Some(next) = self.outgoing.front_mut()
            && !next.offered()
            && self.files.is_open()
        {
            next.offer(&self.files);
        }
    }

    /// What the file channel with `with` heard; `chunk` is the size the pump of an
    /// accepted file uses. What was wrong with it reaches the page at `pace`.
    pub fn file_event(
        &mut self,
        event: FileEvent,
        chunk: f64,
        (with, pace): (&PeerId, &mut Pace),
        out: &mut Actions,
    ) {
        match event {
            FileEvent::Open => self.offer_next(),
            FileEvent::Control(message) => self.control(message, chunk, with, out),
            FileEvent::BadOffer(id, error) => {
                self.files.send(&FileControl::Decline { id });
                pace.complain(error, out);
            }
            FileEvent::Chunk(buffer) => self.chunk(buffer, out),
            FileEvent::Invalid(error) => pace.complain(error, out),
            // News from a newer version of the other side: nothing to do.
            FileEvent::Unknown => {}
            // Nothing more can go or come: what waited for it ends as it would with the
            // call (which the other side may be ending: its hang-up and its closed
            // channels race).
            FileEvent::Closed => self.end_all(out),
        }
    }

    fn control(&mut self, message: FileControl, chunk: f64, with: &PeerId, out: &mut Actions) {
        let id = message.id();
        let head = self
            .outgoing
            .front_mut()
            .filter(|o| o.is(id) && o.offered());
        let theirs = self.incoming.as_ref().filter(|i| i.number() == id);
        match message {
            FileControl::Offer { .. } if self.incoming.is_some() => {
                // One at a time: the other side breaks the rule.
                self.files.send(&FileControl::Decline { id });
            }
            FileControl::Offer {
                id,
                name,
                size,
                kind,
            } => {
                let offer = Offer {
                    id,
                    name,
                    size,
                    kind,
                };
                let number = self.numbers.next();
                self.incoming = Some(Incoming::offered(offer, number, with, out));
            }
            FileControl::Accept { .. } => {
                if let Some(head) = head {
                    let (id, wake) = (head.number(), self.wake.clone());
                    let report = Rc::new(move |event| wake(TransferInput::Pump(id, event)));
                    head.start(&self.files, chunk, report);
                }
            }
            FileControl::Decline { .. } if head.is_some() => {
                self.finish_outgoing(CancelledBy::Declined, out);
            }
            // A cancel that says its side goes to that transfer only: both ways may have
            // one of this number. One that does not say ends ours first.
            FileControl::Cancel { by, .. } if head.is_some() && by != Some(Party::Sender) => {
                self.finish_outgoing(CancelledBy::Peer, out);
            }
            FileControl::Cancel { by, .. } if theirs.is_some() && by != Some(Party::Receiver) => {
                if let Some(incoming) = self.incoming.take() {
                    out.emit(incoming.cancelled(CancelledBy::Peer));
                }
            }
            FileControl::End { digest, .. } => self.end_of(id, digest),
            FileControl::Received { ok, .. } if head.is_some() => self.receipt(ok, out),
            // Late news about a transfer that is over.
            _ => {}
        }
    }

    fn chunk(&mut self, buffer: ArrayBuffer, out: &mut Actions) {
        let Some(incoming) = self.incoming.as_mut().filter(|i| i.accepted()) else {
            return; // bytes of a transfer cancelled meanwhile
        };
        if let Chunk::TooMuch = incoming.chunk(buffer, &self.files, out) {
            self.incoming = None;
        }
    }

    /// The sender says all bytes of `id` went: check them beside the session (hashing a
    /// large file takes a moment), and hand the file over when that is done.
    fn end_of(&mut self, id: u32, digest: Option<String>) {
        let Some(mut incoming) = self.incoming.take_if(|i| i.number() == id && i.accepted()) else {
            return;
        };
        let wake = self.wake.clone();
        wasm_bindgen_futures::spawn_local(async move {
            let verdict = incoming.verify(digest.as_deref()).await;
            wake(TransferInput::Checked(Box::new(Checked {
                incoming,
                verdict,
            })));
        });
    }

    /// What the tasks of the transfers report.
    pub fn input(&mut self, input: TransferInput, out: &mut Actions) {
        match input {
            TransferInput::Pump(id, event) => {
                let Some(head) = self.outgoing.front_mut().filter(|o| o.is(id)) else {
                    return;
                };
                if let Pumped::Failed = head.pumped(event, &self.files, out) {
                    self.outgoing.pop_front();
                    self.offer_next();
                }
            }
            TransferInput::Checked(checked) => {
                let ok = checked.verdict.is_ok();
                let id = checked.incoming.number();
                self.files.send(&FileControl::Received { id, ok });
                handed_over(*checked, out);
            }
        }
    }

    /// The other side's word on the file at the head of the queue.
    fn receipt(&mut self, whole: bool, out: &mut Actions) {
        let Some(head) = self.outgoing.pop_front() else {
            return;
        };
        if whole {
            out.emit(head.done());
        } else {
            let error = Error::new(
                ErrorCode::IntegrityFailed,
                [&head.name(), " arrived damaged at the other side"].concat(),
            );
            out.emit(head.failed(error));
        }
        self.offer_next();
    }

    /// What the page asks of transfer `id`.
    pub fn command(&mut self, command: FileCommand, id: TransferId, out: &mut Actions) {
        match command {
            FileCommand::Accept => self.accept(id),
            FileCommand::Decline => self.decline(id, out),
            FileCommand::Cancel => self.cancel(id, out),
        }
    }

    /// The page accepts the incoming file `id`.
    fn accept(&mut self, id: TransferId) {
        if let Some(incoming) = self.incoming.as_mut().filter(|i| i.id() == id) {
            incoming.accept(&self.files);
        }
    }

    /// The page declines the incoming file `id`.
    fn decline(&mut self, id: TransferId, out: &mut Actions) {
        if let Some(incoming) = self.incoming.take_if(|i| i.id() == id) {
            let id = incoming.number();
            self.files.send(&FileControl::Decline { id });
            out.emit(incoming.cancelled(CancelledBy::Declined));
        }
    }

    /// The page cancels the transfer `id`, either way, queued or under way.
    fn cancel(&mut self, id: TransferId, out: &mut Actions) {
        match id {
            TransferId::Out(id) => {
                let Some(at) = self.outgoing.iter().position(|o| o.is(id)) else {
                    return;
                };
                if at == 0 {
                    if self.outgoing[0].offered() {
                        let by = Some(Party::Sender);
                        self.files.send(&FileControl::Cancel { id, by });
                    }
                    self.finish_outgoing(CancelledBy::Me, out);
                } else if let Some(queued) = self.outgoing.remove(at) {
                    out.emit(queued.cancelled(CancelledBy::Me));
                }
            }
            TransferId::In(_) => {
                if let Some(incoming) = self.incoming.take_if(|i| i.id() == id) {
                    let (id, by) = (incoming.number(), Some(Party::Receiver));
                    self.files.send(&FileControl::Cancel { id, by });
                    out.emit(incoming.cancelled(CancelledBy::Me));
                }
            }
        }
    }

    /// Ends the outgoing transfer at the head of the queue, then offers the next.
    fn finish_outgoing(&mut self, by: CancelledBy, out: &mut Actions) {
        if let Some(head) = self.outgoing.pop_front() {
            out.emit(head.cancelled(by));
        }
        self.offer_next();
    }

    /// The call ended: every transfer still under way or queued ends with it.
    pub fn end(mut self, out: &mut Actions) {
        self.end_all(out);
    }

    /// Every transfer still under way or queued ends, as the call's do when it ends.
    fn end_all(&mut self, out: &mut Actions) {
        for outgoing in &self.outgoing {
            out.emit(outgoing.cancelled(CancelledBy::Ended));
        }
        self.outgoing.clear();
        if let Some(incoming) = self.incoming.take() {
            out.emit(incoming.cancelled(CancelledBy::Ended));
        }
    }
}

/// A checked file goes to the page, even when its call has ended since: it is whole.
pub fn handed_over(checked: Checked, out: &mut Actions) {
    out.emit(checked.incoming.handed_over(checked.verdict));
}
