//! What an instance sent, as the host saw it: requests, retries, 429s and the requests in flight,
//! so that a job that failed (and lost its report) still counts, and a stopped instance can say
//! which request it was handling.

use crate::scrub::Scrubber;

/// What an instance sent, as the host saw it: the run's figures count a job's requests even when
/// the job failed and its report (which counts them too) was lost.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Traffic {
    pub requests: u32,
    /// Requests that repeated the previous one (the same `GET` URL): the component's retries.
    pub retries: u32,
    /// Responses that were 429.
    pub throttled: u32,
    /// `METHOD url` of the last request started.
    pub last: Option<String>,
    /// The requests the component sent together last (without reading an answer in between):
    /// one of them is the one it was handling.
    pub burst: Vec<String>,
    /// An answer's body was read since the last request was sent.
    read_since_send: bool,
}

impl Traffic {
    /// A request the instance started (refused ones too: the component counts them as well).
    pub fn record(&mut self, method: &http::Method, uri: &http::Uri) {
        let described = format!("{method} {uri}");
        // A GET repeated at once is a retry; a POST to one URL is also how batches and tokens go.
        if *method == http::Method::GET && self.last.as_deref() == Some(described.as_str()) {
            self.retries += 1;
        }
        self.requests += 1;
        if std::mem::take(&mut self.read_since_send) {
            self.burst.clear();
        }
        self.burst.push(described.clone());
        self.last = Some(described);
    }

    /// An answer's body was read: the next request starts a new burst.
    pub fn answer_read(&mut self) {
        self.read_since_send = true;
    }

    /// ` while handling GET …` (or the requests sent together), each an excerpt; empty before any.
    pub fn during(&self, scrubber: &Scrubber) -> String {
        let requests: Vec<String> = self.burst.iter().map(|request| scrubber.excerpt(request)).collect();
        match requests.as_slice() {
            [] => String::new(),
            [one] => format!(" while handling {one}"),
            several => format!(" while handling one of {} (sent together)", several.join(", ")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repeated_get_counts_as_a_retry_and_a_repeated_post_does_not() {
        let mut traffic = Traffic::default();
        let uri = |text: &str| text.parse::<http::Uri>().unwrap();
        for (method, url) in [
            (http::Method::POST, "https://sso/token"),
            (http::Method::POST, "https://sso/token"),
            (http::Method::GET, "https://api/sub/v2/accounts/a/subscriptions"),
            (http::Method::GET, "https://api/sub/v2/accounts/a/subscriptions"),
            (http::Method::POST, "https://env/api/v2/bizevents/ingest"),
            (http::Method::POST, "https://env/api/v2/bizevents/ingest"),
        ] {
            traffic.record(&method, &uri(url));
        }
        assert_eq!((traffic.requests, traffic.retries), (6, 1));
        assert_eq!(traffic.last.as_deref(), Some("POST https://env/api/v2/bizevents/ingest"));
        assert_eq!(traffic.burst.len(), 6, "nothing was read in between: one burst");
        traffic.answer_read();
        traffic.record(&http::Method::GET, &uri("https://api/x"));
        assert_eq!(traffic.burst, ["GET https://api/x"]);
    }
}
