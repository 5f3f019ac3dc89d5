//! Text that came from a server, made safe to carry into a report: the request's own secrets
//! removed, bounded to an excerpt, control characters escaped (a server must not be able to put a
//! credential, 30 MB or a forged terminal line into what dtcost prints).

/// The longest excerpt of server text a report carries, in characters.
pub const EXCERPT_CHARS: usize = 300;
/// What replaces a secret.
pub const REDACTED: &str = "(redacted)";
/// A secret's part after its last dot is redacted on its own when it is at least this long
/// (Dynatrace tokens are `dt0s02.<public>.<private>`; the private part alone is still a secret).
const MIN_SECRET_PART: usize = 8;

/// `text` with every one of `secrets` (and each one's part after its last dot) replaced by
/// [`REDACTED`], then bounded to [`EXCERPT_CHARS`] characters (the cut marked) and with control
/// characters escaped.
pub fn excerpt(text: &str, secrets: &[&str]) -> String {
    bounded(&without(text, secrets))
}

/// `text` with every one of `secrets` (and each one's part after its last dot) replaced by
/// [`REDACTED`]. Empty secrets are ignored.
pub fn without(text: &str, secrets: &[&str]) -> String {
    let mut out = text.to_owned();
    let mut needles: Vec<&str> = Vec::new();
    for secret in secrets.iter().map(|s| s.trim()).filter(|s| !s.is_empty()) {
        needles.push(secret);
        if let Some((_, private)) = secret.rsplit_once('.')
            && private.len() >= MIN_SECRET_PART
        {
            needles.push(private);
        }
    }
    // Longest first, so that a secret is not half-replaced by its own suffix.
    needles.sort_by_key(|needle| std::cmp::Reverse(needle.len()));
    for needle in needles {
        if out.contains(needle) {
            out = out.replace(needle, REDACTED);
        }
        // The same secret form-encoded, as an echoed request body carries it.
        let encoded: String = form_urlencoded::byte_serialize(needle.as_bytes()).collect();
        if encoded != *needle && out.contains(&encoded) {
            out = out.replace(&encoded, REDACTED);
        }
    }
    out
}

/// At most [`EXCERPT_CHARS`] characters of `text`, control characters escaped (`\n`, `\u{1b}`),
/// and the cut said with the original length.
pub fn bounded(text: &str) -> String {
    let mut out = String::with_capacity(text.len().min(EXCERPT_CHARS * 2));
    for (count, c) in text.chars().enumerate() {
        if count == EXCERPT_CHARS {
            out.push_str(&format!("… (cut: {} bytes in all)", text.len()));
            return out;
        }
        if c.is_control() {
            out.extend(c.escape_debug());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_and_their_private_parts_are_redacted_even_form_encoded() {
        let secret = "dt0s02.PUBLICID.PRIVATEPART1234";
        let echoed = format!(
            "bad client: client_secret={} / {} / PRIVATEPART1234",
            crate::http::form_encode(&[("", "a b+dt0s02.PUBLICID.PRIVATEPART1234")])[1..].to_owned(),
            secret
        );
        let clean = without(&echoed, &[secret, "a b+dt0s02.PUBLICID.PRIVATEPART1234"]);
        assert!(!clean.contains("PRIVATEPART1234"), "{clean}");
        assert!(clean.contains(REDACTED));
    }

    #[test]
    fn long_text_is_cut_and_control_characters_are_escaped() {
        let forged = "boom\r\n\u{1b}[2Kok     account x\u{7}";
        let clean = bounded(forged);
        assert!(!clean.chars().any(char::is_control), "{clean:?}");
        assert!(clean.contains("\\r\\n"));
        let huge = "x".repeat(30_000_000);
        let cut = bounded(&huge);
        assert!(cut.chars().count() < EXCERPT_CHARS + 50);
        assert!(cut.ends_with("(cut: 30000000 bytes in all)"));
    }
}
