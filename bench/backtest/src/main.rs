//! Backtest of dtcost's forecast (see bench/README.md): generates synthetic daily-cost histories,
//! forecasts each as of several days of its period with dtcost's model and the naive baselines,
//! and prints markdown tables of how far each landed from the true period-end total. With
//! `anomalies`, the anomaly backtest instead (see `anomalies.rs`).

mod anomalies;
mod detectors;
mod inject;
mod methods;
mod metrics;
mod random;
mod shapes;

use methods::{AsOf, METHODS, Projection};
use metrics::{Scored, Summary};
use random::Random;
use shapes::{Group, PERIOD_DAYS, SHAPES};

/// Histories per shape: 18 shapes x 167 = 3,006 histories.
const PER_SHAPE: usize = 167;
/// The days of the period as of which each history is forecast (days passed).
const AS_OF: [usize; 4] = [30, 60, 120, 240];
/// The default seed; `-- --seed N` draws other histories.
const SEED: u64 = 2026;

/// The command line: `[anomalies [--sweep]] [--seed N]`.
struct Arguments {
    anomalies: bool,
    sweep: bool,
    seed: u64,
}

impl Arguments {
    fn parse(mut arguments: impl Iterator<Item = String>) -> Option<Self> {
        let mut parsed = Arguments { anomalies: false, sweep: false, seed: SEED };
        while let Some(argument) = arguments.next() {
            match argument.as_str() {
                "anomalies" => parsed.anomalies = true,
                "--sweep" if parsed.anomalies => parsed.sweep = true,
                "--seed" => parsed.seed = arguments.next()?.parse().ok()?,
                _ => return None,
            }
        }
        Some(parsed)
    }
}

/// One scored forecast with what it was of.
struct Row {
    shape: usize,
    known: usize,
    /// Per method, in the order of [`METHODS`].
    scores: Vec<Scored>,
}

fn main() {
    let started = std::time::Instant::now();
    let Some(arguments) = Arguments::parse(std::env::args().skip(1)) else {
        eprintln!("usage: dtcost-backtest [anomalies [--sweep]] [--seed N]");
        std::process::exit(2);
    };
    let seed = arguments.seed;
    if arguments.anomalies {
        let mut parameters = dtcost_guest::anomaly::Parameters::default();
        // Tuning knobs (seed 2026 only): DTCOST_WEEK="sigmas,reference,noise".
        if let Ok(knobs) = std::env::var("DTCOST_WEEK") {
            let knobs: Vec<f64> = knobs.split(',').filter_map(|knob| knob.parse().ok()).collect();
            if let [sigmas, reference, noise] = knobs[..] {
                parameters.week_threshold_sigmas = sigmas;
                parameters.week_reference_weeks = reference as u32;
                parameters.week_noise_weeks = noise as u32;
            }
        }
        if arguments.sweep {
            anomalies::sweep(seed);
        } else {
            let report = anomalies::run(seed, &parameters);
            anomalies::print(seed, &parameters, &report, started.elapsed().as_secs_f64());
        }
        return;
    }
    let mut rows = Vec::new();
    let mut without_forecast = 0;
    for shape in 0..SHAPES.len() {
        for draw in 0..PER_SHAPE {
            // The seed spread over all bits, so that nearby seeds draw unrelated histories.
            let mut random =
                Random::new(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ ((shape as u64) << 32) ^ draw as u64);
            let history = shapes::generate(shape, &mut random);
            let truth: f64 = history.truth.iter().sum();
            for known in AS_OF {
                let used: f64 = history.truth[..known].iter().sum();
                let as_of = AsOf { history: &history, known, used, truth };
                let Some(ours) = methods::dtcost(&as_of) else {
                    without_forecast += 1;
                    continue;
                };
                let mut projections: Vec<Projection> = vec![ours];
                projections.extend(METHODS[1..].iter().map(|name| methods::baseline(name, &as_of)));
                let scores = projections.iter().map(|projection| Scored::of(projection, truth)).collect();
                rows.push(Row { shape, known, scores });
            }
        }
    }
    println!(
        "{} histories ({} shapes x {PER_SHAPE}, {PERIOD_DAYS} days, seed {seed}), forecast as of days {AS_OF:?}: \
         {} forecasts scored, {without_forecast} without a dtcost forecast (under 15 days of data) left out. \
         Model `{}`. {:.1} s.\n",
        SHAPES.len() * PER_SHAPE,
        SHAPES.len(),
        rows.len(),
        dtcost_guest::forecast::MODEL,
        started.elapsed().as_secs_f64()
    );
    let trendless_outside = rows
        .iter()
        .filter(|row| SHAPES[row.shape].1 == Group::Trendless && !(0.5..=2.0).contains(&row.scores[0].ratio))
        .count();
    println!("dtcost's projections outside 0.5x-2x the truth on trendless shapes: {trendless_outside}.\n");
    overall_table(&rows);
    group_tables(&rows);
    shape_table(&rows);
    horizon_table(&rows);
    shape_horizon_table(&rows);
}

fn scores_of<'a>(rows: impl Iterator<Item = &'a Row>, method: usize) -> Vec<Scored> {
    rows.map(|row| row.scores[method]).collect()
}

fn figure(value: Option<f64>) -> String {
    value.map_or_else(|| "-".to_owned(), |value| format!("{value:.1} %"))
}

fn overall_table(rows: &[Row]) {
    let summaries: Vec<Summary> = (0..METHODS.len()).map(|m| Summary::of(&scores_of(rows.iter(), m))).collect();
    println!("### Over all shapes\n");
    println!("| over all shapes | {} |", METHODS.join(" | "));
    println!("|---|{}", "---|".repeat(METHODS.len()));
    let line = |label: &str, value: &dyn Fn(&Summary) -> Option<f64>| {
        let cells: Vec<String> = summaries.iter().map(|summary| figure(value(summary))).collect();
        println!("| {label} | {} |", cells.join(" | "));
    };
    line("median error of the period-end total", &|s| Some(s.median_error));
    line("90th-percentile error", &|s| Some(s.p90_error));
    line("bias (mean signed error)", &|s| Some(s.bias));
    line("90 % band covers the truth", &|s| s.coverage);
    line("median band width", &|s| s.median_width);
    line("median \"exceeds budget\", false (budget 1.2x the truth)", &|s| Some(s.false_alarms));
    line("median \"exceeds budget\", missed (budget 0.8x the truth)", &|s| Some(s.missed_alarms));
    line("`forecast` alert, false (budget 1.2x the truth)", &|s| s.alert_false);
    line("`forecast` alert, missed (budget 0.8x the truth)", &|s| s.alert_missed);
    line("projections outside 0.5x-2x the truth", &|s| Some(s.outside_half_double));
    println!();
}

fn group_tables(rows: &[Row]) {
    println!("### By group of shapes\n");
    println!(
        "| group | method | forecasts | median error | p90 error | bias | band coverage | band width | false | missed | alert false | alert missed | outside 0.5x-2x |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    for group in [Group::Trendless, Group::Trended, Group::Shifting] {
        for (m, method) in METHODS.iter().enumerate() {
            let items = scores_of(rows.iter().filter(|row| SHAPES[row.shape].1 == group), m);
            let s = Summary::of(&items);
            println!(
                "| {} | {method} | {} | {:.1} % | {:.1} % | {:+.1} % | {} | {} | {:.1} % | {:.1} % | {} | {} | {:.1} % |",
                group.name(),
                s.count,
                s.median_error,
                s.p90_error,
                s.bias,
                figure(s.coverage),
                figure(s.median_width),
                s.false_alarms,
                s.missed_alarms,
                figure(s.alert_false),
                figure(s.alert_missed),
                s.outside_half_double
            );
        }
    }
    println!();
}

fn shape_table(rows: &[Row]) {
    println!("### dtcost's model by shape (and the p90 error of the trailing means)\n");
    println!(
        "| shape | group | median error | p90 error | bias | band coverage | band width | alert false | alert missed | outside 0.5x-2x | mean-28d p90 | mean-7d p90 |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|");
    for (shape, (name, group)) in SHAPES.iter().enumerate() {
        let of_shape = || rows.iter().filter(move |row| row.shape == shape);
        let s = Summary::of(&scores_of(of_shape(), 0));
        let naive = Summary::of(&scores_of(of_shape(), 1));
        let week = Summary::of(&scores_of(of_shape(), 2));
        println!(
            "| {name} | {} | {:.1} % | {:.1} % | {:+.1} % | {} | {} | {} | {} | {:.1} % | {:.1} % | {:.1} % |",
            group.name(),
            s.median_error,
            s.p90_error,
            s.bias,
            figure(s.coverage),
            figure(s.median_width),
            figure(s.alert_false),
            figure(s.alert_missed),
            s.outside_half_double,
            naive.p90_error,
            week.p90_error
        );
    }
    println!();
}

fn horizon_table(rows: &[Row]) {
    println!("### dtcost's model by forecast day\n");
    println!(
        "| as of day | median error | p90 error | band coverage | trendless coverage | trended coverage | band width |"
    );
    println!("|---|---|---|---|---|---|---|");
    for known in AS_OF {
        let at = || rows.iter().filter(move |row| row.known == known);
        let s = Summary::of(&scores_of(at(), 0));
        let of_group = |group: Group| Summary::of(&scores_of(at().filter(|row| SHAPES[row.shape].1 == group), 0));
        println!(
            "| {known} | {:.1} % | {:.1} % | {} | {} | {} | {} |",
            s.median_error,
            s.p90_error,
            figure(s.coverage),
            figure(of_group(Group::Trendless).coverage),
            figure(of_group(Group::Trended).coverage),
            figure(s.median_width)
        );
    }
    println!();
}

fn shape_horizon_table(rows: &[Row]) {
    println!("### dtcost's model by shape and forecast day: p90 error / bias / band coverage\n");
    let days: Vec<String> = AS_OF.iter().map(|known| format!("day {known}")).collect();
    println!("| shape | {} |", days.join(" | "));
    println!("|---|{}", "---|".repeat(AS_OF.len()));
    for (shape, (name, _)) in SHAPES.iter().enumerate() {
        let cells: Vec<String> = AS_OF
            .iter()
            .map(|&known| {
                let s = Summary::of(&scores_of(rows.iter().filter(|row| row.shape == shape && row.known == known), 0));
                format!("{:.1} / {:+.1} / {}", s.p90_error, s.bias, figure(s.coverage))
            })
            .collect();
        println!("| {name} | {} |", cells.join(" | "));
    }
    println!();
}
