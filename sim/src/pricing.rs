//! The rate card behind the usage views: each capability's unit of measure and unit price, so
//! that a day's usage of a capability is its cost / price (and quantity x price gives the cost
//! back). ASSUMPTION: the units and prices are plausible, not Dynatrace's list prices (which
//! are per contract); the published `RateCardCapabilitiesDto` carries prices as strings.

/// A capability's unit of measure and unit price (the decimal text a rate card carries).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnitPrice {
    pub unit: &'static str,
    pub price: &'static str,
}

impl UnitPrice {
    /// The price as a number (every price in [`UNIT_PRICES`] parses).
    pub fn value(&self) -> f64 {
        self.price.parse().unwrap_or(1.0)
    }
}

/// The unit price of each capability of [`crate::CAPABILITIES`].
pub const UNIT_PRICES: [(&str, UnitPrice); 14] = [
    ("FULLSTACK_MONITORING", UnitPrice { unit: "GiB-hour", price: "0.01" }),
    ("FOUNDATION_AND_DISCOVERY", UnitPrice { unit: "host-hour", price: "0.01" }),
    ("KUBERNETES_OPERATIONS", UnitPrice { unit: "pod-hour", price: "0.002" }),
    ("LOG_MANAGEMENT_INGEST", UnitPrice { unit: "GiB", price: "0.2" }),
    ("USER_SESSIONS", UnitPrice { unit: "session", price: "0.00225" }),
    ("BUSINESS_EVENTS_INGEST", UnitPrice { unit: "GiB", price: "0.2" }),
    ("BUSINESS_EVENTS_RETAIN", UnitPrice { unit: "GiB-day", price: "0.0007" }),
    ("BUSINESS_EVENTS_ANALYZE", UnitPrice { unit: "GiB", price: "0.0035" }),
    ("AUTOMATIONS", UnitPrice { unit: "workflow-hour", price: "0.13" }),
    ("COMPUTE", UnitPrice { unit: "GiB-hour", price: "0.05" }),
    ("EVENTS", UnitPrice { unit: "DDU", price: "0.001" }),
    ("LOGS", UnitPrice { unit: "DDU", price: "0.001" }),
    ("METRICS", UnitPrice { unit: "DDU", price: "0.001" }),
    ("TRACES", UnitPrice { unit: "DDU", price: "0.001" }),
];

/// The unit price of a capability; one the table does not know (a test's own) costs 1 per
/// `unit`.
pub fn unit_price(capability_key: &str) -> UnitPrice {
    UNIT_PRICES
        .iter()
        .find(|(key, _)| *key == capability_key)
        .map_or(UnitPrice { unit: "unit", price: "1" }, |(_, price)| *price)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_capability_has_a_positive_price_that_parses() {
        for (key, name) in crate::CAPABILITIES {
            let price = unit_price(key);
            assert!(price.price.parse::<f64>().is_ok_and(|p| p > 0.0), "{key} ({name})");
            assert!(UNIT_PRICES.iter().any(|(k, _)| *k == key), "{key} is in the table");
        }
        assert_eq!(unit_price("SOMETHING_NEW"), UnitPrice { unit: "unit", price: "1" });
    }
}
