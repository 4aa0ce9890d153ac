//! The file channel between two clients (it never passes the server): control messages
//! as JSON text objects tagged by `t`, the bytes of an accepted file as binary messages.
//! [`FileControl::read`] takes a message's fields from any [`ControlFields`] (the
//! browser's `JSON.parse` result in the client, serde in tests); [`FileControl::fields`]
//! lists them for a writer.

/// A control message of the file channel, about transfer `id` of its sender's numbering
/// (offers) or of the receiver's (everything answering an offer).
#[derive(Debug, Clone, PartialEq)]
pub enum FileControl {
    /// "I would like to send you this file."
    Offer {
        /// The transfer.
        id: u32,
        /// The file name, without any folder part or control characters.
        name: String,
        /// Its size in bytes: a whole number below 2^53.
        size: f64,
        /// Its MIME type (may be empty).
        kind: String,
    },
    /// The offer is taken: send the bytes.
    Accept {
        /// The transfer.
        id: u32,
    },
    /// The offer is refused.
    Decline {
        /// The transfer.
        id: u32,
    },
    /// Either side stops the transfer.
    Cancel {
        /// The transfer.
        id: u32,
        /// Which side of it stops it (`by`): both sides may have a transfer of the same
        /// number under way, one each way. `None` from a peer that does not say.
        by: Option<Party>,
    },
    /// All bytes are sent; `digest` is SHA-256 over the chunks' SHA-256 digests, as hex.
    End {
        /// The transfer.
        id: u32,
        /// The digest, if the sender gave one.
        digest: Option<String>,
    },
    /// The receiver's word: the file arrived whole (`ok`) or damaged.
    Received {
        /// The transfer.
        id: u32,
        /// Whether the digest matched.
        ok: bool,
    },
}

/// A side of a transfer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Party {
    /// The side sending the file.
    Sender,
    /// The side receiving it.
    Receiver,
}

impl Party {
    /// Its spelling on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sender => "sender",
            Self::Receiver => "receiver",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        match text {
            "sender" => Some(Self::Sender),
            "receiver" => Some(Self::Receiver),
            _ => None,
        }
    }
}

/// Where a control message's fields come from, by their wire names. Absent fields are
/// `Ok(None)`; present fields of the wrong type are errors.
pub trait ControlFields {
    /// The string field `key`.
    fn text(&mut self, key: &'static str) -> Result<Option<String>, String>;
    /// The number field `key`.
    fn number(&mut self, key: &'static str) -> Result<Option<f64>, String>;
    /// The boolean field `key`.
    fn flag(&mut self, key: &'static str) -> Result<Option<bool>, String>;
}

/// One field's value, for a writer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ControlField<'a> {
    /// A string.
    Text(&'a str),
    /// A number.
    Number(f64),
    /// A boolean.
    Flag(bool),
}

/// What is wrong with a control message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ControlError {
    /// Not a control message at all (no `t`, no usable `id`): nothing to answer.
    Unreadable(String),
    /// An offer whose fields are unusable: decline transfer `.0`.
    BadOffer(u32, String),
    /// A kind this version does not know (a newer peer's): ignore it.
    Unknown(String),
}

/// The longest file name kept, in characters.
pub const MAX_FILE_NAME_CHARS: usize = 255;

impl FileControl {
    /// The transfer it is about.
    pub fn id(&self) -> u32 {
        match self {
            Self::Offer { id, .. }
            | Self::Accept { id }
            | Self::Decline { id }
            | Self::Cancel { id, .. }
            | Self::End { id, .. }
            | Self::Received { id, .. } => *id,
        }
    }

    /// Its `t` on the wire.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Offer { .. } => "offer",
            Self::Accept { .. } => "accept",
            Self::Decline { .. } => "decline",
            Self::Cancel { .. } => "cancel",
            Self::End { .. } => "end",
            Self::Received { .. } => "received",
        }
    }

    /// The message whose fields `fields` gives: the one place that says which fields each
    /// control message has, and what values they may take.
    pub fn read(fields: &mut impl ControlFields) -> Result<Self, ControlError> {
        let unreadable = ControlError::Unreadable;
        let kind = fields
            .text("t")
            .map_err(unreadable)?
            .ok_or_else(|| unreadable("no `t`".to_owned()))?;
        let id = fields
            .number("id")
            .map_err(unreadable)?
            .filter(|id| id.fract() == 0.0 && (0.0..=f64::from(u32::MAX)).contains(id))
            .ok_or_else(|| unreadable("no transfer `id`".to_owned()))? as u32;
        Ok(match kind.as_str() {
            "offer" => {
                let bad = |why: &str| ControlError::BadOffer(id, ["a file offer ", why].concat());
                let size = fields
                    .number("size")
                    .map_err(|_| bad("has no valid size"))?
                    .filter(|s| s.fract() == 0.0 && (0.0..9.007e15).contains(s))
                    .ok_or_else(|| bad("has no valid size"))?;
                let name = fields
                    .text("name")
                    .map_err(|_| bad("has no name"))?
                    .ok_or_else(|| bad("has no name"))?;
                Self::Offer {
                    id,
                    name: file_name(&name),
                    size,
                    kind: fields.text("type").ok().flatten().unwrap_or_default(),
                }
            }
            "accept" => Self::Accept { id },
            "decline" => Self::Decline { id },
            "cancel" => Self::Cancel {
                id,
                // A side this version does not know (a newer peer's) is not said.
                by: fields
                    .text("by")
                    .ok()
                    .flatten()
                    .and_then(|by| Party::parse(&by)),
            },
            "end" => Self::End {
                id,
                digest: fields.text("digest").ok().flatten(),
            },
            "received" => Self::Received {
                id,
                ok: fields.flag("ok").ok().flatten().unwrap_or(false),
            },
            other => return Err(ControlError::Unknown(other.to_owned())),
        })
    }

    /// Its fields in wire order, `t` and `id` first.
    pub fn fields(&self) -> Vec<(&'static str, ControlField<'_>)> {
        use ControlField::{Flag, Number, Text};
        let mut fields = vec![("t", Text(self.kind())), ("id", Number(self.id().into()))];
        match self {
            Self::Offer {
                name, size, kind, ..
            } => fields.extend([
                ("name", Text(name)),
                ("size", Number(*size)),
                ("type", Text(kind)),
            ]),
            Self::End {
                digest: Some(digest),
                ..
            } => fields.push(("digest", Text(digest))),
            Self::Received { ok, .. } => fields.push(("ok", Flag(*ok))),
            Self::Cancel { by: Some(by), .. } => fields.push(("by", Text(by.as_str()))),
            _ => {}
        }
        fields
    }
}

/// Whether `c` changes the direction text is shown in: "invoice\u{202E}fdp.exe" shows as
/// "invoiceexe.pdf".
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{61C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// The last path component of `name`, without control characters, at most
/// [`MAX_FILE_NAME_CHARS`] long, and `file` if nothing is left.
fn file_name(name: &str) -> String {
    // Both separators are ASCII, so the byte after one begins a character (`get`, not
    // indexing: no slicing panic, whose message would bring Unicode tables into the module).
    let last = name
        .bytes()
        .rposition(|b| b == b'/' || b == b'\\')
        .and_then(|at| name.get(at + 1..))
        .unwrap_or(name);
    let name: String = last
        .chars()
        .filter(|c| !c.is_control() && !is_bidi_control(*c))
        .take(MAX_FILE_NAME_CHARS)
        .collect();
    if name.trim().is_empty() {
        "file".to_owned()
    } else {
        name
    }
}
