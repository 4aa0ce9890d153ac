//! The camera and microphone: asked for once a call needs them, kept while it lasts.
//!
//! The session goes on while they are asked for: a permission prompt may stay open for as
//! long as the person likes, and hanging up or the other side giving up must still work.

use futures::channel::mpsc::UnboundedSender;
use protocol::PeerInfo;
use wasm_bindgen::JsValue;
use web_sys::{HtmlVideoElement, MediaStream};

use super::{
    action::Actions,
    command::{Reply, answer},
    input::Input,
};
use crate::{
    error::{Error, ErrorCode},
    event::Event,
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

/// The camera and microphone of the session.
pub struct Devices {
    state: State,
    mic: bool,
    camera: bool,
    constraints: JsValue,
    local_video: Option<HtmlVideoElement>,
}

impl Devices {
    /// Devices asked for with `constraints`, shown in `local_video`.
    pub fn new(constraints: JsValue, local_video: Option<HtmlVideoElement>) -> Self {
        Self {
            state: State::Idle,
            mic: true,
            camera: true,
            constraints,
            local_video,
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
    pub fn want(&mut self, then: Then, inputs: &UnboundedSender<Input>) -> Option<Then> {
        match &mut self.state {
            State::Ready(_) => return Some(then),
            State::Asking { then: waiting } => {
                *waiting = Some(then);
                return None;
            }
            State::Idle => {}
        }
        self.state = State::Asking { then: Some(then) };
        let (inputs, constraints) = (inputs.clone(), self.constraints.clone());
        wasm_bindgen_futures::spawn_local(async move {
            let media = media::acquire(&constraints).await;
            if let Err(unheard) = inputs.unbounded_send(Input::Media(Box::new(media))) {
                // The session is gone: nobody will use the devices, so let them go.
                if let Input::Media(media) = unheard.into_inner() {
                    media.stop();
                }
            }
        });
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
            out.emit(Event::LocalStream(stream.clone()));
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
