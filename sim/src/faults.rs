//! The failures the simulator can be told to produce, as the real services do under load or a
//! broken upstream would, and the rules that say which requests get them (`inject.rs` applies
//! them).

use serde_json::Value;

use crate::service::Service;

/// A failure the simulator can be told to produce, as the real services do under load.
#[derive(Debug, Clone)]
pub enum Fault {
    /// HTTP 429 with `Retry-After: <seconds>`, or, without, `X-RateLimit-Reset` (microseconds
    /// since the epoch) 200 ms ahead, as the environment and cluster APIs document.
    Throttle { retry_after_seconds: Option<u64> },
    /// This status (502, 503, 504, ...) with the service's error body.
    Status(u16),
    /// The connection closes without an answer.
    Drop,
    /// The answer comes after this delay.
    Slow(std::time::Duration),
    /// A 200 whose body stops halfway: its Content-Length announces the whole body and the
    /// connection closes after half of it (a transport failure, worth another try).
    Truncated,
    /// A complete 200 (Content-Length matching) whose body is not JSON: the first half of the
    /// real body. Trying again brings the same bytes; a client must not retry it for minutes.
    NotJson,
    /// Ingest: the request's first event is refused (400 partial success), the others stored.
    RefuseFirstEvent,
    /// Like [`Fault::RefuseFirstEvent`], but the error entry has no `index` (it is optional in
    /// the published `BizEventIngestError`); its `id` is the event's `event.id`.
    RefuseFirstEventWithoutIndex,
    /// Like [`Fault::RefuseFirstEvent`], but the error entry has neither `index` nor `id` (both
    /// optional): a client cannot tell which event failed.
    RefuseFirstEventUnnamed,
    /// A v3 cost page of `rows` valid rows (one environment, a capability of its own for each
    /// row, on 2026-11-01) and a fresh `nextPageKey`: with `pages: None` a walk that never ends,
    /// else one of that many pages.
    EndlessPages { rows: usize, pages: Option<usize> },
    /// An answer of the test's choosing instead of the service's, and nothing stored: a proxy's
    /// or an SSO's login page where the ingest API should be, a 429 with odd rate-limit headers.
    Answer { status: u16, headers: Vec<(&'static str, String)>, body: String },
    /// The service's answer with its JSON body edited by this function: the records a broken
    /// upstream sends (a day from the future, a day twice, an absurd quantity, mixed currencies).
    Rewrite(fn(&mut Value)),
}

/// How an injected refusal names the refused event in its error entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Refusal {
    pub(crate) with_index: bool,
    pub(crate) with_id: bool,
}

impl Refusal {
    /// By `index` and `id`, as a refusal of a bad event is.
    pub(crate) const NAMED: Refusal = Refusal { with_index: true, with_id: true };
}

/// Which requests get a fault: those of `service` (any when `None`), `times` times at most.
#[derive(Debug, Clone)]
pub struct FaultRule {
    pub service: Option<Service>,
    pub fault: Fault,
    pub times: u32,
}

/// An injected rule, limited to paths containing `path_contains` when set.
pub(crate) struct ActiveFault {
    pub(crate) rule: FaultRule,
    pub(crate) path_contains: Option<String>,
}
