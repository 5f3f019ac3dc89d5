//! How the report writes numbers: amounts with thousands separators and their currency
//! (`228,800.51 USD`), compact figures for axis labels (`229k`), percentages and unit prices.

/// `1234567.891` with 2 decimals → `1,234,567.89`.
pub fn grouped(value: f64, decimals: usize) -> String {
    let text = format!("{:.decimals$}", value.abs());
    let (whole, fraction) = text.split_once('.').map_or((text.as_str(), None), |(w, f)| (w, Some(f)));
    let mut out = String::with_capacity(text.len() + whole.len() / 3 + 1);
    // "-0.00" reads as a sign with no amount: a value that rounds to zero has no sign.
    if value < 0.0 && text.bytes().any(|b| b.is_ascii_digit() && b != b'0') {
        out.push('-');
    }
    for (index, digit) in whole.chars().enumerate() {
        if index > 0 && (whole.len() - index) % 3 == 0 {
            out.push(',');
        }
        out.push(digit);
    }
    if let Some(fraction) = fraction {
        out.push('.');
        out.push_str(fraction);
    }
    out
}

/// An amount of money: `228,800.51 USD`.
pub fn amount(value: f64, currency: &str) -> String {
    format!("{} {currency}", grouped(value, 2))
}

/// A figure in at most three significant digits with a k/M/B suffix, for axis labels and bar
/// ends: `228800.51` → `229k`, `1250000` → `1.25M`, `0.5` → `0.5`.
pub fn compact(value: f64) -> String {
    if value == 0.0 || !value.is_finite() {
        return "0".to_owned();
    }
    // Rounded to three significant digits first, so that 999,950 becomes 1M and not 1000k.
    let magnitude = value.abs().log10().floor() as i32;
    let unit = 10f64.powi(magnitude - 2);
    let rounded = (value / unit).round() * unit;
    let (scaled, suffix) = match rounded.abs() {
        v if v >= 1e9 => (rounded / 1e9, "B"),
        v if v >= 1e6 => (rounded / 1e6, "M"),
        v if v >= 1e3 => (rounded / 1e3, "k"),
        _ => (rounded, ""),
    };
    let digits_before_point = (scaled.abs().log10().floor() as i32 + 1).max(1);
    let decimals = (3 - digits_before_point).max(0) as usize;
    let text = format!("{scaled:.decimals$}");
    let text = if text.contains('.') { text.trim_end_matches('0').trim_end_matches('.') } else { &text };
    format!("{text}{suffix}")
}

/// A percentage with one decimal: `20.8 %`.
pub fn percent(value: f64) -> String {
    format!("{} %", grouped(value, 1))
}

/// A quantity of usage: whole numbers as they are (`1,234,568`), fractions to two decimals.
pub fn quantity(value: f64) -> String {
    if value.fract() == 0.0 { grouped(value, 0) } else { grouped(value, 2) }
}

/// A unit price: at least two decimals, more for small prices so that three significant digits
/// show (`0.00225`), trailing zeros beyond the second decimal dropped.
pub fn unit_price(value: f64) -> String {
    let significant = if value == 0.0 { 0 } else { 2 - value.abs().log10().floor() as i32 };
    let decimals = significant.clamp(2, 8) as usize;
    let text = grouped(value, decimals);
    let trimmed = text.trim_end_matches('0');
    let decimals_left = trimmed.split_once('.').map_or(0, |(_, fraction)| fraction.len());
    if decimals_left >= 2 { trimmed.to_owned() } else { grouped(value, 2) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_have_thousands_separators_and_their_currency() {
        assert_eq!(amount(228_800.513_44, "USD"), "228,800.51 USD");
        assert_eq!(amount(1_100_000.0, "EUR"), "1,100,000.00 EUR");
        assert_eq!(amount(999.999, "USD"), "1,000.00 USD");
        assert_eq!(amount(12.5, "USD"), "12.50 USD");
        assert_eq!(amount(-1234.5, "USD"), "-1,234.50 USD");
        assert_eq!(amount(-0.001, "USD"), "0.00 USD", "no sign on an amount that rounds to zero");
        assert_eq!(grouped(123_456.0, 0), "123,456");
        assert_eq!(grouped(1_234_567.0, 0), "1,234,567");
    }

    #[test]
    fn compact_figures_keep_three_significant_digits_and_a_suffix() {
        assert_eq!(compact(228_800.51), "229k");
        assert_eq!(compact(1_250_000.0), "1.25M");
        assert_eq!(compact(1_000_000.0), "1M");
        assert_eq!(compact(999_950.0), "1M");
        assert_eq!(compact(2_500.0), "2.5k");
        assert_eq!(compact(50_000.0), "50k");
        assert_eq!(compact(999.0), "999");
        assert_eq!(compact(0.5), "0.5");
        assert_eq!(compact(0.0), "0");
        assert_eq!(compact(-200_000.0), "-200k");
        assert_eq!(compact(3.2e9), "3.2B");
    }

    #[test]
    fn percentages_quantities_and_unit_prices_read_naturally() {
        assert_eq!(percent(20.8), "20.8 %");
        assert_eq!(percent(1234.56), "1,234.6 %");
        assert_eq!(quantity(1_234_567.0), "1,234,567");
        assert_eq!(quantity(1234.5678), "1,234.57");
        assert_eq!(unit_price(0.08), "0.08");
        assert_eq!(unit_price(0.00225), "0.00225");
        assert_eq!(unit_price(1.5), "1.50");
        assert_eq!(unit_price(1250.0), "1,250.00");
        assert_eq!(unit_price(0.0), "0.00");
    }
}
