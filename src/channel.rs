//! Data channels of a call: chat and file transfer.
//!
//! Both are pre-negotiated (`negotiated: true` with fixed ids), so both sides create them
//! with the peer connection, they ride on the first offer, and no `datachannel` event or
//! extra renegotiation is needed. See
//! <https://developer.mozilla.org/docs/Web/API/RTCPeerConnection/createDataChannel>.

pub mod chat;
pub mod files;

use web_sys::{RtcDataChannel, RtcDataChannelInit, RtcDataChannelState, RtcPeerConnection};

/// The chat channel's id.
pub const CHAT_ID: u16 = 0;
/// The file channel's id.
pub const FILES_ID: u16 = 1;

/// A reliable, ordered, pre-negotiated channel.
pub fn negotiated(pc: &RtcPeerConnection, label: &str, id: u16) -> RtcDataChannel {
    let init = RtcDataChannelInit::new();
    init.set_negotiated(true);
    init.set_id(id);
    init.set_ordered(true);
    crate::peer::binary_as_array_buffers(
        pc.create_data_channel_with_data_channel_dict(label, &init),
    )
}

/// Whether `channel` has closed, or is closing, for good: nothing more goes on it.
pub fn closed(channel: &RtcDataChannel) -> bool {
    matches!(
        channel.ready_state(),
        RtcDataChannelState::Closing | RtcDataChannelState::Closed
    )
}
