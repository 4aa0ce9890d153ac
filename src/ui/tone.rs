//! The tones of a call before it is answered, made in the page with Web Audio (no media
//! file): the ringtone of an incoming call and the ring-back tone of one we place. While
//! one plays, the page's `<body>` says which in `data-tone`.
//!
//! The audio context is made at the person's first click (logging in), so the browser's
//! autoplay rules let it sound; where they do not, the call still shows, silently.
//! <https://developer.mozilla.org/docs/Web/API/Web_Audio_API>

use gloo_timers::callback::Interval;
use web_sys::{AudioContext, GainNode, HtmlElement, OscillatorNode};

/// Which tone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tone {
    /// Someone calls us: two short high beeps every 2 s.
    Ring,
    /// Our call rings at the other side: a low tone, 1 s in every 4 s.
    RingBack,
}

impl Tone {
    /// Its name in `data-tone`.
    fn as_str(self) -> &'static str {
        match self {
            Self::Ring => "ring",
            Self::RingBack => "ringback",
        }
    }

    /// Its pitch (Hz), how often it repeats (ms), and the beeps of each repeat: start and
    /// length in seconds.
    fn pattern(self) -> (f32, u32, &'static [(f64, f64)]) {
        match self {
            Self::Ring => (880.0, 2_000, &[(0.0, 0.25), (0.35, 0.25)]),
            Self::RingBack => (425.0, 4_000, &[(0.0, 1.0)]),
        }
    }
}

/// A tone playing; dropped, it stops.
struct Playing {
    tone: Tone,
    oscillator: OscillatorNode,
    _repeat: Interval,
}

impl Drop for Playing {
    fn drop(&mut self) {
        let _ = self.oscillator.stop();
    }
}

/// The page's tones.
pub struct Tones {
    body: Option<HtmlElement>,
    context: Option<AudioContext>,
    playing: Option<Playing>,
}

impl Tones {
    /// No tone yet; `body` says which plays.
    pub fn new(body: Option<HtmlElement>) -> Self {
        Self {
            body,
            context: None,
            playing: None,
        }
    }

    /// Makes the audio context, within the person's click.
    pub fn allow(&mut self) {
        if self.context.is_none() {
            self.context = AudioContext::new().ok();
        }
    }

    /// Plays `tone` (stopping any other), or none.
    pub fn play(&mut self, tone: Option<Tone>) {
        if self.playing.as_ref().map(|p| p.tone) == tone {
            return;
        }
        self.playing = None;
        if let Some(body) = &self.body {
            match tone {
                Some(tone) => body.set_attribute("data-tone", tone.as_str()).ok(),
                None => body.remove_attribute("data-tone").ok(),
            };
        }
        let (Some(tone), Some(context)) = (tone, &self.context) else {
            return;
        };
        let _ = context.resume();
        self.playing = start(context, tone);
    }
}

fn start(context: &AudioContext, tone: Tone) -> Option<Playing> {
    let (pitch, every_ms, beeps) = tone.pattern();
    let oscillator = context.create_oscillator().ok()?;
    let gain: GainNode = context.create_gain().ok()?;
    oscillator.frequency().set_value(pitch);
    gain.gain().set_value(0.0);
    oscillator.connect_with_audio_node(&gain).ok()?;
    gain.connect_with_audio_node(&context.destination()).ok()?;
    oscillator.start().ok()?;
    let schedule = {
        let (context, gain) = (context.clone(), gain.clone());
        move || {
            let now = context.current_time();
            for (at, length) in beeps {
                let _ = gain.gain().set_value_at_time(0.15, now + at);
                let _ = gain.gain().set_value_at_time(0.0, now + at + length);
            }
        }
    };
    schedule();
    Some(Playing {
        tone,
        oscillator,
        _repeat: Interval::new(every_ms, schedule),
    })
}
