//! Making text that came from a server safe to print: every secret the host holds (and anything
//! shaped like a token) redacted, excerpts bounded, control characters escaped. A server may echo
//! what it was sent (a posted client secret, an `Authorization` header) or answer with megabytes
//! of terminal escapes; nothing of it reaches a log, an error, the summary or the state file raw.

use std::borrow::Cow;
use std::collections::HashSet;
use std::io::Write as _;
use std::sync::{Arc, LazyLock, OnceLock, PoisonError, RwLock};

use aho_corasick::{AhoCorasick, MatchKind};
use regex::Regex;

use crate::secret::Secret;
use crate::wit::{
    AccountState, AuthenticationFailure, BudgetAlert, DeliveryState, ExportError, Reconciliation, RejectedEvent,
    Report, RequestFailure, SubscriptionOutlook,
};
// The rule both sides apply to server text, written once in the contract crate.
pub use dtcost_contract::untrusted::{self, EXCERPT_CHARS, REDACTED, escape_char, is_unsafe};
use dtcost_contract::untrusted::{MIN_SECRET_CHARS, MIN_SECRET_PART_CHARS};

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
        // access_token=…, "client_secret":"…" (forms and JSON, as posted or answered): only what
        // looks like a value (after `=`, or quoted after `:`), never the words of a message such
        // as dtcost's own "access_token: a string, got a number"
        (
            regex(
                r#"(?i)\b(access_token|refresh_token|id_token|client_secret|api_token|password)(\\?"?\s*(?:=\s*\\?"?|:\s*\\?"))[^"\\&\s,;}]+"#,
            ),
            "$1$2(redacted)",
        ),
    ]
});

/// The run's one scrubber: every secret of the run (the config's, and each access token as the
/// sandbox hook sees it leave) and token shapes, redacted from whatever leaves the process.
///
/// Clones share one set of secrets: the log writer, each instance's hook and the outputs hold the
/// same scrubber, so a secret learned in one place is redacted everywhere from then on. Why one
/// shared, learning scrubber rather than redaction in the component or a scrubber per instance:
/// the component knows only its own secrets and would need the rule a second time; a per-instance
/// scrubber misses what another instance's server echoes; the hook is the one place every request
/// passes, sees each access token before any answer can echo it, and every ingest body as it leaves.
#[derive(Clone, Default)]
pub struct Scrubber {
    known: Arc<RwLock<Known>>,
}

/// What a [`Scrubber`] knows: the secrets as given, and one automaton for all their forms.
#[derive(Default)]
struct Known {
    secrets: HashSet<String>,
    /// Every form of every secret, leftmost-longest; `None` while there is none.
    forms: Option<AhoCorasick>,
}

impl std::fmt::Debug for Scrubber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Scrubber({} secrets)", self.read().secrets.len())
    }
}

/// Why a secret could not be added: the search for every form of every secret would not fit
/// the automaton (gigabytes of secrets; the caller then refuses what would carry it).
#[derive(Debug, thiserror::Error)]
#[error("cannot search for {forms} forms of {secrets} secrets at once: {source}")]
pub struct ScrubError {
    forms: usize,
    secrets: usize,
    source: aho_corasick::BuildError,
}

impl Scrubber {
    /// A scrubber for these secrets (see [`Scrubber::learn`]).
    pub fn new<'a>(secrets: impl IntoIterator<Item = &'a Secret>) -> Result<Scrubber, ScrubError> {
        let scrubber = Scrubber::default();
        scrubber.learn_all(secrets.into_iter().map(Secret::expose))?;
        Ok(scrubber)
    }

    /// Redacts `secret` from now on, wherever this scrubber (or a clone) is used: the value, its
    /// part after the last dot (a token's secret part) when that is long enough, and both as they
    /// appear percent-encoded in a form or escaped in JSON. Known secrets cost a lookup.
    pub fn learn(&self, secret: &str) -> Result<(), ScrubError> {
        self.learn_all([secret])
    }

    /// [`Scrubber::learn`] for several secrets, the automaton built once.
    pub fn learn_all<'a>(&self, secrets: impl IntoIterator<Item = &'a str>) -> Result<(), ScrubError> {
        let new: Vec<&str> = {
            let known = self.read();
            secrets.into_iter().filter(|secret| !known.secrets.contains(*secret)).collect()
        };
        if new.is_empty() {
            return Ok(());
        }
        let mut known = self.known.write().unwrap_or_else(PoisonError::into_inner);
        let mut secrets = known.secrets.clone();
        secrets.extend(new.into_iter().map(str::to_owned));
        let forms = forms(&secrets);
        let automaton = (!forms.is_empty())
            .then(|| AhoCorasick::builder().match_kind(MatchKind::LeftmostLongest).build(&forms))
            .transpose()
            .map_err(|source| ScrubError { forms: forms.len(), secrets: secrets.len(), source })?;
        *known = Known { secrets, forms: automaton };
        Ok(())
    }

    /// Learns the credential of an `Authorization` header's value (after its scheme: `Bearer`,
    /// `Api-Token`, `Basic`; the whole value when it has none).
    pub fn learn_credential(&self, authorization: &str) -> Result<(), ScrubError> {
        let value = authorization.trim();
        let credential = match value.split_once(' ') {
            Some((scheme, credential))
                if ["bearer", "api-token", "basic"].iter().any(|s| scheme.eq_ignore_ascii_case(s)) =>
            {
                credential.trim()
            }
            _ => value,
        };
        self.learn(credential)
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Known> {
        self.known.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// The secrets alone redacted (for data: events, the state; token shapes could be content).
    pub fn redact_secrets<'t>(&self, text: &'t str) -> Cow<'t, str> {
        let known = self.read();
        match &known.forms {
            Some(forms) if forms.is_match(text) => {
                let mut out = String::with_capacity(text.len());
                forms.replace_all_with(text, &mut out, |_, _, out| {
                    out.push_str(REDACTED);
                    true
                });
                Cow::Owned(out)
            }
            _ => Cow::Borrowed(text),
        }
    }

    /// A JSON text (an event, an ingest request's body) with the secrets redacted from its
    /// strings (keys included): still JSON, the same number of events, unchanged when it holds
    /// no secret. A secret is found however the text escapes it; a text with one is written
    /// anew (keys in order, numbers as they round-trip). Not JSON: redacted as text.
    pub fn redact_json<'t>(&self, text: &'t str) -> Cow<'t, str> {
        let found = self.read().forms.as_ref().is_some_and(|forms| forms.is_match(text));
        // A `\u` escape could spell a secret the raw text does not show.
        if !found && !text.contains("\\u") {
            return Cow::Borrowed(text);
        }
        match serde_json::from_str::<serde_json::Value>(text) {
            Ok(mut value) => {
                if self.redact_value(&mut value) {
                    Cow::Owned(value.to_string())
                } else {
                    Cow::Borrowed(text)
                }
            }
            Err(_) => self.redact_secrets(text),
        }
    }

    /// Redacts the secrets from every string of `value`; whether one was found.
    fn redact_value(&self, value: &mut serde_json::Value) -> bool {
        use serde_json::Value;
        match value {
            Value::String(text) => match self.redact_secrets(text) {
                Cow::Owned(redacted) => {
                    *text = redacted;
                    true
                }
                Cow::Borrowed(_) => false,
            },
            Value::Array(items) => items.iter_mut().fold(false, |found, item| self.redact_value(item) | found),
            Value::Object(fields) => {
                let mut found = false;
                let redacted: serde_json::Map<String, Value> = std::mem::take(fields)
                    .into_iter()
                    .map(|(key, mut value)| {
                        found |= self.redact_value(&mut value);
                        let key = match self.redact_secrets(&key) {
                            Cow::Owned(redacted) => {
                                found = true;
                                redacted
                            }
                            Cow::Borrowed(_) => key,
                        };
                        (key, value)
                    })
                    .collect();
                *fields = redacted;
                found
            }
            Value::Null | Value::Bool(_) | Value::Number(_) => false,
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
        untrusted::bounded(&self.redact(scanned), scanned.len() < text.len(), text.len())
    }

    /// One line of NDJSON (an event) as it may be printed: its secrets redacted, and the control
    /// characters that JSON allows raw (DEL, C1, bidirectional overrides) escaped as `\uXXXX`:
    /// the same JSON value.
    pub fn json_line(&self, line: &str) -> String {
        let redacted = self.redact_json(line);
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
        // Every field named, none defaulted: a field added to the WIT does not compile here until
        // someone decides how it is made safe.
        let Report {
            subject,
            subscription_uuid,
            subscription_outlook,
            notes,
            records_read,
            events_built,
            events_sent,
            events_accepted,
            events_skipped,
            requests,
            retries,
            throttled,
            failures,
            rejected,
            newest_day,
            reconciliation,
            usage_reconciliation,
            alerts,
            anomalies,
            events,
            state,
        } = report;
        let excerpts = |texts: Vec<String>| texts.iter().map(|t| self.excerpt(t)).collect();
        let reconciliation_made_safe = |reconciliation: Reconciliation| {
            let Reconciliation { days_compared, days_unattributed, unattributed, currency } = reconciliation;
            Reconciliation { days_compared, days_unattributed, unattributed, currency: self.excerpt(&currency) }
        };
        Report {
            subject: self.excerpt(&subject),
            subscription_uuid: subscription_uuid.map(|s| self.excerpt(&s)),
            // Its events are sent by the host: secrets redacted, as every event; its texts excerpts.
            subscription_outlook: subscription_outlook.map(|outlook| {
                let SubscriptionOutlook { subscription_uuid, period_start, status_event, alerts } = outlook;
                SubscriptionOutlook {
                    subscription_uuid: self.excerpt(&subscription_uuid),
                    period_start: self.redact_secrets(&period_start).into_owned(),
                    status_event: self.redact_json(&status_event).into_owned(),
                    alerts: alerts
                        .into_iter()
                        .map(|BudgetAlert { key, event, message }| BudgetAlert {
                            key: self.redact_secrets(&key).into_owned(),
                            event: self.redact_json(&event).into_owned(),
                            message: self.excerpt(&message),
                        })
                        .collect(),
                }
            }),
            notes: excerpts(notes),
            records_read,
            events_built,
            events_sent,
            events_accepted,
            events_skipped,
            requests,
            retries,
            throttled,
            failures: failures
                .into_iter()
                .map(|RequestFailure { request, kind, status, message, events_not_sent }| RequestFailure {
                    request: self.excerpt(&request),
                    kind,
                    status,
                    message: self.excerpt(&message),
                    events_not_sent,
                })
                .collect(),
            rejected: rejected
                .into_iter()
                .map(|RejectedEvent { event_id, message }| RejectedEvent {
                    event_id: self.excerpt(&event_id),
                    message: self.excerpt(&message),
                })
                .collect(),
            newest_day: newest_day.map(|day| self.excerpt(&day)),
            reconciliation: reconciliation.map(reconciliation_made_safe),
            usage_reconciliation: usage_reconciliation.map(reconciliation_made_safe),
            alerts: excerpts(alerts),
            anomalies: excerpts(anomalies),
            events: events.iter().map(|event| self.redact_json(event).into_owned()).collect(),
            state: state.map(|state| self.account_state(state)),
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
            ExportError::Authentication(AuthenticationFailure { request, status, oauth_error, message }) => {
                ExportError::Authentication(AuthenticationFailure {
                    request: self.excerpt(&request),
                    status,
                    oauth_error: oauth_error.map(|code| self.excerpt(&code)),
                    message: self.excerpt(&message),
                })
            }
            ExportError::NoSubscription(message) => ExportError::NoSubscription(self.excerpt(&message)),
            ExportError::InvalidResponse(message) => ExportError::InvalidResponse(self.excerpt(&message)),
            ExportError::Request(RequestFailure { request, kind, status, message, events_not_sent }) => {
                ExportError::Request(RequestFailure {
                    request: self.excerpt(&request),
                    kind,
                    status,
                    message: self.excerpt(&message),
                    events_not_sent,
                })
            }
        }
    }

    /// The state for the next run, redacted (its values go back to the component as they are).
    fn account_state(&self, state: AccountState) -> AccountState {
        let text = |value: String| self.redact_secrets(&value).into_owned();
        let delivery = |DeliveryState { subscription_uuid, frozen_before, sent }: DeliveryState| DeliveryState {
            subscription_uuid: text(subscription_uuid),
            frozen_before: frozen_before.map(text),
            sent: sent.into_iter().map(text).collect(),
        };
        let AccountState { cost, environment_cost, usage, anomalies } = state;
        AccountState {
            cost: cost.map(delivery),
            environment_cost: environment_cost.map(delivery),
            usage: usage.map(delivery),
            anomalies: anomalies.into_iter().map(text).collect(),
        }
    }
}

/// Every form of `secrets` searched for, longest first: each value, its part after the last dot
/// when at least [`MIN_SECRET_PART_CHARS`] long, each percent-encoded and JSON-escaped; none
/// shorter than [`MIN_SECRET_CHARS`].
fn forms(secrets: &HashSet<String>) -> Vec<String> {
    let mut forms: Vec<String> = Vec::new();
    for value in secrets {
        let mut parts = vec![value.as_str()];
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
    forms
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
static TOKEN_SHAPES_ONLY: LazyLock<Scrubber> = LazyLock::new(Scrubber::default);

#[cfg(test)]
mod tests {
    use super::*;

    fn scrubber() -> Scrubber {
        Scrubber::new(&[Secret::new("dt0s02.CLIENTID.averysecretpart123"), Secret::new("p+ss/w rd&x")]).unwrap()
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
        let s = Scrubber::default();
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
    fn dtcost_s_own_words_after_a_secret_s_name_stay() {
        let s = Scrubber::default();
        let text = "POST /sso/oauth2/token: access_token: expected a string, got a number";
        assert_eq!(s.redact(text), text);
        assert_eq!(s.redact("password: too short"), "password: too short");
        assert_eq!(s.redact(r#"access_token: "xyz123" echoed"#), r#"access_token: "(redacted)" echoed"#);
        assert_eq!(s.redact(r#"{\"access_token\":\"xyz123\"}"#), r#"{\"access_token\":\"(redacted)\"}"#);
    }

    #[test]
    fn a_secret_learned_through_one_clone_is_redacted_by_every_clone() {
        let run = scrubber();
        let hook = run.clone();
        hook.learn_credential("Bearer eyJ0eXAi.access-token-of-the-run").unwrap();
        hook.learn_credential("Bearer eyJ0eXAi.access-token-of-the-run").unwrap();
        assert_eq!(run.redact_secrets("x eyJ0eXAi.access-token-of-the-run y"), "x (redacted) y");
        assert_eq!(run.redact_secrets("only access-token-of-the-run"), "only (redacted)");
        hook.learn_credential("Api-Token plain-token-value").unwrap();
        assert_eq!(run.redact_secrets("plain-token-value"), "(redacted)");
        assert_eq!(format!("{run:?}"), "Scrubber(4 secrets)");
    }

    #[test]
    fn json_keeps_its_events_and_loses_the_secrets_however_they_are_escaped() {
        let s = Scrubber::default();
        s.learn("se\"cr/et\u{7}").unwrap();
        // The secret raw would span a string's end; escaped, or spelled with \u escapes.
        let body = r#"[{"a":"se\"cr/et\u0007","b":"x"},{"c":"s\u0065\"cr\/et\u0007!","se\"cr/et\u0007":1},{"d":2}]"#;
        let scrubbed = s.redact_json(body);
        let value: serde_json::Value = serde_json::from_str(&scrubbed).unwrap();
        assert_eq!(
            value,
            serde_json::json!([{"a": "(redacted)", "b": "x"}, {"c": "(redacted)!", "(redacted)": 1}, {"d": 2}])
        );
        // Without a secret, the text is left as it is.
        assert!(matches!(s.redact_json(r#"[{"b": 1.50}]"#), Cow::Borrowed(_)));
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
