//! The simulator's data model: accounts, subscriptions, daily cost, environments and their
//! capability shares, clusters and the ingest target. Records are kept as the JSON the real API
//! sends, so a test can make any of them malformed. `generate.rs` fills it deterministically;
//! tests may also edit it by hand.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::Value;
pub use time::Date;

/// The ingest API's documented payload cap ("5 MB"); read as MiB, the more lenient reading (the
/// default of [`Scenario::max_ingest_bytes`]).
pub const MAX_INGEST_BYTES: usize = 5 * 1024 * 1024;

/// Everything the fake Dynatrace knows.
///
/// Per-environment cost (`/sub/v3/.../environments/cost`) is not stored row by row: each
/// [`Account`] holds a compact description ([`Account::environments`], [`Account::unattributed`])
/// and the server computes the rows on request from the account's `/cost` records, so the two
/// views always reconcile. For every `/cost` record (one day) and every environment × capability
/// of the account, the row's value is the day's attributed total × [`CapabilityShare::share`]
/// (rounded to 6 decimals); the day's last row (last environment, last capability, in the order
/// of the vectors) takes the remainder, so the rows of a day sum to its attributed total
/// (to ~1e-12). The attributed total is the record's `value`, except on days whose UTC
/// day-of-month is divisible by [`Unattributed::every_nth_day_of_month`], where it is
/// `value × (1 − share)`.
///
/// [`Scenario::generate`] gives every account 2 or 3 environments (the first SaaS, the second
/// Managed, the third either) with 3 or 4 capabilities each, shares summing to 1. Exactly one
/// generated account has unattributed cost: the third (index 2), when there are at least three
/// accounts, with `Unattributed { share: 0.04, every_nth_day_of_month: 5 }`, i.e. on the 5th, 10th,
/// ..., 30th of each month its rows sum to 96 % of that day's `/cost` value. Every account but the
/// second (index 1) has a [`Account::forecast`] when at least 15 days are generated.
#[derive(Debug, Clone)]
pub struct Scenario {
    pub accounts: Vec<Account>,
    /// Subscription details (`SubscriptionDto` JSON) by UUID.
    pub subscriptions: BTreeMap<String, Value>,
    pub clusters: Vec<Cluster>,
    pub ingest: IngestAuth,
    /// Lifetime of SSO tokens; the real SSO issues 300 s client-credentials tokens.
    pub token_ttl: Duration,
    /// The ingest API's payload cap (documented as 5 MB); lower it to provoke 413s.
    pub max_ingest_bytes: usize,
    /// How many accepted events and logged requests the simulator keeps (the newest ones);
    /// `None` keeps all (the default, for tests). A long `dtcost simulate` session sets a bound
    /// so that its memory stays flat; [`crate::Simulator::accepted_count`] and
    /// [`crate::Simulator::request_count`] still count everything.
    pub max_recorded_events: Option<usize>,
    /// How long every answer waits before it is served, as a wide-area round trip adds to each
    /// request (zero, the default: loopback speed). Injected faults come on top.
    pub latency: Duration,
    /// How much longer the first answer on a new connection waits, as TCP and TLS handshakes
    /// add to each new connection (zero, the default).
    pub connect_latency: Duration,
}

#[derive(Debug, Clone)]
pub struct Account {
    pub uuid: String,
    pub name: String,
    pub client_id: String,
    pub client_secret: String,
    /// The scopes of the account's OAuth client: a token requested without `scope` carries all
    /// of them, one requesting another is refused by the SSO. Generated: [`ACCOUNT_SCOPES`];
    /// take `account-env-read` away for a client that may not list environments (the
    /// environments API then answers its tokens 403).
    pub scopes: Vec<String>,
    /// Subscriptions listed for this account (UUIDs into [`Scenario::subscriptions`]).
    pub subscriptions: Vec<String>,
    /// Subscriptions this account may not read the details of (books against them only).
    pub hidden_details: Vec<String>,
    /// `/cost` records (`SubscriptionCostBookingDto` JSON) by subscription UUID, in the order served.
    pub costs: BTreeMap<String, Vec<Value>>,
    /// The account's environments, for the v3 `/environments/cost` view of [`Account::costs`]
    /// (see [`Scenario`] for how rows are computed). Rows are served in this order, and each
    /// environment's capabilities in the order of [`Environment::capabilities`].
    pub environments: Vec<Environment>,
    /// Cost that no environment carries on some days (see [`Scenario`]); `None`: all of it is.
    pub unattributed: Option<Unattributed>,
    /// The account-level `Forecast` JSON served by `/sub/v2/accounts/{a}/subscriptions/forecast`;
    /// `None` answers 404 (as real accounts do, e.g. tier HARDENING, or with < 15 days of data).
    pub forecast: Option<Value>,
    /// A one-day cost spike, for anomaly tests (`None`, the default: none); see [`CostChange`].
    pub spike: Option<CostChange>,
    /// A step change of the daily cost from a day on, for anomaly tests (`None`, the default:
    /// none); see [`CostChange`].
    pub step: Option<CostChange>,
}

/// The scopes a generated account client has: the DPS reads and the environment list.
pub const ACCOUNT_SCOPES: [&str; 2] = ["account-uac-read", "account-env-read"];

/// Cost added to an account's booked cost on a day ([`Account::spike`]) or on every day from
/// one on ([`Account::step`]), consistently in every view: the day's `/cost` value grows by
/// `extra` x its booked value, and all of that is carried by one row, the first capability of
/// the account's first environment, in the v3 environment cost, the filtered `/cost` and the
/// usage (so one environment and one capability change, and the others stay as they were).
/// The forecast and the subscription's `budget.used` do not follow it. A negative `extra`
/// (a drop) larger than that row's share makes the row negative: the simulator serves it so.
#[derive(Debug, Clone, PartialEq)]
pub struct CostChange {
    /// The (first) day it applies to, by the UTC date of the record's `startTime`.
    pub day: Date,
    /// The fraction of the day's booked value added: 3.0 makes the day 4 times as costly.
    pub extra: f64,
}

/// One environment of an account, as the v3 `/environments/cost` reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct Environment {
    /// SaaS: 8 characters like `abc12345`; Managed: a UUID.
    pub id: String,
    /// Its friendly name, as `/env/v2/accounts/{a}/environments` lists it; `None`: listed
    /// without one (the spec makes `name` optional), so no client can know it.
    pub name: Option<String>,
    /// The Managed cluster's UUID; `None` for SaaS environments (served as `"clusterId": null`).
    pub cluster_id: Option<String>,
    pub capabilities: Vec<CapabilityShare>,
}

/// A capability an environment consumes, and its share of the account's daily cost.
#[derive(Debug, Clone, PartialEq)]
pub struct CapabilityShare {
    /// A real capability key, e.g. `FULLSTACK_MONITORING`.
    pub key: String,
    /// Its display name, e.g. `Full-Stack Monitoring`.
    pub name: String,
    /// Fraction of the day's attributed total (all shares of an account sum to 1).
    pub share: f64,
}

/// Cost booked for the account (in `/cost`) but attributed to no environment in the v3 view.
#[derive(Debug, Clone, PartialEq)]
pub struct Unattributed {
    /// Fraction of the day's `/cost` value missing from the environment rows.
    pub share: f64,
    /// Applies on days whose day-of-month (UTC) is divisible by this (0: never).
    pub every_nth_day_of_month: u32,
}

impl Unattributed {
    /// Whether `date` is one of the days with unattributed cost.
    pub fn applies(&self, date: Date) -> bool {
        self.every_nth_day_of_month > 0 && u32::from(date.day()) % self.every_nth_day_of_month == 0
    }
}

/// Real capability keys and names (`shared/reference/dynatrace-api.md` §2.4 and §2.6).
pub const CAPABILITIES: [(&str, &str); 14] = [
    ("FULLSTACK_MONITORING", "Full-Stack Monitoring"),
    ("FOUNDATION_AND_DISCOVERY", "Foundation & Discovery"),
    ("KUBERNETES_OPERATIONS", "Kubernetes Platform Monitoring"),
    ("LOG_MANAGEMENT_INGEST", "Log Management & Analytics - Ingest & Process"),
    ("USER_SESSIONS", "Real User Monitoring"),
    ("BUSINESS_EVENTS_INGEST", "Events - Ingest & Process"),
    ("BUSINESS_EVENTS_RETAIN", "Events - Retain"),
    ("BUSINESS_EVENTS_ANALYZE", "Events - Query"),
    ("AUTOMATIONS", "Automation Workflow"),
    ("COMPUTE", "AppEngine Functions - Small"),
    ("EVENTS", "Custom Events Classic"),
    ("LOGS", "Log Monitoring Classic"),
    ("METRICS", "Custom Metrics Classic"),
    ("TRACES", "Custom Traces Classic"),
];

#[derive(Debug, Clone)]
pub struct Cluster {
    pub name: String,
    pub api_token: String,
    pub licensing: Licensing,
}

#[derive(Debug, Clone)]
pub enum Licensing {
    /// Classic licensing: `clusterLicense` answers with this JSON.
    Classic(Value),
    /// DPS licensing: `clusterLicense` answers 422.
    Dps,
}

/// Credentials the ingest API accepts.
#[derive(Debug, Clone)]
pub struct IngestAuth {
    /// `Api-Token` with `bizevents.ingest`, for `/api/v2/bizevents/ingest`.
    pub api_token: String,
    /// OAuth client with `storage:events:write`, whose Bearer tokens the same path also takes.
    pub client_id: String,
    pub client_secret: String,
}

impl Scenario {
    /// Every secret in the scenario, for tests that assert none of them leaks.
    pub fn secrets(&self) -> Vec<String> {
        let mut secrets: Vec<String> = self.accounts.iter().map(|a| a.client_secret.clone()).collect();
        secrets.extend(self.clusters.iter().map(|c| c.api_token.clone()));
        secrets.push(self.ingest.api_token.clone());
        secrets.push(self.ingest.client_secret.clone());
        secrets
    }
}

/// `YYYY-MM-DD`.
pub fn format_date(date: Date) -> String {
    format!("{:04}-{:02}-{:02}", date.year(), u8::from(date.month()), date.day())
}

/// Rounded to 6 decimals (the precision of the served costs).
pub(crate) fn round6(value: f64) -> f64 {
    (value * 1e6).round() / 1e6
}
