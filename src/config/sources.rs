//! What the configuration is read from: the file given with
//! `--config.file` and the environment, each `GRIDPANE_EXPORTER_A__B`
//! variable a figment provider of its own so that errors name it (the
//! load, in `mod.rs`, merges them).

use std::path::PathBuf;

use figment::value::{Dict, Map, Value};
use figment::{Metadata, Profile, Provider};

/// What the configuration is read from, besides built-in defaults.
#[derive(Clone, Debug, Default)]
pub struct Sources {
    /// `--config.file`.
    pub file: Option<PathBuf>,
    /// The process environment (all of it; only the relevant names are read).
    pub env: Vec<(String, String)>,
}

impl Sources {
    pub fn from_process(file: Option<PathBuf>) -> Self {
        Sources {
            file,
            env: std::env::vars().collect(),
        }
    }

    pub(super) fn var(&self, name: &str) -> Option<&str> {
        self.env
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub(super) fn file_label(&self) -> String {
        match &self.file {
            Some(p) => p.display().to_string(),
            None => "configuration".to_string(),
        }
    }
}

/// One `GRIDPANE_EXPORTER_A__B=value` variable as a figment provider, so that
/// errors name the variable.
pub(super) struct EnvVar {
    pub(super) name: String,
    pub(super) key: String,
    pub(super) value: String,
}

impl Provider for EnvVar {
    fn metadata(&self) -> Metadata {
        let name = self.name.clone();
        Metadata::named("environment").interpolater(move |_: &Profile, _: &[&str]| name.clone())
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        let value: Value = self
            .value
            .parse()
            .unwrap_or_else(|_| Value::from(self.value.clone()));
        let dict = figment::util::nest(&self.key, value)
            .into_dict()
            .unwrap_or_default();
        Ok(Profile::Default.collect(dict))
    }
}
