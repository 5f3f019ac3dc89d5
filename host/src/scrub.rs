//! Making text that came from a server safe to print: every secret the host holds (and anything
//! shaped like a token) redacted, excerpts bounded, control characters escaped. A server may echo
//! what it was sent (a posted client secret, an `Authorization` header) or answer with megabytes
//! of terminal escapes; nothing of it reaches a log, an error, the summary or the state file raw.

use std::borrow::Cow;
use std::io::Write as _;
use std::sync::{LazyLock, OnceLock};

use regex::Regex;

use crate::runtime::{AccountState, BudgetAlert, DeliveryState, ExportError, Report, SubscriptionOutlook};
use crate::secret::Secret;

/// What replaces a secret.
pub const REDACTED: &str = "(redacted)";
/// The longest excerpt of server text printed, in characters (escapes included), before the
/// `… (cut, N bytes)` mark: a line or two of a terminal, enough for any API's own message.
pub const EXCERPT_CHARS: usize = 300;
/// Secrets shorter than this are not searched for (they would redact ordinary words).
const MIN_SECRET_CHARS: usize = 4;
/// A token's part after its last dot is searched for on its own when at least this long.
const MIN_SECRET_PART_CHARS: usize = 8;
/// Only this much of a text is read to make an excerpt of it (a secret starting in the first
/// [`EXCERPT_CHARS`] characters ends well before it).
const EXCERPT_SCAN_BYTES: usize = 64 * 1024;

/// Token shapes redacted whoever's they are: the server may echo an access token the host never
/// saw. A Dynatrace token keeps its public `prefix.public` part, as the host's own logs do.
/// (Printed text only: events and the state keep their content, less the secrets themselves.)
static TOKEN_SHAPES: LazyLock<[(Regex, &'static str); 5]> = LazyLock::new(|| {
    let regex = |pattern: &str| Regex::new(pattern).expect("a valid pattern");
    [
        // An echoed Authorization header: whatever its value
        (
            regex(r#"(?i)\b(authorization\\?"?\s*[:=]\s*\\?"?(?:(?:bearer|api-token|basic)\s+)?)[^\s"\\,;}]+"#),
            "$1(redacted)",
        ),
        // A credential after its scheme, elsewhere: a token-like word (a digit, or a symbol
        // inside it, so that "Basic Monitoring" or "Bearer tokens." stay as they are)
        (
            regex(
                r"(?i)\b(bearer|api-token|basic)(\s+)[A-Za-z0-9._~+/=-]*(?:[0-9]|[._~+/-][A-Za-z0-9])[A-Za-z0-9._~+/=-]*",
            ),
            "$1$2(redacted)",
        ),
        // dt0c01.PUBLIC.SECRET (API tokens, OAuth client secrets)
        (regex(r"\b(dt0[a-z][0-9]{2}\.[A-Za-z0-9]+)\.[A-Za-z0-9]+"), "$1.(redacted)"),
        // JWTs (the SSO's access tokens)
        (regex(r"\beyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"), "(redacted)"),
        // access_token=…, "client_secret":"…" (forms and JSON, as posted or answered)
        (
            regex(
                r#"(?i)\b(access_token|refresh_token|id_token|client_secret|api_token|password)(\\?"?\s*[:=]\s*\\?"?)[^"\\&\s,;}]+"#,
            ),
            "$1$2(redacted)",
        ),
    ]
});

/// Redacts the host's secrets and token shapes from untrusted text.
#[derive(Debug, Clone)]
pub struct Scrubber {
    /// Every form of every secret, longest first; `None` when there is none.
    secrets: Option<Regex>,
}

impl Scrubber {
    /// A scrubber for these secrets: each value, its part after the last dot (a token's secret
    /// part) when that is long enough, and both as they appear percent-encoded in a form or
    /// escaped in JSON.
    pub fn new<'a>(secrets: impl IntoIterator<Item = &'a Secret>) -> Scrubber {
        let mut forms: Vec<String> = Vec::new();
        for secret in secrets {
            let value = secret.expose();
            let mut parts = vec![value];
            if let Some((_, tail)) = value.rsplit_once('.')
                && tail.chars().count() >= MIN_SECRET_PART_CHARS
            {
                parts.push(tail);
            }
            for part in parts {
                if part.chars().count() < MIN_SECRET_CHARS {
                    continue;
                }
                let encoded: String = url::form_urlencoded::byte_serialize(part.as_bytes()).collect();
                let json = serde_json::to_string(part).unwrap_or_default();
                let json = json.trim_matches('"').to_owned();
                forms.extend([part.to_owned(), encoded, json]);
            }
        }
        forms.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        forms.dedup();
        let pattern = forms.iter().map(|form| regex::escape(form)).collect::<Vec<_>>().join("|");
        // Literal alternatives only; a pattern too large to compile (thousands of secrets) would
        // be a bug to find, not text to print unredacted.
        let secrets = (!forms.is_empty()).then(|| {
            regex::RegexBuilder::new(&pattern).size_limit(64 << 20).build().expect("literal alternatives compile")
        });
        Scrubber { secrets }
    }

    /// The secrets alone redacted (for data: events, the state; token shapes could be content).
    pub fn redact_secrets<'t>(&self, text: &'t str) -> Cow<'t, str> {
        match &self.secrets {
            Some(secrets) => secrets.replace_all(text, REDACTED),
            None => Cow::Borrowed(text),
        }
    }

    /// Secrets and token shapes redacted; nothing else changed (for the host's own multi-line
    /// texts that embed server text already made safe, and for log lines).
    pub fn redact<'t>(&self, text: &'t str) -> Cow<'t, str> {
        let mut text = self.redact_secrets(text);
        for (shape, replacement) in TOKEN_SHAPES.iter() {
            if shape.is_match(&text) {
                text = Cow::Owned(shape.replace_all(&text, *replacement).into_owned());
            }
        }
        text
    }

    /// One piece of server text as it may be printed: redacted, on one line (control characters
    /// escaped), at most [`EXCERPT_CHARS`] characters and marked when cut.
    pub fn excerpt(&self, text: &str) -> String {
        let scanned = &text[..text.floor_char_boundary(EXCERPT_SCAN_BYTES)];
        let redacted = self.redact(scanned);
        let mut out = String::with_capacity(redacted.len().min(EXCERPT_CHARS + 32));
        let mut length = 0;
        let mut cut = scanned.len() < text.len();
        for c in redacted.chars() {
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
            out.push_str(&format!("… (cut, {} bytes)", text.len()));
        }
        out
    }

    /// One line of NDJSON (an event) as it may be printed: its secrets redacted, and the control
    /// characters that JSON allows raw (DEL, C1, bidirectional overrides) escaped as `\uXXXX`:
    /// the same JSON value.
    pub fn json_line(&self, line: &str) -> String {
        let redacted = self.redact_secrets(line);
        let mut out = String::with_capacity(redacted.len());
        for c in redacted.chars() {
            if is_unsafe(c) {
                out.push_str(&format!("\\u{:04x}", c as u32));
            } else {
                out.push(c);
            }
        }
        out
    }

    /// A job's report with every text that came from a server made safe: excerpts for what is
    /// printed, redaction alone for the state kept for the next run and the events.
    pub fn report(&self, report: Report) -> Report {
        let excerpts = |texts: Vec<String>| texts.iter().map(|t| self.excerpt(t)).collect();
        Report {
            subject: self.excerpt(&report.subject),
            subscription_uuid: report.subscription_uuid.map(|s| self.excerpt(&s)),
            // Its events are sent by the host: secrets redacted, as every event; its texts excerpts.
            subscription_outlook: report.subscription_outlook.map(|outlook| SubscriptionOutlook {
                subscription_uuid: self.excerpt(&outlook.subscription_uuid),
                period_start: self.redact_secrets(&outlook.period_start).into_owned(),
                status_event: self.redact_secrets(&outlook.status_event).into_owned(),
                alerts: outlook
                    .alerts
                    .into_iter()
                    .map(|alert| BudgetAlert {
                        key: self.redact_secrets(&alert.key).into_owned(),
                        event: self.redact_secrets(&alert.event).into_owned(),
                        message: self.excerpt(&alert.message),
                    })
                    .collect(),
            }),
            notes: excerpts(report.notes),
            failures: report
                .failures
                .into_iter()
                .map(|mut failure| {
                    failure.request = self.excerpt(&failure.request);
                    failure.message = self.excerpt(&failure.message);
                    failure
                })
                .collect(),
            rejected: report
                .rejected
                .into_iter()
                .map(|mut rejected| {
                    rejected.event_id = self.excerpt(&rejected.event_id);
                    rejected.message = self.excerpt(&rejected.message);
                    rejected
                })
                .collect(),
            newest_day: report.newest_day.map(|day| self.excerpt(&day)),
            reconciliation: report.reconciliation.map(|mut reconciliation| {
                reconciliation.currency = self.excerpt(&reconciliation.currency);
                reconciliation
            }),
            alerts: excerpts(report.alerts),
            anomalies: excerpts(report.anomalies),
            events: report.events.iter().map(|event| self.redact_secrets(event).into_owned()).collect(),
            state: report.state.map(|state| self.account_state(state)),
            ..report
        }
    }

    /// A job's outcome made safe (see [`Scrubber::report`] and [`Scrubber::export_error`]).
    pub fn job(&self, job: Result<Report, ExportError>) -> Result<Report, ExportError> {
        job.map(|report| self.report(report)).map_err(|error| self.export_error(error))
    }

    /// An export error whose texts are excerpts.
    pub fn export_error(&self, error: ExportError) -> ExportError {
        match error {
            ExportError::MissingConfig(message) => ExportError::MissingConfig(self.excerpt(&message)),
            ExportError::Authentication(mut failure) => {
                failure.request = self.excerpt(&failure.request);
                failure.oauth_error = failure.oauth_error.map(|code| self.excerpt(&code));
                failure.message = self.excerpt(&failure.message);
                ExportError::Authentication(failure)
            }
            ExportError::NoSubscription(message) => ExportError::NoSubscription(self.excerpt(&message)),
            ExportError::InvalidResponse(message) => ExportError::InvalidResponse(self.excerpt(&message)),
            ExportError::Request(mut failure) => {
                failure.request = self.excerpt(&failure.request);
                failure.message = self.excerpt(&failure.message);
                ExportError::Request(failure)
            }
        }
    }

    /// The state for the next run, redacted (its values go back to the component as they are).
    fn account_state(&self, state: AccountState) -> AccountState {
        let text = |value: String| self.redact_secrets(&value).into_owned();
        let delivery = |delivery: DeliveryState| DeliveryState {
            subscription_uuid: text(delivery.subscription_uuid),
            frozen_before: delivery.frozen_before.map(text),
            sent: delivery.sent.into_iter().map(text).collect(),
        };
        AccountState {
            cost: state.cost.map(delivery),
            environment_cost: state.environment_cost.map(delivery),
            usage: state.usage.map(delivery),
            anomalies: state.anomalies.into_iter().map(text).collect(),
        }
    }
}

/// Characters that move the cursor, ring, recolour or reorder a terminal's text: every control
/// character (C0, DEL, C1) and the Unicode line separators and bidirectional controls.
pub fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{2028}' | '\u{2029}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// `\n`, `\r`, `\t`, or `\u{1b}` for an unsafe character; the character itself otherwise.
fn escape_char(c: char) -> Cow<'static, str> {
    match c {
        '\n' => Cow::Borrowed("\\n"),
        '\r' => Cow::Borrowed("\\r"),
        '\t' => Cow::Borrowed("\\t"),
        c if is_unsafe(c) => Cow::Owned(format!("\\u{{{:x}}}", c as u32)),
        c => Cow::Owned(c.to_string()),
    }
}

/// The scrubber of the log lines: set once the configuration (and so every secret) is known.
static LOGS: OnceLock<Scrubber> = OnceLock::new();

/// Redacts every later log line with `scrubber` (the first call wins).
pub fn redact_logs(scrubber: Scrubber) {
    let _ = LOGS.set(scrubber);
}

/// `text` redacted with the log lines' scrubber (token shapes alone before there is one): for a
/// last error message, whatever it quotes.
pub fn redact_known(text: &str) -> String {
    LOGS.get().unwrap_or(&TOKEN_SHAPES_ONLY).redact(text).into_owned()
}

/// stderr for `tracing`: each log line is redacted (secrets and token shapes) before it is
/// written, whatever it quotes.
pub struct LogWriter;

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogWriter {
    type Writer = LogLine;

    fn make_writer(&'a self) -> LogLine {
        LogLine(Vec::new())
    }
}

/// One log line, written (redacted) when dropped.
pub struct LogLine(Vec<u8>);

impl std::io::Write for LogLine {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for LogLine {
    fn drop(&mut self) {
        let text = String::from_utf8_lossy(&self.0);
        let redacted = match LOGS.get() {
            Some(scrubber) => scrubber.redact(&text),
            None => TOKEN_SHAPES_ONLY.redact(&text),
        };
        let _ = std::io::stderr().lock().write_all(redacted.as_bytes());
    }
}

/// Redacts token shapes alone (before the configuration is read).
static TOKEN_SHAPES_ONLY: LazyLock<Scrubber> = LazyLock::new(|| Scrubber::new([]));

#[cfg(test)]
mod tests {
    use super::*;

    fn scrubber() -> Scrubber {
        Scrubber::new(&[Secret::new("dt0s02.CLIENTID.averysecretpart123"), Secret::new("p+ss/w rd&x")])
    }

    #[test]
    fn secrets_are_redacted_whole_by_their_secret_part_and_as_posted() {
        let s = scrubber();
        let text = "client_id=dt0s02.CLIENTID&client_secret=dt0s02.CLIENTID.averysecretpart123&scope=x";
        assert_eq!(s.redact(text), "client_id=dt0s02.CLIENTID&client_secret=(redacted)&scope=x");
        assert_eq!(s.redact("the part averysecretpart123 alone"), "the part (redacted) alone");
        assert_eq!(s.redact("form: pw=p%2Bss%2Fw+rd%26x;"), "form: pw=(redacted);");
        assert_eq!(s.redact(r#"{"pw":"p+ss/w rd&x"}"#), r#"{"pw":"(redacted)"}"#);
    }

    #[test]
    fn token_shapes_are_redacted_whoever_s_they_are() {
        let s = Scrubber::new([]);
        assert_eq!(
            s.redact("authorization: Api-Token dt0c01.PUBLIC.SECRETPART"),
            "authorization: Api-Token (redacted)"
        );
        assert_eq!(s.redact("token dt0c01.PUBLIC.SECRETPART expired"), "token dt0c01.PUBLIC.(redacted) expired");
        assert_eq!(s.redact("Authorization: Bearer abcdefghijklmnop"), "Authorization: Bearer (redacted)");
        assert_eq!(s.redact("authorization: whatever-it-is\nnext"), "authorization: (redacted)\nnext");
        assert_eq!(s.redact(r#"{"Authorization":"Api-Token abc"}"#), r#"{"Authorization":"Api-Token (redacted)"}"#);
        assert_eq!(s.redact("sent Bearer abc.def-123 twice"), "sent Bearer (redacted) twice");
        assert_eq!(s.redact("Basic Monitoring, Bearer tokens."), "Basic Monitoring, Bearer tokens.");
        assert_eq!(
            s.redact(r#"{"access_token":"xyz123","expires_in":300}"#),
            r#"{"access_token":"(redacted)","expires_in":300}"#
        );
        assert_eq!(s.redact("jwt eyJhbGciOi.eyJzdWIiOiIx.c2lnbmF0dXJl."), "jwt (redacted).");
        // What is public stays: a client id, a token's identifier, ordinary words.
        assert_eq!(
            s.redact("client dt0s02.ABC, token dt0c01.PUBLIC; a bearer of news"),
            "client dt0s02.ABC, token dt0c01.PUBLIC; a bearer of news"
        );
    }

    #[test]
    fn excerpts_are_bounded_marked_and_on_one_line() {
        let s = scrubber();
        let forged = "Invalid\r\nok     account ACME: 3 records read\x1b[2K\x07";
        let excerpt = s.excerpt(forged);
        assert_eq!(excerpt, "Invalid\\r\\nok     account ACME: 3 records read\\u{1b}[2K\\u{7}");
        assert!(!excerpt.chars().any(is_unsafe));

        let huge = format!("{}{}", "\x1b".repeat(10), "x".repeat(30 << 20));
        let excerpt = s.excerpt(&huge);
        assert!(excerpt.ends_with(&format!("… (cut, {} bytes)", huge.len())), "{}", &excerpt[excerpt.len() - 40..]);
        assert!(excerpt.chars().count() <= EXCERPT_CHARS + 40);
        assert!(excerpt.starts_with("\\u{1b}\\u{1b}"));
        assert_eq!(s.excerpt("short"), "short");
        assert_eq!(s.excerpt("\u{202e}evil\u{9b}"), "\\u{202e}evil\\u{9b}");
    }

    #[test]
    fn a_secret_at_the_cut_is_redacted_before_the_cut() {
        let s = scrubber();
        let text = format!("{}dt0s02.CLIENTID.averysecretpart123", "a".repeat(EXCERPT_CHARS - 20));
        let excerpt = s.excerpt(&text);
        assert!(!excerpt.contains("averysec"), "{excerpt}");
    }

    #[test]
    fn events_lose_only_the_secrets_themselves() {
        let s = scrubber();
        let event = r#"{"name":"Basic 2026 plan","note":"dt0s02.CLIENTID.averysecretpart123"}"#;
        assert_eq!(s.json_line(event), r#"{"name":"Basic 2026 plan","note":"(redacted)"}"#);
    }

    #[test]
    fn the_state_kept_for_the_next_run_loses_the_secrets_and_nothing_else() {
        let s = scrubber();
        let cost = DeliveryState {
            subscription_uuid: "sub-averysecretpart123".into(),
            frozen_before: Some("2026-11-01T00:00:00Z".into()),
            sent: vec!["id-1".into()],
        };
        let state = s.account_state(AccountState {
            cost: Some(cost),
            environment_cost: None,
            usage: None,
            anomalies: Vec::new(),
        });
        let cost = state.cost.unwrap();
        assert_eq!(cost.subscription_uuid, "sub-(redacted)");
        assert_eq!((cost.frozen_before.as_deref(), cost.sent), (Some("2026-11-01T00:00:00Z"), vec!["id-1".to_owned()]));
    }

    #[test]
    fn json_lines_stay_the_same_json_with_unsafe_characters_escaped() {
        let s = scrubber();
        let line = r#"{"name":"a\u001b b"}"#.replace("\\u001b", "\u{9b}\u{7f}");
        let safe = s.json_line(&line);
        assert_eq!(safe, r#"{"name":"a\u009b\u007f b"}"#);
        let value: serde_json::Value = serde_json::from_str(&safe).unwrap();
        assert_eq!(value["name"], "a\u{9b}\u{7f} b");
    }
}
