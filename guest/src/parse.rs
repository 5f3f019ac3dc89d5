//! Reading API responses into typed records. Every field is checked, and an error names the
//! response, the field (`data[3].value`) and what was wrong with it.

use serde_json::{Map, Value};

use crate::error::InvalidRecord;
use crate::wit::{AccountForecast, Budget, EnvironmentCost, Period};
use crate::wit::{ClusterLicense, CostRecord, OverageUsage, Subscription, UnitUsage};

/// A response that does not match the documented contract: the field names where in the body.
type Result<T> = std::result::Result<T, InvalidRecord>;

/// An entry of the subscription list: enough to choose one (not a WIT record: it never leaves).
#[derive(Debug, Clone, PartialEq)]
pub struct SubscriptionSummary {
    pub uuid: String,
    pub name: String,
    pub kind: String,
    pub status: String,
    pub start_time: String,
}

/// An OAuth token response.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenGrant {
    pub access_token: String,
    pub expires_in_seconds: Option<f64>,
}

pub fn token_grant(root: &Value) -> Result<TokenGrant> {
    let root = Obj::root(root)?;
    Ok(TokenGrant { access_token: root.string("access_token")?, expires_in_seconds: root.opt_number("expires_in")? })
}

/// The OAuth 2.0 `error` code of a token endpoint's error answer (RFC 6749 §5.2), if it is one.
pub fn oauth_error(root: &Value) -> Option<String> {
    root.get("error").and_then(Value::as_str).filter(|code| !code.is_empty()).map(str::to_owned)
}

pub fn subscription_list(root: &Value) -> Result<Vec<SubscriptionSummary>> {
    let root = Obj::root(root)?;
    root.array("data")?
        .map(|entry| {
            let entry = entry?;
            Ok(SubscriptionSummary {
                uuid: entry.string("uuid")?,
                name: entry.opt_string("name")?.unwrap_or_default(),
                kind: entry.opt_string("type")?.unwrap_or_default(),
                status: entry.string("status")?,
                start_time: entry.opt_string("startTime")?.unwrap_or_default(),
            })
        })
        .collect()
}

pub fn subscription(root: &Value) -> Result<Subscription> {
    let root = Obj::root(root)?;
    let budget = root.object("budget")?;
    let period = root.object("currentPeriod")?;
    Ok(Subscription {
        uuid: root.string("uuid")?,
        name: root.opt_string("name")?.unwrap_or_default(),
        type_: root.opt_string("type")?.unwrap_or_default(),
        sub_type: root.opt_text("subType"),
        status: root.opt_string("status")?.unwrap_or_default(),
        owner_account_uuid: match root.opt_object("account")? {
            Some(account) => account.opt_string("uuid")?,
            None => None,
        },
        budget: Budget {
            total: budget.number("total")?,
            used: budget.number("used")?,
            currency_code: budget.opt_string("currencyCode")?,
        },
        current_period: Period {
            start_time: period.string("startTime")?,
            end_time: period.string("endTime")?,
            days_remaining: period.number("daysRemaining")?,
        },
    })
}

/// The `/cost` list. A record without `currencyCode` (older servers) takes `default_currency`.
pub fn cost_list(root: &Value, default_currency: &str) -> Result<Vec<CostRecord>> {
    let root = Obj::root(root)?;
    root.array("data")?
        .map(|entry| {
            let entry = entry?;
            Ok(CostRecord {
                start_time: entry.string("startTime")?,
                end_time: entry.string("endTime")?,
                value: entry.number("value")?,
                currency_code: entry.opt_string("currencyCode")?.unwrap_or_else(|| default_currency.to_owned()),
                last_booking_date: entry.opt_text("lastBookingDate"),
            })
        })
        .collect()
}

/// One page of the v3 `/environments/cost`: its rows, flattened, and the key of the next page.
/// A `nextPageKey` that is null, empty or absent ends the walk (the schema marks it required,
/// but the last page has to say "none" somehow, and which way is unverified).
pub fn environment_cost_page(root: &Value) -> Result<(Vec<EnvironmentCost>, Option<String>)> {
    let root = Obj::root(root)?;
    let mut rows = Vec::new();
    for environment in root.array("data")? {
        let environment = environment?;
        // SaaS environments have no cluster; the API's value for them is unverified (null or "").
        let cluster_id = environment.opt_string("clusterId")?.filter(|id| !id.is_empty());
        let environment_id = environment.string("environmentId")?;
        for row in environment.array("cost")? {
            let row = row?;
            rows.push(EnvironmentCost {
                cluster_id: cluster_id.clone(),
                environment_id: environment_id.clone(),
                capability_key: row.string("capabilityKey")?,
                capability_name: row.opt_string("capabilityName")?.unwrap_or_default(),
                start_time: row.string("startTime")?,
                end_time: row.string("endTime")?,
                value: row.number("value")?,
                currency_code: row.string("currencyCode")?,
                booking_date: row.opt_text("bookingDate"),
            });
        }
    }
    let next_page_key = root.opt_string("nextPageKey")?.filter(|key| !key.is_empty());
    Ok((rows, next_page_key))
}

/// One record of `/usage` (`SubscriptionUsageDto`): a capability's use on one day, in its unit.
#[derive(Debug, Clone, PartialEq)]
pub struct UsageRecord {
    pub capability_key: String,
    pub capability_name: String,
    pub start_time: String,
    pub end_time: String,
    pub value: f64,
    pub unit_measure: String,
}

/// `/sub/v2/.../subscriptions/{s}/usage` (`SubscriptionUsageListDto`).
pub fn usage_list(root: &Value) -> Result<Vec<UsageRecord>> {
    let root = Obj::root(root)?;
    root.array("data")?
        .map(|entry| {
            let entry = entry?;
            Ok(UsageRecord {
                capability_key: entry.string("capabilityKey")?,
                capability_name: entry.opt_string("capabilityName")?.unwrap_or_default(),
                start_time: entry.string("startTime")?,
                end_time: entry.string("endTime")?,
                value: entry.number("value")?,
                unit_measure: entry.opt_string("unitMeasure")?.unwrap_or_default(),
            })
        })
        .collect()
}

/// A rate card (`RateCardSummaryDto`): the unit prices of its capabilities over its dates.
#[derive(Debug, Clone, PartialEq)]
pub struct RateCard {
    pub start_time: String,
    pub end_time: String,
    pub currency_code: String,
    pub capabilities: Vec<RatedCapability>,
}

/// `RateCardCapabilitiesDto`. `price` stays the text the API sent (the spec types it a string):
/// it is read as a number where it is used, so that a bad one names its capability.
#[derive(Debug, Clone, PartialEq)]
pub struct RatedCapability {
    pub key: String,
    pub price: String,
    pub unit: String,
    pub start_time: Option<String>,
    pub end_time: Option<String>,
    /// Where it is in the response (`[0].capabilities[3]`), for messages.
    pub path: String,
}

/// `/sub/v1/accounts/{a}/rate-cards`: a bare array of `RateCardSummaryDto`.
pub fn rate_cards(root: &Value) -> Result<Vec<RateCard>> {
    let cards =
        root.as_array().ok_or_else(|| InvalidRecord::new("body", format!("expected an array, got {}", kind(root))))?;
    cards
        .iter()
        .enumerate()
        .map(|(index, card)| {
            let card = Obj::at(format!("[{index}]"), card)?;
            let capabilities = card
                .array("capabilities")?
                .map(|capability| {
                    let capability = capability?;
                    Ok(RatedCapability {
                        key: capability.string("key")?,
                        price: capability.string("price")?,
                        unit: capability.opt_string("quotedUnitOfMeasure")?.unwrap_or_default(),
                        start_time: capability.opt_string("startTime")?,
                        end_time: capability.opt_string("endTime")?,
                        path: capability.path.clone(),
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            Ok(RateCard {
                start_time: card.string("startTime")?,
                end_time: card.string("endTime")?,
                currency_code: card.string("currencyCode")?,
                capabilities,
            })
        })
        .collect()
}

/// `/env/v2/accounts/{a}/environments` (`EnvironmentListDto`): each environment's id and, where
/// it has one (`name` is optional), its name.
pub fn environment_names(root: &Value) -> Result<Vec<(String, String)>> {
    let root = Obj::root(root)?;
    let mut names = Vec::new();
    for environment in root.array("data")? {
        let environment = environment?;
        let id = environment.string("id")?;
        if let Some(name) = environment.opt_string("name")?.filter(|name| !name.is_empty()) {
            names.push((id, name));
        }
    }
    Ok(names)
}

/// Whether `text` is a UUID (8-4-4-4-12 hex digits, any case): what a subscription's `uuid` must
/// be before it becomes a path segment.
pub fn is_uuid(text: &str) -> bool {
    let groups: Vec<&str> = text.split('-').collect();
    groups.iter().map(|g| g.len()).eq([8, 4, 4, 4, 12])
        && groups.iter().all(|g| g.chars().all(|c| c.is_ascii_hexdigit()))
}

/// The account's `Forecast`.
pub fn account_forecast(root: &Value) -> Result<AccountForecast> {
    let root = Obj::root(root)?;
    Ok(AccountForecast {
        median: root.number("forecastMedian")?,
        lower: root.number("forecastLower")?,
        upper: root.number("forecastUpper")?,
        budget: root.number("budget")?,
        budget_percent: root.number("forecastBudgetPct")?,
        budget_date: root.opt_text("forecastBudgetDate"),
        created_at: root.opt_text("forecastCreatedAt"),
    })
}

/// `clusterLicense`. `licenseKey` and `contactEmailAddress` are deliberately not read.
pub fn cluster_license(root: &Value) -> Result<ClusterLicense> {
    let root = Obj::root(root)?;
    Ok(ClusterLicense {
        cluster_id: root.opt_string("clusterId")?,
        account_name: root.opt_text("accountName"),
        license_name: root.opt_text("licenseName"),
        license_type: root.opt_text("licenseType"),
        license_status: root.opt_text("licenseStatus"),
        license_expiration_time: root.opt_text("licenseExpirationTime"),
        last_billing_time: root.opt_text("lastBillingTime"),
        product_version: root.opt_text("productVersion"),
        host_units: root.opt_object("usageOfHostUnits")?.map(|unit| unit_usage(&unit)).transpose()?,
        dem_units: root.opt_object("usageOfDemUnits")?.map(|unit| unit_usage(&unit)).transpose()?,
        ddu_units: root.opt_object("usageOfDduUnits")?.map(|unit| unit_usage(&unit)).transpose()?,
    })
}

fn unit_usage(unit: &Obj) -> Result<UnitUsage> {
    // Passed through as text: the API may add values to the documented four.
    let usage_status = unit.opt_text("usageStatus");
    let overage = match unit.opt_object("overageUsage")? {
        Some(overage) => Some(OverageUsage {
            overage_quota: overage.opt_number("overageQuota")?,
            overage_usage: overage.opt_number("overageUsage")?,
            overage_usage_percent: overage.opt_number("overageUsagePercent")?,
            remaining_overage: overage.opt_number("remainingOverage")?,
            remaining_overage_percent: overage.opt_number("remainingOveragePercent")?,
        }),
        None => None,
    };
    Ok(UnitUsage {
        quota: unit.opt_number("quota")?,
        usage: unit.opt_number("usage")?,
        usage_percent: unit.opt_number("usagePercent")?,
        remaining: unit.opt_number("remaining")?,
        remaining_percent: unit.opt_number("remainingPercent")?,
        usage_status,
        overage,
    })
}

/// One entry of a bizevents 400 partial-success body (`BizEventIngestError`): every field is
/// optional in the published schema.
#[derive(Debug, Clone, PartialEq)]
pub struct IngestError {
    /// The refused event's position in the request.
    pub index: Option<usize>,
    /// The refused event's id (its `event.id`, when it had one).
    pub id: Option<String>,
    pub message: String,
}

/// The entries of a bizevents 400 partial-success body, `{"errors":[{index?,id?,message?}]}`.
pub fn ingest_error_entries(root: &Value) -> Result<Vec<IngestError>> {
    let root = Obj::root(root)?;
    root.array("errors")?
        .map(|entry| {
            let entry = entry?;
            let index = match entry.opt_number("index")? {
                Some(index) if index < 0.0 || index.fract() != 0.0 || index > u32::MAX as f64 => {
                    return Err(InvalidRecord::new(entry.child_path("index"), format!("{index} is not an index")));
                }
                Some(index) => Some(index as usize),
                None => None,
            };
            Ok(IngestError {
                index,
                id: entry.opt_string("id")?,
                message: entry.opt_string("message")?.unwrap_or_default(),
            })
        })
        .collect()
}

/// The most useful message in an error response of any of the APIs: the SSO's
/// `error_description`, the account API's `message`, the environment/cluster API's
/// `error.message`; otherwise the body as text. Untrusted: callers pass it through
/// [`crate::untrusted::excerpt`] before it goes anywhere.
pub fn error_message(body: &[u8]) -> String {
    if let Ok(Value::Object(root)) = serde_json::from_slice::<Value>(body) {
        let text = |value: Option<&Value>| value.and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_owned);
        if let Some(message) = text(root.get("error_description")) {
            return message;
        }
        if let Some(Value::Object(error)) = root.get("error")
            && let Some(message) = text(error.get("message"))
        {
            return message;
        }
        if let Some(message) = text(root.get("message")).or_else(|| text(root.get("error"))) {
            return message;
        }
    }
    let text = String::from_utf8_lossy(body);
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return "empty response body".to_owned();
    }
    if trimmed.starts_with('<') {
        return "an HTML page came back instead of JSON: is the URL the API's base URL?".to_owned();
    }
    format!("response body: {trimmed}")
}

/// A response body as JSON: what every reader below takes (the client parses each body once,
/// and a 2xx that is not JSON, a truncated transfer, is retried).
pub fn json(body: &[u8]) -> Result<Value> {
    serde_json::from_slice(body).map_err(|error| InvalidRecord {
        field: "body".to_owned(),
        message: if body.iter().all(u8::is_ascii_whitespace) {
            "empty, expected JSON".to_owned()
        } else {
            format!("not valid JSON ({error})")
        },
    })
}

/// A JSON object and where it sits in the response, for error messages.
struct Obj<'a> {
    path: String,
    map: &'a Map<String, Value>,
}

impl<'a> Obj<'a> {
    fn root(value: &'a Value) -> Result<Self> {
        Self::at(String::new(), value)
    }

    fn at(path: String, value: &'a Value) -> Result<Self> {
        match value {
            Value::Object(map) => Ok(Obj { path, map }),
            other => Err(InvalidRecord {
                field: if path.is_empty() { "body".into() } else { path },
                message: format!("expected an object, got {}", kind(other)),
            }),
        }
    }

    fn child_path(&self, key: &str) -> String {
        if self.path.is_empty() { key.to_owned() } else { format!("{}.{key}", self.path) }
    }

    fn wrong(&self, key: &str, expected: &str, got: &Value) -> InvalidRecord {
        InvalidRecord::new(self.child_path(key), format!("expected {expected}, got {}", kind(got)))
    }

    fn present(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key).filter(|value| !value.is_null())
    }

    fn required(&self, key: &str, expected: &str) -> Result<&'a Value> {
        match self.map.get(key) {
            None => Err(InvalidRecord::new(self.child_path(key), format!("missing, expected {expected}"))),
            Some(Value::Null) => Err(self.wrong(key, expected, &Value::Null)),
            Some(value) => Ok(value),
        }
    }

    fn string(&self, key: &str) -> Result<String> {
        let value = self.required(key, "a string")?;
        value.as_str().map(str::to_owned).ok_or_else(|| self.wrong(key, "a string", value))
    }

    /// A field dtcost only passes through: a string as it is, another scalar as its JSON text,
    /// never an error (null and absent are none; an object or array is kept as its JSON text).
    fn opt_text(&self, key: &str) -> Option<String> {
        match self.map.get(key)? {
            Value::Null => None,
            Value::String(text) => Some(text.clone()),
            other => Some(other.to_string()),
        }
    }

    fn opt_string(&self, key: &str) -> Result<Option<String>> {
        self.present(key)
            .map(|value| value.as_str().map(str::to_owned).ok_or_else(|| self.wrong(key, "a string", value)))
            .transpose()
    }

    fn number(&self, key: &str) -> Result<f64> {
        let value = self.required(key, "a number")?;
        self.to_number(key, value)
    }

    fn opt_number(&self, key: &str) -> Result<Option<f64>> {
        self.present(key).map(|value| self.to_number(key, value)).transpose()
    }

    fn to_number(&self, key: &str, value: &Value) -> Result<f64> {
        // serde_json refuses NaN and infinities in JSON text, and parses out-of-range literals
        // (1e999) as an error, so a number here is finite.
        value.as_f64().ok_or_else(|| self.wrong(key, "a number", value))
    }

    fn object(&self, key: &str) -> Result<Obj<'a>> {
        Obj::at(self.child_path(key), self.required(key, "an object")?)
    }

    fn opt_object(&self, key: &str) -> Result<Option<Obj<'a>>> {
        self.present(key).map(|value| Obj::at(self.child_path(key), value)).transpose()
    }

    fn array(&self, key: &str) -> Result<impl Iterator<Item = Result<Obj<'a>>> + use<'a, '_>> {
        let value = self.required(key, "an array")?;
        let items = value.as_array().ok_or_else(|| self.wrong(key, "an array", value))?;
        let path = self.child_path(key);
        Ok(items.iter().enumerate().map(move |(index, item)| Obj::at(format!("{path}[{index}]"), item)))
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests;
