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
        let seen = Seen::gather(&stats);
        let now = seen.totals;
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
        // The candidate pair the media takes: the transport's selected one (Chromium),
        // else the one marked `selected` (Firefox), else a nominated pair that succeeded.
        let pair = seen
            .transport_pair
            .and_then(|id| by_id(&stats, &id))
            .or(seen.selected_pair)
            .or(seen.nominated_pair);
        let rtt_ms = pair
            .as_ref()
            .and_then(|p| number_of(p, "currentRoundTripTime"))
            .or(seen.remote_rtt)
            .map(|s| (s * 1000.0).round());
        let video_in = seen.video_in;
        let codec = video_in
            .as_ref()
            .or(seen.video_out.as_ref())
            .and_then(|s| text_of(s, "codecId"))
            .and_then(|id| by_id(&stats, &id))
            .and_then(|codec| text_of(&codec, "mimeType"))
            // `video/VP8`: the codec's name. '/' is ASCII, so the next byte begins a character.
            .and_then(|mime| {
                Some(
                    mime.get(mime.bytes().position(|b| b == b'/')? + 1..)?
                        .to_owned(),
                )
            });
        let path = pair.as_ref().and_then(|pair| {
            let kind = |key: &str| {
                let candidate = by_id(&stats, &text_of(pair, key)?)?;
                text_of(&candidate, "candidateType")
            };
            let (local, remote) = (kind("localCandidateId"), kind("remoteCandidateId"));
            if remote.as_deref() == Some("relay") {
                remote
            } else {
                local
            }
        });
        let video = |key: &str| video_in.as_ref().and_then(|s| number_of(s, key));
        let mut figures = Figures {
            send_kbps: rate(|t| t.sent),
            recv_kbps: rate(|t| t.received),
            loss_pct,
            rtt_ms,
            jitter_ms: seen.jitter.map(|s| (s * 1000.0).round()),
            fps: video("framesPerSecond"),
            width: video("frameWidth"),
            height: video("frameHeight"),
            path,
            codec,
            quality: None,
        };
        figures.quality = figures.recv_kbps.is_some().then(|| mark(&figures));
        figures
    }
}

/// What one pass over a report's stats objects finds.
#[derive(Default)]
struct Seen {
    totals: Totals,
    /// The largest jitter of what is received, s.
    jitter: Option<f64>,
    /// The first video received, and sent.
    video_in: Option<JsValue>,
    video_out: Option<JsValue>,
    /// Round trip from the other side's reports, s.
    remote_rtt: Option<f64>,
    transport_pair: Option<String>,
    selected_pair: Option<JsValue>,
    nominated_pair: Option<JsValue>,
}

impl Seen {
    fn gather(stats: &[JsValue]) -> Self {
        let mut seen = Self::default();
        let totals = &mut seen.totals;
        let add = |total: &mut f64, stat: &JsValue, key: &str| {
            *total += number_of(stat, key).unwrap_or(0.0);
        };
        for stat in stats {
            if let Some(at) = number_of(stat, "timestamp") {
                totals.at = totals.at.max(at);
            }
            let video = || text_of(stat, "kind").as_deref() == Some("video");
            let first = |slot: &mut Option<JsValue>, found: bool| {
                if slot.is_none() && found {
                    *slot = Some(stat.clone());
                }
            };
            match text_of(stat, "type").as_deref() {
                Some("outbound-rtp") => {
                    add(&mut totals.sent, stat, "bytesSent");
                    first(&mut seen.video_out, video());
                }
                Some("inbound-rtp") => {
                    add(&mut totals.received, stat, "bytesReceived");
                    add(&mut totals.lost, stat, "packetsLost");
                    add(&mut totals.packets, stat, "packetsReceived");
                    if let Some(jitter) = number_of(stat, "jitter") {
                        seen.jitter = Some(seen.jitter.map_or(jitter, |most| most.max(jitter)));
                    }
                    first(&mut seen.video_in, video());
                }
                Some("remote-inbound-rtp") if seen.remote_rtt.is_none() => {
                    seen.remote_rtt = number_of(stat, "roundTripTime");
                }
                Some("transport") if seen.transport_pair.is_none() => {
                    seen.transport_pair = text_of(stat, "selectedCandidatePairId");
                }
                Some("candidate-pair") => {
                    let flag = |key: &str| field(stat, key).as_bool() == Some(true);
                    first(&mut seen.selected_pair, flag("selected"));
                    first(
                        &mut seen.nominated_pair,
                        flag("nominated") && text_of(stat, "state").as_deref() == Some("succeeded"),
                    );
                }
                _ => {}
            }
        }
        seen
    }
}

/// The stats object of `report` with `id`.
fn by_id(stats: &[JsValue], id: &str) -> Option<JsValue> {
    stats
        .iter()
        .find(|s| text_of(s, "id").as_deref() == Some(id))
        .cloned()
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
