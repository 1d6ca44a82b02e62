//! A real S3 server for the tests: s3s-fs (crates.io, `cargo install
//! s3s-fs --features binary`), started on loopback over a temporary
//! directory. It serves each file's mtime as the object's LastModified, so
//! objects are dated in the past by setting the file's modified time.
//! Missing, the tests that need it skip, or fail under `CI=true`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, SystemTime};

pub const ACCESS_KEY: &str = "AKIATESTKEYID0000001";
pub const SECRET_KEY: &str = "testsecretkey0000000000000000000000000001";

pub struct S3Server {
    child: Child,
    pub endpoint: String,
    root: tempfile::TempDir,
}

fn binary() -> Option<PathBuf> {
    let mut candidates: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join("s3s-fs"))
                .collect()
        })
        .unwrap_or_default();
    if let Some(home) = std::env::var_os("HOME") {
        candidates.push(Path::new(&home).join(".cargo/bin/s3s-fs"));
    }
    candidates.into_iter().find(|p| p.is_file())
}

impl S3Server {
    /// Starts the server, or `None` (outside CI) when it is not installed.
    pub fn start() -> Option<S3Server> {
        let found = binary();
        if !super::require(
            found.is_some(),
            "s3s-fs",
            "(cargo install s3s-fs --version 0.14.1 --features binary --locked)",
        ) {
            return None;
        }
        let root = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(found?)
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args(["--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY])
            .arg(root.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let endpoint = format!("http://127.0.0.1:{port}");
        let server = S3Server {
            child,
            endpoint,
            root,
        };
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(std::time::Instant::now() < deadline, "s3s-fs did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(server)
    }

    pub fn bucket(&self, name: &str) {
        std::fs::create_dir_all(self.root.path().join(name)).unwrap();
    }

    /// An object of 550 bytes (a revision file's size) that landed `age` ago.
    pub fn put(&self, bucket: &str, key: &str, age: Duration) {
        let path = self.root.path().join(bucket).join(key);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let file = std::fs::File::create(&path).unwrap();
        file.set_len(550).unwrap();
        file.set_modified(SystemTime::now() - age).unwrap();
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
