//! Text from outside (a module's diagnostics and log, a schema's words) made
//! safe to print in a terminal or post in a comment: control characters
//! and bidirectional overrides are shown escaped, never acted on, so a
//! module cannot move the cursor, rewrite a line with `\r`, hide text
//! behind an OSC 8 hyperlink or reorder what a reviewer reads.

use std::borrow::Cow;

/// Whether `c` must not reach a terminal as itself. Newlines and tabs are
/// allowed: they lay text out and cannot hide it.
fn is_unsafe(c: char) -> bool {
    (c.is_control() && c != '\n' && c != '\t')
        || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// `text` with every unsafe character written as `\u{…}` (`\e` for ESC, so
/// an escape sequence reads as one).
pub fn printable(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_unsafe) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\u{1b}' => out.push_str("\\e"),
            '\r' => out.push_str("\\r"),
            c if is_unsafe(c) => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// [`printable`], owned.
pub fn printable_owned(text: String) -> String {
    match printable(&text) {
        Cow::Borrowed(_) => text,
        Cow::Owned(escaped) => escaped,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_sequences_carriage_returns_and_hyperlinks_are_shown_not_acted_on() {
        assert_eq!(
            printable("\u{1b}[31mred\u{1b}[0m\rover \u{1b}]8;;https://x\u{7}link"),
            "\\e[31mred\\e[0m\\rover \\e]8;;https://x\\u{7}link"
        );
        assert_eq!(printable("a\u{202e}b\u{9b}c"), "a\\u{202e}b\\u{9b}c");
    }

    #[test]
    fn plain_text_with_newlines_and_tabs_is_borrowed_untouched() {
        assert!(matches!(printable("one\n\ttwo"), Cow::Borrowed(_)));
    }
}
