//! A file we send: queued, offered, then pumped by a task of its own.

use std::rc::Rc;

use protocol::{FileControl, Party};
use web_sys::File;

use super::progress::{PROGRESS_EVERY_MS, progress};
use crate::{
    channel::files::{self, FileChannel, PumpEvent},
    event::{CancelledBy, Event, TransferId},
    js::Task,
    session::action::Actions,
};

/// One file to send.
pub struct Outgoing {
    id: u32,
    file: File,
    offered: bool,
    started: f64,
    last_report: f64,
    /// The pump, once one runs. Cancelled, declined, done, or the call ended: dropped
    /// with the transfer, it stops wherever it waits.
    pump: Option<Task>,
}

impl Outgoing {
    /// `file`, queued as our transfer number `id`.
    pub fn new(id: u32, file: File) -> Self {
        Self {
            id,
            file,
            offered: false,
            started: 0.0,
            last_report: 0.0,
            pump: None,
        }
    }

    /// Its id for pages.
    pub fn id(&self) -> TransferId {
        TransferId::Out(self.id)
    }

    /// The file's name.
    pub fn name(&self) -> String {
        self.file.name()
    }

    /// Whether the other side has been offered it.
    pub fn offered(&self) -> bool {
        self.offered
    }

    /// Offers it to the other side.
    pub fn offer(&mut self, files: &FileChannel) {
        self.offered = true;
        files.send(&FileControl::Offer {
            id: self.id,
            name: self.file.name(),
            size: self.file.size(),
            kind: self.file.type_(),
        });
    }

    /// Its number in the file channel.
    pub fn number(&self) -> u32 {
        self.id
    }

    /// Accepted: its bytes start flowing, in chunks of `chunk` bytes; the pump reports
    /// to `report`.
    pub fn start(&mut self, files: &Rc<FileChannel>, chunk: f64, report: Rc<dyn Fn(PumpEvent)>) {
        // Accepted once: an `accept` again (a hostile receiver's) starts nothing over.
        if self.pump.is_some() {
            return;
        }
        self.started = js_sys::Date::now();
        self.pump = Some(Task::spawn(files::pump(
            files.clone(),
            self.file.clone().into(),
            self.id,
            chunk,
            report,
        )));
    }

    /// Reports `bytes` gone, unless it reported a moment ago.
    pub fn progressed(&mut self, bytes: f64, files: &FileChannel, out: &mut Actions) {
        let now = js_sys::Date::now();
        let size = self.file.size();
        if bytes < size && now - self.last_report < PROGRESS_EVERY_MS {
            return;
        }
        self.last_report = now;
        let mut progress = progress(self.id(), self.file.name(), bytes, size, self.started);
        // How much waits in the channel: the pacing keeps it bounded.
        progress.buffered = Some(files.channel().buffered_amount());
        out.emit(Event::FileProgress(progress));
    }

    /// The other side has it whole.
    pub fn done(&self) -> Event {
        Event::FileDone {
            id: self.id(),
            name: self.file.name(),
            size: self.file.size(),
            kind: self.file.type_(),
            blob: None,
        }
    }

    /// It stopped before it completed, `by` whom.
    pub fn cancelled(&self, by: CancelledBy) -> Event {
        Event::FileCancelled {
            id: self.id(),
            name: self.file.name(),
            by,
        }
    }

    /// It failed.
    pub fn failed(&self, error: crate::error::Error) -> Event {
        Event::FileError {
            id: self.id(),
            name: self.file.name(),
            error,
        }
    }

    /// Whether this is our transfer number `id`.
    pub fn is(&self, id: u32) -> bool {
        self.id == id
    }

    /// What the pump of this file reports.
    pub fn pumped(&mut self, event: PumpEvent, files: &FileChannel, out: &mut Actions) -> Pumped {
        match event {
            PumpEvent::Progress(bytes) => {
                self.progressed(bytes, files, out);
                Pumped::Going
            }
            // Done only when the other side says it arrived whole (`received`).
            PumpEvent::Sent => Pumped::Going,
            PumpEvent::Failed(error) => {
                files.send(&FileControl::Cancel {
                    id: self.id,
                    by: Some(Party::Sender),
                });
                out.emit(self.failed(error));
                Pumped::Failed
            }
        }
    }
}

/// Whether a file's pump goes on.
pub enum Pumped {
    /// Still sending, or waiting for the receiver's word.
    Going,
    /// It failed; the page has been told.
    Failed,
}
