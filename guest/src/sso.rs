//! OAuth 2.0 client-credentials tokens from the Dynatrace SSO.

use crate::http::{self, Request, Transport};
use crate::model::{ExportError, OAuthClient};
use crate::parse;

pub const ACCOUNT_SCOPE: &str = "account-uac-read";
pub const INGEST_SCOPE: &str = "storage:events:write";

/// Requests a token for `client` with `scope`. The SSO answers bad credentials and scopes with
/// HTTP 400 and an `error_description`, which the error carries.
pub fn fetch_token(
    transport: &mut dyn Transport,
    requests: &mut u32,
    client: &OAuthClient,
    client_secret: &str,
    scope: &str,
) -> Result<String, ExportError> {
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
    let response = http::send(transport, requests, &request).map_err(ExportError::Request)?;
    if response.status != 200 {
        return Err(ExportError::Authentication(format!(
            "the SSO ({}) refused client {} for scope {scope} with HTTP {}: {}",
            client.token_url,
            client.client_id,
            response.status,
            parse::error_message(&response.body)
        )));
    }
    let grant = parse::token_grant(&response.body)
        .map_err(|error| ExportError::InvalidResponse(format!("{}: {error}", request.describe())))?;
    if grant.access_token.is_empty() {
        return Err(ExportError::InvalidResponse(format!("{}: access_token is empty", request.describe())));
    }
    Ok(grant.access_token)
}
