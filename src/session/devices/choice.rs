//! Switching camera, microphone and speaker: during a call the new track replaces the old
//! one on every connection (`replaceTrack`, no renegotiation), keeping the microphone
//! muted or the camera off if they were; before a call the choice is kept for it. When the
//! device in use disappears, the call goes on with the default one and says so.

use crate::queue::Sender;
use js_sys::{Array, Object, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{MediaStream, MediaStreamTrack};

use super::{Devices, State};
use crate::{
    error::{Error, ErrorCode},
    event::Event,
    js::{Listener, field, object},
    media::tracks_of,
    media::{
        choice::{self, DeviceKind},
        show,
    },
    session::{
        action::Actions,
        command::{Reply, answer},
        input::Input,
    },
};

/// What a page picks for a camera or microphone.
pub enum Pick {
    /// A device, by its id.
    Device(String),
    /// A track of the page's own (a processed camera, a canvas, generated sound).
    Track(MediaStreamTrack),
}

/// What the connections are to do after a switch.
pub enum Swap {
    /// Send `new` in place of `old`; then `old` is stopped.
    Replaced {
        /// What went out until now.
        old: MediaStreamTrack,
        /// What goes out from now on.
        new: MediaStreamTrack,
    },
    /// Send `track` of `stream` too: the call had no track of its kind (renegotiates).
    Added {
        /// The new track.
        track: MediaStreamTrack,
        /// Our stream, which now holds it.
        stream: MediaStream,
    },
}

/// Tells `inputs` whenever a device is plugged in or out.
pub fn watch(inputs: &Sender<Input>) -> Option<Listener> {
    let devices = crate::js::window()?.navigator().media_devices().ok()?;
    let inputs = inputs.clone();
    Some(Listener::new(&devices, "devicechange", move |_| {
        let _ = inputs.send(Input::DevicesChanged);
    }))
}

/// Index of a kind in [`Devices::chosen`].
fn slot(kind: DeviceKind) -> usize {
    usize::from(kind != DeviceKind::Camera)
}

impl Devices {
    /// The page's constraints, with the devices picked asked for (`ideal`: if one is gone,
    /// the call starts with another).
    pub(super) fn constraints(&self) -> JsValue {
        let constraints = Object::new();
        if self.constraints.is_object() {
            let _ = Object::assign(&constraints, self.constraints.unchecked_ref());
        }
        for kind in [DeviceKind::Camera, DeviceKind::Microphone] {
            let key = kind.track_kind();
            let own = field(&constraints, key);
            let Some(id) = &self.chosen[slot(kind)] else {
                continue;
            };
            if own.is_falsy() {
                continue;
            }
            let wanted = Object::new();
            if own.is_object() {
                let _ = Object::assign(&wanted, own.unchecked_ref());
            }
            let ideal = object(&[("ideal", id.as_str().into())]);
            let _ = Reflect::set(&wanted, &"deviceId".into(), &ideal);
            let _ = Reflect::set(&constraints, &key.into(), &wanted);
        }
        constraints.into()
    }

    /// Switches `kind` to `pick`: now for a track of the page's own, once getUserMedia
    /// answers (to `inputs`) for a device, or from the next call on outside one.
    pub fn switch(
        &mut self,
        kind: DeviceKind,
        pick: Pick,
        reply: Reply,
        inputs: &Sender<Input>,
    ) -> Option<Swap> {
        let ready = matches!(self.state, State::Ready(_));
        match pick {
            Pick::Track(track) if ready && track.kind() == kind.track_kind() => {
                let swap = self.swap(kind, track);
                answer(reply, Ok(JsValue::UNDEFINED));
                swap
            }
            Pick::Track(_) => {
                let message = if ready {
                    "that track is of the other kind"
                } else {
                    "a track of your own can only be used during a call"
                };
                answer(
                    reply,
                    Err::<JsValue, _>(Error::new(ErrorCode::InvalidState, message)),
                );
                None
            }
            // In a call, kept once the device works (see `fetched`).
            Pick::Device(id) if ready => {
                self.fetch(kind, Some(id), Some(reply), inputs);
                None
            }
            Pick::Device(id) => {
                self.chosen[slot(kind)] = Some(id);
                answer(reply, Ok(JsValue::UNDEFINED));
                None
            }
        }
    }

    /// Asks for a track of `kind` from device `id` (the default one for `None`); the
    /// answer reaches `inputs`, for `reply` if the page asked.
    fn fetch(
        &self,
        kind: DeviceKind,
        id: Option<String>,
        reply: Option<Reply>,
        inputs: &Sender<Input>,
    ) {
        let inputs = inputs.clone();
        choice::track(
            kind,
            id.as_deref(),
            &self.constraints,
            Box::new(move |track| {
                if let Err(Input::Device(_, Ok(track), _)) =
                    inputs.send(Input::Device(kind, track, reply))
                {
                    track.stop();
                }
            }),
        );
    }

    /// A track asked for by [`Devices::fetch`] came (or did not): what the connections
    /// are to do.
    pub fn fetched(
        &mut self,
        kind: DeviceKind,
        track: Result<MediaStreamTrack, Error>,
        reply: Option<Reply>,
        out: &mut Actions,
    ) -> Option<Swap> {
        let settled = |reply: Option<Reply>, result: Result<(), Error>, out: &mut Actions| match (
            reply, result,
        ) {
            (Some(reply), result) => answer(reply, result.map(|()| JsValue::UNDEFINED)),
            (None, Err(error)) => out.report(error),
            (None, Ok(())) => {}
        };
        match track {
            Ok(track) if matches!(self.state, State::Ready(_)) => {
                // The device in use is the one the next call asks for.
                self.chosen[slot(kind)] = choice::device_of(&track);
                let swap = self.swap(kind, track);
                settled(reply, Ok(()), out);
                swap
            }
            Ok(track) => {
                // The call ended meanwhile: the device is the one the next call asks for.
                self.chosen[slot(kind)] = choice::device_of(&track);
                track.stop();
                settled(reply, Ok(()), out);
                None
            }
            Err(error) => {
                settled(reply, Err(error), out);
                None
            }
        }
    }

    /// `new` takes the place of our track of `kind`, in the same on/off state.
    fn swap(&mut self, kind: DeviceKind, new: MediaStreamTrack) -> Option<Swap> {
        let State::Ready(media) = &mut self.state else {
            return None;
        };
        new.set_enabled(if kind == DeviceKind::Camera {
            self.camera
        } else {
            self.mic
        });
        let stream = match &media.stream {
            Some(stream) => Clone::clone(stream),
            None => {
                let stream = MediaStream::new().ok()?;
                media.stream = Some(Clone::clone(&stream));
                stream
            }
        };
        let old = tracks_of(&stream).find(|track| track.kind() == new.kind());
        if old.as_ref() == Some(&new) {
            // Already what goes out.
            return None;
        }
        if let Some(old) = &old {
            stream.remove_track(old);
        }
        stream.add_track(&new);
        // The self view follows the new camera.
        show(self.local_video.as_ref(), Some(&stream));
        Some(match old {
            Some(old) => Swap::Replaced { old, new },
            None => Swap::Added { track: new, stream },
        })
    }

    /// Plays `video` (the page's remote `<video>`, if it gave one) through speaker `id`.
    pub fn use_speaker(id: String, video: Option<web_sys::HtmlVideoElement>, reply: Reply) {
        if !choice::speaker_choice() {
            let error = Error::new(
                ErrorCode::MediaFailed,
                "this browser cannot choose a speaker",
            );
            return answer(reply, Err::<JsValue, _>(error));
        }
        let settle: Box<dyn FnOnce(Result<(), Error>)> = Box::new(move |result| {
            answer(reply, result.map(|()| JsValue::UNDEFINED));
        });
        match &video {
            Some(video) => choice::set_speaker(video, &id, settle),
            None => settle(Ok(())),
        }
    }

    /// The devices changed: the page hears the new list, and a camera or microphone in
    /// use that is gone gives way to the default one.
    pub fn listed(&mut self, list: Array, inputs: &Sender<Input>, out: &mut Actions) {
        out.emit(Event::Devices(list.clone()));
        let State::Ready(media) = &self.state else {
            return;
        };
        let Some(stream) = &media.stream else {
            return;
        };
        for kind in [DeviceKind::Camera, DeviceKind::Microphone] {
            let in_use = tracks_of(stream).find(|track| track.kind() == kind.track_kind());
            let Some(device) = in_use.as_ref().and_then(choice::device_of) else {
                continue;
            };
            if choice::listed(&list, &device) {
                continue;
            }
            self.chosen[slot(kind)] = None;
            let what = kind.as_str();
            out.report(Error::new(
                ErrorCode::NoDevice,
                [
                    "the ",
                    what,
                    " in use was disconnected: the call goes on with the default ",
                    what,
                ]
                .concat(),
            ));
            self.fetch(kind, None, None, inputs);
        }
    }
}
