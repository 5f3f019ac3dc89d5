//! What the running services share: the scenario they serve and what they recorded (tokens
//! issued, events accepted, requests served, faults pending, connections accepted).

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard};
use std::time::Instant;

use serde_json::Value;

use crate::data::Scenario;
use crate::faults::{ActiveFault, Refusal};
pub use crate::service::Service;

/// One request as the simulator saw it.
#[derive(Debug, Clone)]
pub struct LoggedRequest {
    pub service: Service,
    pub method: String,
    pub path: String,
    pub status: u16,
}

/// An issued token: whose, for which account, with which scopes, until when.
pub(crate) struct Grant {
    pub(crate) client_id: String,
    pub(crate) account: Option<String>,
    pub(crate) scopes: Vec<String>,
    pub(crate) expires: Instant,
}

#[derive(Default)]
pub(crate) struct Recorded {
    pub(crate) grants: HashMap<String, Grant>,
    /// The newest accepted events (at most `limit`), and how many were ever accepted.
    pub(crate) accepted: VecDeque<Value>,
    pub(crate) accepted_total: usize,
    /// The newest requests (at most `limit`), and how many were ever served.
    pub(crate) log: VecDeque<LoggedRequest>,
    pub(crate) logged_total: usize,
    /// [`Scenario::max_recorded_events`], copied at start and on every [`crate::Simulator::update`].
    pub(crate) limit: Option<usize>,
    pub(crate) issued: u64,
    pub(crate) faults: Vec<ActiveFault>,
    /// Ingest requests whose first event is to be refused, oldest first, and how the error
    /// entry names it.
    pub(crate) refusals: VecDeque<Refusal>,
    /// TCP connections accepted, per service.
    pub(crate) connections: HashMap<Service, usize>,
}

impl Recorded {
    pub(crate) fn accept(&mut self, event: Value) {
        self.accepted_total += 1;
        push_bounded(&mut self.accepted, event, self.limit);
    }

    pub(crate) fn log(&mut self, request: LoggedRequest) {
        self.logged_total += 1;
        push_bounded(&mut self.log, request, self.limit);
    }
}

/// Appends `item`, dropping the oldest ones beyond `limit` (`None`: no bound).
fn push_bounded<T>(list: &mut VecDeque<T>, item: T, limit: Option<usize>) {
    list.push_back(item);
    if let Some(limit) = limit {
        while list.len() > limit {
            list.pop_front();
        }
    }
}

pub(crate) struct Shared {
    pub(crate) scenario: Mutex<Scenario>,
    pub(crate) recorded: Mutex<Recorded>,
}

impl Shared {
    pub(crate) fn recorded(&self) -> MutexGuard<'_, Recorded> {
        self.recorded.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn scenario(&self) -> MutexGuard<'_, Scenario> {
        self.scenario.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
