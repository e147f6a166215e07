//! The one place where text from outside (file names, EXIF times, peers' names, purposes and
//! error messages, anything the daemon relays) is made safe to print on a terminal (issue 9,
//! finding 12). Every human-readable line the CLI prints goes through [`for_terminal`] for its
//! data; `--json` output is escaped by serde instead.

use std::borrow::Cow;

/// Whether `c` could move the cursor, forge a line, or reorder what a terminal shows: C0 and C1
/// controls (newline and ESC among them), DEL, the Unicode bidi controls, and the line and
/// paragraph separators.
fn is_unsafe_on_terminal(c: char) -> bool {
    crate::protocol::handshake::is_unsafe_for_display(c) || matches!(c, '\u{2028}' | '\u{2029}')
}

/// `text` with every character that is unsafe on a terminal written as a Rust-style escape
/// (`\u{1b}` for ESC, `\u{a}` for a newline); borrowed when there is none.
pub fn for_terminal(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_unsafe_on_terminal) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if is_unsafe_on_terminal(c) {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_is_borrowed_unchanged() {
        let text = "2024/Ferien am Meer/IMG_0001 (é ✓ 写真).jpg";
        assert!(matches!(for_terminal(text), Cow::Borrowed(t) if t == text));
    }

    #[test]
    fn escape_sequences_and_forged_lines_are_escaped() {
        assert_eq!(
            for_terminal("a\x1b[2Jb\nforged\r\t.jpg"),
            r"a\u{1b}[2Jb\u{a}forged\u{d}\u{9}.jpg"
        );
    }

    #[test]
    fn c1_controls_and_del_are_escaped() {
        assert_eq!(for_terminal("x\u{9b}31m\u{7f}y"), r"x\u{9b}31m\u{7f}y");
        assert_eq!(for_terminal("\u{85}"), r"\u{85}");
    }

    #[test]
    fn bidi_overrides_isolates_and_separators_are_escaped() {
        for c in ['\u{202A}', '\u{202B}', '\u{202C}', '\u{202D}', '\u{202E}'] {
            assert_eq!(
                for_terminal(&format!("a{c}b")),
                format!("a{}b", c.escape_unicode())
            );
        }
        for c in [
            '\u{2066}', '\u{2067}', '\u{2068}', '\u{2069}', '\u{2028}', '\u{2029}',
        ] {
            assert_eq!(
                for_terminal(&format!("a{c}b")),
                format!("a{}b", c.escape_unicode())
            );
        }
        assert_eq!(for_terminal("gpj.\u{202E}exe"), r"gpj.\u{202e}exe");
    }
}
