//! The shipped dashboard (`dashboards/dtcost.json`) is a well-formed version-20 document: every
//! tile is laid out on the 24-column grid without overlaps, and every query reads an event type
//! that dtcost emits, keeping the latest version of each cost day.

use serde_json::Value;

const EMITTED: [&str; 8] = [
    "dps.subscription.status",
    "dps.cost2.booked",
    "cluster.license.quota",
    "dps.cost.environment.booked",
    "dps.budget.alert",
    "dtcost.run.summary",
    "dps.cost.anomaly",
    "dps.usage.booked",
];

fn dashboard() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../dashboards/dtcost.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn the_dashboard_is_a_version_20_document_with_a_layout_per_tile() {
    let dashboard = dashboard();
    assert_eq!(dashboard["version"], 20);
    let tiles = dashboard["tiles"].as_object().unwrap();
    let layouts = dashboard["layouts"].as_object().unwrap();
    let mut tile_keys: Vec<&String> = tiles.keys().collect();
    let mut layout_keys: Vec<&String> = layouts.keys().collect();
    tile_keys.sort();
    layout_keys.sort();
    assert_eq!(tile_keys, layout_keys, "layouts use the tiles' keys");
    for (key, tile) in tiles {
        match tile["type"].as_str() {
            Some("markdown") => assert!(tile["content"].as_str().is_some_and(|c| !c.is_empty()), "tile {key}"),
            Some("data") => {
                assert!(tile["query"].as_str().is_some(), "tile {key} has a query");
                assert!(tile["visualization"].as_str().is_some(), "tile {key} has a visualization");
            }
            other => panic!("tile {key}: unknown type {other:?}"),
        }
    }
}

#[test]
fn tiles_sit_on_the_24_column_grid_without_overlapping() {
    let dashboard = dashboard();
    let boxes: Vec<(String, [i64; 4])> = dashboard["layouts"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(key, layout)| {
            let field = |name: &str| layout[name].as_i64().unwrap_or_else(|| panic!("layout {key}.{name}"));
            (key.clone(), [field("x"), field("y"), field("w"), field("h")])
        })
        .collect();
    for (key, [x, y, w, h]) in &boxes {
        assert!(*x >= 0 && *y >= 0 && *w > 0 && *h > 0 && x + w <= 24, "layout {key}: {x},{y} {w}x{h}");
    }
    for (i, (a, [ax, ay, aw, ah])) in boxes.iter().enumerate() {
        for (b, [bx, by, bw, bh]) in &boxes[i + 1..] {
            let apart = ax + aw <= *bx || bx + bw <= *ax || ay + ah <= *by || by + bh <= *ay;
            assert!(apart, "tiles {a} and {b} overlap");
        }
    }
}

#[test]
fn every_query_reads_an_event_type_dtcost_emits_and_counts_each_day_once() {
    let dashboard = dashboard();
    for (key, tile) in dashboard["tiles"].as_object().unwrap() {
        let Some(query) = tile["query"].as_str() else { continue };
        assert!(query.starts_with("fetch bizevents"), "tile {key}");
        let types: Vec<&str> =
            query.split("event.type == \"").skip(1).map(|rest| rest.split('"').next().unwrap()).collect();
        assert!(!types.is_empty(), "tile {key} filters on an event type");
        for event_type in types {
            assert!(EMITTED.contains(&event_type), "tile {key} reads {event_type:?}, which dtcost does not emit");
        }
        if query.contains("dps.cost.environment.booked") {
            assert!(
                query.contains(
                    "dedup {accountUuid, subscriptionUuid, startTime, clusterId, environmentId, capabilityKey}, \
                     sort: {exportedAt desc}"
                ),
                "tile {key} counts each environment's cost day once"
            );
        }
        if query.contains("dps.usage.booked") {
            assert!(
                query.contains(
                    "dedup {accountUuid, subscriptionUuid, startTime, capabilityKey}, sort: {exportedAt desc}"
                ),
                "tile {key} counts each capability's usage day once"
            );
        }
        if query.contains("dps.cost2.booked") {
            assert!(
                query.contains("dedup {accountUuid, subscriptionUuid, startTime}, sort: {exportedAt desc}"),
                "tile {key} counts each cost day once"
            );
        }
    }
}

#[test]
fn the_events_of_issue_15_each_have_a_tile() {
    let dashboard = dashboard();
    let queries: Vec<&str> =
        dashboard["tiles"].as_object().unwrap().values().filter_map(|tile| tile["query"].as_str()).collect();
    for needle in ["\"dps.cost.anomaly\"", "\"dps.usage.booked\"", "environmentName"] {
        assert!(queries.iter().any(|query| query.contains(needle)), "no tile reads {needle}");
    }
}
