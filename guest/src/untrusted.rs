//! Text that came from a server, made safe to carry into a report: the request's own secrets
//! removed, then the one rule of the contract crate (`dtcost_contract::untrusted`: bounded to an
//! excerpt, on one line), which the host applies to everything it prints too.

pub use dtcost_contract::untrusted::{EXCERPT_CHARS, REDACTED};
use dtcost_contract::untrusted::{MIN_SECRET_CHARS, MIN_SECRET_PART_CHARS};

/// `text` with every one of `secrets` (and each one's part after its last dot) replaced by
/// [`REDACTED`], then bounded to [`EXCERPT_CHARS`] characters (the cut marked) and with control
/// characters escaped.
pub fn excerpt(text: &str, secrets: &[&str]) -> String {
    bounded(&without(text, secrets))
}

/// `text` with every one of `secrets` (and each one's part after its last dot) replaced by
/// [`REDACTED`], as written and form-encoded. Secrets shorter than the contract's minimum are
/// ignored (they would redact ordinary words).
pub fn without(text: &str, secrets: &[&str]) -> String {
    let mut out = text.to_owned();
    let mut needles: Vec<&str> = Vec::new();
    for secret in secrets.iter().map(|s| s.trim()).filter(|s| s.chars().count() >= MIN_SECRET_CHARS) {
        needles.push(secret);
        if let Some((_, private)) = secret.rsplit_once('.')
            && private.chars().count() >= MIN_SECRET_PART_CHARS
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

/// At most [`EXCERPT_CHARS`] characters of `text` as shown, on one line, the cut marked with
/// the original length (the contract's rule).
pub fn bounded(text: &str) -> String {
    dtcost_contract::untrusted::bounded(text, false, text.len())
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
    fn a_report_carries_server_text_bounded_and_escaped_as_the_host_prints_it() {
        let forged = "boom\r\n\u{1b}[2Kok     account x\u{7}\u{202e}";
        let clean = bounded(forged);
        assert!(!clean.chars().any(dtcost_contract::untrusted::is_unsafe), "{clean:?}");
        assert!(clean.contains("\\r\\n") && clean.contains("\\u{202e}"), "{clean}");
        let huge = "x".repeat(30_000_000);
        assert!(bounded(&huge).ends_with("… (cut, 30000000 bytes)"));
    }
}
