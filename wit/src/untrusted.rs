//! Text that came from a server, made safe to show: the one rule the component (its reports) and
//! the host (everything it prints) both apply, written once. A server must not be able to put a
//! credential, 30 MB or a forged terminal line into what dtcost shows; which secrets are removed
//! is each side's (the component knows its request's, the host every secret of the run).

use std::borrow::Cow;

/// The longest excerpt of server text shown, in characters as shown (escapes included), before
/// the `… (cut, N bytes)` mark: a line or two of a terminal, enough for any API's own message.
pub const EXCERPT_CHARS: usize = 300;
/// What replaces a secret.
pub const REDACTED: &str = "(redacted)";
/// Secrets shorter than this are not searched for (they would redact ordinary words).
pub const MIN_SECRET_CHARS: usize = 4;
/// A secret's part after its last dot is searched for on its own when at least this long
/// (Dynatrace tokens are `dt0s02.<public>.<private>`; the private part alone is still a secret).
pub const MIN_SECRET_PART_CHARS: usize = 8;

/// Characters that move the cursor, ring, recolour or reorder a terminal's text: every control
/// character (C0, DEL, C1) and the Unicode line separators and bidirectional controls.
pub fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{2028}' | '\u{2029}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// `\n`, `\r`, `\t`, or `\u{1b}` for an unsafe character; the character itself otherwise: how
/// the terminal, the reports and the HTML page show it.
pub fn escape_char(c: char) -> Cow<'static, str> {
    match c {
        '\n' => Cow::Borrowed("\\n"),
        '\r' => Cow::Borrowed("\\r"),
        '\t' => Cow::Borrowed("\\t"),
        c if is_unsafe(c) => Cow::Owned(format!("\\u{{{:x}}}", c as u32)),
        c => Cow::Owned(c.to_string()),
    }
}

/// `text` on one line (unsafe characters escaped) and at most [`EXCERPT_CHARS`] characters as
/// shown; when cut here, or when `text` is already a part of a longer text of `whole_bytes`
/// (`cut_before`), marked `… (cut, N bytes)` with the whole's length.
pub fn bounded(text: &str, cut_before: bool, whole_bytes: usize) -> String {
    let mut out = String::with_capacity(text.len().min(EXCERPT_CHARS + 32));
    let mut length = 0;
    let mut cut = cut_before;
    for c in text.chars() {
        let piece = escape_char(c);
        let piece_length = piece.chars().count();
        if length + piece_length > EXCERPT_CHARS {
            cut = true;
            break;
        }
        out.push_str(&piece);
        length += piece_length;
    }
    if cut {
        out.push_str(&format!("… (cut, {whole_bytes} bytes)"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_text_is_shown_on_one_line_bounded_and_marked_when_cut() {
        assert_eq!(bounded("plain", false, 5), "plain");
        assert_eq!(bounded("a\nb\u{1b}[2Jc\u{202e}d", false, 13), "a\\nb\\u{1b}[2Jc\\u{202e}d");
        let long = "x".repeat(30_000_000);
        let cut = bounded(&long, false, long.len());
        assert_eq!(cut, format!("{}… (cut, 30000000 bytes)", "x".repeat(EXCERPT_CHARS)));
        // Escapes count: a line of bells is cut sooner than a line of letters.
        let bells = bounded(&"\u{7}".repeat(400), false, 400);
        assert!(bells.starts_with("\\u{7}") && bells.chars().count() < EXCERPT_CHARS + 30, "{bells}");
        assert_eq!(bounded("head", true, 70_000), "head… (cut, 70000 bytes)");
    }

    #[test]
    fn the_unsafe_characters_are_controls_line_separators_and_bidi_controls() {
        for c in ['\n', '\u{1b}', '\u{7f}', '\u{85}', '\u{2028}', '\u{202e}', '\u{2066}', '\u{200f}'] {
            assert!(is_unsafe(c), "{c:?}");
        }
        for c in ['a', 'é', '€', '中', ' '] {
            assert!(!is_unsafe(c), "{c:?}");
        }
    }
}
