//! The call-quality panel of the demo page: each connection's figures (`stats`, asked
//! for while the panel is open) as a table and as small graphs of the last 60 seconds,
//! drawn on a canvas by the page itself; and a quality mark on each tile (`quality`).

use std::collections::VecDeque;

use wasm_bindgen::{JsCast, JsValue};
use web_sys::{CanvasRenderingContext2d, HtmlCanvasElement};

use super::{
    App,
    page::{say, show, text_field},
};
use crate::js::field;

/// Seconds of history the graphs show.
const HISTORY: usize = 60;

/// One second of one connection.
#[derive(Clone, Copy, Default)]
struct Sample {
    send: f64,
    recv: f64,
    rtt: f64,
    loss: f64,
}

/// The figures of the connections while the panel is open.
#[derive(Default)]
pub struct History {
    /// Each connection's last minute, by participant id.
    series: Vec<(String, VecDeque<Sample>)>,
    /// Each connection's figures in words, by participant id.
    lines: Vec<(String, String)>,
}

impl History {
    /// Keeps `text` as the line of `id`; all lines, one per connection.
    fn tell(&mut self, id: &str, text: String) -> String {
        match self.lines.iter_mut().find(|(known, _)| known == id) {
            Some((_, line)) => *line = text,
            None => self.lines.push((id.to_owned(), text)),
        }
        let lines: Vec<&str> = self.lines.iter().map(|(_, line)| line.as_str()).collect();
        lines.join("\n")
    }

    /// Whether `id` is the connection the graphs show (the first one heard).
    fn graphed(&self, id: &str) -> bool {
        self.series.first().is_none_or(|(first, _)| first == id)
    }

    fn push(&mut self, id: &str, sample: Sample) -> &VecDeque<Sample> {
        let at = match self.series.iter().position(|(known, _)| known == id) {
            Some(at) => at,
            None => {
                self.series.push((id.to_owned(), VecDeque::new()));
                self.series.len() - 1
            }
        };
        let series = &mut self.series[at].1;
        if series.len() == HISTORY {
            series.pop_front();
        }
        series.push_back(sample);
        series
    }
}

/// A figure as the table shows it: `—` where the browser gives none.
fn figure(payload: &JsValue, key: &str, unit: &str) -> String {
    let value = field(payload, key);
    match (value.as_f64(), value.as_string()) {
        (Some(number), _) => format!("{number}{unit}"),
        (None, Some(text)) => text,
        _ => "—".to_owned(),
    }
}

impl App {
    /// Opens the panel (the figures start coming) or closes it (they stop).
    pub(super) fn toggle_quality(&self) {
        let panel = &self.page.quality_panel;
        let open = panel.unchecked_ref::<web_sys::HtmlElement>().hidden();
        show(panel, open);
        self.page
            .quality_button
            .set_attribute("aria-expanded", if open { "true" } else { "false" })
            .ok();
        self.with_call(|call| call.watch_stats(open));
        if !open {
            *self.quality.borrow_mut() = History::default();
        }
    }

    /// A second of one connection's figures: its row of the table, and the graphs.
    pub(super) fn on_stats(&self, payload: JsValue) {
        let id = text_field(&payload, "id");
        let number = |key: &str| field(&payload, key).as_f64().unwrap_or(0.0);
        let sample = Sample {
            send: number("sendKbps"),
            recv: number("recvKbps"),
            rtt: number("rttMs"),
            loss: number("lossPct"),
        };
        let row = [
            ("sendKbps", " kbps"),
            ("recvKbps", " kbps"),
            ("lossPct", " %"),
            ("rttMs", " ms"),
            ("jitterMs", " ms"),
            ("fps", ""),
            ("path", ""),
            ("codec", ""),
        ]
        .map(|(key, unit)| figure(&payload, key, unit));
        let size = match (
            field(&payload, "width").as_f64(),
            field(&payload, "height").as_f64(),
        ) {
            (Some(w), Some(h)) => format!("{w}×{h}"),
            _ => "—".to_owned(),
        };
        let text = format!(
            "{}: sent {}, received {}, lost {}, round trip {}, jitter {}, {} fps, {size}, path {}, codec {}",
            self.name_of(&id),
            row[0],
            row[1],
            row[2],
            row[3],
            row[4],
            row[5],
            row[6],
            row[7],
        );
        let mut history = self.quality.borrow_mut();
        say(&self.page.quality_figures, &history.tell(&id, text));
        let graphed = history.graphed(&id);
        let series = history.push(&id, sample);
        if graphed {
            draw(
                &self.page.quality_rate,
                series,
                |s| (s.send, s.recv),
                "kbps",
            );
            draw(
                &self.page.quality_delay,
                series,
                |s| (s.rtt, s.loss * 10.0),
                "ms · loss ×10 %",
            );
        }
    }

    /// A connection's mark, on its tile (or beside the other side's name).
    pub(super) fn on_quality(&self, payload: JsValue) {
        let id = text_field(&payload, "id");
        let quality = field(&payload, "quality").as_f64().unwrap_or(0.0) as u8;
        if self.memory.borrow().group {
            self.grid.borrow().quality(&id, quality);
        } else {
            let mark = &self.page.remote_quality;
            mark.set_attribute("data-quality", &quality.to_string())
                .ok();
            say(mark, &format!("quality {quality}/5"));
        }
    }

    /// The call ended: the panel closes and forgets.
    pub(super) fn quality_ended(&self) {
        show(&self.page.quality_panel, false);
        self.page
            .quality_button
            .set_attribute("aria-expanded", "false")
            .ok();
        self.with_call(|call| call.watch_stats(false));
        say(&self.page.remote_quality, "");
        *self.quality.borrow_mut() = History::default();
    }
}

/// Draws two lines of `series` (picked by `pick`) on `canvas`, scaled to the larger.
fn draw(
    canvas: &HtmlCanvasElement,
    series: &VecDeque<Sample>,
    pick: impl Fn(&Sample) -> (f64, f64),
    unit: &str,
) {
    let Some(context) = canvas
        .get_context("2d")
        .ok()
        .flatten()
        .and_then(|c| c.dyn_into::<CanvasRenderingContext2d>().ok())
    else {
        return;
    };
    let (width, height) = (f64::from(canvas.width()), f64::from(canvas.height()));
    context.clear_rect(0.0, 0.0, width, height);
    let top = series
        .iter()
        .map(|s| {
            let (a, b) = pick(s);
            a.max(b)
        })
        .fold(1.0, f64::max);
    let step = width / (HISTORY - 1) as f64;
    for (line, colour) in [(0, "#4f8cff"), (1, "#ff8a80")] {
        context.begin_path();
        context.set_stroke_style_str(colour);
        for (at, sample) in series.iter().enumerate() {
            let value = if line == 0 {
                pick(sample).0
            } else {
                pick(sample).1
            };
            let (x, y) = (
                at as f64 * step,
                height - 2.0 - value / top * (height - 14.0),
            );
            if at == 0 {
                context.move_to(x, y);
            } else {
                context.line_to(x, y);
            }
        }
        context.stroke();
    }
    context.set_fill_style_str("#9aa4b2");
    let _ = context.fill_text(&format!("{top:.0} {unit}"), 4.0, 10.0);
}
