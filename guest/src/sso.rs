//! OAuth 2.0 client-credentials tokens from the Dynatrace SSO, refreshed before they expire.

use crate::error::ExportError;
use crate::http::{self, Client, Exchange, Prepared, Request};
use crate::wit::{AuthenticationFailure, OauthClient};
use crate::{parse, untrusted};

pub const ACCOUNT_SCOPE: &str = "account-uac-read";
pub const INGEST_SCOPE: &str = "storage:events:write";
/// Client-credentials tokens last 300 s; assumed when the SSO does not say.
const DEFAULT_LIFETIME_MS: u64 = 300_000;
/// Refresh this long before expiry (at most a quarter of the lifetime, for short-lived tokens),
/// so that a token is not used in the seconds a slow answer may take.
const REFRESH_MARGIN_MS: u64 = 30_000;

/// A token for one client and scope, fetched when first needed and again before it expires.
pub struct TokenSource {
    client: OauthClient,
    secret: String,
    scope: &'static str,
    current: Option<(String, u64)>,
}

impl TokenSource {
    pub fn new(client: OauthClient, secret: String, scope: &'static str) -> Self {
        TokenSource { client, secret, scope, current: None }
    }

    /// `Bearer <token>`, fetching a new token if there is none or it is about to expire, and
    /// whether it was fetched just now.
    pub fn authorization(&mut self, http: &mut Client) -> Result<(String, bool), ExportError> {
        let now = http.now_millis();
        if let Some((token, refresh_at)) = &self.current
            && now < *refresh_at
        {
            return Ok((format!("Bearer {token}"), false));
        }
        let (token, lifetime_ms) = fetch_token(http, &self.client, &self.secret, self.scope)?;
        let margin = REFRESH_MARGIN_MS.min(lifetime_ms / 4);
        // Counted from before the request: the SSO's clock started when it answered.
        self.current = Some((token.clone(), now + lifetime_ms.saturating_sub(margin)));
        Ok((format!("Bearer {token}"), true))
    }

    /// Forgets the token (after a 401), so that the next call fetches a new one.
    pub fn invalidate(&mut self) {
        self.current = None;
    }

    /// Sends the `count` requests `build` makes (from their index and the `authorization`) at
    /// once, then retries each on its own as [`TokenSource::send`] does (see
    /// [`Client::exchange_all`]).
    pub fn send_all<T>(
        &mut self,
        http: &mut Client,
        count: usize,
        build: impl Fn(usize, String) -> Request,
        parse: impl Fn(&[u8]) -> Option<T> + Copy,
    ) -> Vec<Result<Exchange<T>, ExportError>> {
        http.exchange_all(
            count,
            |http, attempt, index| {
                if attempt.after_unauthorized {
                    self.invalidate();
                }
                let (authorization, fresh) = self.authorization(http)?;
                Ok(Prepared { request: build(index, authorization), fresh_token: Some(fresh) })
            },
            parse,
        )
    }

    /// Sends the request built by `build`, every attempt with a token valid for it (see
    /// [`Client::exchange`]: a 401 gets a fresh token at once, within the retry budget). A 2xx
    /// body is read with `parse`, as [`Client::send_parsed`] does.
    pub fn send<T>(
        &mut self,
        http: &mut Client,
        build: impl Fn(String) -> Request,
        parse: impl Fn(&[u8]) -> Option<T>,
    ) -> Result<Exchange<T>, ExportError> {
        http.exchange(
            |http, attempt| {
                if attempt.after_unauthorized {
                    self.invalidate();
                }
                let (authorization, fresh) = self.authorization(http)?;
                Ok(Prepared { request: build(authorization), fresh_token: Some(fresh) })
            },
            parse,
        )
    }
}

/// Requests a token for `client` with `scope`: the token and its lifetime in milliseconds. The
/// SSO answers bad credentials and scopes with HTTP 400 and an `error_description`.
fn fetch_token(
    http: &mut Client,
    client: &OauthClient,
    client_secret: &str,
    scope: &str,
) -> Result<(String, u64), ExportError> {
    let resource = client.account_uuid.as_ref().map(|uuid| format!("urn:dtaccount:{uuid}"));
    let mut form = vec![
        ("grant_type", "client_credentials"),
        ("client_id", client.client_id.as_str()),
        ("client_secret", client_secret),
        ("scope", scope),
    ];
    if let Some(resource) = &resource {
        form.push(("resource", resource));
    }
    let request = Request::post(
        client.token_url.clone(),
        "application/x-www-form-urlencoded",
        http::form_encode(&form).into_bytes(),
    );
    let response = http.send(&request).map_err(ExportError::Request)?;
    if response.status != 200 {
        let oauth_error = parse::json(&response.body).ok().and_then(|body| parse::oauth_error(&body));
        return Err(ExportError::Authentication(AuthenticationFailure {
            request: format!("{} (client {}, scope {scope})", request.describe(), client.client_id),
            status: response.status,
            oauth_error: oauth_error.map(|code| untrusted::excerpt(&code, &[client_secret])),
            message: untrusted::excerpt(&parse::error_message(&response.body), &[client_secret]),
        }));
    }
    let grant = parse::json(&response.body)
        .and_then(|body| parse::token_grant(&body))
        .map_err(|error| ExportError::InvalidResponse(format!("{}: {error}", request.describe())))?;
    if grant.access_token.is_empty() {
        return Err(ExportError::InvalidResponse(format!("{}: access_token is empty", request.describe())));
    }
    let lifetime = grant
        .expires_in_seconds
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map_or(DEFAULT_LIFETIME_MS, |s| (s * 1000.0) as u64);
    Ok((grant.access_token, lifetime))
}
