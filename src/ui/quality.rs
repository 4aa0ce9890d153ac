//! The call-quality panel of the demo page: each connection's figures (`stats`, asked
//! for while the panel is open) as a table and as small graphs of the last 60 seconds,
//! drawn on a canvas by the page itself (in a room call, of the participant picked from
//! a menu); and a quality mark on each tile (`quality`).

use std::collections::VecDeque;

use wasm_bindgen::{JsCast, JsValue};
use web_sys::{CanvasRenderingContext2d, HtmlCanvasElement};

use super::{
    App,
    page::{say, show, text_field},
};
use crate::js::field;

/// What the panel says before the first figures come.
const WAITING: &str = "Waiting for the first figures…";

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
    /// Each connection's last minute, by participant id, in the order first heard.
    series: Vec<(String, VecDeque<Sample>)>,
    /// Each connection's figures in words, by participant id.
    lines: Vec<(String, String)>,
    /// The participant whose graphs were picked from the menu.
    picked: Option<String>,
}

impl History {
    /// Keeps `text` as the line of `id`.
    fn tell(&mut self, id: &str, text: String) {
        match self.lines.iter_mut().find(|(known, _)| known == id) {
            Some((_, line)) => *line = text,
            None => self.lines.push((id.to_owned(), text)),
        }
    }

    /// Every connection's line, one under the other.
    fn text(&self) -> String {
        let lines: Vec<&str> = self.lines.iter().map(|(_, line)| line.as_str()).collect();
        lines.join("\n")
    }

    /// The connection the graphs show: the one picked, else the first one heard.
    fn graphed(&self) -> Option<&(String, VecDeque<Sample>)> {
        let picked = self.picked.as_deref();
        self.series
            .iter()
            .find(|(id, _)| Some(id.as_str()) == picked)
            .or(self.series.first())
    }

    /// Adds `sample` to the series of `id`; true if `id` is new.
    fn push(&mut self, id: &str, sample: Sample) -> bool {
        let (at, new) = match self.series.iter().position(|(known, _)| known == id) {
            Some(at) => (at, false),
            None => {
                self.series.push((id.to_owned(), VecDeque::new()));
                (self.series.len() - 1, true)
            }
        };
        let series = &mut self.series[at].1;
        if series.len() == HISTORY {
            series.pop_front();
        }
        series.push_back(sample);
        new
    }

    /// Forgets the connection with `id`, which ended.
    fn forget(&mut self, id: &str) {
        self.series.retain(|(known, _)| known != id);
        self.lines.retain(|(known, _)| known != id);
        if self.picked.as_deref() == Some(id) {
            self.picked = None;
        }
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
            self.forget_quality();
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
        history.tell(&id, text);
        say(&self.page.quality_figures, &history.text());
        if history.push(&id, sample) {
            self.offer_graph_of(&id, history.series.len());
        } else {
            self.name_graph_of(&id);
        }
        if history.graphed().is_some_and(|(graphed, _)| *graphed == id) {
            self.draw_graphs(&history);
        }
    }

    /// Adds `id` to the menu of whose graphs to show; the menu is offered once there are
    /// `count` connections to choose from, two or more.
    fn offer_graph_of(&self, id: &str, count: usize) {
        let Ok(option) = self.page.document.create_element("option") else {
            return;
        };
        option.set_attribute("value", id).ok();
        // Names come from other people: text, never markup.
        option.set_text_content(Some(&self.name_of(id)));
        self.page.quality_graph.append_child(&option).ok();
        show(&self.page.quality_graph_label, count > 1);
    }

    /// The menu's entry for `id` says their name as the page knows it now (their tile may
    /// have come after their first figures).
    fn name_graph_of(&self, id: &str) {
        let name = self.name_of(id);
        if let Some((_, option)) = self.graph_option(id)
            && option.text_content().as_deref() != Some(name.as_str())
        {
            option.set_text_content(Some(&name));
        }
    }

    /// The menu's entry for `id`, and where it is.
    fn graph_option(&self, id: &str) -> Option<(u32, web_sys::Element)> {
        let menu = &self.page.quality_graph;
        (0..menu.length()).find_map(|at| {
            let option = menu.item(at)?;
            (option.get_attribute("value").as_deref() == Some(id)).then_some((at, option))
        })
    }

    /// Someone was picked from the menu: the graphs show them.
    pub(super) fn graph_picked(&self) {
        let mut history = self.quality.borrow_mut();
        history.picked = Some(self.page.quality_graph.value());
        self.draw_graphs(&history);
    }

    /// Draws the graphs of the connection `history` graphs, and names it.
    fn draw_graphs(&self, history: &History) {
        let Some((id, series)) = history.graphed() else {
            self.clear_graphs();
            return;
        };
        // Only when it changed: the person may have the menu open.
        if self.page.quality_graph.value() != *id {
            self.page.quality_graph.set_value(id);
        }
        let name = self.name_of(id);
        draw(
            &self.page.quality_rate,
            series,
            |s| (s.send, s.recv),
            "kbps",
            &format!("Sent to and received from {name}, kbps, last minute"),
        );
        draw(
            &self.page.quality_delay,
            series,
            |s| (s.rtt, s.loss * 10.0),
            "ms · loss ×10 %",
            &format!("Round trip and loss with {name}, last minute"),
        );
    }

    /// A participant left the room call: their figures and graphs go.
    pub(super) fn quality_left(&self, id: &str) {
        let mut history = self.quality.borrow_mut();
        if !history.series.iter().any(|(known, _)| known == id) {
            return;
        }
        history.forget(id);
        if let Some((at, _)) = self.graph_option(id) {
            self.page.quality_graph.remove_with_index(at as i32);
        }
        show(&self.page.quality_graph_label, history.series.len() > 1);
        let text = history.text();
        say(
            &self.page.quality_figures,
            if text.is_empty() { WAITING } else { &text },
        );
        self.draw_graphs(&history);
    }

    /// The panel closed or the call ended: it forgets every figure.
    fn forget_quality(&self) {
        *self.quality.borrow_mut() = History::default();
        self.page.quality_graph.set_text_content(None);
        show(&self.page.quality_graph_label, false);
        say(&self.page.quality_figures, WAITING);
        self.clear_graphs();
    }

    /// Nobody to graph: blank graphs, named for what they will show.
    fn clear_graphs(&self) {
        clear(
            &self.page.quality_rate,
            "Sent and received kbps, last minute",
        );
        clear(&self.page.quality_delay, "Round trip and loss, last minute");
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
        self.forget_quality();
    }
}

/// The 2D drawing context of `canvas`.
fn context(canvas: &HtmlCanvasElement) -> Option<CanvasRenderingContext2d> {
    canvas.get_context("2d").ok().flatten()?.dyn_into().ok()
}

/// Clears `canvas`, and labels it `label`.
fn clear(canvas: &HtmlCanvasElement, label: &str) {
    canvas.set_attribute("aria-label", label).ok();
    if let Some(context) = context(canvas) {
        context.clear_rect(
            0.0,
            0.0,
            f64::from(canvas.width()),
            f64::from(canvas.height()),
        );
    }
}

/// Draws two lines of `series` (picked by `pick`) on `canvas`, scaled to the larger, and
/// says what it shows in `label`.
fn draw(
    canvas: &HtmlCanvasElement,
    series: &VecDeque<Sample>,
    pick: impl Fn(&Sample) -> (f64, f64),
    unit: &str,
    label: &str,
) {
    canvas.set_attribute("aria-label", label).ok();
    let Some(context) = context(canvas) else {
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
