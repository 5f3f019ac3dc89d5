//! A fake of every API the jobs talk to, for tests: answers by `METHOD url`, records what was
//! sent (and what went out together), and keeps a clock that only sleeping advances.

use std::collections::HashMap;

use crate::http::{self, Request, Transport};
use crate::wit::FailureKind;

/// Answers by `METHOD url` (a sequence per route; its last answer repeats), records what was
/// sent, and keeps a clock that only sleeping advances.
/// Status (0: the connection drops), body and headers.
pub type Answer = (u16, String, Vec<(String, String)>);

pub struct FakeApi {
    pub routes: HashMap<String, Vec<Answer>>,
    pub sent: Vec<Request>,
    /// The requests handed over at once by `send_all`, as `METHOD url`.
    pub together: Vec<Vec<String>>,
    pub slept: Vec<u64>,
    pub clock: u64,
}

impl FakeApi {
    pub fn new(routes: &[(&str, u16, &str)]) -> Self {
        let mut api =
            FakeApi { routes: HashMap::new(), sent: Vec::new(), together: Vec::new(), slept: Vec::new(), clock: 0 };
        for (route, status, body) in routes {
            api.then(route, *status, body, &[]);
        }
        api
    }

    /// Appends an answer to `route`'s sequence.
    pub fn then(&mut self, route: &str, status: u16, body: &str, headers: &[(&str, &str)]) -> &mut Self {
        let headers = headers.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect();
        self.routes.entry(route.to_owned()).or_default().push((status, body.to_owned(), headers));
        self
    }

    pub fn posted_events(&self) -> Vec<Vec<serde_json::Value>> {
        self.sent
            .iter()
            .filter(|r| r.url.contains("bizevents"))
            .map(|r| serde_json::from_slice(&r.body).unwrap())
            .collect()
    }
}

impl Transport for FakeApi {
    fn send(&mut self, request: &Request) -> Result<http::Response, http::TransportError> {
        self.sent.push(request.clone());
        let Some(answers) = self.routes.get_mut(&request.describe()) else {
            let message = format!("no route for {}", request.describe());
            return Err(http::TransportError { kind: FailureKind::Denied, message });
        };
        let (status, body, headers) = if answers.len() > 1 { answers.remove(0) } else { answers[0].clone() };
        if status == 0 {
            return Err(http::TransportError { kind: FailureKind::Connection, message: "connection reset".into() });
        }
        Ok(http::Response { status, headers, body: body.into_bytes() })
    }

    fn send_all(&mut self, requests: &[Request]) -> Vec<Result<http::Response, http::TransportError>> {
        self.together.push(requests.iter().map(Request::describe).collect());
        requests.iter().map(|request| self.send(request)).collect()
    }

    fn monotonic_millis(&mut self) -> u64 {
        self.clock
    }

    fn wall_millis(&mut self) -> u64 {
        1_700_000_000_000 + self.clock
    }

    fn sleep_millis(&mut self, millis: u64) {
        self.slept.push(millis);
        self.clock += millis;
    }
}
