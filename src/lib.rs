//! gridpane-backup-exporter: watches the backups of WordPress sites hosted on GridPane.

pub mod fake;
