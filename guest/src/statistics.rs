//! The statistics the forecast and the anomaly detector share (pure, `std` only): the median,
//! the MAD's scale to a standard deviation, the weekday of a day number, and the normal and
//! Student's t distributions. Each model keeps its own rules in its own file.

/// The median absolute deviation times this estimates the standard deviation of normal data.
pub(crate) const MAD_TO_SD: f64 = 1.4826;

/// Monday = 0 … Sunday = 6 of a day since 1970-01-01, a Thursday.
pub(crate) fn weekday(day: i64) -> usize {
    ((day.rem_euclid(7) + 3) % 7) as usize
}

/// The median of `values` (which it sorts); `None` when there are none: each caller says what
/// an empty input means to it.
pub(crate) fn median(values: &mut [f64]) -> Option<f64> {
    values.sort_unstable_by(f64::total_cmp);
    let middle = values.len() / 2;
    match values.len() {
        0 => None,
        n if n % 2 == 1 => Some(values[middle]),
        _ => Some((values[middle - 1] + values[middle]) / 2.0),
    }
}

/// The `p` quantile of the standard normal distribution (Acklam's rational approximation,
/// relative error below 1.2e-9), for `0 < p < 1`.
pub(crate) fn normal_quantile(p: f64) -> f64 {
    const A: [f64; 6] = [
        -39.696_830_286_653_76,
        220.946_098_424_520_5,
        -275.928_510_446_968_7,
        138.357_751_867_269,
        -30.664_798_066_147_16,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -54.476_098_798_224_06,
        161.585_836_858_040_9,
        -155.698_979_859_886_6,
        66.801_311_887_719_72,
        -13.280_681_552_885_72,
    ];
    const C: [f64; 6] = [
        -0.007_784_894_002_430_293,
        -0.322_396_458_041_136_5,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] =
        [0.007_784_695_709_041_462, 0.322_467_129_070_039_8, 2.445_134_137_142_996, 3.754_408_661_907_416];
    let tail = |q: f64| {
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    if p < 0.02425 {
        tail((-2.0 * p.ln()).sqrt())
    } else if p > 1.0 - 0.02425 {
        -tail((-2.0 * (1.0 - p).ln()).sqrt())
    } else {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    }
}

/// The `p` quantile of Student's t with `degrees` degrees of freedom (`p > 0.5`): the
/// Cornish-Fisher expansion around the normal quantile (Abramowitz & Stegun 26.7.5), within 1 %
/// from 3 degrees of freedom; fewer use the exact values of 1 and 2 degrees.
pub(crate) fn student_t(p: f64, degrees: f64) -> f64 {
    if degrees < 1.5 {
        return (std::f64::consts::PI * (p - 0.5)).tan();
    }
    if degrees < 2.5 {
        let a = 4.0 * p * (1.0 - p);
        return 2.0 * (p - 0.5) * (2.0 / a).sqrt();
    }
    let z = normal_quantile(p);
    let v = degrees;
    let g1 = (z.powi(3) + z) / 4.0;
    let g2 = (5.0 * z.powi(5) + 16.0 * z.powi(3) + 3.0 * z) / 96.0;
    let g3 = (3.0 * z.powi(7) + 19.0 * z.powi(5) + 17.0 * z.powi(3) - 15.0 * z) / 384.0;
    let g4 = (79.0 * z.powi(9) + 776.0 * z.powi(7) + 1482.0 * z.powi(5) - 1920.0 * z.powi(3) - 945.0 * z) / 92160.0;
    z + g1 / v + g2 / v.powi(2) + g3 / v.powi(3) + g4 / v.powi(4)
}

/// The standard normal distribution function, through erfc by the Chebyshev fit of Numerical
/// Recipes (relative error below 1.2e-7).
pub(crate) fn normal_cdf(x: f64) -> f64 {
    let z = x.abs() / std::f64::consts::SQRT_2;
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98 + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let tail = t * poly.exp() / 2.0;
    if x >= 0.0 { 1.0 - tail } else { tail }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_median_of_nothing_is_none_and_of_an_even_count_the_mean_of_the_middle_two() {
        assert_eq!(median(&mut []), None);
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&mut [4.0, 1.0, 3.0, 2.0]), Some(2.5));
    }

    #[test]
    fn weekdays_count_from_a_thursday_epoch() {
        assert_eq!(weekday(0), 3);
        assert_eq!(weekday(4), 0);
        assert_eq!(weekday(-1), 2);
        assert_eq!(weekday(i64::MIN), weekday(i64::MIN.rem_euclid(7)));
    }

    #[test]
    fn the_normal_and_t_quantiles_match_their_tables() {
        assert!((normal_quantile(0.95) - 1.644_854).abs() < 1e-6);
        assert!((normal_cdf(1.644_854) - 0.95).abs() < 1e-6);
        // t(0.95) for 10 degrees of freedom: 1.812.
        assert!((student_t(0.95, 10.0) - 1.812).abs() < 0.01 * 1.812);
    }
}
