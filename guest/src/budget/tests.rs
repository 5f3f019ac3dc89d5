//! Tests of a period's outlook and the budget alerts it raises.

use super::*;
use crate::wit::{Budget, Period};

fn subscription(total: f64, used: f64) -> Subscription {
    Subscription {
        uuid: "sub-1".into(),
        name: "DPS 2026".into(),
        type_: "REGULAR".into(),
        sub_type: None,
        status: "ACTIVE".into(),
        owner_account_uuid: None,
        budget: Budget { total, used, currency_code: Some("EUR".into()) },
        current_period: Period { start_time: "2026-10-01".into(), end_time: "2026-12-30".into(), days_remaining: 38.0 },
    }
}

/// `days` days of `value` ending 2026-11-22, in `currency`.
fn daily(days: i64, value: f64, currency: &str) -> Vec<CostRecord> {
    let last = crate::time::parse_instant_millis("2026-11-22").unwrap();
    (0..days)
        .map(|i| {
            let start = last - (days - 1 - i) * DAY_MS;
            CostRecord {
                start_time: format_rfc3339(start),
                end_time: format_rfc3339(start + DAY_MS),
                value,
                currency_code: currency.into(),
                last_booking_date: None,
            }
        })
        .collect()
}

fn context() -> EventContext {
    EventContext { provider: "p".into(), account_uuid: "acc".into(), account_name: "ACME".into() }
}

#[test]
fn a_flat_history_projects_the_rest_of_the_period() {
    // 2026-11-23 ..= 2026-12-30 is 38 days at 100 a day.
    let outlook = outlook(&subscription(20_000.0, 5_300.0), &daily(53, 100.0, "EUR")).unwrap();
    let forecast = outlook.forecast.unwrap();
    assert_eq!(outlook.used_percent, Some(26.5));
    assert!((forecast.projected - (5_300.0 + 3_800.0)).abs() < 1e-6, "{forecast:?}");
    assert_eq!(outlook.burn_rate, Some(100.0));
}

#[test]
fn a_shared_subscription_scales_the_accounts_history_to_its_share() {
    // The account booked 5,300 of the 10,600 used: the subscription burns 200 a day.
    let outlook = outlook(&subscription(20_000.0, 10_600.0), &daily(53, 100.0, "EUR")).unwrap();
    let forecast = outlook.forecast.unwrap();
    assert!((forecast.projected - (10_600.0 + 7_600.0)).abs() < 1e-6, "{forecast:?}");
    assert!((outlook.burn_rate.unwrap() - 200.0).abs() < 1e-9);
}

#[test]
fn costs_in_another_currency_or_before_the_period_are_left_out() {
    let mut costs = daily(10, 100.0, "USD");
    costs.extend(daily(60, 100.0, "EUR").into_iter().filter(|c| c.start_time.as_str() < "2026-10-01"));
    let outlook = outlook(&subscription(20_000.0, 5_300.0), &costs).unwrap();
    assert_eq!((outlook.days_of_data, outlook.forecast), (0, None));
}

#[test]
fn thresholds_fire_once_each_and_the_forecast_alert_when_over_budget() {
    let sub = subscription(5_700.0, 5_300.0);
    let outlook = outlook(&sub, &daily(53, 100.0, "EUR")).unwrap();
    let alerting = BudgetAlerting::default();
    let alerts = budget_alerts(&context(), &sub, &outlook, &alerting, &[], "2026-11-23T06:00:00Z").unwrap();
    let keys: Vec<&str> = alerts.iter().map(|a| a.key.as_str()).collect();
    assert_eq!(keys, ["used:75", "used:90", "forecast:100"]);
    let event: serde_json::Value = serde_json::from_str(&alerts[1].event).unwrap();
    assert_eq!(event["event.type"], "dps.budget.alert");
    assert_eq!(event["alert"], "used");
    assert_eq!(event["thresholdPercent"], 90);
    assert_eq!(event["usedPercent"], 92.98);
    assert_eq!(event["currency"], "EUR");
    assert_eq!(event["periodStart"], "2026-10-01");
    // 5,300 + 100 a day reaches 5,700 on the 4th day after 2026-11-22.
    assert_eq!(event["budgetExhaustedDate"], "2026-11-26");

    let fired: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
    let again = budget_alerts(&context(), &sub, &outlook, &alerting, &fired, "2026-11-24T06:00:00Z").unwrap();
    assert!(again.is_empty(), "{again:?}");
}

#[test]
fn the_forecast_alert_waits_until_the_whole_band_is_over_the_budget() {
    // Noisy days around 100: the median projection (about 9,100) is over a budget of 9,000, but
    // the band's lower bound is not, so the alert does not fire; at 8,000 it does.
    let mut costs = daily(53, 100.0, "EUR");
    for (index, cost) in costs.iter_mut().enumerate() {
        cost.value += if index % 2 == 0 { 30.0 } else { -30.0 };
    }
    let alerting = BudgetAlerting { thresholds: Some(vec![]), forecast_exceeds_budget: Some(true) };
    let near = subscription(9_000.0, 5_300.0);
    let outlook_near = outlook(&near, &costs).unwrap();
    let forecast = outlook_near.forecast.clone().unwrap();
    assert!(forecast.projected > 9_000.0 && forecast.lower < 9_000.0, "{forecast:?}");
    assert!(!forecast_alert_fires(&forecast, 9_000.0));
    let alerts = budget_alerts(&context(), &near, &outlook_near, &alerting, &[], "2026-11-23T06:00:00Z").unwrap();
    assert!(alerts.is_empty(), "{alerts:?}");
    let far = subscription(8_000.0, 5_300.0);
    let outlook_far = outlook(&far, &costs).unwrap();
    let alerts = budget_alerts(&context(), &far, &outlook_far, &alerting, &[], "2026-11-23T06:00:00Z").unwrap();
    assert_eq!(alerts.iter().map(|a| a.key.as_str()).collect::<Vec<_>>(), ["forecast:100"]);
    assert!(alerts[0].message.contains("with 95 % confidence"), "{}", alerts[0].message);
}

#[test]
fn the_hybrid_share_counts_only_days_with_data() {
    // 53 days of 100, ten of them (every fifth from the fourth) missing: the account booked 4,300 on the days it read,
    // but its 53 days stand for 5,300. With 5,300 used it is the only account (share 1), not
    // 5,300 / 4,300 = 1.23 as when the gaps counted as zero spend.
    let costs: Vec<CostRecord> =
        daily(53, 100.0, "EUR").into_iter().enumerate().filter(|(i, _)| i % 5 != 3).map(|(_, c)| c).collect();
    let outlook = outlook(&subscription(20_000.0, 5_300.0), &costs).unwrap();
    let forecast = outlook.forecast.unwrap();
    assert!((forecast.projected - (5_300.0 + 3_800.0)).abs() < 1e-6, "{forecast:?}");
    let history = [DailyCost { day: 10, value: 50.0 }, DailyCost { day: 13, value: 50.0 }];
    assert!((hybrid_share(&history, 400.0) - 2.0).abs() < 1e-12);
    assert_eq!(hybrid_share(&[], 400.0), 1.0);
    assert_eq!(hybrid_share(&history, 0.0), 1.0);
}

#[test]
fn without_a_forecast_only_used_thresholds_can_fire() {
    let sub = subscription(10_000.0, 7_600.0);
    let outlook = outlook(&sub, &daily(5, 100.0, "EUR")).unwrap();
    let alerting =
        BudgetAlerting { thresholds: Some(vec![90.0, 75.0, 75.0, f64::NAN]), forecast_exceeds_budget: Some(true) };
    let alerts = budget_alerts(&context(), &sub, &outlook, &alerting, &[], "2026-11-23T06:00:00Z").unwrap();
    assert_eq!(alerts.iter().map(|a| a.key.as_str()).collect::<Vec<_>>(), ["used:75"]);
    assert!(alerts[0].message.contains("76.0 % of its budget"), "{}", alerts[0].message);
}

#[test]
fn the_status_fields_put_dynatraces_forecast_beside_ours() {
    let sub = subscription(20_000.0, 5_300.0);
    let outlook = outlook(&sub, &daily(53, 100.0, "EUR")).unwrap();
    let theirs = AccountForecast {
        median: 9_000.0,
        lower: 8_500.0,
        upper: 9_500.5,
        budget: 20_000.0,
        budget_percent: 45.0,
        budget_date: None,
        created_at: Some("2026-11-23T03:00:00Z".into()),
    };
    let fields = serde_json::to_value(StatusOutlook::new(&outlook, 20_000.0, Some(&theirs)).unwrap()).unwrap();
    assert_eq!(fields["forecastCost"], 9_100);
    assert_eq!(fields["forecastBudgetPercent"], 45.5);
    assert_eq!(fields["forecastExceedsBudget"], false);
    assert!(fields.get("budgetExhaustedDate").is_none());
    assert_eq!(fields["dtForecastMedian"], 9_000);
    assert_eq!(fields["dtForecastUpper"], 9_500.5);
    assert!(fields.get("dtForecastBudgetDate").is_none());
    assert_eq!(fields["forecastModel"], forecast::MODEL);
}
