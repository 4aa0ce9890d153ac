//! The rules for display names.

/// The longest name, in characters, after trimming.
pub const MAX_NAME_CHARS: usize = 32;

/// Why a name was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameError {
    /// Nothing but white space.
    Empty,
    /// More than [`MAX_NAME_CHARS`] characters.
    TooLong,
    /// A control character, such as a newline.
    ControlCharacter,
}

impl std::fmt::Display for NameError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Empty => f.write_str("a name cannot be empty"),
            Self::TooLong => write!(f, "a name can have at most {MAX_NAME_CHARS} characters"),
            Self::ControlCharacter => f.write_str("a name cannot contain control characters"),
        }
    }
}

impl std::error::Error for NameError {}

/// Checks a display name and returns it trimmed.
pub fn validate_name(raw: &str) -> Result<&str, NameError> {
    let name = raw.trim();
    if name.is_empty() {
        Err(NameError::Empty)
    } else if name.chars().count() > MAX_NAME_CHARS {
        Err(NameError::TooLong)
    } else if name.chars().any(char::is_control) {
        Err(NameError::ControlCharacter)
    } else {
        Ok(name)
    }
}

/// The form under which two names count as the same (case-insensitive).
pub fn name_key(name: &str) -> String {
    name.to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed() {
        assert_eq!(validate_name("  alice \t"), Ok("alice"));
    }

    #[test]
    fn bad_names_are_refused() {
        assert_eq!(validate_name(""), Err(NameError::Empty));
        assert_eq!(validate_name("   "), Err(NameError::Empty));
        assert_eq!(validate_name(&"a".repeat(33)), Err(NameError::TooLong));
        assert_eq!(
            validate_name("al\u{7}ice"),
            Err(NameError::ControlCharacter)
        );
    }

    #[test]
    fn length_counts_characters_not_bytes() {
        assert_eq!(validate_name(&"é".repeat(32)).map(str::len), Ok(64));
    }

    #[test]
    fn keys_ignore_case() {
        assert_eq!(name_key("Alice"), name_key("aLICE"));
    }
}
