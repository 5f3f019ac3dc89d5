//! The environment management reads of the Account Management API (scope `account-env-read`):
//! `GET /env/v2/accounts/{a}/environments`, every environment the account's cost rows use with
//! its name, and `GET /env/v2/accounts/{a}/clusters`, the Managed clusters they run on (the
//! spec's `ClusterDto` carries no name).

use std::sync::Arc;

use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

use crate::account_api::find_account;
use crate::auth::{AccountToken, EnvRead};
use crate::errors::Refused;
use crate::state::Shared;

/// The environment management routes of the account API.
pub(crate) fn router() -> Router<Arc<Shared>> {
    Router::new()
        .route("/env/v2/accounts/{account}/environments", get(environments))
        .route("/env/v2/accounts/{account}/clusters", get(clusters))
}

async fn environments(token: AccountToken<EnvRead>) -> Result<Response, Refused> {
    let scenario = token.scenario();
    let account = find_account(&scenario, &token.account)?;
    let data: Vec<Value> = account
        .environments
        .iter()
        .map(|environment| {
            // ASSUMPTION: the URLs are the simulator's own (`url` has no published format): a
            // SaaS environment on `<id>.live.dynatrace.com`, a Managed one under its cluster.
            let url = match &environment.cluster_id {
                None => format!("https://{}.live.dynatrace.com", environment.id),
                Some(cluster) => {
                    format!("https://managed-{}.example.com/e/{}", cluster.get(..8).unwrap_or(cluster), environment.id)
                }
            };
            let mut listed = json!({"id": environment.id, "active": true, "url": url});
            if let Some(name) = &environment.name {
                listed["name"] = json!(name);
            }
            listed
        })
        .collect();
    Ok(Json(json!({ "data": data })).into_response())
}

async fn clusters(token: AccountToken<EnvRead>) -> Result<Response, Refused> {
    let scenario = token.scenario();
    let account = find_account(&scenario, &token.account)?;
    let mut ids: Vec<&str> = Vec::new();
    for id in account.environments.iter().filter_map(|e| e.cluster_id.as_deref()) {
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    let data: Vec<Value> = ids.into_iter().map(|id| json!({"clusterId": id})).collect();
    Ok(Json(json!({ "data": data })).into_response())
}
