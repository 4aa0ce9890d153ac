//! ICE: which end controls it, and the remote candidates trickled in.

use js_sys::{Array, Reflect};
use protocol::{IceCandidate, IceServer};
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{RtcIceCandidateInit, RtcPeerConnection};

use crate::js::object;

/// `servers` as `RTCConfiguration.iceServers` takes them.
pub fn ice_servers_js(servers: &[IceServer]) -> JsValue {
    let list = Array::new();
    for server in servers {
        let urls: Array = server
            .urls
            .iter()
            .map(|url| JsValue::from_str(url))
            .collect();
        let entry = object(&[("urls", urls.into())]);
        for (key, value) in [
            ("username", &server.username),
            ("credential", &server.credential),
        ] {
            if let Some(value) = value {
                let _ = Reflect::set(&entry, &key.into(), &value.into());
            }
        }
        list.push(&entry);
    }
    list.into()
}

/// Changes the ICE servers of `pc` for the next ICE gathering (fresh TURN credentials).
/// Everything else stays.
pub fn reconfigure(pc: &RtcPeerConnection, ice_servers: &JsValue) {
    let config = pc.get_configuration();
    config.set_ice_servers(ice_servers);
    if let Err(error) = pc.set_configuration_with_configuration(&config) {
        web_sys::console::warn_2(
            &"peercall: the ICE servers could not be changed".into(),
            &error,
        );
    }
}

/// Which end of ICE this side is. The first offer makes its author the controlling end
/// (RFC 8445, section 6.1.1): the caller, since the callee sends nothing before it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IceRole {
    /// The caller: nominates the candidate pair, and offers every ICE restart.
    Controlling,
    /// The callee: asks the caller for an ICE restart.
    Controlled,
}

/// Who makes the ICE restart this side wants.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IceRestart {
    /// This side: its next offer restarts ICE.
    Offered,
    /// The caller, to be asked with a `restart-ice` signal. Chromium takes the controlling
    /// role whenever it offers a restart while Firefox keeps the role it has; a callee's
    /// restart between the two left both ends controlling (or both controlled), and the
    /// new ICE session never connected while Chromium sent its media to a candidate
    /// Firefox had already left.
    ByTheCaller,
}

/// Adds the remote `candidate` to `pc`. A refusal is logged unless it was `expected`
/// (candidates of an offer we ignored). Not awaited: the browser applies descriptions and
/// candidates in the order they were given (its operations chain), and the session goes
/// on with what else came meanwhile, such as our own candidates to send.
pub fn add_candidate(pc: &RtcPeerConnection, candidate: &IceCandidate, expected: bool) {
    let init: RtcIceCandidateInit = crate::signaling::write::candidate(candidate).unchecked_into();
    let added = pc.add_ice_candidate_with_opt_rtc_ice_candidate_init(Some(&init));
    crate::js::when_settled(
        added,
        Box::new(move |result| {
            if let Err(error) = result
                && !expected
            {
                web_sys::console::warn_2(
                    &"peercall: a remote ICE candidate was refused".into(),
                    &error,
                );
            }
        }),
    );
}
