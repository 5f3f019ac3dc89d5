//! The paged walk of the v3 per-environment views (cost and usage): what a walk asks for ([`PageKey`], also the
//! opaque `page-key`), how its first request or a `page-key` is read (or refused with a 400
//! naming the parameter), and how a page ends (`nextPageKey`, or one of the three end markers).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::account_api::{LAST_MODIFIED, list_param};
use crate::errors::Refused;

/// v3 `page-size` when none is given, and its largest accepted value. ASSUMPTION: the docs give
/// neither (dynatrace-api.md §2.5: UNVERIFIED); below 1 or above the maximum answers 400.
pub const DEFAULT_PAGE_SIZE: usize = 100;
pub const MAX_PAGE_SIZE: usize = 1000;

/// Which v3 environment view a walk pages through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum View {
    /// `/environments/cost`: `cost` entries of `SubscriptionCapabilityCostReceivedDto`.
    Cost,
    /// `/environments/usage`: `usage` entries of `SubscriptionUsageDto`.
    Usage,
}

/// What a v3 walk asks for; also the (opaque, URL-safe base64 JSON) `page-key`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct PageKey {
    /// A key of one view is refused by the other (ASSUMPTION: the spec does not say).
    pub(crate) view: View,
    pub(crate) account: String,
    pub(crate) subscription: String,
    /// RFC 3339, as the client sent them.
    pub(crate) start: String,
    pub(crate) end: String,
    pub(crate) environment_ids: Vec<String>,
    pub(crate) capability_keys: Vec<String>,
    pub(crate) cluster_ids: Vec<String>,
    /// Index of the page's first row in the walk's flattened rows.
    pub(crate) offset: usize,
    pub(crate) page_size: usize,
}

/// The walk a v3 request continues or starts, or the 400 it deserves.
pub(crate) fn walk_query(raw: Option<&str>, view: View, account: &str, subscription: &str) -> Result<PageKey, Refused> {
    let params: Vec<(String, String)> = serde_urlencoded::from_str(raw.unwrap_or(""))
        .map_err(|_| Refused::BadParameter("query", "Malformed query string".to_owned()))?;
    let first = |name: &str| params.iter().find(|(k, v)| k == name && !v.is_empty()).map(|(_, v)| v.as_str());
    let list = |name: &str| list_param(&params, name);
    let size_message = format!("page-size must be an integer from 1 to {MAX_PAGE_SIZE}");
    let page_size = match first("page-size") {
        None => None,
        Some(text) => match text.parse::<usize>() {
            Ok(size) if (1..=MAX_PAGE_SIZE).contains(&size) => Some(size),
            _ => return Err(Refused::BadParameter("page-size", size_message)),
        },
    };
    let mut key = match first("page-key") {
        // `page-size` next to a `page-key` is refused, as Dynatrace's paged APIs do (the
        // Environment API v2 answers 400 when page-size comes with nextPageKey; the DPS
        // cost-allocation endpoint allows no other parameter with its page-key): the key
        // carries the page size of the walk.
        Some(_) if params.iter().any(|(k, _)| k == "page-size") => {
            return Err(Refused::BadParameter(
                "page-size",
                "page-size must not be set together with page-key".to_owned(),
            ));
        }
        // The other parameters next to a page-key (e.g. the first call's filters, repeated) are
        // ignored. ASSUMPTION: the v3 spec says only that the timeframe is "required, unless a
        // page-key is provided instead"; it does not forbid the rest (dtctl re-sends them).
        Some(text) => {
            let key = decode_page_key(text)
                .ok_or_else(|| Refused::BadParameter("page-key", "Invalid page-key".to_owned()))?;
            if key.view != view {
                return Err(Refused::BadParameter("page-key", "The page-key belongs to another walk".into()));
            }
            if key.account != account || key.subscription != subscription {
                return Err(Refused::BadParameter(
                    "page-key",
                    "The page-key belongs to another account or subscription".into(),
                ));
            }
            key
        }
        None => {
            let time = |name: &'static str| -> Result<String, Refused> {
                let text = first(name).ok_or_else(|| {
                    Refused::BadParameter(name, format!("{name} is required unless page-key is given"))
                })?;
                OffsetDateTime::parse(text, &Rfc3339).map_err(|_| {
                    let example = "2021-05-01T15:11:00Z";
                    Refused::BadParameter(
                        name,
                        format!("{name} must be an ISO 8601 date-time such as {example}, got {text:?}"),
                    )
                })?;
                Ok(text.to_owned())
            };
            let (start, end) = (time("startTime")?, time("endTime")?);
            PageKey {
                view,
                account: account.to_owned(),
                subscription: subscription.to_owned(),
                start,
                end,
                environment_ids: list("environmentIds"),
                capability_keys: list("capabilityKeys"),
                cluster_ids: list("clusterIds"),
                offset: 0,
                page_size: DEFAULT_PAGE_SIZE,
            }
        }
    };
    if let Some(size) = page_size {
        key.page_size = size;
    }
    Ok(key)
}

pub(crate) fn encode_page_key(key: &PageKey) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(key).unwrap_or_default())
}

/// The key, if it is one this simulator made (well-formed, with valid times and page size).
fn decode_page_key(text: &str) -> Option<PageKey> {
    let bytes = URL_SAFE_NO_PAD.decode(text.trim_end_matches('=')).ok()?;
    let key: PageKey = serde_json::from_slice(&bytes).ok()?;
    let valid = OffsetDateTime::parse(&key.start, &Rfc3339).is_ok()
        && OffsetDateTime::parse(&key.end, &Rfc3339).is_ok()
        && (1..=MAX_PAGE_SIZE).contains(&key.page_size);
    valid.then_some(key)
}

/// The walk's time range `[start, end)`, or why it is refused (a 400).
pub(crate) fn walk_range(key: &PageKey) -> Result<(OffsetDateTime, OffsetDateTime), Refused> {
    let (Ok(start), Ok(end)) = (OffsetDateTime::parse(&key.start, &Rfc3339), OffsetDateTime::parse(&key.end, &Rfc3339))
    else {
        return Err(Refused::BadParameter("page-key", "Invalid page-key".to_owned()));
    };
    // ASSUMPTION (unverified): a range ending before it starts is refused; an empty one is not.
    if end < start {
        return Err(Refused::BadParameter("endTime", "endTime must not be before startTime".to_owned()));
    }
    Ok((start, end))
}

/// The body of the page of `key` that serves rows up to `last` (exclusive) of `total`: its
/// `data`, `lastModifiedTime` and the `nextPageKey` of the next page, or the end marker.
pub(crate) fn page_body(data: Vec<Value>, key: PageKey, last: usize, total: usize) -> Value {
    let mut body = serde_json::Map::new();
    body.insert("data".into(), Value::Array(data));
    body.insert("lastModifiedTime".into(), LAST_MODIFIED.into());
    if last < total {
        body.insert("nextPageKey".into(), encode_page_key(&PageKey { offset: last, ..key }).into());
    } else {
        // The last page. How the real API says "no next page" is unverified: vary it by the page's
        // index in the walk, so that clients meet all three forms.
        match end_marker(key.offset, key.page_size) {
            EndMarker::Absent => {}
            EndMarker::Null => {
                body.insert("nextPageKey".into(), Value::Null);
            }
            EndMarker::Empty => {
                body.insert("nextPageKey".into(), "".into());
            }
        }
    }
    Value::Object(body)
}

/// How the last page of a v3 walk ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndMarker {
    /// No `nextPageKey` field.
    Absent,
    /// `"nextPageKey": null`.
    Null,
    /// `"nextPageKey": ""`.
    Empty,
}

/// The end marker of a last page that starts at row `offset`: by the page's index
/// (`offset / page_size`) modulo 3, 0 absent, 1 null, 2 empty.
pub fn end_marker(offset: usize, page_size: usize) -> EndMarker {
    match (offset / page_size.max(1)) % 3 {
        0 => EndMarker::Absent,
        1 => EndMarker::Null,
        _ => EndMarker::Empty,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_keys_round_trip_and_are_checked() {
        let key = PageKey {
            view: View::Cost,
            account: "a".into(),
            subscription: "s".into(),
            start: "2026-11-01T00:00:00Z".into(),
            end: "2026-11-02T00:00:00+01:00".into(),
            environment_ids: vec!["abc12345".into()],
            capability_keys: vec![],
            cluster_ids: vec![],
            offset: 7,
            page_size: 7,
        };
        assert_eq!(decode_page_key(&encode_page_key(&key)), Some(key.clone()));
        let encoded = encode_page_key(&key);
        assert!(encoded.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'), "URL-safe: {encoded}");
        assert_eq!(decode_page_key(&format!("{encoded}==")), Some(key.clone()), "padding is tolerated");
        assert_eq!(decode_page_key("e3+0"), None);
        let bad_size = PageKey { page_size: 1001, ..key.clone() };
        assert_eq!(decode_page_key(&encode_page_key(&bad_size)), None);
        let bad_time = PageKey { start: "yesterday".into(), ..key };
        assert_eq!(decode_page_key(&encode_page_key(&bad_time)), None);
    }

    #[test]
    fn end_markers_cycle_with_the_page_index() {
        assert_eq!(end_marker(0, 100), EndMarker::Absent);
        assert_eq!(end_marker(100, 100), EndMarker::Null);
        assert_eq!(end_marker(200, 100), EndMarker::Empty);
        assert_eq!(end_marker(300, 100), EndMarker::Absent);
        assert_eq!(end_marker(13, 7), EndMarker::Null);
        assert_eq!(end_marker(0, 0), EndMarker::Absent);
    }
}
