//! Text from AWS (names, status messages, ARNs) made safe to show a person:
//! characters that act on the screen instead of showing (control
//! characters and escape sequences, line and paragraph separators,
//! bidirectional overrides and isolates that reorder the text after them,
//! zero-width characters that make two names look alike) are written as
//! `\u{..}` escapes. The terminal (`diagnose`) and the pages (`/links`)
//! both show text through this.

use std::borrow::Cow;

/// Whether `c` acts on the screen rather than showing as itself.
pub fn acts_on_screen(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{00AD}'
                | '\u{061C}'
                | '\u{180E}'
                | '\u{200B}'..='\u{200F}'
                | '\u{2028}'..='\u{202E}'
                | '\u{2060}'..='\u{2064}'
                | '\u{2066}'..='\u{206F}'
                | '\u{FEFF}'
                | '\u{FFF9}'..='\u{FFFB}'
        )
}

/// `text` with every character that acts on the screen escaped.
pub fn visible(text: &str) -> Cow<'_, str> {
    if !text.chars().any(acts_on_screen) {
        return Cow::Borrowed(text);
    }
    Cow::Owned(
        text.chars()
            .map(|c| {
                if acts_on_screen(c) {
                    c.escape_unicode().to_string()
                } else {
                    c.to_string()
                }
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Nothing from AWS reaches a screen as an instruction to it.
    #[test]
    fn names_cannot_rewrite_what_is_shown() {
        assert_eq!(visible("plain name-1 é 名前"), "plain name-1 é 名前");
        for hostile in [
            "\u{1b}[2Jcleared",
            "line\rover",
            "c1\u{9b}31m",
            "evil\u{202E}txt.exe",
            "a\u{2066}b\u{2069}",
            "one\u{2028}two\u{2029}three",
            "mark\u{200F}",
            "zero\u{200B}width\u{FEFF}",
            "soft\u{00AD}hyphen",
        ] {
            let shown = visible(hostile);
            assert!(
                !shown.chars().any(acts_on_screen),
                "{hostile:?} -> {shown:?}"
            );
            assert!(shown.contains("\\u{"), "{shown}");
        }
    }
}
