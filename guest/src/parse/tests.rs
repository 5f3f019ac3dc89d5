//! Tests of the response readers: every field checked, errors name the field.

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
        (br#"{"data":[{"startTime":"a","endTime":"b","value":null}]}"#, "data[0].value", "expected a number, got null"),
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
    let errors = ingest_errors(br#"{"errors":[{"index":3,"id":"x","source":"y","message":"Invalid event"}]}"#).unwrap();
    assert_eq!(errors, vec![IngestError { index: Some(3), id: Some("x".into()), message: "Invalid event".into() }]);
    let unnamed = ingest_errors(br#"{"errors":[{"message":"too big"},{}]}"#).unwrap();
    assert_eq!(unnamed[0], IngestError { index: None, id: None, message: "too big".into() });
    assert_eq!(unnamed[1].message, "");
    assert!(ingest_errors(br#"{"errors":[{"index":-1}]}"#).is_err());
}

#[test]
fn a_usage_list_is_read_as_the_spec_shapes_it() {
    let body = json(
        br#"{"data":[{"capabilityKey":"LOGS","capabilityName":"Log Management","startTime":"2026-11-21T00:00:00Z",
        "endTime":"2026-11-21T23:59:59Z","value":12.5,"unitMeasure":"GiB"}],"lastModifiedTime":"2026-11-22T00:00:00Z"}"#,
    )
    .unwrap();
    let usage = usage_list(&body).unwrap();
    assert_eq!(usage[0].capability_key, "LOGS");
    assert_eq!(usage[0].capability_name, "Log Management");
    assert_eq!((usage[0].value, usage[0].unit_measure.as_str()), (12.5, "GiB"));
    let bad = json(br#"{"data":[{"capabilityKey":"LOGS","startTime":"x","endTime":"y","value":"12"}]}"#).unwrap();
    assert_eq!(usage_list(&bad).unwrap_err().field, "data[0].value");
}

#[test]
fn rate_cards_are_read_with_prices_as_the_strings_the_spec_types_them() {
    let body = json(
        br#"[{"quoteNumber":"Q-1","startTime":"2026-01-01T00:00:00Z","endTime":"2026-12-31T23:59:59Z","currencyCode":"USD",
        "capabilities":[{"key":"LOGS","name":"Log Management","quotedPrice":"0.0035","quotedUnitOfMeasure":"GiB",
        "price":"0.0035","startTime":"2026-01-01T00:00:00Z","endTime":"2026-12-31T23:59:59Z","deploymentType":"SAAS"}]}]"#,
    )
    .unwrap();
    let cards = rate_cards(&body).unwrap();
    assert_eq!(cards[0].currency_code, "USD");
    let logs = &cards[0].capabilities[0];
    assert_eq!((logs.key.as_str(), logs.price.as_str(), logs.unit.as_str()), ("LOGS", "0.0035", "GiB"));
    assert_eq!(logs.path, "[0].capabilities[0]");
    let number_price =
        json(br#"[{"startTime":"a","endTime":"b","currencyCode":"USD","capabilities":[{"key":"LOGS","price":0.5}]}]"#)
            .unwrap();
    assert_eq!(rate_cards(&number_price).unwrap_err().field, "[0].capabilities[0].price");
    assert_eq!(rate_cards(&json(br#"{"data":[]}"#).unwrap()).unwrap_err().field, "body");
}

#[test]
fn environment_names_are_read_and_an_environment_without_one_is_left_out() {
    let body = json(
        br#"{"data":[{"id":"abc12345","name":"ACME Production","active":true,"url":"https://abc12345.live.dynatrace.com"},
        {"id":"def67890","active":true,"url":"https://def67890.live.dynatrace.com"}]}"#,
    )
    .unwrap();
    assert_eq!(environment_names(&body).unwrap(), [("abc12345".to_owned(), "ACME Production".to_owned())]);
}
