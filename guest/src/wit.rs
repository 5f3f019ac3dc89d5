//! The contract, `wit/exporter.wit`, as Rust types: wit-bindgen generates them on every target,
//! so the logic takes and returns them directly (no hand-written twins). Off wasm32 the imported
//! functions are unreachable stubs that nothing calls; only `component.rs` (wasm) exports and
//! imports through them. What the contract cannot say (defaults, `Display`) are local `impl`s.

wit_bindgen::generate!({
    path: "../wit",
    world: "dtcost:exporter/exporter",
    with: { "wasi:config/store@0.2.0-rc.1": generate },
    additional_derives: [PartialEq],
    additional_type_attributes: {
        "dtcost:exporter/job@0.3.0/report": [#[derive(Default)]],
        "dtcost:exporter/job@0.3.0/account-state": [#[derive(Default)]],
        "dtcost:exporter/job@0.3.0/delivery-state": [#[derive(Default)]],
        "dtcost:exporter/job@0.3.0/reconciliation": [#[derive(Default)]],
        "dtcost:exporter/job@0.3.0/retry-policy": [#[derive(Default)]],
        "dtcost:exporter/job@0.3.0/environment-cost-plan": [#[derive(Default)]],
        "dtcost:exporter/job@0.3.0/usage-plan": [#[derive(Default)]],
        "dtcost:exporter/job@0.3.0/budget-alerting": [#[derive(Default)]],
        "dtcost:exporter/job@0.3.0/anomaly-plan": [#[derive(Default)]],
        "dtcost:exporter/types@0.3.0/cluster-license": [#[derive(Default)]],
        "dtcost:exporter/types@0.3.0/unit-usage": [#[derive(Default)]],
        "dtcost:exporter/types@0.3.0/overage-usage": [#[derive(Default)]],
        "dtcost:exporter/types@0.3.0/run-figures": [#[derive(Default)]],
    },
});

pub use exports::dtcost::exporter::job::{
    AccountPlan, AccountState, AnomalyPlan, AuthenticationFailure, BudgetAlert, BudgetAlerting, ClusterPlan,
    DeliveryState, EnvironmentCostPlan, ExportError, FailureKind, IngestTarget, OauthClient, Reconciliation,
    RejectedEvent, Report, RequestFailure, RetryPolicy, SubscriptionOutlook, TargetAuth, UsagePlan,
};
pub use exports::dtcost::exporter::types::{
    AccountForecast, Budget, ClusterLicense, CostRecord, EnvironmentCost, EventContext, InvalidRecord, OverageUsage,
    Period, RunFigures, Subscription, UnitUsage,
};
