//! The call signals relayed to one user, numbered, and kept until the user acknowledges
//! them: what a resume replays.
//!
//! A user who sends `ack` (its login carried one) has every signal kept until it
//! acknowledges it; one who never does (the original contract) has signals kept only while
//! it is away. Either way the backlog is bounded in bytes, and each sender may fill only a
//! part of it, so that nobody can crowd out the signals of anyone else. The same part
//! bounds what one sender has waiting in the queue of a connected user who does not
//! acknowledge, so that nobody can fill that queue and have its owner dropped.

use std::{
    collections::{HashMap, VecDeque},
    sync::{Arc, atomic::Ordering},
};

use axum::extract::ws::Message;
use protocol::{ErrorCode, PeerId, ServerMessage};

use crate::{
    outbox::{Claim, Outbox, Waiting, cost, frame},
    refusal::Refusal,
};

/// The part of a backlog one sender may fill.
const SENDER_SHARE: usize = 4;

/// One kept signal.
struct Kept {
    seq: u64,
    from: PeerId,
    frame: Message,
    cost: usize,
    /// For a signal a node that died recorded: the number it had given it.
    recorded: Option<u64>,
}

/// The numbered signals of one user.
pub struct Inbox {
    /// The number of the next signal.
    next_seq: u64,
    /// Whether the user acknowledges what it handled.
    acks: bool,
    kept: VecDeque<Kept>,
    /// The highest `seq` of the user's own signals taken: a resume sends again only
    /// what came after it, and anything at or below it is a repeat.
    pub received: u64,
    /// Bytes kept, in all and by sender.
    bytes: usize,
    by_sender: HashMap<PeerId, usize>,
    /// For a connected user who does not acknowledge: each sender's bytes in its queue.
    queued: Vec<(PeerId, Waiting)>,
}

impl Inbox {
    /// An inbox whose numbers go on after `acked` (what the user had handled in an earlier
    /// session, so its numbers never go back), for a user that acknowledges if `acked` is
    /// given, and has given its own signals numbers up to `sent`, all taken as dealt with.
    pub fn new(acked: Option<u64>, sent: Option<u64>) -> Self {
        Self {
            next_seq: acked.unwrap_or(0).saturating_add(1),
            acks: acked.is_some(),
            kept: VecDeque::new(),
            received: sent.unwrap_or(0),
            bytes: 0,
            by_sender: HashMap::new(),
            queued: Vec::new(),
        }
    }

    /// Numbers `message` (a relayed signal, or news of the room call, which `from` set
    /// off), keeps it if it must be, and queues it to `outbox` if the user is connected.
    /// Refused when the sender's share, or the whole backlog, is full.
    pub fn deliver(
        &mut self,
        from: PeerId,
        mut message: ServerMessage,
        outbox: Option<&Outbox>,
        limit: usize,
    ) -> Result<(), Refusal> {
        let seq = self.next_seq;
        if let Some(slot) = message.seq_mut() {
            *slot = Some(seq);
        }
        let frame = frame(&message);
        let cost = cost(&frame);
        let share = limit / SENDER_SHARE;
        let full = || {
            Refusal::new(
                ErrorCode::RateLimited,
                "too many signals wait for that peer already",
            )
        };
        let mut claim = None;
        if self.acks || outbox.is_none() {
            let sender = self.by_sender.get(&from).copied().unwrap_or(0);
            if sender + cost > share || self.bytes + cost > limit {
                return Err(full());
            }
            self.bytes += cost;
            *self.by_sender.entry(from.clone()).or_default() += cost;
            self.kept.push_back(Kept {
                seq,
                from,
                frame: frame.clone(),
                cost,
                recorded: None,
            });
        } else {
            // Nothing is kept; what waits in the queue counts instead, until it is sent.
            let waiting = self.queued_from(from);
            if waiting.load(Ordering::Relaxed) + cost > share {
                return Err(full());
            }
            claim = Some(Claim::new(&waiting, cost));
        }
        self.next_seq += 1;
        if let Some(outbox) = outbox {
            outbox.push_claimed(frame, claim);
        }
        Ok(())
    }

    /// The count of `from`'s bytes waiting in the user's queue; senders with none waiting
    /// are forgotten.
    fn queued_from(&mut self, from: PeerId) -> Waiting {
        self.queued
            .retain(|(id, waiting)| *id == from || waiting.load(Ordering::Relaxed) > 0);
        if let Some((_, waiting)) = self.queued.iter().find(|(id, _)| *id == from) {
            return Arc::clone(waiting);
        }
        let waiting = Waiting::default();
        self.queued.push((from, Arc::clone(&waiting)));
        waiting
    }

    /// Whether the user acknowledges what it handled.
    pub fn acks(&self) -> bool {
        self.acks
    }

    /// The user handled everything up to `seq`: forget it.
    pub fn ack(&mut self, seq: u64) {
        while let Some(kept) = self.kept.front()
            && kept.seq <= seq
        {
            if let Some(kept) = self.kept.pop_front() {
                self.forget(&kept);
            }
        }
    }

    fn forget(&mut self, kept: &Kept) {
        self.bytes -= kept.cost;
        if let Some(bytes) = self.by_sender.get_mut(&kept.from) {
            *bytes -= kept.cost;
            if *bytes == 0 {
                self.by_sender.remove(&kept.from);
            }
        }
    }

    /// What waits for the user, in order: each sender and frame.
    pub fn waiting(&self) -> Vec<(PeerId, String)> {
        self.kept
            .iter()
            .filter_map(|kept| match &kept.frame {
                Message::Text(text) => Some((kept.from.clone(), text.as_str().to_owned())),
                _ => None,
            })
            .collect()
    }

    /// Keeps `waiting` for the user, in order, as a node that died recorded it (numbered
    /// again when the user is back, see [`Inbox::restart`]).
    pub fn keep_waiting(&mut self, waiting: Vec<(PeerId, String)>) {
        for (from, text) in waiting {
            let recorded = serde_json::from_str::<serde_json::Value>(&text)
                .ok()
                .and_then(|message| message.get("seq")?.as_u64());
            let frame = Message::Text(text.into());
            let cost = cost(&frame);
            self.bytes += cost;
            *self.by_sender.entry(from.clone()).or_default() += cost;
            self.kept.push_back(Kept {
                seq: self.next_seq,
                from,
                frame,
                cost,
                recorded,
            });
            self.next_seq += 1;
        }
    }

    /// The user is back in a session this node starts afresh (it took over the room from a
    /// node that died): numbers go on after `acked` and the user's own after `sent`, as
    /// for a new session, and what waits for the user is numbered again in that order.
    /// What the dead node recorded that the user says it handled (its number at most
    /// `acked`: it came before the socket died, the acknowledgement did not) is dropped.
    pub fn restart(&mut self, acked: Option<u64>, sent: Option<u64>) {
        let kept = std::mem::take(&mut self.kept);
        *self = Self::new(acked, sent);
        let handled = |kept: &Kept| {
            kept.recorded
                .zip(acked)
                .is_some_and(|(seq, acked)| seq <= acked)
        };
        for Kept { from, frame, .. } in kept.into_iter().filter(|kept| !handled(kept)) {
            let seq = self.next_seq;
            self.next_seq += 1;
            let frame = renumbered(frame, seq);
            let cost = cost(&frame);
            self.bytes += cost;
            *self.by_sender.entry(from.clone()).or_default() += cost;
            self.kept.push_back(Kept {
                seq,
                from,
                frame,
                cost,
                recorded: None,
            });
        }
    }

    /// The user is back on `outbox` having handled up to `acked`: queues what it has not
    /// acknowledged, in order. A user that does not acknowledge is taken to have received
    /// what was replayed.
    pub fn replay(&mut self, acked: Option<u64>, outbox: &Outbox) {
        if let Some(acked) = acked {
            self.ack(acked);
        }
        self.acks = acked.is_some();
        // What waits in the queue of the connection this one replaces is that one's.
        self.queued.clear();
        for kept in &self.kept {
            outbox.push(kept.frame.clone());
        }
        if !self.acks {
            self.kept.clear();
            self.by_sender.clear();
            self.bytes = 0;
        }
    }
}

/// `frame` (a numbered server message) with `seq` instead of its number.
fn renumbered(frame: Message, seq: u64) -> Message {
    let Message::Text(text) = &frame else {
        return frame;
    };
    match serde_json::from_str::<serde_json::Value>(text.as_str()) {
        Ok(serde_json::Value::Object(mut message)) => {
            message.insert("seq".to_owned(), seq.into());
            Message::Text(serde_json::Value::Object(message).to_string().into())
        }
        _ => frame,
    }
}
