//! The SSO (`sso.dynatrace.com`): `POST /sso/oauth2/token`, the OAuth client-credentials grant
//! for the account clients (their [`crate::Account::scopes`]) and the ingest client
//! (`storage:events:write`); tokens are kept as [`Grant`]s and really expire.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::json;

use crate::errors::sso_error;
use crate::state::{Grant, Shared};

/// The SSO's routes.
pub(crate) fn router() -> Router<Arc<Shared>> {
    Router::new().route("/sso/oauth2/token", post(token))
}

async fn token(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return sso_error("invalid_request", "Content-Type must be application/x-www-form-urlencoded");
    }
    let Ok(form) = serde_urlencoded::from_bytes::<HashMap<String, String>>(&body) else {
        return sso_error("invalid_request", "Malformed form body");
    };
    let field = |name: &str| form.get(name).map(String::as_str).unwrap_or("");
    if field("grant_type") != "client_credentials" {
        return sso_error("unsupported_grant_type", "Only grant_type=client_credentials is supported");
    }
    let (ttl, client) = {
        let scenario = shared.scenario();
        let client = if let Some(account) = scenario.accounts.iter().find(|a| a.client_id == field("client_id")) {
            Some((account.client_secret.clone(), Some(account.uuid.clone()), account.scopes.clone()))
        } else if scenario.ingest.client_id == field("client_id") {
            Some((scenario.ingest.client_secret.clone(), None, vec!["storage:events:write".to_owned()]))
        } else {
            None
        };
        (scenario.token_ttl, client)
    };
    let Some((_, account, permitted)) = client.filter(|(secret, ..)| secret == field("client_secret")) else {
        return sso_error("invalid_client", "Invalid client credentials. UNSUCCESSFUL_OAUTH_CLIENT_AUTHENTICATION");
    };
    let mut scopes: Vec<String> = field("scope").split(' ').filter(|s| !s.is_empty()).map(str::to_owned).collect();
    // `scope` is optional (sso-token.docs-derived.openapi.yml marks it so): without it the token
    // carries every scope of the client, as the walk-through's account token does
    // (openapi/README.md, "The account token").
    if scopes.is_empty() {
        scopes.clone_from(&permitted);
    }
    if let Some(missing) = scopes.iter().find(|scope| !permitted.contains(scope)) {
        return sso_error(
            "invalid_request",
            &format!(
                "Invalid OAuth2 request. UNSUCCESSFUL_OAUTH_ACCESS_TOKEN_VALIDATION_FAILED | OAuth client is missing following scopes [{missing}]"
            ),
        );
    }
    let resource = field("resource");
    let resource_account = resource.strip_prefix("urn:dtaccount:");
    match (&account, resource_account) {
        (Some(own), Some(requested)) if own != requested => {
            return sso_error(
                "invalid_request",
                &format!("Invalid resource {resource}: the client does not belong to this account"),
            );
        }
        (_, None) if !resource.is_empty() => {
            return sso_error("invalid_request", &format!("Invalid resource {resource}"));
        }
        _ => {}
    }
    let mut recorded = shared.recorded();
    recorded.issued += 1;
    // Forget grants long expired, so that a long session does not keep every token it issued
    // (an expired one is still told apart from an unknown one for an hour).
    let now = Instant::now();
    recorded.grants.retain(|_, grant| grant.expires + std::time::Duration::from_secs(3600) > now);
    let access_token =
        format!("sim.{:08x}.{:016x}", recorded.issued, recorded.issued.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    recorded.grants.insert(
        access_token.clone(),
        Grant {
            client_id: field("client_id").to_owned(),
            account: resource_account.map(str::to_owned),
            scopes: scopes.clone(),
            expires: Instant::now() + ttl,
        },
    );
    Json(json!({"scope": scopes.join(" "), "token_type": "Bearer", "expires_in": ttl.as_secs(),
                "access_token": access_token, "resource": resource}))
    .into_response()
}
