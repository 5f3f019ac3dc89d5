//! The cluster job against the fake API.

use std::collections::HashMap;

use super::fake_api::FakeApi;
use super::fixtures::*;
use crate::job::export_cluster;
use crate::wit::{ClusterPlan, RetryPolicy};

#[test]
fn a_cluster_on_dps_licensing_is_a_clear_error() {
    let mut api = FakeApi::new(&[(
        "GET https://cluster/api/cluster/v2/clusterLicense",
        422,
        r#"{"error":{"code":422,"message":"Incompatible licensing model"}}"#,
    )]);
    let plan = ClusterPlan {
        name: "prod".into(),
        url: "https://cluster".into(),
        read_at: "2026-11-23".into(),
        target: plan(None).target,
        retry: RetryPolicy::default(),
    };
    let secrets = HashMap::from([("cluster-api-token".to_owned(), "dt0c01.C.x".to_owned())]);
    let error = export_cluster(&plan, &mut api, &secrets).unwrap_err();
    assert!(error.to_string().contains("cluster prod is not on classic licensing"), "{error}");
    assert!(api.sent[0].headers.contains(&("authorization", "Api-Token dt0c01.C.x".into())));
}
