//! The room call's grid: a tile for each other participant, with their video, their name,
//! their muted and camera-off marks and the active speaker highlighted, and a tile of its
//! own for a shared screen; laid out by the stylesheet for 2 to 6 people at any width.
//!
//! The marks are what each participant tells (`participant-media`). Who speaks comes from
//! each connection's `getStats()` (the inbound audio's `audioLevel`), read twice a second
//! while the call lasts.

use std::{cell::RefCell, rc::Rc};

use gloo_timers::callback::Interval;
use js_sys::{Map, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::{JsFuture, spawn_local};
use web_sys::{Document, Element, HtmlVideoElement, MediaStream};

use super::page::{say, show};

/// How often the audio levels are read (ms).
const LEVELS_EVERY_MS: u32 = 500;

/// The audio level above which someone counts as speaking.
const SPEAKING: f64 = 0.02;

/// One participant's tile (or their shared screen's).
struct Tile {
    id: String,
    name: String,
    /// A shared screen's tile, not the camera's.
    screen: bool,
    tile: Element,
    video: HtmlVideoElement,
    muted: Element,
    quality: Element,
}

/// The tiles of the room call.
pub struct Grid {
    document: Document,
    grid: Element,
    tiles: Rc<RefCell<Vec<Tile>>>,
    /// Reads the levels while the call lasts; dropped, it stops.
    levels: Option<Interval>,
    /// The speaker every tile plays through, once one was chosen.
    sink: Option<String>,
}

impl Grid {
    /// The grid in the page's `grid` element.
    pub fn new(document: Document, grid: Element) -> Self {
        Self {
            document,
            grid,
            tiles: Rc::default(),
            levels: None,
            sink: None,
        }
    }

    /// `name` (id `id`) joined: a tile for them, until their video comes.
    pub fn joined(&mut self, id: &str, name: &str) {
        if self.tiles.borrow().iter().any(|t| t.id == id) {
            return;
        }
        let Some(tile) = self.tile(id, name, false) else {
            return;
        };
        self.grid.append_child(&tile.tile).ok();
        self.tiles.borrow_mut().push(tile);
        self.count();
    }

    fn tile(&self, id: &str, name: &str, screen: bool) -> Option<Tile> {
        let make = |tag: &str, class: &str| {
            let element = self.document.create_element(tag).ok()?;
            element.set_class_name(class);
            Some(element)
        };
        let tile = make("figure", "tile")?;
        tile.set_attribute("data-id", id).ok();
        let what = if screen { "screen" } else { "video" };
        tile.set_attribute("data-kind", what).ok();
        let video: HtmlVideoElement = make("video", "tile-video")?.dyn_into().ok()?;
        video.set_autoplay(true);
        video.set_attribute("playsinline", "").ok();
        video
            .set_attribute("aria-label", &format!("{name}'s {what}"))
            .ok();
        let caption = make("figcaption", "tile-name")?;
        // Names come from other people: text, never markup.
        caption.set_text_content(Some(&if screen {
            format!("{name}'s screen")
        } else {
            name.to_owned()
        }));
        let muted = make("span", "tile-muted")?;
        say(&muted, "");
        let quality = make("span", "tile-quality")?;
        say(&quality, "");
        caption.append_child(&muted).ok();
        caption.append_child(&quality).ok();
        tile.append_child(&video).ok();
        tile.append_child(&caption).ok();
        if let Some(sink) = &self.sink {
            sink_to(&video, sink);
        }
        Some(Tile {
            id: id.to_owned(),
            name: name.to_owned(),
            screen,
            tile,
            video,
            muted,
            quality,
        })
    }

    /// `stream` came from `id`: their camera plays in their tile, a shared screen in a
    /// tile of its own.
    pub fn stream(&mut self, id: &str, stream: &MediaStream, screen: bool) {
        if screen {
            self.unshare(id);
            let name = self.name_of(id).unwrap_or_default();
            let Some(tile) = self.tile(id, &name, true) else {
                return;
            };
            tile.video.set_src_object(Some(stream));
            self.grid.append_child(&tile.tile).ok();
            self.tiles.borrow_mut().push(tile);
            self.count();
        } else if let Some(tile) = self.tiles.borrow().iter().find(|t| t.id == id && !t.screen) {
            tile.video.set_src_object(Some(stream));
        }
    }

    /// `id` stopped sharing: their screen's tile goes.
    pub fn unshare(&mut self, id: &str) {
        self.tiles.borrow_mut().retain(|t| {
            let gone = t.id == id && t.screen;
            if gone {
                t.video.set_src_object(None);
                t.tile.remove();
            }
            !gone
        });
        self.count();
    }

    /// Every tile plays through the speaker `sink` (`setSinkId`, where the browser has it).
    pub fn play_through(&mut self, sink: &str) {
        self.sink = Some(sink.to_owned());
        for tile in self.tiles.borrow().iter() {
            sink_to(&tile.video, sink);
        }
    }

    /// The first participant's video, for picture-in-picture.
    pub fn first_video(&self) -> Option<HtmlVideoElement> {
        self.tiles.borrow().first().map(|tile| tile.video.clone())
    }

    /// Everyone in the call, by id and name, in the order they came.
    pub fn participants(&self) -> Vec<(String, String)> {
        let tiles = self.tiles.borrow();
        tiles
            .iter()
            .filter(|t| !t.screen)
            .map(|t| (t.id.clone(), t.name.clone()))
            .collect()
    }

    /// The name of participant `id`.
    pub fn name_of(&self, id: &str) -> Option<String> {
        let tiles = self.tiles.borrow();
        tiles.iter().find(|t| t.id == id).map(|t| t.name.clone())
    }

    /// How the connection with `id` is, 0 to 5: a mark on their tile.
    pub fn quality(&self, id: &str, quality: u8) {
        for tile in self
            .tiles
            .borrow()
            .iter()
            .filter(|t| t.id == id && !t.screen)
        {
            tile.quality
                .set_attribute("data-quality", &quality.to_string())
                .ok();
            say(&tile.quality, &format!("{quality}/5"));
            tile.quality
                .set_attribute("aria-label", &format!("connection quality {quality} of 5"))
                .ok();
        }
    }

    /// What `id` says they send: their tile's marks.
    pub fn marks(&self, id: &str, audio: bool, video: bool) {
        for tile in self
            .tiles
            .borrow()
            .iter()
            .filter(|t| t.id == id && !t.screen)
        {
            let marks = marks_text(audio, video);
            say(&tile.muted, marks);
            tile.muted.set_attribute("aria-label", marks).ok();
        }
    }

    /// How each connection is: a tile whose connection is not up says so.
    pub fn states(&self, participants: &JsValue) {
        for participant in js_sys::Array::from(participants).iter() {
            let id = super::page::text_field(&participant, "id");
            let state = super::page::text_field(&participant, "state");
            if let Some(tile) = self.tiles.borrow().iter().find(|t| t.id == id) {
                tile.tile.set_attribute("data-state", &state).ok();
            }
        }
    }

    /// `id` left: their tiles go.
    pub fn left(&mut self, id: &str) {
        self.tiles.borrow_mut().retain(|t| {
            if t.id == id {
                t.video.set_src_object(None);
                t.tile.remove();
            }
            t.id != id
        });
        self.count();
    }

    /// The call is over: every tile goes, and the levels are no longer read.
    pub fn clear(&mut self) {
        for tile in self.tiles.borrow_mut().drain(..) {
            tile.video.set_src_object(None);
            tile.tile.remove();
        }
        self.levels = None;
        self.count();
    }

    /// Tells the stylesheet how many tiles there are, and shows the grid when there are
    /// any.
    fn count(&self) {
        let count = self.tiles.borrow().len();
        self.grid
            .set_attribute("data-count", &count.to_string())
            .ok();
        show(&self.grid, count > 0);
    }

    /// Reads the levels from now on, until [`Grid::clear`]: `stats` is the
    /// `getStats(participant)` of the page's call.
    pub fn watch(&mut self, stats: impl Fn(String) -> Option<js_sys::Promise> + 'static) {
        if self.levels.is_some() {
            return;
        }
        let tiles = Rc::clone(&self.tiles);
        self.levels = Some(Interval::new(LEVELS_EVERY_MS, move || {
            let ids: Vec<String> = tiles
                .borrow()
                .iter()
                .filter(|t| !t.screen)
                .map(|t| t.id.clone())
                .collect();
            let asked: Vec<(String, js_sys::Promise)> = ids
                .into_iter()
                .filter_map(|id| Some((id.clone(), stats(id)?)))
                .collect();
            let tiles = Rc::clone(&tiles);
            spawn_local(async move {
                let mut levels = Vec::new();
                for (id, stats) in asked {
                    if let Ok(report) = JsFuture::from(stats).await {
                        levels.push((id, audio_level(&report)));
                    }
                }
                paint_levels(&tiles.borrow(), &levels);
            });
        }));
    }
}

/// What a person's marks say: their microphone muted, their camera off.
pub fn marks_text(audio: bool, video: bool) -> &'static str {
    match (audio, video) {
        (true, true) => "",
        (false, true) => "muted",
        (true, false) => "camera off",
        (false, false) => "muted, camera off",
    }
}

/// Plays `video` through the speaker `sink`, where the browser can.
fn sink_to(video: &HtmlVideoElement, sink: &str) {
    if let Ok(set) = crate::js::field(video, "setSinkId").dyn_into::<js_sys::Function>() {
        let _ = set.call1(video, &sink.into());
    }
}

/// The inbound audio's level in `report`, if it has one.
fn audio_level(report: &JsValue) -> Option<f64> {
    // An `RTCStatsReport` is map-like, not a `Map`: it has the same `forEach`.
    let report: &Map = report.is_object().then(|| report.unchecked_ref())?;
    let mut level = None;
    report.for_each(&mut |stat, _| {
        let kind = |key: &str| {
            Reflect::get(&stat, &key.into())
                .ok()
                .and_then(|v| v.as_string())
        };
        if kind("type").as_deref() == Some("inbound-rtp")
            && kind("kind").as_deref() == Some("audio")
        {
            level = Reflect::get(&stat, &"audioLevel".into())
                .ok()
                .and_then(|v| v.as_f64());
        }
    });
    level
}

/// Marks the loudest speaker above the threshold.
fn paint_levels(tiles: &[Tile], levels: &[(String, Option<f64>)]) {
    let loudest = levels
        .iter()
        .filter_map(|(id, level)| Some((id, (*level)?)))
        .filter(|(_, level)| *level > SPEAKING)
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(id, _)| id.clone());
    for tile in tiles.iter().filter(|t| !t.screen) {
        let speaking = loudest.as_deref() == Some(tile.id.as_str());
        let class = if speaking { "tile speaking" } else { "tile" };
        tile.tile.set_class_name(class);
    }
}
