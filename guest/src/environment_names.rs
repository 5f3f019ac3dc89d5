//! Environment names (`GET /env/v2/accounts/{a}/environments`, scope `account-env-read`) for the
//! environment cost events: read once per run; without them the events keep their ids alone.

use std::collections::HashMap;

use crate::account_reads::{get_json, read};
use crate::error::ExportError;
use crate::http::{self, Client};
use crate::parse;
use crate::sso::TokenSource;
use crate::wit::{AccountPlan, Report};

/// Environment id to name.
pub type EnvironmentNames = HashMap<String, String>;

/// The scope the environment management API asks for.
pub const ENVIRONMENT_SCOPE: &str = "account-env-read";

/// The account's environment names, read with `tokens` (a token source of its own for
/// [`ENVIRONMENT_SCOPE`]: see the account job for why). Never fails the account: when the names
/// cannot be read, the run goes on with ids alone and `report` gets one note saying why and,
/// where the scope is what is missing, which one to grant.
pub fn read_environment_names(
    plan: &AccountPlan,
    http: &mut Client,
    tokens: &mut TokenSource,
    report: &mut Report,
) -> EnvironmentNames {
    let url = http::join(&plan.api_url, &format!("/env/v2/accounts/{}/environments", plan.uuid));
    let mut left_out = |why: String, scope: bool| {
        let grant = if scope {
            format!(
                "; grant the account's OAuth client {} the scope {ENVIRONMENT_SCOPE} to add them",
                plan.client.client_id
            )
        } else {
            String::new()
        };
        report.notes.push(format!(
            "environment names left out of account {}'s dps.cost.environment.booked events (they keep their environmentId): {why}{grant}",
            plan.name
        ));
        EnvironmentNames::new()
    };
    let (request, response, json) = match get_json(http, tokens, &url) {
        Ok(exchange) => exchange,
        // The SSO refuses a scope the client was not granted (HTTP 400 `invalid_scope`, say).
        Err(ExportError::Authentication(failure)) => {
            return left_out(
                format!(
                    "the SSO refused a token with scope {ENVIRONMENT_SCOPE} (HTTP {}: {})",
                    failure.status, failure.message
                ),
                true,
            );
        }
        Err(error) => return left_out(error.to_string(), false),
    };
    match response.status {
        200 => match read(&response, json, parse::environment_names) {
            Ok(names) => names.into_iter().collect(),
            Err(error) => left_out(format!("{}: {error}", request.describe()), false),
        },
        403 => {
            let failure = http::failure(&request, &response);
            left_out(format!("{} answered HTTP 403: {}", failure.request, failure.message), true)
        }
        status => {
            let failure = http::failure(&request, &response);
            left_out(format!("{} answered HTTP {status}: {}", failure.request, failure.message), false)
        }
    }
}
