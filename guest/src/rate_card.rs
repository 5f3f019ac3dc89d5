//! Unit prices from the account's rate cards: which price applies to a capability on a day, read
//! from the text the API sends (the spec types `price` as a string) and checked, never guessed.

use crate::parse::RateCard;
use crate::time::{format_rfc3339, parse_instant_millis};

/// The price of one unit of a capability, as a rate card gives it.
#[derive(Debug, Clone, PartialEq)]
pub struct UnitPrice {
    pub price: f64,
    /// `quotedUnitOfMeasure`.
    pub unit: String,
    /// The card's `currencyCode`.
    pub currency: String,
}

/// Why a capability's usage on a day cannot be priced: it names the capability, so the user knows
/// which line of the rate card to look at.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PriceError {
    #[error("no rate card prices capability {capability} on {day}")]
    Missing { capability: String, day: String },
    #[error("{path}.price of capability {capability}: \"{text}\" is not a price (a finite number, 0 or more)")]
    Invalid { capability: String, path: String, text: String },
}

/// The price of `capability` on the day starting at `day` (ms since the epoch). A card, and a
/// capability within it, applies from its `startTime` through its `endTime` (both inclusive: the
/// published cards end at `23:59:59`); where several apply, the one that started last (a renewed
/// contract's) wins. An unparseable card or capability time makes that entry not apply.
pub fn unit_price(cards: &[RateCard], capability: &str, day: i64) -> Result<UnitPrice, PriceError> {
    let covers = |start: &str, end: &str| {
        let (Some(start), Some(end)) = (parse_instant_millis(start), parse_instant_millis(end)) else {
            return None;
        };
        (start..=end).contains(&day).then_some(start)
    };
    let mut best: Option<(i64, &RateCard, &crate::parse::RatedCapability)> = None;
    for card in cards {
        let Some(card_start) = covers(&card.start_time, &card.end_time) else { continue };
        for rated in card.capabilities.iter().filter(|rated| rated.key == capability) {
            let start = match (&rated.start_time, &rated.end_time) {
                (Some(start), Some(end)) => match covers(start, end) {
                    Some(start) => start,
                    None => continue,
                },
                _ => card_start,
            };
            if best.is_none_or(|(best_start, _, _)| start > best_start) {
                best = Some((start, card, rated));
            }
        }
    }
    let Some((_, card, rated)) = best else {
        return Err(PriceError::Missing { capability: capability.to_owned(), day: format_rfc3339(day) });
    };
    let price = rated.price.trim().parse::<f64>().ok().filter(|price| price.is_finite() && *price >= 0.0);
    match price {
        Some(price) => Ok(UnitPrice { price, unit: rated.unit.clone(), currency: card.currency_code.clone() }),
        None => Err(PriceError::Invalid {
            capability: capability.to_owned(),
            path: rated.path.clone(),
            text: crate::untrusted::bounded(&rated.price),
        }),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::parse::RatedCapability;

    const DAY: i64 = 1_795_651_200_000; // 2026-11-26T00:00:00Z

    /// A card in USD over [start, end] pricing each capability per GiB (prices as the API's text).
    pub(crate) fn card(start: &str, end: &str, prices: &[(&str, &str)]) -> RateCard {
        RateCard {
            start_time: start.into(),
            end_time: end.into(),
            currency_code: "USD".into(),
            capabilities: prices
                .iter()
                .enumerate()
                .map(|(index, (key, price))| RatedCapability {
                    key: (*key).into(),
                    price: (*price).into(),
                    unit: "GiB".into(),
                    start_time: None,
                    end_time: None,
                    path: format!("[0].capabilities[{index}]"),
                })
                .collect(),
        }
    }

    #[test]
    fn the_price_of_the_card_covering_the_day_applies() {
        let cards = [
            card("2025-01-01T00:00:00Z", "2025-12-31T23:59:59Z", &[("LOGS", "0.5")]),
            card("2026-01-01T00:00:00Z", "2026-12-31T23:59:59Z", &[("LOGS", "0.25"), ("TRACES", "1")]),
        ];
        let price = unit_price(&cards, "LOGS", DAY).unwrap();
        assert_eq!(price, UnitPrice { price: 0.25, unit: "GiB".into(), currency: "USD".into() });
    }

    #[test]
    fn a_renewed_card_overlapping_the_old_one_wins() {
        let cards = [
            card("2026-01-01T00:00:00Z", "2026-12-31T23:59:59Z", &[("LOGS", "0.5")]),
            card("2026-11-01T00:00:00Z", "2027-10-31T23:59:59Z", &[("LOGS", "0.4")]),
        ];
        assert_eq!(unit_price(&cards, "LOGS", DAY).unwrap().price, 0.4);
    }

    #[test]
    fn a_capability_no_card_prices_on_the_day_is_named() {
        let cards = [card("2026-01-01T00:00:00Z", "2026-12-31T23:59:59Z", &[("LOGS", "0.5")])];
        let error = unit_price(&cards, "TRACES", DAY).unwrap_err();
        assert_eq!(error.to_string(), "no rate card prices capability TRACES on 2026-11-26T00:00:00Z");
        let expired = [card("2025-01-01T00:00:00Z", "2025-12-31T23:59:59Z", &[("LOGS", "0.5")])];
        assert!(matches!(unit_price(&expired, "LOGS", DAY), Err(PriceError::Missing { .. })));
    }

    #[test]
    fn a_price_that_is_not_a_finite_non_negative_number_is_refused_naming_the_capability() {
        for text in ["abc", "", "NaN", "inf", "-1", "1e999"] {
            let cards = [card("2026-01-01T00:00:00Z", "2026-12-31T23:59:59Z", &[("LOGS", text)])];
            let error = unit_price(&cards, "LOGS", DAY).unwrap_err();
            assert!(
                matches!(&error, PriceError::Invalid { capability, path, .. } if capability == "LOGS" && path == "[0].capabilities[0]"),
                "{text}: {error}"
            );
            assert!(error.to_string().contains("capability LOGS"), "{error}");
        }
    }

    #[test]
    fn prices_are_read_as_the_decimal_strings_the_spec_types_them() {
        let cards = [card("2026-01-01T00:00:00Z", "2026-12-31T23:59:59Z", &[("LOGS", " 0.0035 ")])];
        assert_eq!(unit_price(&cards, "LOGS", DAY).unwrap().price, 0.0035);
    }
}
