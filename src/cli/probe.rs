//! The flags of `probe`, named as node_exporter and the exporter toolkit
//! name theirs.

use std::path::PathBuf;

use clap::{ArgGroup, Args};

use super::{LogFormat, LogLevel};

#[derive(Debug, Args)]
#[command(group(
    ArgGroup::new("output")
        .required(true)
        .args(["textfile_directory", "listen_address"])
))]
pub struct ProbeArgs {
    /// The GridPane folder: its backups/duplications/snapshots and
    /// backups.monitoring.log are read, nothing under it is written.
    #[arg(
        long = "gridpane.dir",
        value_name = "DIR",
        default_value = "/opt/gridpane"
    )]
    pub gridpane_dir: PathBuf,

    /// The file holding the server's UUID.
    #[arg(
        long = "gridpane.uuid-file",
        value_name = "FILE",
        default_value = "/root/gridcreds/gridpane.uuid"
    )]
    pub uuid_file: PathBuf,

    /// Write DIR/gridpane_backups.prom once (atomically) and exit: the
    /// directory of node_exporter's --collector.textfile.directory.
    #[arg(long = "textfile.directory", value_name = "DIR")]
    pub textfile_directory: Option<PathBuf>,

    /// Instead, serve the same lines on /metrics at this address, read
    /// afresh on every scrape.
    #[arg(long = "web.listen-address", value_name = "ADDR")]
    pub listen_address: Option<String>,

    /// Only log messages of this level or above.
    #[arg(long = "log.level", value_enum, default_value = "info")]
    pub log_level: LogLevel,

    /// Log line format.
    #[arg(long = "log.format", value_enum, default_value = "logfmt")]
    pub log_format: LogFormat,
}

#[cfg(test)]
mod tests {
    use clap::Parser as _;

    use crate::cli::{Cli, Command};

    use super::*;

    fn probe(args: &[&str]) -> Result<ProbeArgs, clap::Error> {
        let cli = Cli::try_parse_from(["x", "probe"].iter().chain(args))?;
        match cli.command {
            Some(Command::Probe(a)) => Ok(a),
            other => panic!("not probe: {other:?}"),
        }
    }

    #[test]
    fn probe_takes_the_gridpane_paths_with_their_defaults_and_one_output() {
        let a = probe(&["--textfile.directory=/var/lib/node_exporter"]).unwrap();
        assert_eq!(a.gridpane_dir, PathBuf::from("/opt/gridpane"));
        assert_eq!(a.uuid_file, PathBuf::from("/root/gridcreds/gridpane.uuid"));
        assert_eq!(
            a.textfile_directory,
            Some(PathBuf::from("/var/lib/node_exporter"))
        );
        let a = probe(&[
            "--gridpane.dir=/srv/gp",
            "--gridpane.uuid-file=/srv/uuid",
            "--web.listen-address=127.0.0.1:9879",
        ])
        .unwrap();
        assert_eq!(a.gridpane_dir, PathBuf::from("/srv/gp"));
        assert_eq!(a.uuid_file, PathBuf::from("/srv/uuid"));
        assert_eq!(a.listen_address.as_deref(), Some("127.0.0.1:9879"));
        // An output is required, and only one.
        assert!(probe(&[]).is_err());
        assert!(probe(&["--textfile.directory=/a", "--web.listen-address=:1"]).is_err());
    }
}
