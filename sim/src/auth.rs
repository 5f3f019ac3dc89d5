//! Bearer tokens on the account and environment APIs: one check (live, with the operation's
//! scope, for the account in the path) and [`AccountToken`], the axum extractor the Account
//! Management handlers take instead of repeating that check.

use std::collections::HashMap;
use std::marker::PhantomData;
use std::sync::{Arc, MutexGuard};
use std::time::Instant;

use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use axum::response::Response;

use crate::data::Scenario;
use crate::errors::dps_error;
use crate::state::Shared;

/// Why a bearer token is refused: the status and message the real APIs answer with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Denied {
    pub(crate) status: u16,
    pub(crate) message: String,
}

impl Denied {
    fn new(status: u16, message: impl Into<String>) -> Denied {
        Denied { status, message: message.into() }
    }
}

/// Checks a bearer token: live, with `scope`, and for `account` when one is in the path.
pub(crate) fn check_bearer(
    shared: &Shared,
    headers: &HeaderMap,
    scope: &str,
    account: Option<&str>,
) -> Result<(), Denied> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(|| Denied::new(401, "Missing or malformed Authorization header (expected Bearer)"))?;
    let recorded = shared.recorded();
    let grant = recorded.grants.get(token).ok_or_else(|| Denied::new(401, "Invalid token"))?;
    if grant.expires <= Instant::now() {
        return Err(Denied::new(401, "Token expired"));
    }
    if !grant.scopes.iter().any(|s| s == scope) {
        return Err(Denied::new(403, format!("Token of client {} is missing scope {scope}", grant.client_id)));
    }
    if let Some(account) = account
        && grant.account.as_deref() != Some(account)
    {
        return Err(Denied::new(401, "The account in the path does not match the token's account"));
    }
    Ok(())
}

/// A token scope an operation requires (its `x-token-scopes`).
pub(crate) trait Scope {
    const NAME: &'static str;
}

/// `account-uac-read`: every DPS (`/sub/...`) read.
pub(crate) struct UacRead;

impl Scope for UacRead {
    const NAME: &'static str = "account-uac-read";
}

/// `account-env-read`: the environment management reads (`/env/v2/...`).
pub(crate) struct EnvRead;

impl Scope for EnvRead {
    const NAME: &'static str = "account-env-read";
}

/// Proof that the request carries a live bearer token with scope `S` for the `{account}` of
/// its path; otherwise the request is answered with the Account Management API's 401 or 403.
/// It carries what the handlers need next: the shared state and the path's account and
/// subscription.
pub(crate) struct AccountToken<S> {
    pub(crate) shared: Arc<Shared>,
    /// The `{account}` of the path.
    pub(crate) account: String,
    /// The `{subscription}` of the path, on the routes that have one (else empty).
    pub(crate) subscription: String,
    scope: PhantomData<S>,
}

impl<S> AccountToken<S> {
    /// The data served.
    pub(crate) fn scenario(&self) -> MutexGuard<'_, Scenario> {
        self.shared.scenario()
    }
}

impl<S: Scope> FromRequestParts<Arc<Shared>> for AccountToken<S> {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, shared: &Arc<Shared>) -> Result<Self, Response> {
        let mut path = Path::<HashMap<String, String>>::from_request_parts(parts, shared)
            .await
            .map(|Path(params)| params)
            .unwrap_or_default();
        let account = path.remove("account").unwrap_or_default();
        check_bearer(shared, &parts.headers, S::NAME, Some(&account))
            .map_err(|denied| dps_error(denied.status, &denied.message))?;
        let subscription = path.remove("subscription").unwrap_or_default();
        Ok(AccountToken { shared: shared.clone(), account, subscription, scope: PhantomData })
    }
}
