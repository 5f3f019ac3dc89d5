//! From the configuration to job plans: what each account's and cluster's instance is asked to
//! do (the WIT plans) and the sandbox it does it in (its origins and secrets alone).

use crate::config::{AccountConfig, ClusterConfig, Config, TargetAuth as ConfigTargetAuth};
use crate::sandbox::{Origin, Sandbox};
use crate::secret::Secret;
use crate::wit::{AccountPlan, AccountState, ClusterPlan, IngestTarget, OauthClient, TargetAuth};
use dtcost_contract::config_keys;

/// Where and how every job ingests.
pub fn ingest_target(config: &Config, dry_run: bool) -> IngestTarget {
    IngestTarget {
        environment_url: config.target.url.clone(),
        auth: match &config.target.auth {
            ConfigTargetAuth::ApiToken(_) => TargetAuth::ApiToken,
            ConfigTargetAuth::OAuth { client_id, account_uuid, .. } => TargetAuth::Oauth(OauthClient {
                client_id: client_id.clone(),
                token_url: config.token_url.clone(),
                account_uuid: account_uuid.clone(),
            }),
        },
        provider: config.provider.clone(),
        max_batch_bytes: config.max_batch_bytes,
        dry_run,
    }
}

/// An account's export job: what to read, where to send it, and what earlier runs delivered.
pub fn account_plan(
    config: &Config,
    account: &AccountConfig,
    target: &IngestTarget,
    read_at: &str,
    previous: Option<AccountState>,
) -> AccountPlan {
    AccountPlan {
        name: account.name.clone(),
        uuid: account.uuid.clone(),
        client: OauthClient {
            client_id: account.client_id.clone(),
            token_url: config.token_url.clone(),
            account_uuid: Some(account.uuid.clone()),
        },
        api_url: config.api_url.clone(),
        subscription: account.subscription.clone(),
        read_at: read_at.to_owned(),
        target: target.clone(),
        retry: config.retry,
        state: previous,
        window_days: config.window_days,
        environment_cost: account.environment_cost.then_some(config.environment_cost),
        usage: account.usage.then_some(config.usage),
        budget_alerting: config.budget_alerting.clone(),
        anomalies: config.anomalies,
    }
}

/// A Managed cluster's export job.
pub fn cluster_plan(config: &Config, cluster: &ClusterConfig, target: &IngestTarget, read_at: &str) -> ClusterPlan {
    ClusterPlan {
        name: cluster.name.clone(),
        url: cluster.url.clone(),
        read_at: read_at.to_owned(),
        target: target.clone(),
        retry: config.retry,
    }
}

/// The sandbox of a job that only ingests (the statuses, the run summary): the target alone.
pub fn target_sandbox(config: &Config) -> Sandbox {
    let (allowed, secrets) = target_access(config);
    sandbox(config, allowed, secrets)
}

/// An account's sandbox: the target, the SSO and the account API; the account's secret.
pub fn account_sandbox(config: &Config, account: &AccountConfig) -> Sandbox {
    let (mut allowed, mut secrets) = target_access(config);
    allowed.extend([origin(&config.token_url), origin(&config.api_url)]);
    secrets.push((config_keys::ACCOUNT_CLIENT_SECRET, account.client_secret.clone()));
    sandbox(config, allowed, secrets)
}

/// A cluster's sandbox: the target and the cluster; the cluster's token.
pub fn cluster_sandbox(config: &Config, cluster: &ClusterConfig) -> Sandbox {
    let (mut allowed, mut secrets) = target_access(config);
    allowed.push(origin(&cluster.url));
    secrets.push((config_keys::CLUSTER_API_TOKEN, cluster.api_token.clone()));
    sandbox(config, allowed, secrets)
}

fn sandbox(config: &Config, allowed: Vec<Origin>, secrets: Vec<(&'static str, Secret)>) -> Sandbox {
    Sandbox { allowed, config: secrets, memory_bytes: config.limits.memory_bytes, timeout: config.limits.timeout }
}

/// The target's origins and secret: every job ingests.
fn target_access(config: &Config) -> (Vec<Origin>, Vec<(&'static str, Secret)>) {
    let mut origins = vec![origin(&config.target.url)];
    let secrets = match &config.target.auth {
        ConfigTargetAuth::ApiToken(token) => vec![(config_keys::TARGET_API_TOKEN, token.clone())],
        ConfigTargetAuth::OAuth { client_secret, .. } => {
            origins.push(origin(&config.token_url));
            vec![(config_keys::TARGET_CLIENT_SECRET, client_secret.clone())]
        }
    };
    (origins, secrets)
}

/// The origin of a URL of a validated config, which always has one; were it ever not so, an
/// origin no request can match (port 0), so that the sandbox refuses rather than widens.
fn origin(url: &str) -> Origin {
    Origin::parse(url).unwrap_or(Origin { scheme: "invalid".into(), host: url.into(), port: 0 })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_account_and_cluster_gets_only_its_own_secret_and_hosts() {
        let env: std::collections::HashMap<String, String> = [
            ("T", "target-token"),
            ("A1", "secret-of-account-1"),
            ("A2", "secret-of-account-2"),
            ("C1", "token-of-cluster-1"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let config = Config::parse(
            r#"
            api-url = "https://api.example.com"
            [target]
            url = "https://env.example.com"
            api-token-env = "T"
            [[accounts]]
            uuid = "7c0d4f5e-2b1a-4e8f-9a3d-1f2e3d4c5b6a"
            client-id = "a1"
            client-secret-env = "A1"
            [[accounts]]
            uuid = "8c0d4f5e-2b1a-4e8f-9a3d-1f2e3d4c5b6a"
            client-id = "a2"
            client-secret-env = "A2"
            [[clusters]]
            url = "https://cluster.example.com"
            api-token-env = "C1"
            "#,
            "test.toml",
            None,
            &env,
        )
        .unwrap();
        let values = |sandbox: &Sandbox| -> Vec<(String, String)> {
            sandbox.config.iter().map(|(k, v)| (k.to_string(), v.expose().to_owned())).collect()
        };
        let second = account_sandbox(&config, &config.accounts[1]);
        assert_eq!(
            values(&second),
            vec![
                ("target-api-token".to_owned(), "target-token".to_owned()),
                ("account-client-secret".to_owned(), "secret-of-account-2".to_owned())
            ]
        );
        let hosts: Vec<String> = second.allowed.iter().map(|o| o.host.clone()).collect();
        assert_eq!(hosts, ["env.example.com", "sso.dynatrace.com", "api.example.com"]);
        let cluster = cluster_sandbox(&config, &config.clusters[0]);
        assert!(values(&cluster).iter().all(|(_, v)| !v.starts_with("secret-of-account")));
        assert!(cluster.allowed.iter().all(|o| o.host != "api.example.com" && o.host != "sso.dynatrace.com"));
        let target = target_sandbox(&config);
        assert_eq!(values(&target), [("target-api-token".to_owned(), "target-token".to_owned())]);
    }
}
