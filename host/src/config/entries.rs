//! The configuration's entries: the ingest target, each account and each cluster, from the file
//! or, for a single one, from the Dynatrace tools' `DT_*` variables (errors then name those).

use super::raw::{RawAccount, RawCluster, RawTarget};
use super::validate::Validator;
use super::{AccountConfig, ClusterConfig, ConfigError, MAX_LABEL_CHARS, Target, TargetAuth};
use crate::scrub::is_unsafe;

impl Validator<'_> {
    pub(super) fn target(&self, raw: RawTarget) -> Result<Target, ConfigError> {
        let (url, url_key) = match raw.url {
            Some(url) => (url, "target.url"),
            None => match self.env_var("DT_ENVIRONMENT_URL")? {
                Some(url) => (url, "DT_ENVIRONMENT_URL"),
                None => {
                    return Err(self.error(
                        "target.url",
                        "missing: the environment that receives the events (or set DT_ENVIRONMENT_URL)",
                    ));
                }
            },
        };
        let url = self.url(url_key, url)?;
        if url.contains("/bizevents/ingest") {
            return Err(self.error(
                url_key,
                format!(
                    "{url:?}: give the environment URL (e.g. https://abc12345.live.dynatrace.com), without the API path"
                ),
            ));
        }
        let auth = if let Some(client_id) = raw.client_id {
            let client_secret = self
                .secret("target.client-secret", raw.client_secret_env, raw.client_secret_file, None)?
                .ok_or_else(|| {
                    self.error(
                        "target.client-secret-env",
                        "missing: an OAuth target needs its client secret (client-secret-env or client-secret-file)",
                    )
                })?;
            let account_uuid =
                raw.account_uuid.map(|uuid| self.account_uuid("target.account-uuid", &uuid)).transpose()?;
            TargetAuth::OAuth { client_id, client_secret, account_uuid }
        } else {
            let token = self
                .secret("target.api-token", raw.api_token_env, raw.api_token_file, Some("DT_API_TOKEN"))?
                .ok_or_else(|| self.error("target.api-token-env", "missing: set api-token-env or api-token-file (a token with bizevents.ingest), or client-id for OAuth (or set DT_API_TOKEN)"))?;
            TargetAuth::ApiToken(token)
        };
        Ok(Target { url, auth })
    }

    pub(super) fn account(
        &self,
        index: usize,
        raw: RawAccount,
        single: bool,
        from_env: bool,
    ) -> Result<AccountConfig, ConfigError> {
        // Keys of the file, or the variables when the account is made of DT_* variables alone.
        let key = |name: &str| match (from_env, name) {
            (true, "uuid") => "DT_ACCOUNT_ID".to_owned(),
            (true, "client-id") => "DT_CLIENT_ID".to_owned(),
            (true, "client-secret-env") => "DT_CLIENT_SECRET".to_owned(),
            _ => format!("accounts[{index}].{name}"),
        };
        // A value from the file, else (for a single account) from a DT_* variable, with the key
        // that errors name: the file's, or the variable's.
        let value =
            |field: Option<String>, name: &str, variable: &str| -> Result<Option<(String, String)>, ConfigError> {
                match field {
                    Some(value) => Ok(Some((value, key(name)))),
                    None if single => Ok(self.env_var(variable)?.map(|value| (value, variable.to_owned()))),
                    None => Ok(None),
                }
            };
        let (uuid, uuid_key) = value(raw.uuid, "uuid", "DT_ACCOUNT_ID")?.ok_or_else(|| {
            self.error(
                key("uuid"),
                "missing: the account UUID (Account Management > Identity & access management > OAuth clients; or set DT_ACCOUNT_ID)",
            )
        })?;
        let uuid = self.account_uuid(&uuid_key, &uuid)?;
        let (client_id, client_id_key) = value(raw.client_id, "client-id", "DT_CLIENT_ID")?.ok_or_else(|| {
            self.error(key("client-id"), "missing: the OAuth client id (dt0s02.…; or set DT_CLIENT_ID)")
        })?;
        if client_id.chars().count() > MAX_LABEL_CHARS {
            return Err(self.error(client_id_key, format!("is longer than {MAX_LABEL_CHARS} characters")));
        }
        if client_id.trim().is_empty() || client_id.contains(char::is_whitespace) || client_id.contains(is_unsafe) {
            return Err(self.error(client_id_key, format!("{client_id:?} is not a client id")));
        }
        let client_secret = self
            .secret(&key("client-secret"), raw.client_secret_env, raw.client_secret_file, if single { Some("DT_CLIENT_SECRET") } else { None })?
            .ok_or_else(|| self.error(key("client-secret-env"), "missing: name the environment variable (client-secret-env) or file (client-secret-file) that holds the client secret (or set DT_CLIENT_SECRET)"))?;
        let subscription = raw.subscription.map(|s| self.plain_uuid(&key("subscription"), &s)).transpose()?;
        let name = raw.name.unwrap_or_else(|| uuid.clone());
        self.label(&key("name"), &name)?;
        Ok(AccountConfig {
            name,
            uuid,
            client_id,
            client_secret,
            subscription,
            environment_cost: raw.environment_cost.unwrap_or(false),
            usage: raw.usage.unwrap_or(false),
        })
    }

    pub(super) fn cluster(&self, index: usize, raw: RawCluster, single: bool) -> Result<ClusterConfig, ConfigError> {
        let key = |name: &str| format!("clusters[{index}].{name}");
        let from_env = if single && raw.url.is_none() { self.env_var("DT_CLUSTER_URL")? } else { None };
        let (url, url_key) = match (raw.url, from_env) {
            (Some(url), _) => (url, key("url")),
            (None, Some(url)) => (url, "DT_CLUSTER_URL".to_owned()),
            (None, None) => {
                return Err(self.error(key("url"), "missing: the cluster's URL, e.g. https://managed.example.com"));
            }
        };
        let url = self.url(&url_key, url)?;
        let api_token = self
            .secret(&key("api-token"), raw.api_token_env, raw.api_token_file, if single { Some("DT_CLUSTER_API_TOKEN") } else { None })?
            .ok_or_else(|| self.error(key("api-token-env"), "missing: name the environment variable or file that holds the cluster API token (ServiceProviderAPI; or set DT_CLUSTER_API_TOKEN)"))?;
        // By default, the URL without its scheme (`managed.example.com`).
        let name = raw.name.unwrap_or_else(|| {
            url::Url::parse(&url)
                .map_or_else(|_| url.clone(), |parsed| url[parsed.scheme().len() + "://".len()..].to_owned())
        });
        self.label(&key("name"), &name)?;
        Ok(ClusterConfig { name, url, api_token })
    }
}
