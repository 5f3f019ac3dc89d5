//! The configuration's validation: every error names the file, the key and the reason.

use std::collections::HashMap;

use super::*;

const UUID: &str = "7c0d4f5e-2b1a-4e8f-9a3d-1f2e3d4c5b6a";

fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn parse(text: &str, vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
    Config::parse(text, "dtcost.toml", None, &env(vars))
}

const GOOD: &str = r#"
    [target]
    url = "https://abc12345.live.dynatrace.com/"
    api-token-env = "INGEST_TOKEN"

    [[accounts]]
    name = "ACME"
    uuid = "urn:dtaccount:7C0D4F5E-2b1a-4e8f-9a3d-1f2e3d4c5b6a"
    client-id = "dt0s02.ABC"
    client-secret-env = "ACME_SECRET"

    [[clusters]]
    name = "prod"
    url = "https://managed.example.com"
    api-token-env = "CLUSTER_TOKEN"
"#;

#[test]
fn a_full_config_validates_and_normalises() {
    let config = parse(GOOD, &[("INGEST_TOKEN", "t1"), ("ACME_SECRET", "s1"), ("CLUSTER_TOKEN", "c1")]).unwrap();
    assert_eq!(config.accounts[0].uuid, UUID);
    assert_eq!(config.accounts[0].client_secret.expose(), "s1");
    assert_eq!(config.target.url, "https://abc12345.live.dynatrace.com");
    assert_eq!(config.token_url, DEFAULT_TOKEN_URL);
    assert_eq!(config.clusters[0].api_token.expose(), "c1");
}

#[test]
fn errors_name_the_file_the_key_and_the_reason() {
    let error = parse(GOOD, &[("INGEST_TOKEN", "t1"), ("CLUSTER_TOKEN", "c1")]).unwrap_err().to_string();
    assert_eq!(error, "dtcost.toml: accounts[0].client-secret-env: environment variable ACME_SECRET is not set");

    let bad_uuid = GOOD.replace("urn:dtaccount:7C0D4F5E-2b1a-4e8f-9a3d-1f2e3d4c5b6a", "not-a-uuid");
    let error = parse(&bad_uuid, &[("INGEST_TOKEN", "t"), ("ACME_SECRET", "s"), ("CLUSTER_TOKEN", "c")]).unwrap_err();
    assert_eq!(error.key, "accounts[0].uuid");
    assert!(error.message.contains("not a UUID"), "{error}");

    let http = GOOD.replace("https://managed.example.com", "http://managed.example.com");
    let error = parse(&http, &[("INGEST_TOKEN", "t"), ("ACME_SECRET", "s"), ("CLUSTER_TOKEN", "c")]).unwrap_err();
    assert_eq!(error.key, "clusters[0].url");
    assert!(error.message.contains("plain http is allowed only to loopback"), "{error}");
}

#[test]
fn environment_cost_is_opt_in_and_budget_alerts_have_defaults() {
    let vars = [("INGEST_TOKEN", "t"), ("ACME_SECRET", "s"), ("CLUSTER_TOKEN", "c")];
    let config = parse(GOOD, &vars).unwrap();
    assert!(!config.accounts[0].environment_cost);
    // Unset: the component's defaults (75, 90, 100 %; 30 days in windows of 30, 2000 rows a
    // day: the component's defaults.rs tests them).
    assert_eq!(config.budget_alerting, default_budget_alerting());
    let unset = EnvironmentCostPlan { days: None, window_days: None, page_size: None, max_rows_per_day: None };
    assert_eq!(config.environment_cost, unset);

    let custom = GOOD.replace("[[clusters]]", "environment-cost = true\n[[clusters]]").replace(
        "[target]",
        "[budget]\nthresholds = [50, 80.5]\nforecast-exceeds-budget = false\n\
         [environment-cost]\ndays = 90\nwindow-days = 14\npage-size = 500\nmax-rows-per-day = 5000\n[target]",
    );
    let config = parse(&custom, &vars).unwrap();
    assert!(config.accounts[0].environment_cost);
    assert_eq!(config.budget_alerting.thresholds.as_deref(), Some(&[50.0, 80.5][..]));
    assert_eq!(config.budget_alerting.forecast_exceeds_budget, Some(false));
    let plan = config.environment_cost;
    let set = (plan.days, plan.window_days, plan.page_size, plan.max_rows_per_day);
    assert_eq!(set, (Some(90), Some(14), Some(500), Some(5000)));

    for (bad, key) in [
        ("[budget]\nthresholds = [75, -5]", "budget.thresholds"),
        ("[budget]\nthresholds = [0]", "budget.thresholds"),
        ("[environment-cost]\ndays = 0", "environment-cost.days"),
        ("[environment-cost]\nwindow-days = 365", "environment-cost.window-days"),
        ("[environment-cost]\npage-size = 0", "environment-cost.page-size"),
    ] {
        let error = parse(&GOOD.replace("[target]", &format!("{bad}\n[target]")), &vars).unwrap_err();
        assert_eq!(error.key, key, "{bad}: {error}");
    }
}

#[test]
fn usage_is_opt_in_per_account_with_its_days_checked() {
    let vars = [("INGEST_TOKEN", "t"), ("ACME_SECRET", "s"), ("CLUSTER_TOKEN", "c")];
    let config = parse(GOOD, &vars).unwrap();
    assert!(!config.accounts[0].usage);
    assert_eq!(config.usage.days, None, "unset: the component's default");
    let custom =
        GOOD.replace("[[clusters]]", "usage = true\n[[clusters]]").replace("[target]", "[usage]\ndays = 60\n[target]");
    let config = parse(&custom, &vars).unwrap();
    assert!(config.accounts[0].usage);
    assert_eq!(config.usage.days, Some(60));
    let error = parse(&GOOD.replace("[target]", "[usage]\ndays = 0\n[target]"), &vars).unwrap_err();
    assert_eq!(error.key, "usage.days", "{error}");
}

#[test]
fn anomalies_take_the_component_defaults_unless_set_and_bad_values_are_refused_by_key() {
    let vars = [("INGEST_TOKEN", "t"), ("ACME_SECRET", "s"), ("CLUSTER_TOKEN", "c")];
    assert_eq!(parse(GOOD, &vars).unwrap().anomalies, default_anomaly_plan());
    let set = "[anomalies]\nenabled = false\ndays = 14\nweek-over-week-percent = 25\nminimum-amount = 50\n[target]";
    let plan = parse(&GOOD.replace("[target]", set), &vars).unwrap().anomalies;
    let values = (plan.enabled, plan.days, plan.week_over_week_percent, plan.minimum_amount);
    assert_eq!(values, (Some(false), Some(14), Some(25.0), Some(50.0)));
    for (bad, key) in [
        ("[anomalies]\ndays = 0", "anomalies.days"),
        ("[anomalies]\nweek-over-week-percent = -1", "anomalies.week-over-week-percent"),
        ("[anomalies]\nweek-over-week-percent = nan", "anomalies.week-over-week-percent"),
        ("[anomalies]\nminimum-amount = -5", "anomalies.minimum-amount"),
    ] {
        let error = parse(&GOOD.replace("[target]", &format!("{bad}\n[target]")), &vars).unwrap_err();
        assert_eq!(error.key, key, "{bad}: {error}");
    }
    let error = parse(&GOOD.replace("[target]", "[anomalies]\nsigmas = 3\n[target]"), &vars).unwrap_err();
    assert!(error.to_string().contains("unknown field `sigmas`"), "{error}");
}

#[test]
fn inline_secrets_and_unknown_keys_are_refused_by_name() {
    let inline = GOOD.replace("client-secret-env = \"ACME_SECRET\"", "client-secret = \"hunter2\"");
    let error = parse(&inline, &[("INGEST_TOKEN", "t"), ("CLUSTER_TOKEN", "c")]).unwrap_err().to_string();
    assert!(error.contains("unknown field `client-secret`"), "{error}");
    assert!(error.contains("line 10 (client-secret)"), "{error}");
    assert!(!error.contains("hunter2"), "{error}");
}

#[test]
fn the_dynatrace_tool_variables_configure_a_single_account() {
    let config = parse(
        "",
        &[
            ("DT_CLIENT_ID", "dt0s02.X"),
            ("DT_CLIENT_SECRET", "sec"),
            ("DT_ACCOUNT_ID", UUID),
            ("DT_ENVIRONMENT_URL", "https://abc.live.dynatrace.com"),
            ("DT_API_TOKEN", "tok"),
            ("DT_CLUSTER_URL", "https://managed.example.com"),
            ("DT_CLUSTER_API_TOKEN", "ctok"),
        ],
    )
    .unwrap();
    assert_eq!(config.accounts.len(), 1);
    assert_eq!(config.accounts[0].client_id, "dt0s02.X");
    assert_eq!(config.clusters[0].name, "managed.example.com");
    assert!(matches!(&config.target.auth, TargetAuth::ApiToken(t) if t.expose() == "tok"));
}

#[test]
fn an_sso_host_gets_the_token_path() {
    let text = GOOD.replace("[target]", "sso-url = \"http://127.0.0.1:9000/\"\n[target]");
    let config = parse(&text, &[("INGEST_TOKEN", "t1"), ("ACME_SECRET", "s1"), ("CLUSTER_TOKEN", "c1")]).unwrap();
    assert_eq!(config.token_url, "http://127.0.0.1:9000/sso/oauth2/token");
}

#[test]
fn an_empty_config_points_to_the_demo() {
    let error =
        parse("[target]\nurl = \"https://x.live.dynatrace.com\"\napi-token-env = \"T\"", &[("T", "t")]).unwrap_err();
    assert!(error.message.contains("dtcost demo"), "{error}");
}

/// The GOOD config with `old` replaced by `new`, and its error's key and message.
fn refused(old: &str, new: &str, vars: &[(&str, &str)]) -> (String, String) {
    let mut all = vec![("INGEST_TOKEN", "t1"), ("ACME_SECRET", "s1"), ("CLUSTER_TOKEN", "c1")];
    all.extend_from_slice(vars);
    assert!(GOOD.contains(old), "{old}");
    let error = parse(&GOOD.replace(old, new), &all).expect_err(new);
    (error.key, error.message)
}

#[test]
fn urls_that_would_fail_at_run_time_are_refused_by_key_and_reason() {
    let target = "url = \"https://abc12345.live.dynatrace.com/\"";
    for (url, reason) in [
        ("https://abc.live.dynatrace.com/?foo", "a query (`?…`) is not allowed"),
        ("https://abc.live.dynatrace.com/#top", "a fragment (`#…`) is not allowed"),
        ("https://abc.live.dynatrace.com:0", "port 0 is not a port"),
        ("https://user:pw@abc.live.dynatrace.com", "credentials in the URL are not allowed"),
        ("HTTP://abc.live.dynatrace.com", "plain http is allowed only to loopback"),
        ("ftp://abc.live.dynatrace.com", "scheme \"ftp\" is not http or https"),
        ("https://", "not a URL"),
        ("abc.live.dynatrace.com", "not a URL"),
    ] {
        let (key, message) = refused(target, &format!("url = \"{url}\""), &[]);
        assert_eq!(key, "target.url", "{url}");
        assert!(message.contains(reason), "{url}: {message}");
    }
    let (key, message) = refused("[target]", "token-url = \"https://sso.example.com?foo\"\n[target]", &[]);
    assert_eq!((key.as_str(), message.contains("query")), ("token-url", true), "{message}");
    let (key, _) = refused("url = \"https://managed.example.com\"", "url = \"https://managed.example.com:0\"", &[]);
    assert_eq!(key, "clusters[0].url");
}

#[test]
fn urls_are_normalised_scheme_and_host_in_any_case() {
    let text = GOOD.replace("https://abc12345.live.dynatrace.com/", "HTTPS://ABC12345.Live.Dynatrace.com:443/");
    let config = parse(&text, &[("INGEST_TOKEN", "t1"), ("ACME_SECRET", "s1"), ("CLUSTER_TOKEN", "c1")]).unwrap();
    assert_eq!(config.target.url, "https://abc12345.live.dynatrace.com");
    let text = GOOD.replace("[target]", "token-url = \"HTTP://LOCALHOST:9000\"\n[target]");
    let config = parse(&text, &[("INGEST_TOKEN", "t1"), ("ACME_SECRET", "s1"), ("CLUSTER_TOKEN", "c1")]).unwrap();
    assert_eq!(config.token_url, "http://localhost:9000/sso/oauth2/token");
}

#[test]
fn secrets_that_are_empty_spaces_or_several_lines_are_refused_by_key() {
    let dir = tempfile::tempdir().unwrap();
    let vars = [("INGEST_TOKEN", "t1"), ("ACME_SECRET", "s1"), ("CLUSTER_TOKEN", "c1")];
    for (content, reason) in [
        ("line one\nline two\n", "has more than one line"),
        ("secret\n\n", "has more than one line"),
        ("   \n", "holds only spaces"),
        ("", "is empty"),
        ("\n", "is empty"),
        ("sec\x1bret", "holds a control character"),
        (" secret", "has spaces before or after"),
    ] {
        std::fs::write(dir.path().join("secret"), content).unwrap();
        let text = GOOD.replace("client-secret-env = \"ACME_SECRET\"", "client-secret-file = \"secret\"");
        let error = Config::parse(&text, "dtcost.toml", Some(dir.path()), &env(&vars)).unwrap_err();
        assert_eq!(error.key, "accounts[0].client-secret-file", "{content:?}");
        assert!(error.message.contains(reason), "{content:?}: {error}");
    }
    for (good, value) in [("secret\n", "secret"), ("secret\r\n", "secret"), ("secret", "secret")] {
        std::fs::write(dir.path().join("secret"), good).unwrap();
        let text = GOOD.replace("client-secret-env = \"ACME_SECRET\"", "client-secret-file = \"secret\"");
        let config = Config::parse(&text, "dtcost.toml", Some(dir.path()), &env(&vars)).unwrap();
        assert_eq!(config.accounts[0].client_secret.expose(), value);
    }
}

#[test]
fn a_variable_that_is_set_but_empty_is_reported_as_such() {
    let error = parse(GOOD, &[("INGEST_TOKEN", "t1"), ("ACME_SECRET", ""), ("CLUSTER_TOKEN", "c1")]).unwrap_err();
    assert_eq!(
        error.to_string(),
        "dtcost.toml: accounts[0].client-secret-env: environment variable ACME_SECRET is set but empty"
    );
    let error =
        parse(GOOD, &[("INGEST_TOKEN", "t1"), ("ACME_SECRET", "s1"), ("CLUSTER_TOKEN", "c1"), ("DT_CLUSTER_URL", "")]);
    assert!(error.is_ok(), "DT_CLUSTER_URL is not read when the file has clusters");
    let error = parse("", &[("DT_ENVIRONMENT_URL", "")]).unwrap_err();
    assert_eq!(
        (error.key.as_str(), error.message.as_str()),
        ("DT_ENVIRONMENT_URL", "is set but empty: give it a value, or unset it")
    );
    let target = [("DT_ENVIRONMENT_URL", "https://abc.live.dynatrace.com"), ("DT_API_TOKEN", "tok")];
    let error = parse("", &[target[0], target[1], ("DT_ACCOUNT_ID", "")]).unwrap_err();
    assert_eq!(error.key, "DT_ACCOUNT_ID", "{error}");
}

#[test]
fn an_account_from_the_environment_alone_names_the_variables() {
    let vars = [
        ("DT_CLIENT_ID", "dt0s02.X"),
        ("DT_CLIENT_SECRET", "sec"),
        ("DT_ENVIRONMENT_URL", "https://abc.live.dynatrace.com"),
        ("DT_API_TOKEN", "tok"),
    ];
    let error = parse("", &vars).unwrap_err();
    assert_eq!(error.key, "DT_ACCOUNT_ID", "{error}");
    let mut with_bad_uuid = vars.to_vec();
    with_bad_uuid.push(("DT_ACCOUNT_ID", "not-a-uuid"));
    let error = parse("", &with_bad_uuid).unwrap_err();
    assert_eq!(error.key, "DT_ACCOUNT_ID", "{error}");
    assert!(error.message.contains("is not a UUID"), "{error}");
    let mut bad_url = vars.to_vec();
    bad_url.retain(|(k, _)| *k != "DT_ENVIRONMENT_URL");
    bad_url.extend([("DT_ACCOUNT_ID", UUID), ("DT_ENVIRONMENT_URL", "https://abc.live.dynatrace.com?x")]);
    assert_eq!(parse("", &bad_url).unwrap_err().key, "DT_ENVIRONMENT_URL");
}

#[test]
fn names_and_the_provider_must_be_printable_and_not_empty() {
    for (old, new, key) in [
        ("name = \"ACME\"", "name = \"\"", "accounts[0].name"),
        ("name = \"ACME\"", "name = \"  \"", "accounts[0].name"),
        ("name = \"ACME\"", "name = \"ok\\u001b[2K\\rok     account X\"", "accounts[0].name"),
        ("name = \"prod\"", "name = \"pr\\nod\"", "clusters[0].name"),
        ("[target]", "provider = \"\"\n[target]", "provider"),
        ("[target]", "provider = \"a\\u0007\"\n[target]", "provider"),
    ] {
        let (error_key, message) = refused(old, new, &[]);
        assert_eq!(error_key, key, "{new}: {message}");
    }
}

#[test]
fn a_provider_or_name_over_256_characters_and_a_secret_over_8_kib_are_refused_by_key() {
    let (key, message) = refused("[target]", &format!("provider = \"{}\"\n[target]", "p".repeat(6 << 20)), &[]);
    assert_eq!(key, "provider", "{message}");
    assert!(message.contains("is 6291456 characters long, more than 256"), "{message}");
    let (key, _) = refused("name = \"ACME\"", &format!("name = \"{}\"", "n".repeat(257)), &[]);
    assert_eq!(key, "accounts[0].name");
    let longest = GOOD.replace("name = \"ACME\"", &format!("name = \"{}\"", "n".repeat(256)));
    assert!(parse(&longest, &[("INGEST_TOKEN", "t1"), ("ACME_SECRET", "s1"), ("CLUSTER_TOKEN", "c1")]).is_ok());

    let huge = "s".repeat(MAX_SECRET_BYTES + 1);
    let error = parse(GOOD, &[("INGEST_TOKEN", "t1"), ("ACME_SECRET", &huge), ("CLUSTER_TOKEN", "c1")]).unwrap_err();
    assert_eq!(error.key, "accounts[0].client-secret-env");
    assert!(error.message.contains("holds 8193 bytes, more than a secret's 8192"), "{error}");
    assert!(!error.message.contains("sss"), "the secret is not shown: {error}");
}

#[test]
fn a_state_file_in_a_missing_folder_is_refused() {
    let (key, message) = refused("[target]", "state-file = \"/nonexistent-dtcost/state.json\"\n[target]", &[]);
    assert_eq!(key, "state-file");
    assert!(message.contains("the folder /nonexistent-dtcost does not exist"), "{message}");
}

#[test]
fn two_accounts_with_one_uuid_are_refused_naming_both() {
    let second = "\n[[accounts]]\nname = \"ACME again\"\nuuid = \"7c0d4f5e-2B1A-4e8f-9a3d-1f2e3d4c5b6a\"\n\
                  client-id = \"dt0s02.DEF\"\nclient-secret-env = \"ACME_SECRET\"\n[[clusters]]";
    let (key, message) = refused("[[clusters]]", second, &[]);
    assert_eq!(key, "accounts[1].uuid");
    assert!(
        message.contains("accounts[0] (\"ACME\") and accounts[1] (\"ACME again\") are the same account"),
        "{message}"
    );
}

#[test]
fn two_clusters_with_one_url_are_refused_naming_both() {
    let second = "api-token-env = \"CLUSTER_TOKEN\"\n[[clusters]]\nname = \"prod again\"\n\
                  url = \"HTTPS://Managed.Example.com:443/\"\napi-token-env = \"CLUSTER_TOKEN\"";
    let (key, message) = refused("api-token-env = \"CLUSTER_TOKEN\"", second, &[]);
    assert_eq!(key, "clusters[1].url");
    assert!(
        message.contains("clusters[0] (\"prod\") and clusters[1] (\"prod again\") are the same cluster"),
        "{message}"
    );
}

#[test]
fn a_value_of_the_wrong_type_names_its_key_path_and_line() {
    let vars = [("INGEST_TOKEN", "t1"), ("ACME_SECRET", "s1"), ("CLUSTER_TOKEN", "c1")];
    let error = parse(&GOOD.replace("client-id = \"dt0s02.ABC\"", "client-id = 7"), &vars).unwrap_err();
    assert_eq!(error.key, "accounts[0].client-id at line 9 (client-id)", "{error}");
    assert!(error.message.contains("invalid type: integer `7`, expected a string"), "{error}");
    let error = parse(&GOOD.replace("[target]", "concurrency = \"many\"\n[target]"), &vars).unwrap_err();
    assert!(error.key.starts_with("concurrency at line 2"), "{error}");
}

#[test]
fn uuids_are_read_in_their_hyphenated_form_only() {
    let vars = [("INGEST_TOKEN", "t1"), ("ACME_SECRET", "s1"), ("CLUSTER_TOKEN", "c1")];
    let uuid = "urn:dtaccount:7C0D4F5E-2b1a-4e8f-9a3d-1f2e3d4c5b6a";
    for other in [
        "7c0d4f5e2b1a4e8f9a3d1f2e3d4c5b6a",
        "{7c0d4f5e-2b1a-4e8f-9a3d-1f2e3d4c5b6a}",
        "7c0d4f5e-2b1a-4e8f-9a3d-1f2e3d4c5b6",
    ] {
        let error = parse(&GOOD.replace(uuid, other), &vars).unwrap_err();
        assert_eq!(error.key, "accounts[0].uuid", "{other}: {error}");
    }
    assert_eq!(parse(GOOD, &vars).unwrap().accounts[0].uuid, UUID);
}

#[test]
fn a_config_error_quotes_neither_an_unparsable_line_nor_a_secret_key_s_value() {
    let vars = [("INGEST_TOKEN", "t"), ("ACME_SECRET", "s"), ("CLUSTER_TOKEN", "c")];
    let own_line = GOOD.replace("client-secret-env = \"ACME_SECRET\"", "client-secret-env = \"ACME_SECRET\"\nhunter2");
    let error = parse(&own_line, &vars).unwrap_err().to_string();
    assert!(error.starts_with("dtcost.toml: line 11") && !error.contains("hunter2"), "{error}");
    let numeric = GOOD.replace("client-secret-env = \"ACME_SECRET\"", "client-secret-env = 987654321");
    let error = parse(&numeric, &vars).unwrap_err().to_string();
    assert!(error.contains("accounts[0].client-secret-env at line 10") && !error.contains("987654321"), "{error}");
    assert!(error.contains("(value not shown), expected a string"), "{error}");
}
