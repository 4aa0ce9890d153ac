//! Call quality from `getStats()`: rates from the change since the last report, the path
//! the media takes, and a mark from 0 to 5. A figure the browser does not give is `None`
//! (Firefox has no `transport` stats and fewer fields than Chromium), never made up.
//! See <https://developer.mozilla.org/docs/Web/API/RTCStatsReport>.

use js_sys::Map;
use wasm_bindgen::{JsCast, JsValue};

use crate::js::{field, number_of, text_of};

/// What one report says, with rates against the report before it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Figures {
    /// Sent, kbit/s.
    pub send_kbps: Option<f64>,
    /// Received, kbit/s.
    pub recv_kbps: Option<f64>,
    /// Received packets lost since the last report, %.
    pub loss_pct: Option<f64>,
    /// Round trip, ms.
    pub rtt_ms: Option<f64>,
    /// Jitter of what is received, ms.
    pub jitter_ms: Option<f64>,
    /// Frames per second of the video received.
    pub fps: Option<f64>,
    /// Size of the video received.
    pub width: Option<f64>,
    /// Size of the video received.
    pub height: Option<f64>,
    /// `host`, `srflx`, `prflx` or `relay`: how the media goes.
    pub path: Option<String>,
    /// The video codec (`VP8`, `H264`, ...).
    pub codec: Option<String>,
    /// 0 (nothing comes through) to 5 (good); `None` on the first reading, which has no
    /// rates yet.
    pub quality: Option<u8>,
}

/// Running totals of one connection, kept between reports.
#[derive(Clone, Copy, Debug, Default)]
struct Totals {
    at: f64,
    sent: f64,
    received: f64,
    lost: f64,
    packets: f64,
}

/// Reads reports of one connection one after another.
#[derive(Default)]
pub struct Meter {
    last: Option<Totals>,
}

impl Meter {
    /// The figures of `report` (an `RTCStatsReport`).
    pub fn read(&mut self, report: &JsValue) -> Figures {
        let stats = entries(report);
        let of_type = |kind: &'static str| {
            stats
                .iter()
                .filter(move |s| text_of(s, "type").as_deref() == Some(kind))
        };
        let sum = |kind: &'static str, key: &str| {
            of_type(kind).filter_map(|s| number_of(s, key)).sum::<f64>()
        };
        let now = Totals {
            at: stats
                .iter()
                .filter_map(|s| number_of(s, "timestamp"))
                .fold(0.0, f64::max),
            sent: sum("outbound-rtp", "bytesSent"),
            received: sum("inbound-rtp", "bytesReceived"),
            lost: sum("inbound-rtp", "packetsLost"),
            packets: sum("inbound-rtp", "packetsReceived"),
        };
        let last = self.last.replace(now);
        let rate = |bytes: fn(&Totals) -> f64| {
            let last = last?;
            let ms = now.at - last.at;
            (ms > 0.0).then(|| ((bytes(&now) - bytes(&last)).max(0.0) * 8.0 / ms).round())
        };
        let loss_pct = last.and_then(|last| {
            let lost = (now.lost - last.lost).max(0.0);
            let total = lost + (now.packets - last.packets).max(0.0);
            (total > 0.0).then(|| (lost * 1000.0 / total).round() / 10.0)
        });
        let video_in =
            of_type("inbound-rtp").find(|s| text_of(s, "kind").as_deref() == Some("video"));
        let pair = selected_pair(&stats);
        let rtt_ms = pair
            .as_ref()
            .and_then(|p| number_of(p, "currentRoundTripTime"))
            .or_else(|| of_type("remote-inbound-rtp").find_map(|s| number_of(s, "roundTripTime")))
            .map(|s| (s * 1000.0).round());
        let jitter_ms = of_type("inbound-rtp")
            .filter_map(|s| number_of(s, "jitter"))
            .reduce(f64::max)
            .map(|s| (s * 1000.0).round());
        let codec = video_in
            .or_else(|| {
                of_type("outbound-rtp").find(|s| text_of(s, "kind").as_deref() == Some("video"))
            })
            .and_then(|s| text_of(s, "codecId"))
            .and_then(|id| {
                stats
                    .iter()
                    .find(|s| text_of(s, "id").as_deref() == Some(&id))
            })
            .and_then(|codec| text_of(codec, "mimeType"))
            .and_then(|mime| mime.split_once('/').map(|(_, name)| name.to_owned()));
        let path = pair.as_ref().and_then(|pair| {
            let kind = |key: &str| {
                let id = text_of(pair, key)?;
                let candidate = stats
                    .iter()
                    .find(|s| text_of(s, "id").as_deref() == Some(&id))?;
                text_of(candidate, "candidateType")
            };
            let (local, remote) = (kind("localCandidateId"), kind("remoteCandidateId"));
            if remote.as_deref() == Some("relay") {
                remote
            } else {
                local
            }
        });
        let recv_kbps = rate(|t| t.received);
        let mut figures = Figures {
            send_kbps: rate(|t| t.sent),
            recv_kbps,
            loss_pct,
            rtt_ms,
            jitter_ms,
            fps: video_in
                .as_ref()
                .and_then(|s| number_of(s, "framesPerSecond")),
            width: video_in.as_ref().and_then(|s| number_of(s, "frameWidth")),
            height: video_in.as_ref().and_then(|s| number_of(s, "frameHeight")),
            path,
            codec,
            quality: None,
        };
        figures.quality = figures.recv_kbps.is_some().then(|| mark(&figures));
        figures
    }
}

/// 5 for a call that flows without loss and with a short round trip; one less for each
/// step of loss (2, 5, 10 %) and of round trip (300, 500 ms); 0 when nothing comes.
fn mark(figures: &Figures) -> u8 {
    if figures.recv_kbps.is_some_and(|kbps| kbps <= 0.0) {
        return 0;
    }
    let loss = figures.loss_pct.unwrap_or(0.0);
    let rtt = figures.rtt_ms.unwrap_or(0.0);
    let steps = [
        loss > 2.0,
        loss > 5.0,
        loss > 10.0,
        rtt > 300.0,
        rtt > 500.0,
    ];
    5 - steps.iter().filter(|step| **step).count() as u8
}

/// Every stats object of `report` (map-like, not a `Map`: it has the same `forEach`).
fn entries(report: &JsValue) -> Vec<JsValue> {
    let mut all = Vec::new();
    if report.is_object() {
        report
            .unchecked_ref::<Map>()
            .for_each(&mut |stat, _| all.push(stat));
    }
    all
}

/// The candidate pair the media takes: the transport's selected one (Chromium), else the
/// one marked `selected` (Firefox), else a nominated pair that succeeded.
fn selected_pair(stats: &[JsValue]) -> Option<JsValue> {
    let by_id = |id: String| {
        stats
            .iter()
            .find(|s| text_of(s, "id").as_deref() == Some(&id))
            .cloned()
    };
    let pairs = || {
        stats
            .iter()
            .filter(|s| text_of(s, "type").as_deref() == Some("candidate-pair"))
    };
    stats
        .iter()
        .filter(|s| text_of(s, "type").as_deref() == Some("transport"))
        .find_map(|t| text_of(t, "selectedCandidatePairId"))
        .and_then(by_id)
        .or_else(|| {
            pairs()
                .find(|p| field(p, "selected").as_bool() == Some(true))
                .cloned()
        })
        .or_else(|| {
            pairs()
                .find(|p| {
                    field(p, "nominated").as_bool() == Some(true)
                        && text_of(p, "state").as_deref() == Some("succeeded")
                })
                .cloned()
        })
}
