//! A Managed cluster's `GET /api/cluster/v2/clusterLicense`: an `Api-Token` (header or
//! `?api-token=`), then the classic license JSON or, under DPS licensing, 422.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};

use crate::data::Licensing;
use crate::errors::env_error;
use crate::state::Shared;

/// The routes of the cluster at `index` in [`crate::Scenario::clusters`].
pub(crate) fn router(index: usize) -> Router<Arc<Shared>> {
    Router::new().route(
        "/api/cluster/v2/clusterLicense",
        get(move |state, headers, query| cluster_license(state, headers, query, index)),
    )
}

async fn cluster_license(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
    index: usize,
) -> Response {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Api-Token "))
        .map(str::to_owned)
        .or_else(|| query.get("api-token").cloned());
    let scenario = shared.scenario();
    let Some(cluster) = scenario.clusters.get(index) else { return env_error(404, "Not found") };
    match token {
        None => env_error(401, "Missing authorization parameter."),
        Some(token) if token != cluster.api_token => env_error(401, "Token Authentication failed"),
        Some(_) => match &cluster.licensing {
            Licensing::Classic(license) => Json(license.clone()).into_response(),
            Licensing::Dps => env_error(422, "Incompatible licensing model"),
        },
    }
}
