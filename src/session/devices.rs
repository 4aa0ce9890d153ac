//! The camera and microphone: asked for once a call needs them, kept while it lasts.
//!
//! The session goes on while they are asked for: a permission prompt may stay open for as
//! long as the person likes, and hanging up or the other side giving up must still work.

mod choice;

pub use choice::{Pick, Swap};

use crate::queue::Sender;
use protocol::{PeerId, PeerInfo};
use wasm_bindgen::JsValue;
use web_sys::{HtmlVideoElement, MediaStream, MediaStreamTrack};

use super::{
    action::Actions,
    command::{Reply, answer},
    input::Input,
};
use crate::{
    channel::chat::MediaState,
    error::{Error, ErrorCode},
    event::Event,
    js::Listener,
    media::{self, LocalMedia, show},
};

/// What a call waits for the devices to do.
pub enum Then {
    /// Ring the callee of the call being placed, then tell the page it is placed.
    Ring(Reply),
    /// Take the call from this peer.
    Answer(PeerInfo),
    /// Ask to join the room call.
    Join,
}

impl Then {
    /// The call this waited for is gone: a ring's promise hears so.
    pub fn abandon(self) {
        if let Self::Ring(reply) = self {
            let error = Error::new(ErrorCode::InvalidState, "the call ended before it rang");
            answer(reply, Err::<JsValue, _>(error));
        }
    }
}

/// Where the devices are.
enum State {
    /// Not in use.
    Idle,
    /// getUserMedia was asked and has not answered yet; `then` is what waits for it.
    Asking { then: Option<Then> },
    /// In use by the call.
    Ready(LocalMedia),
}

/// A screen being shared: its stream, and the listener for the browser's own "Stop
/// sharing".
pub struct Screen {
    /// The stream, as the others receive it.
    pub stream: MediaStream,
    /// Its video track.
    pub track: MediaStreamTrack,
    /// The id the page was told shares it (`share-started`), and is to be told stopped:
    /// ours when it started, whatever becomes of our login meanwhile.
    pub announced: Option<PeerId>,
    _ended: Listener,
}

/// Where screen sharing is.
enum Sharing {
    /// Not sharing.
    Off,
    /// The browser asks the person what to share; `reply` hears how it went.
    Asking(Reply),
    /// Sharing.
    On(Screen),
}

/// The camera and microphone of the session, and a shared screen.
pub struct Devices {
    state: State,
    sharing: Sharing,
    mic: bool,
    camera: bool,
    constraints: JsValue,
    local_video: Option<HtmlVideoElement>,
    /// The camera and the microphone picked by their device ids (in that order), used
    /// from the next call on too.
    chosen: [Option<String>; 2],
    /// Watches devices come and go, while the session lasts.
    _watch: Option<Listener>,
}

impl Devices {
    /// Devices asked for with `constraints`, shown in `local_video`; devices coming and
    /// going are told to `inputs`.
    pub fn new(
        constraints: JsValue,
        local_video: Option<HtmlVideoElement>,
        inputs: &Sender<Input>,
    ) -> Self {
        Self {
            state: State::Idle,
            sharing: Sharing::Off,
            mic: true,
            camera: true,
            constraints,
            local_video,
            chosen: [None, None],
            _watch: choice::watch(inputs),
        }
    }

    /// Mutes (`false`) or unmutes the microphone, now and for the next call.
    pub fn set_mic(&mut self, enabled: bool) {
        self.mic = enabled;
        if let State::Ready(media) = &self.state {
            media.set_enabled("audio", enabled);
        }
    }

    /// Turns the camera off (`false`) or on, now and for the next call.
    pub fn set_camera(&mut self, enabled: bool) {
        self.camera = enabled;
        if let State::Ready(media) = &self.state {
            media.set_enabled("video", enabled);
        }
    }

    /// What we send, once the devices are here.
    pub fn stream(&self) -> Option<&MediaStream> {
        match &self.state {
            State::Ready(media) => media.stream.as_ref(),
            _ => None,
        }
    }

    /// What we send, as the others are told it.
    pub fn media_state(&self) -> MediaState {
        let sends = |kind: &str| match &self.state {
            State::Ready(media) => media.has(kind),
            _ => false,
        };
        MediaState {
            audio: self.mic && sends("audio"),
            video: self.camera && sends("video"),
            screen: self.screen().map(|screen| screen.stream.id()),
        }
    }

    /// The screen being shared, if one is.
    pub fn screen(&self) -> Option<&Screen> {
        match &self.sharing {
            Sharing::On(screen) => Some(screen),
            _ => None,
        }
    }

    /// Asks the person what screen to share; `reply` hears the stream, and the answer
    /// reaches `inputs`.
    pub fn share(&mut self, reply: Reply, inputs: &Sender<Input>) {
        match &self.sharing {
            Sharing::On(screen) => return answer(reply, Ok(Clone::clone(&screen.stream))),
            Sharing::Asking(_) => {
                let error = Error::new(ErrorCode::InvalidState, "the screen prompt is open");
                return answer(reply, Err::<JsValue, _>(error));
            }
            Sharing::Off => {}
        }
        self.sharing = Sharing::Asking(reply);
        let inputs = inputs.clone();
        media::screen::capture(Box::new(move |screen| {
            if let Err(Input::Screen(Ok(stream))) = inputs.send(Input::Screen(screen)) {
                media::stop(&stream);
            }
        }));
    }

    /// The browser answered the screen prompt: the screen to send now, if any. Outside a
    /// call (`in_call` false) it is let go at once.
    pub fn screen_arrived(
        &mut self,
        screen: Result<MediaStream, Error>,
        in_call: bool,
        me: Option<&PeerId>,
        inputs: &Sender<Input>,
    ) -> Option<&Screen> {
        let Sharing::Asking(reply) = std::mem::replace(&mut self.sharing, Sharing::Off) else {
            if let Ok(stream) = screen {
                media::stop(&stream);
            }
            return None;
        };
        let stream = match screen {
            Ok(stream) if in_call => stream,
            Ok(stream) => {
                media::stop(&stream);
                let error = Error::new(ErrorCode::InvalidState, "the call ended");
                answer(reply, Err::<JsValue, _>(error));
                return None;
            }
            Err(error) => {
                answer(reply, Err::<JsValue, _>(error));
                return None;
            }
        };
        let track = media::tracks_of(&stream).find(|track| track.kind() == "video")?;
        let inputs = inputs.clone();
        let ended = Listener::new(&track, "ended", move |_| {
            let _ = inputs.send(Input::ScreenEnded);
        });
        answer(reply, Ok(Clone::clone(&stream)));
        self.sharing = Sharing::On(Screen {
            stream,
            track,
            announced: me.cloned(),
            _ended: ended,
        });
        self.screen()
    }

    /// Stops sharing: returns the screen that no longer goes out, its capture stopped.
    pub fn stop_share(&mut self) -> Option<Screen> {
        match std::mem::replace(&mut self.sharing, Sharing::Off) {
            Sharing::On(screen) => {
                media::stop(&screen.stream);
                Some(screen)
            }
            Sharing::Asking(reply) => {
                let error = Error::new(ErrorCode::InvalidState, "screen sharing was stopped");
                answer(reply, Err::<JsValue, _>(error));
                None
            }
            Sharing::Off => None,
        }
    }

    /// Whether the camera and microphone are still coming.
    pub fn is_asking(&self) -> bool {
        matches!(self.state, State::Asking { .. })
    }

    /// Whether a call was accepted and waits for the devices to begin.
    pub fn is_answering(&self) -> bool {
        matches!(
            self.state,
            State::Asking {
                then: Some(Then::Answer(_))
            }
        )
    }

    /// `then` is to happen once the devices are here: returned at once if they are,
    /// otherwise kept, and the devices asked for (once), with the answer sent to `inputs`.
    pub fn want(&mut self, then: Then, inputs: &Sender<Input>) -> Option<Then> {
        match &mut self.state {
            State::Ready(_) => return Some(then),
            State::Asking { then: waiting } => {
                *waiting = Some(then);
                return None;
            }
            State::Idle => {}
        }
        self.state = State::Asking { then: Some(then) };
        let inputs = inputs.clone();
        media::acquire(
            &self.constraints(),
            Box::new(move |media| {
                // The session is gone: nobody will use the devices, so let them go.
                if let Err(Input::Media(media)) = inputs.send(Input::Media(Box::new(media))) {
                    media.stop();
                }
            }),
        );
        None
    }

    /// getUserMedia answered: returns what waited for it, and the page learns what it
    /// sends. With nothing waiting any more, the devices are let go at once.
    pub fn arrived(&mut self, media: LocalMedia, out: &mut Actions) -> Option<Then> {
        let State::Asking { then: Some(then) } = std::mem::replace(&mut self.state, State::Idle)
        else {
            media.stop();
            return None;
        };
        media.set_enabled("audio", self.mic);
        media.set_enabled("video", self.camera);
        if let Some(problem) = &media.problem {
            out.report(problem.clone());
        }
        show(self.local_video.as_ref(), media.stream.as_ref());
        if let Some(stream) = &media.stream {
            out.emit(Event::LocalStream(Clone::clone(stream)));
        }
        out.emit(Event::Media {
            audio: media.has("audio"),
            video: media.has("video"),
        });
        self.state = State::Ready(media);
        Some(then)
    }

    /// Takes back the ring waiting for the devices (our call yields to theirs).
    pub fn take_ring(&mut self) -> Option<Reply> {
        let State::Asking { then } = &mut self.state else {
            return None;
        };
        match then.take() {
            Some(Then::Ring(reply)) => Some(reply),
            other => {
                *then = other;
                None
            }
        }
    }

    /// The call ended: the camera light goes off, the self view empties, and whatever
    /// waited for the devices is returned (devices still on their way are let go when
    /// they come).
    pub fn release(&mut self) -> Option<Then> {
        let waiting = match &mut self.state {
            State::Asking { then } => then.take(),
            State::Ready(media) => {
                media.stop();
                self.state = State::Idle;
                None
            }
            State::Idle => None,
        };
        show(self.local_video.as_ref(), None);
        waiting
    }
}
