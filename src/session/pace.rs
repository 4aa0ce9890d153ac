//! What the other side of a connection may cost the page. A peer that floods the channels
//! with chat messages or junk gets a bounded number of events through, whatever it sends:
//! the rest is dropped, and said so in a few words.

use super::action::Actions;
use crate::{
    error::{Error, ErrorCode},
    words::decimal,
};

/// Chat messages shown at once, and then each second: far past anyone typing, and twice
/// what a page may have queued before the channel opened, which goes at once when it does.
const CHAT_BURST: f64 = 2.0 * crate::channel::chat::MAX_QUEUED as f64;
const CHAT_PER_SECOND: f64 = 20.0;

/// Errors about what the peer sent shown at once, and then each second.
const COMPLAINTS_BURST: f64 = 5.0;
const COMPLAINTS_PER_SECOND: f64 = 1.0;

/// Word of dropped chat messages: at once, then at most once a second.
const DROPS_TOLD_PER_SECOND: f64 = 1.0;

/// A token bucket on the page's clock.
struct Bucket {
    tokens: f64,
    at_ms: f64,
    burst: f64,
    per_second: f64,
}

impl Bucket {
    fn new(burst: f64, per_second: f64) -> Self {
        Self {
            tokens: burst,
            at_ms: js_sys::Date::now(),
            burst,
            per_second,
        }
    }

    /// Takes one token, if one is left at `now_ms`.
    fn take(&mut self, now_ms: f64) -> bool {
        // A clock set back refills nothing.
        let elapsed = (now_ms - self.at_ms).max(0.0);
        self.at_ms = now_ms;
        self.tokens = (self.tokens + elapsed / 1000.0 * self.per_second).min(self.burst);
        let took = self.tokens >= 1.0;
        if took {
            self.tokens -= 1.0;
        }
        took
    }
}

/// The pace of what one peer's channels bring to the page.
pub struct Pace {
    chat: Bucket,
    complaints: Bucket,
    drops_told: Bucket,
    /// Chat messages dropped since the call began.
    dropped: u64,
    /// Errors not shown since the last one that was.
    held: u64,
}

impl Default for Pace {
    /// A pace with every bucket full.
    fn default() -> Self {
        Self {
            chat: Bucket::new(CHAT_BURST, CHAT_PER_SECOND),
            complaints: Bucket::new(COMPLAINTS_BURST, COMPLAINTS_PER_SECOND),
            drops_told: Bucket::new(1.0, DROPS_TOLD_PER_SECOND),
            dropped: 0,
            held: 0,
        }
    }
}

impl Pace {
    /// Whether a chat message from `name` may reach the page now. One that may not is
    /// dropped and counted, and the page told how many so far, at most once a second.
    pub fn chat(&mut self, name: &str, out: &mut Actions) -> bool {
        let now = js_sys::Date::now();
        if self.chat.take(now) {
            return true;
        }
        self.dropped += 1;
        if self.drops_told.take(now) {
            let dropped = decimal(self.dropped);
            let message = [
                name,
                " sends chat messages too fast: ",
                &dropped,
                " not shown",
            ];
            out.report(Error::new(ErrorCode::BadMessage, message.concat()));
        }
        false
    }

    /// Tells the page `error` about what the peer sent, unless it has been told too much
    /// of late: then it is counted, and the next error shown says how many were not.
    pub fn complain(&mut self, error: Error, out: &mut Actions) {
        if self.complaints.take(js_sys::Date::now()) {
            out.report(self.with_held(error));
        } else {
            self.held += 1;
        }
    }

    /// `error`, saying how many errors were not shown before it.
    fn with_held(&mut self, mut error: Error) -> Error {
        if self.held > 0 {
            let held = decimal(std::mem::take(&mut self.held));
            error.message = [&error.message, " (and ", &held, " more not shown)"].concat();
        }
        error
    }
}
