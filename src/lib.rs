//! peercall: browser video calls, with the WebRTC client written in Rust for WebAssembly.
//!
//! Layers, each calling only downward:
//! - engine: [`signaling`] (the WebSocket), [`peer`] (one RTCPeerConnection), [`media`]
//!   (camera and microphone), [`channel`] (chat and file transfer);
//! - [`session`]: the one owner of the call state, fed by a single event channel;
//! - faces: [`api`] (the exported `PeerCall` class) and, with the `demo` feature, the
//!   demo page that uses nothing but that class.

#![forbid(unsafe_code)]

pub mod api;
pub mod channel;
pub mod error;
pub mod event;
pub mod js;
pub mod media;
pub mod peer;
pub mod queue;
pub mod session;
pub mod signaling;
#[cfg(feature = "demo")]
mod ui;
pub mod words;

pub use api::PeerCall;
pub use error::{Error, ErrorCode};
pub use js::live_callbacks;

/// A free-list allocator a tenth the size of dlmalloc: the client's heap holds a few
/// strings and small structs (media and file bytes live in JavaScript), so it never
/// needs dlmalloc's size classes. Safe to construct, so `unsafe` stays forbidden.
#[cfg(target_arch = "wasm32")]
#[global_allocator]
static ALLOCATOR: lol_alloc::LockedAllocator<lol_alloc::FreeListAllocator> =
    lol_alloc::LockedAllocator::new(lol_alloc::FreeListAllocator::new());
