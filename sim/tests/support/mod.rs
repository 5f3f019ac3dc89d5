//! A tiny HTTP/1.1 client over tokio (no extra dependency) and helpers for the simulator's tests.

#![allow(dead_code)] // each test binary uses a different part

use dtcost_sim::{Generate, Scenario, Simulator};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A response: status, headers (names lower-cased) and body.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
}

/// Sends one request on a fresh connection (`Connection: close`) and reads the whole answer.
pub async fn request(method: &str, url: &str, headers: &[(&str, &str)], body: &[u8]) -> Reply {
    let rest = url.strip_prefix("http://").expect("http URL");
    let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let path = if path.is_empty() { "/" } else { path };
    let mut stream = tokio::net::TcpStream::connect(host).await.expect("connect");
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    stream.write_all(head.as_bytes()).await.expect("write");
    stream.write_all(body).await.expect("write");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.expect("read");
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("end of head");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines.next().and_then(|l| l.split(' ').nth(1)).and_then(|s| s.parse().ok()).expect("status");
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    if headers.iter().any(|(n, v)| n == "transfer-encoding" && v.contains("chunked")) {
        body = dechunk(&body);
    }
    Reply { status, headers, body }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(end) = data.windows(2).position(|w| w == b"\r\n") {
        let size_text = String::from_utf8_lossy(&data[..end]);
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        out.extend_from_slice(&data[end + 2..end + 2 + size]);
        data = &data[end + 2 + size + 2..];
    }
    out
}

pub fn scenario(accounts: usize, days: usize, shared_subscription: bool) -> Scenario {
    Scenario::generate(&Generate {
        accounts,
        days,
        clusters: 0,
        shared_subscription,
        last_day: time::Date::from_calendar_date(2026, time::Month::November, 22).unwrap(),
        seed: 7,
    })
}

/// An `account-uac-read` token for account `index`.
pub async fn token(sim: &Simulator, scenario: &Scenario, index: usize) -> String {
    token_with_scope(sim, scenario, index, Some("account-uac-read")).await
}

/// A token for account `index` with `scope`, or, without one, all of the client's scopes.
pub async fn token_with_scope(sim: &Simulator, scenario: &Scenario, index: usize, scope: Option<&str>) -> String {
    let account = &scenario.accounts[index];
    let scope = scope.map(|s| format!("&scope={s}")).unwrap_or_default();
    let form = format!(
        "grant_type=client_credentials&client_id={}&client_secret={}&resource=urn:dtaccount:{}{scope}",
        account.client_id, account.client_secret, account.uuid
    );
    let reply =
        request("POST", &sim.sso_url, &[("Content-Type", "application/x-www-form-urlencoded")], form.as_bytes()).await;
    assert_eq!(reply.status, 200, "{}", String::from_utf8_lossy(&reply.body));
    reply.json()["access_token"].as_str().unwrap().to_owned()
}

/// GET on the account API with a bearer token.
pub async fn get(sim: &Simulator, token: &str, path_and_query: &str) -> Reply {
    let auth = format!("Bearer {token}");
    request("GET", &format!("{}{path_and_query}", sim.api_url), &[("Authorization", &auth)], b"").await
}
