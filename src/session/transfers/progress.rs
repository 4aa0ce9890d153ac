//! How a transfer reports its progress.

use crate::event::{Progress, TransferId};

/// Progress events at most this often (ms), besides the last one.
pub const PROGRESS_EVERY_MS: f64 = 200.0;

/// A `file-progress` of `bytes` out of `size`, for a transfer that started at `started`.
pub fn progress(id: TransferId, name: String, bytes: f64, size: f64, started: f64) -> Progress {
    let seconds = ((js_sys::Date::now() - started) / 1000.0).max(0.001);
    let rate = bytes / seconds;
    let eta = if rate > 0.0 {
        (size - bytes) / rate
    } else {
        f64::INFINITY
    };
    Progress {
        id,
        name,
        bytes,
        size,
        rate,
        eta,
        buffered: None,
    }
}
