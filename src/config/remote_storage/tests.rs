use std::path::Path;

use super::*;
use crate::config::{Config, load};

const ID: &str = "AKIAEXAMPLEKEYID";
const KEY: &str = "wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY";

fn load_yaml(dir: &Path, yaml: &str, env: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let file = dir.join("config.yml");
    std::fs::write(&file, yaml).unwrap();
    load(&Sources {
        file: Some(file),
        env: env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    })
}

fn account(entry: &str) -> String {
    format!(
        "accounts:\n  - name: acme\n    token: t0ken\n    remote_storage:\n{}",
        entry
            .lines()
            .map(|l| format!("      {l}\n"))
            .collect::<String>()
    )
}

const WASABI: &str = "- name: wasabi-main
  endpoint: https://s3.eu-central-1.wasabisys.com
  region: eu-central-1
  access_key_id_file: id
  secret_access_key_file: key
  buckets: [gridpane-backups-876ac0ab-690f-4067-bdb6-9b2eec41b]
  integrations: [2700, \"2701\", Offsite]";

#[test]
fn an_entry_loads_with_its_keys_from_files_path_style_at_its_endpoint() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("id"), format!("{ID}\n")).unwrap();
    std::fs::write(dir.path().join("key"), KEY).unwrap();
    let yaml = account(WASABI).replace("_file: ", &format!("_file: {}/", dir.path().display()));
    let config = load_yaml(dir.path(), &yaml, &[]).unwrap();
    let [entry] = config.accounts[0].remote_storage.as_slice() else {
        panic!("one entry expected");
    };
    assert_eq!(entry.name, "wasabi-main");
    assert_eq!(
        entry.endpoint.as_str(),
        "https://s3.eu-central-1.wasabisys.com/"
    );
    assert!(entry.path_style);
    assert_eq!(entry.region, "eu-central-1");
    assert_eq!(
        entry.integrations,
        [
            IntegrationRef::Id(2700),
            IntegrationRef::Id(2701),
            IntegrationRef::Name("Offsite".into())
        ]
    );
    assert_eq!(entry.access_key_id.load().unwrap().expose_secret(), ID);
    assert_eq!(entry.secret_access_key.load().unwrap().expose_secret(), KEY);
    assert_eq!(config.poll.remote_storage, ListingConfig::default());
}

#[test]
fn keys_come_from_the_environment_and_aws_takes_its_regional_endpoint() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = account(
        "- name: aws.main\n  region: eu-west-1\n  buckets: [gridpane-backups-x1]\n  integrations: [1]",
    );
    let env = [
        ("GRIDPANE_EXPORTER_S3_ACME_AWS_MAIN_ACCESS_KEY_ID", ID),
        ("GRIDPANE_EXPORTER_S3_ACME_AWS_MAIN_SECRET_ACCESS_KEY", KEY),
    ];
    let config = load_yaml(dir.path(), &yaml, &env).unwrap();
    let entry = &config.accounts[0].remote_storage[0];
    assert_eq!(
        entry.endpoint.as_str(),
        "https://s3.eu-west-1.amazonaws.com/"
    );
    assert!(!entry.path_style);
    assert_eq!(entry.secret_access_key.load().unwrap().expose_secret(), KEY);
}

#[test]
fn a_missing_key_names_the_keys_and_the_variable_that_would_hold_it() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = account(
        "- name: b2\n  endpoint: https://s3.us-west-004.backblazeb2.com\n  region: us-west-004\n  access_key_id: id1\n  buckets: [gridpane-backups-x1]\n  integrations: [1]",
    );
    let e = load_yaml(dir.path(), &yaml, &[]).unwrap_err().to_string();
    assert!(
        e.contains("key \"accounts[0].remote_storage[0].secret_access_key\""),
        "{e}"
    );
    assert!(
        e.contains("GRIDPANE_EXPORTER_S3_ACME_B2_SECRET_ACCESS_KEY"),
        "{e}"
    );
}

#[test]
fn each_invalid_key_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let base = "- name: w\n  access_key_id: a\n  secret_access_key: b\n  buckets: [gridpane-backups-x1]\n  integrations: [1]";
    let cases = [
        (
            base.replace("name: w", "name: \"w w\""),
            "remote_storage[0].name",
        ),
        (
            base.replace("[gridpane-backups-x1]", "[]"),
            "remote_storage[0].buckets",
        ),
        (
            base.replace("[gridpane-backups-x1]", "[Bad_Name]"),
            "remote_storage[0].buckets[0]",
        ),
        (
            base.replace("integrations: [1]", "integrations: []"),
            "remote_storage[0].integrations",
        ),
        (
            format!("{base}\n  endpoint: ftp://x"),
            "remote_storage[0].endpoint",
        ),
        (
            format!("{base}\n  access_key_id_file: /nope"),
            "remote_storage[0].access_key_id",
        ),
        (format!("{base}\n  bucket: x"), "remote_storage[0]"),
        (format!("{base}\n{}", base), "remote_storage[1].name"),
    ];
    for (entry, key) in cases {
        let e = load_yaml(dir.path(), &account(&entry), &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains(&format!("accounts[0].{key}")), "{key}: {e}");
    }
    let e = load_yaml(
        dir.path(),
        "poll:\n  remote_storage:\n    interval: 0s\naccounts: []\n",
        &[],
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("poll.remote_storage.interval"), "{e}");
}

#[test]
fn a_key_is_never_shown_in_an_error_or_in_debug_output() {
    let dir = tempfile::tempdir().unwrap();
    let bad = format!("{KEY} with a space");
    let yaml = account(&format!(
        "- name: w\n  access_key_id: {ID}\n  secret_access_key: \"{bad}\"\n  buckets: [gridpane-backups-x1]\n  integrations: [1]"
    ));
    let e = load_yaml(dir.path(), &yaml, &[]).unwrap_err().to_string();
    assert!(e.contains("secret_access_key"), "{e}");
    assert!(!e.contains(KEY) && !e.contains(ID), "{e}");
    let yaml = yaml.replace(&bad, KEY);
    let config = load_yaml(dir.path(), &yaml, &[]).unwrap();
    let shown = format!("{config:?}");
    assert!(!shown.contains(KEY) && !shown.contains(ID), "{shown}");
}
