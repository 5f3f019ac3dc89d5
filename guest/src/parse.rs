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
mod tests {
    use super::*;

    // The readers from the body's bytes, as the client hands them over: `json`, then the reader.
    fn cost_list(body: &[u8], default_currency: &str) -> Result<Vec<CostRecord>> {
        super::cost_list(&json(body)?, default_currency)
    }
    fn environment_cost_page(body: &[u8]) -> Result<(Vec<EnvironmentCost>, Option<String>)> {
        super::environment_cost_page(&json(body)?)
    }
    fn account_forecast(body: &[u8]) -> Result<AccountForecast> {
        super::account_forecast(&json(body)?)
    }
    fn subscription(body: &[u8]) -> Result<Subscription> {
        super::subscription(&json(body)?)
    }
    fn subscription_list(body: &[u8]) -> Result<Vec<SubscriptionSummary>> {
        super::subscription_list(&json(body)?)
    }
    fn cluster_license(body: &[u8]) -> Result<ClusterLicense> {
        super::cluster_license(&json(body)?)
    }
    fn ingest_errors(body: &[u8]) -> Result<Vec<IngestError>> {
        super::ingest_error_entries(&json(body)?)
    }

    #[test]
    fn a_cost_list_is_read_with_either_booking_date_format() {
        let body = br#"{"data":[
            {"startTime":"2026-03-24T00:00:00Z","endTime":"2026-03-25T00:00:00Z","value":712.408213,"currencyCode":"USD","lastBookingDate":"2026-03-25T06:00:00Z"},
            {"startTime":"2026-03-25T00:00:00Z","endTime":"2026-03-26T00:00:00Z","value":698,"currencyCode":"USD","lastBookingDate":"2026-03-26"},
            {"startTime":"2026-03-26T00:00:00Z","endTime":"2026-03-27T00:00:00Z","value":1}],
            "lastModifiedTime":"2026-03-26T07:12:44Z"}"#;
        let costs = cost_list(body, "EUR").unwrap();
        assert_eq!(costs.len(), 3);
        assert_eq!(costs[0].value, 712.408213);
        assert_eq!(costs[1].last_booking_date.as_deref(), Some("2026-03-26"));
        assert_eq!(costs[2].currency_code, "EUR", "a record without currencyCode takes the subscription's");
        assert_eq!(costs[2].last_booking_date, None);
    }

    #[test]
    fn an_environment_cost_page_is_flattened_and_any_empty_next_key_ends_the_walk() {
        let page = |next: &str| {
            format!(
                r#"{{"data":[{{"clusterId":"c-1","environmentId":"f1e2","cost":[
                    {{"startTime":"2026-03-24T00:00:00Z","endTime":"2026-03-25T00:00:00Z","value":120.5,"currencyCode":"USD",
                      "capabilityKey":"FULLSTACK_MONITORING","capabilityName":"Full-Stack Monitoring","bookingDate":"2026-03-25T00:00:00Z"}}]}},
                  {{"clusterId":{},"environmentId":"abc12345","cost":[]}}],
                  "lastModifiedTime":"2026-03-26T07:12:44Z"{next}}}"#,
                if next.is_empty() { "\"\"" } else { "null" }
            )
        };
        let (rows, next) = environment_cost_page(page(r#","nextPageKey":"eyJvZmZzZXQiOjJ9""#).as_bytes()).unwrap();
        assert_eq!(next.as_deref(), Some("eyJvZmZzZXQiOjJ9"));
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].cluster_id.as_deref(), Some("c-1"));
        assert_eq!((rows[0].capability_key.as_str(), rows[0].value), ("FULLSTACK_MONITORING", 120.5));
        for end in [r#","nextPageKey":null"#, r#","nextPageKey":"""#, ""] {
            assert_eq!(environment_cost_page(page(end).as_bytes()).unwrap().1, None, "{end:?} ends the walk");
        }
        let bad = br#"{"data":[{"environmentId":"e","cost":[{"startTime":"x","endTime":"y","currencyCode":"USD","capabilityKey":"K"}]}]}"#;
        assert_eq!(
            environment_cost_page(bad).unwrap_err().to_string(),
            "data[0].cost[0].value: missing, expected a number"
        );
    }

    #[test]
    fn an_account_forecast_is_read_with_or_without_a_budget_date() {
        let body = br#"{"forecastMedian":243100.4,"forecastLower":228900.0,"forecastUpper":259750.9,"budget":250000,
            "forecastBudgetPct":97.24,"forecastBudgetDate":null,"forecastCreatedAt":"2026-03-26T03:00:00Z"}"#;
        let forecast = account_forecast(body).unwrap();
        assert_eq!((forecast.median, forecast.budget_percent, forecast.budget_date), (243100.4, 97.24, None));
        assert_eq!(account_forecast(b"{}").unwrap_err().field, "forecastMedian");
    }

    #[test]
    fn bad_cost_records_name_the_record_and_field() {
        let cases: [(&[u8], &str, &str); 6] = [
            (
                br#"{"data":[{"startTime":"a","endTime":"b","value":null}]}"#,
                "data[0].value",
                "expected a number, got null",
            ),
            (
                br#"{"data":[{"startTime":"a","endTime":"b","value":1},{"startTime":5,"endTime":"b","value":1}]}"#,
                "data[1].startTime",
                "expected a string, got a number",
            ),
            (br#"{"data":[{"endTime":"b","value":1}]}"#, "data[0].startTime", "missing, expected a string"),
            (br#"{"data":{}}"#, "data", "expected an array, got an object"),
            (br#"{"data":[1]}"#, "data[0]", "expected an object, got a number"),
            (
                br#"{"data":[{"startTime":"a","endTime":"b","value":"12.5"}]}"#,
                "data[0].value",
                "expected a number, got a string",
            ),
        ];
        for (body, path, message) in cases {
            let error = cost_list(body, "USD").unwrap_err();
            assert_eq!((error.field.as_str(), error.message.as_str()), (path, message));
        }
    }

    #[test]
    fn truncated_or_empty_bodies_are_typed_errors() {
        assert!(cost_list(br#"{"data":[{"startTime":"#, "USD").unwrap_err().message.starts_with("not valid JSON"));
        assert_eq!(cost_list(b"", "USD").unwrap_err().message, "empty, expected JSON");
        assert_eq!(cost_list(b"[]", "USD").unwrap_err().message, "expected an object, got an array");
        assert!(cost_list(br#"{"data":[{"startTime":"a","endTime":"b","value":1e999}]}"#, "USD").is_err());
    }

    #[test]
    fn subscription_details_are_read_and_checked() {
        let body = br#"{"uuid":"s","type":"REGULAR","subType":null,"name":"DPS","status":"ACTIVE","startTime":"2026-01-01","endTime":"2026-12-31",
            "account":{"uuid":"a"},"budget":{"total":250000,"used":61234.57,"currencyCode":"EUR"},
            "currentPeriod":{"startTime":"2026-01-01","endTime":"2026-12-31","daysRemaining":281},"periods":[],"capabilities":[]}"#;
        let subscription = subscription(body).unwrap();
        assert_eq!(subscription.owner_account_uuid.as_deref(), Some("a"));
        assert_eq!(subscription.budget.currency_code.as_deref(), Some("EUR"));
        assert_eq!(subscription.current_period.days_remaining, 281.0);
        let error = self::subscription(br#"{"uuid":"s","budget":{"total":1},"currentPeriod":{}}"#).unwrap_err();
        assert_eq!(error.to_string(), "budget.used: missing, expected a number");
    }

    #[test]
    fn subscription_lists_keep_what_choosing_needs() {
        let list = subscription_list(br#"{"data":[{"uuid":"s","type":"REGULAR","subType":null,"name":"n","status":"ACTIVE","startTime":"2026-01-01","endTime":"2026-12-31"}]}"#).unwrap();
        assert_eq!((list[0].uuid.as_str(), list[0].kind.as_str(), list[0].status.as_str()), ("s", "REGULAR", "ACTIVE"));
        assert_eq!(subscription_list(br#"{"data":[{"uuid":"s"}]}"#).unwrap_err().field, "data[0].status");
    }

    #[test]
    fn cluster_license_overage_absent_null_and_set_are_told_apart() {
        let body = br#"{"clusterId":"c","licenseKey":"SECRET-KEY","contactEmailAddress":"a@b",
            "usageOfHostUnits":{"quota":500,"usage":412.5,"usageStatus":"USING_QUOTA","overageUsage":{"overageQuota":null,"overageUsage":0}},
            "usageOfDemUnits":{"quota":10,"usageStatus":"USING_OVERAGE","overageUsage":{"overageQuota":20,"overageUsage":5,"remainingOverage":15}},
            "usageOfDduUnits":null}"#;
        let license = cluster_license(body).unwrap();
        let host = license.host_units.unwrap();
        assert_eq!(host.overage.as_ref().unwrap().overage_quota, None);
        assert_eq!(host.overage.as_ref().unwrap().overage_usage, Some(0.0));
        assert_eq!(license.dem_units.unwrap().overage.unwrap().overage_quota, Some(20.0));
        assert_eq!(license.ddu_units, None);
    }

    #[test]
    fn a_usage_status_the_docs_do_not_list_is_passed_through() {
        let license = cluster_license(br#"{"usageOfDduUnits":{"usageStatus":"SOMETHING_NEW"}}"#).unwrap();
        assert_eq!(license.ddu_units.unwrap().usage_status.as_deref(), Some("SOMETHING_NEW"));
    }

    #[test]
    fn a_last_booking_date_in_any_format_is_kept_as_read() {
        let body = br#"{"data":[
            {"startTime":"2026-03-24T00:00:00.000Z","endTime":"2026-03-25T00:00:00.000Z","value":1,"currencyCode":"USD","lastBookingDate":"25.03.2026 06:00"},
            {"startTime":"2026-03-25T00:00:00Z","endTime":"2026-03-26T00:00:00Z","value":1,"currencyCode":"USD","lastBookingDate":1774512000000},
            {"startTime":"2026-03-26T00:00:00Z","endTime":"2026-03-27T00:00:00Z","value":1,"currencyCode":"USD","lastBookingDate":null}]}"#;
        let costs = cost_list(body, "USD").unwrap();
        assert_eq!(costs[0].last_booking_date.as_deref(), Some("25.03.2026 06:00"));
        assert_eq!(costs[1].last_booking_date.as_deref(), Some("1774512000000"));
        assert_eq!(costs[2].last_booking_date, None);
    }

    #[test]
    fn error_messages_come_from_each_api_s_own_error_shape() {
        assert_eq!(
            error_message(br#"{"error":"invalid_client","error_description":"Invalid client credentials"}"#),
            "Invalid client credentials"
        );
        assert_eq!(error_message(br#"{"code":401,"message":"Unauthorized","errorsMap":{}}"#), "Unauthorized");
        assert_eq!(
            error_message(br#"{"error":{"code":422,"message":"Incompatible licensing model"}}"#),
            "Incompatible licensing model"
        );
        assert!(error_message(b"<html><body>Login</body></html>").contains("HTML page"));
        assert_eq!(error_message(b""), "empty response body");
    }

    #[test]
    fn ingest_partial_success_lists_indexes_ids_and_messages_each_optional() {
        let errors =
            ingest_errors(br#"{"errors":[{"index":3,"id":"x","source":"y","message":"Invalid event"}]}"#).unwrap();
        assert_eq!(errors, vec![IngestError { index: Some(3), id: Some("x".into()), message: "Invalid event".into() }]);
        let unnamed = ingest_errors(br#"{"errors":[{"message":"too big"},{}]}"#).unwrap();
        assert_eq!(unnamed[0], IngestError { index: None, id: None, message: "too big".into() });
        assert_eq!(unnamed[1].message, "");
        assert!(ingest_errors(br#"{"errors":[{"index":-1}]}"#).is_err());
    }
}
