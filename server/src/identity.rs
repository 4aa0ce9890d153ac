//! Display names as the server accepts them: NFKC-normalized, nothing invisible or
//! direction-changing, and unique in a room by how they look rather than by their bytes.
//!
//! The Unicode data comes from the unicode-rs crates rustc itself uses for its
//! confusable-identifier lint: `unicode-normalization` (NFKC), `unicode-properties`
//! (general categories) and `unicode-security` (the UTS #39 confusables skeleton).

use protocol::{ErrorCode, validate_name};
use unicode_normalization::UnicodeNormalization;
use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};
use unicode_security::confusable_detection::skeleton;

use crate::refusal::Refusal;

/// `raw` as a display name: NFKC-normalized and trimmed, or the `invalid-name` refusal.
pub fn display_name(raw: &str) -> Result<String, Refusal> {
    let invalid = |message: String| Refusal::new(ErrorCode::InvalidName, message);
    let normalized: String = raw.nfkc().collect();
    let name = validate_name(&normalized).map_err(|error| invalid(error.to_string()))?;
    if let Some(hidden) = name.chars().find(|&c| is_hidden(c)) {
        return Err(invalid(format!(
            "a name cannot contain invisible, formatting or direction-changing characters \
             (it has U+{:04X})",
            u32::from(hidden)
        )));
    }
    Ok(name.to_owned())
}

/// Characters that change how a name shows without showing themselves: controls,
/// formatting characters (zero-width spaces and joiners, bidi overrides and isolates,
/// the byte-order mark), line and paragraph separators, private-use, surrogate and
/// unassigned code points.
fn is_hidden(c: char) -> bool {
    matches!(
        c.general_category(),
        GeneralCategory::Control
            | GeneralCategory::Format
            | GeneralCategory::LineSeparator
            | GeneralCategory::ParagraphSeparator
            | GeneralCategory::PrivateUse
            | GeneralCategory::Surrogate
            | GeneralCategory::Unassigned
    )
}

/// The form under which two names count as the same: the UTS #39 confusables skeleton of
/// the lower-cased name, so names that differ only in case or look alike collide.
pub fn name_key(name: &str) -> String {
    skeleton(&name.to_lowercase()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(raw: &str) -> bool {
        display_name(raw).is_err_and(|refusal| refusal.code == ErrorCode::InvalidName)
    }

    #[test]
    fn names_are_normalized_and_trimmed() {
        assert_eq!(display_name("  ａｌｉｃｅ ").ok().as_deref(), Some("alice"));
        assert_eq!(display_name("Zoë 🦊").ok().as_deref(), Some("Zoë 🦊"));
        // A decomposed ë comes out composed.
        assert_eq!(display_name("Zoe\u{308}").ok().as_deref(), Some("Zoë"));
    }

    #[test]
    fn hidden_characters_are_refused() {
        for raw in [
            "ali\u{200B}ce",
            "alice\u{200D}",
            "\u{202E}ecila",
            "\u{2066}alice\u{2069}",
            "\u{FEFF}alice",
            "ali\u{AD}ce",
            "al\u{2028}ice",
            "al\u{E000}ice",
            "al\u{7}ice",
        ] {
            assert!(refused(raw), "{raw:?}");
        }
    }

    #[test]
    fn look_alikes_share_a_key() {
        let alice = name_key("alice");
        for twin in ["Alice", "ALICE", "\u{430}lice", "ａｌｉｃｅ", "alicе"] {
            let twin = display_name(twin).expect("a valid name");
            assert_eq!(name_key(&twin), alice, "{twin:?}");
        }
        assert_ne!(name_key("alice"), name_key("alicia"));
    }
}
