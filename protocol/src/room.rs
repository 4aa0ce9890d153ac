//! The rules for room names.

/// The longest room name, in characters.
pub const MAX_ROOM_CHARS: usize = 64;

/// Why a room name was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoomError {
    /// An empty name (leave `room` out for the default room).
    Empty,
    /// More than [`MAX_ROOM_CHARS`] characters.
    TooLong,
    /// A character other than an ASCII letter, a digit, `-` or `_`.
    BadCharacter,
}

impl std::fmt::Display for RoomError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Empty => f.write_str("a room name cannot be empty"),
            Self::TooLong => write!(
                f,
                "a room name can have at most {MAX_ROOM_CHARS} characters"
            ),
            Self::BadCharacter => {
                f.write_str("a room name can only have letters a-z and A-Z, digits, - and _")
            }
        }
    }
}

impl std::error::Error for RoomError {}

/// Checks a room name: 1 to [`MAX_ROOM_CHARS`] ASCII letters, digits, `-` and `_`, so a
/// room name is safe in a URL path, a log line and a file name alike.
pub fn validate_room(room: &str) -> Result<&str, RoomError> {
    if room.is_empty() {
        Err(RoomError::Empty)
    } else if room.len() > MAX_ROOM_CHARS {
        Err(RoomError::TooLong)
    } else if !room
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        Err(RoomError::BadCharacter)
    } else {
        Ok(room)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn good_rooms_pass() {
        for room in ["a", "team-standup", "Kq3_x9", &"z".repeat(MAX_ROOM_CHARS)] {
            assert_eq!(validate_room(room), Ok(room));
        }
    }

    #[test]
    fn bad_rooms_are_refused() {
        assert_eq!(validate_room(""), Err(RoomError::Empty));
        assert_eq!(validate_room(&"z".repeat(65)), Err(RoomError::TooLong));
        for room in [
            "..", "a/b", "a%2Fb", "a b", "é", "a\0", "../etc", "a.b", "a\\b",
        ] {
            assert_eq!(
                validate_room(room),
                Err(RoomError::BadCharacter),
                "{room:?}"
            );
        }
    }
}
