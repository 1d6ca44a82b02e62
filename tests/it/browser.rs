//! The status page in a real headless Chromium (Debian's `chromium`
//! package), against the demo fleet: the page loads without console errors,
//! both tables show the fleet, a filter narrows the table, hostile site names
//! stay text, and screenshots land in target/test-output/.
//!
//! Chromium is driven through its command line only (`--dump-dom` gives the
//! DOM after scripts ran, `--screenshot` a PNG, `--enable-logging=stderr`
//! the console). Without it the test is skipped, except under `CI=true`.
//! `CHROMIUM=/path/to/chromium` picks another binary.

use crate::support;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long one Chromium run may take before it is killed.
const CHROMIUM_TIMEOUT: Duration = Duration::from_secs(30);

fn chromium_binary() -> Option<PathBuf> {
    let path = std::env::var_os("CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    path.is_file().then_some(path)
}

fn test_output_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .unwrap()
        .join("test-output");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// What one Chromium run printed.
struct Run {
    stdout: String,
    stderr: String,
}

impl Run {
    /// Console messages (any level) from pages of `origin`, and uncaught
    /// errors from anywhere. The page logs nothing, so any is a failure.
    fn console_messages(&self, origin: &str) -> Vec<&str> {
        self.stderr
            .lines()
            .filter(|l| (l.contains(":CONSOLE") && l.contains(origin)) || l.contains("Uncaught"))
            .collect()
    }
}

/// Runs headless Chromium with `args` and a fresh profile; blocking.
fn chromium(binary: &Path, work: &Path, name: &str, args: &[&str]) -> Run {
    let profile = work.join(format!("profile-{name}"));
    let out_path = work.join(format!("{name}.stdout"));
    let err_path = work.join(format!("{name}.stderr"));
    let mut child = Command::new(binary)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-extensions",
            "--hide-scrollbars",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .stdin(Stdio::null())
        .stdout(File::create(&out_path).unwrap())
        .stderr(File::create(&err_path).unwrap())
        .spawn()
        .expect("chromium starts");
    let deadline = Instant::now() + CHROMIUM_TIMEOUT;
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium {args:?} took longer than {CHROMIUM_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    Run {
        stdout: String::from_utf8_lossy(&std::fs::read(&out_path).unwrap()).into_owned(),
        stderr: String::from_utf8_lossy(&std::fs::read(&err_path).unwrap()).into_owned(),
    }
}

fn count(haystack: &str, needle: &str) -> usize {
    haystack.matches(needle).count()
}

fn assert_png(path: &Path) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(
        bytes.starts_with(b"\x89PNG\r\n\x1a\n"),
        "{} is a PNG",
        path.display()
    );
    assert!(
        bytes.len() > 20_000,
        "{} has content ({} bytes)",
        path.display(),
        bytes.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_status_page_works_in_headless_chromium() {
    let Some(binary) = chromium_binary() else {
        support::require(false, "chromium", "chromium");
        return;
    };

    let (_fake, app) = support::start_demo().await;
    let origin = format!("http://{}", app.addr);

    // What the page should show, from the API.
    let sites: serde_json::Value = serde_json::from_str(
        &reqwest::get(format!("{origin}/api/v1/sites"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    )
    .unwrap();
    let urls: Vec<String> = sites["sites"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["url"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(urls.len(), 40, "the demo fleet");
    let shop_sites = urls.iter().filter(|u| u.contains("shop")).count();
    assert!(shop_sites > 0 && shop_sites < 40);

    let work = tempfile::tempdir().unwrap();
    let out_dir = test_output_dir();
    let (page, filtered, shot, phone) = {
        let binary = binary.clone();
        let work = work.path().to_path_buf();
        let origin = origin.clone();
        let out_dir = out_dir.clone();
        tokio::task::spawn_blocking(move || {
            let desktop = out_dir.join("status-page.png");
            let phone = out_dir.join("status-page-phone.png");
            let _ = std::fs::remove_file(&desktop);
            let _ = std::fs::remove_file(&phone);
            let page = chromium(
                &binary,
                &work,
                "page",
                &["--dump-dom", &format!("{origin}/")],
            );
            let filtered = chromium(
                &binary,
                &work,
                "filtered",
                &["--dump-dom", &format!("{origin}/?q=shop")],
            );
            let shot = chromium(
                &binary,
                &work,
                "screenshot",
                &[
                    &format!("--screenshot={}", desktop.display()),
                    "--window-size=1280,2000",
                    &format!("{origin}/"),
                ],
            );
            let phone_run = chromium(
                &binary,
                &work,
                "phone",
                &[
                    &format!("--screenshot={}", phone.display()),
                    "--window-size=390,1400",
                    &format!("{origin}/?problems=1"),
                ],
            );
            (page, filtered, shot, phone_run)
        })
        .await
        .unwrap()
    };
    std::fs::write(out_dir.join("status-page.dom.html"), &page.stdout).unwrap();

    let dom = &page.stdout;
    assert!(
        dom.contains("<html lang=\"en\" data-js=\"ready\">"),
        "the page's script ran to its end: {}",
        &dom[..dom.len().min(400)]
    );
    for run in [&page, &filtered, &shot, &phone] {
        let messages = run.console_messages(&origin);
        assert!(messages.is_empty(), "console messages: {messages:#?}");
    }

    // Both tables show the demo fleet.
    assert_eq!(
        count(dom, "<tr class=\"site "),
        40,
        "every site on the first page"
    );
    assert_eq!(
        count(dom, "<tr class=\"integration "),
        6,
        "five integrations and the deleted one a schedule points at"
    );
    assert!(dom.contains("data-status=\"missing\""));
    assert!(dom.contains("data-status=\"unused\""));
    assert!(dom.contains("Showing 1–40 of 40 sites."));
    assert_eq!(
        count(dom, "#schedules-h\">"),
        5,
        "the site count of each integration in use (and the deleted one) leads to its sites"
    );

    // Hostile site names are text: the exact URL is in a text node, and the
    // only script element is the page's own.
    assert!(
        dom.contains("<span class=\"url\">&lt;script&gt;alert(1)&lt;/script&gt;\n\"evil\\\"-ünï.example.net</span>"),
        "the hostile URL shows as text"
    );
    assert!(
        dom.contains(
            "<span class=\"url\">ünï-кириллица.\"quoted\"\\back\\slash.example.com</span>"
        )
    );
    assert_eq!(count(dom, "<script"), 1, "no injected script element");
    assert!(dom.contains("<script src=\"static/status.js\" defer=\"\"></script>"));
    assert!(!dom.contains("<script>alert"));

    // A filter narrows the table.
    let f = &filtered.stdout;
    assert!(f.contains("data-js=\"ready\""));
    assert_eq!(
        count(f, "<tr class=\"site "),
        shop_sites,
        "only the shop sites"
    );
    assert!(f.contains(&format!(
        "Showing 1–{shop_sites} of {shop_sites} sites (filtered from 40)."
    )));
    assert!(
        f.contains("value=\"shop\""),
        "the search box keeps the search"
    );
    for row in f.split("<tr class=\"site ").skip(1) {
        let url_start = row.find("<span class=\"url\">").unwrap();
        assert!(
            row[url_start..]
                .split("</span>")
                .next()
                .unwrap()
                .contains("shop")
        );
    }

    // Screenshots for people (and docs/status-page.png).
    assert_png(&out_dir.join("status-page.png"));
    assert_png(&out_dir.join("status-page-phone.png"));
    eprintln!("screenshots in {}", out_dir.display());

    app.shutdown().await;
}

/// What a measuring script appended to a page reports once it has loaded:
/// the viewport's width, and how far the widest table reaches and how wide
/// its scrolling box scrolls.
const MEASURE: &str = r#"<script>
addEventListener("load", () => {
  const out = [];
  for (const t of document.querySelectorAll("table")) {
    const box = t.closest(".scroll") || t.parentElement;
    out.push(t.id + ":" + Math.ceil(t.getBoundingClientRect().right) + ":" + box.scrollWidth + ":" + box.clientWidth);
  }
  document.body.setAttribute("data-measured", document.documentElement.clientWidth + "|" + out.join(","));
});
</script>"#;

/// Loads `html` (the page as the exporter served it, with `script` as its
/// `static/status.js`) from a file in `work`, with [`MEASURE`] appended,
/// in a window `width` px wide; returns each table's id with its right
/// edge, its box's scroll width and client width, and the viewport width.
fn measure_tables(
    binary: &Path,
    work: &Path,
    name: &str,
    html: &str,
    script: &str,
    width: u32,
) -> (u32, Vec<(String, u32, u32, u32)>) {
    let dir = work.join(name);
    std::fs::create_dir_all(dir.join("static")).unwrap();
    std::fs::write(dir.join("static/status.js"), script).unwrap();
    let page = dir.join("page.html");
    std::fs::write(&page, html.replace("</body>", &format!("{MEASURE}</body>"))).unwrap();
    let run = chromium(
        binary,
        work,
        name,
        &[
            &format!("--window-size={width},1000"),
            "--virtual-time-budget=3000",
            "--dump-dom",
            &format!("file://{}", page.display()),
        ],
    );
    let measured = run
        .stdout
        .split("data-measured=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap_or_else(|| panic!("the script measured nothing: {}", run.stderr));
    let (viewport, tables) = measured.split_once('|').unwrap();
    let tables = tables
        .split(',')
        .filter(|t| !t.is_empty())
        .map(|t| {
            let p: Vec<&str> = t.split(':').collect();
            let n = |i: usize| p[i].parse::<u32>().unwrap();
            (p[0].to_string(), n(1), n(2), n(3))
        })
        .collect();
    (viewport.parse().unwrap(), tables)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_schedules_table_and_a_site_page_fit_a_1400_px_window() {
    let Some(binary) = chromium_binary() else {
        support::require(false, "chromium", "chromium");
        return;
    };
    let (_fake, app) = support::start_demo().await;
    let origin = format!("http://{}", app.addr);
    let get = |path: String| {
        let url = format!("{origin}{path}");
        async move { reqwest::get(url).await.unwrap().text().await.unwrap() }
    };
    let page = get("/?per_page=1000".to_string()).await;
    let script = get("/static/status.js".to_string()).await;
    let sites: serde_json::Value =
        serde_json::from_str(&get("/api/v1/sites".into()).await).unwrap();
    // The site with the most to show: problems, a remote schedule.
    let site = sites["sites"]
        .as_array()
        .unwrap()
        .iter()
        .max_by_key(|s| s["problems"].as_array().map_or(0, Vec::len))
        .unwrap();
    let site_page = get(site["page"].as_str().unwrap().to_string()).await;
    app.shutdown().await;

    let work = tempfile::tempdir().unwrap();
    let (work_path, binary2) = (work.path().to_path_buf(), binary.clone());
    let (status, one) = tokio::task::spawn_blocking(move || {
        (
            measure_tables(&binary2, &work_path, "wide", &page, &script, 1400),
            measure_tables(&binary2, &work_path, "site", &site_page, &script, 1400),
        )
    })
    .await
    .unwrap();
    for (page, (viewport, tables)) in [("status page", status), ("site page", one)] {
        assert!(viewport > 1300 && viewport <= 1400, "{page}: {viewport}");
        assert!(!tables.is_empty(), "{page}: tables measured");
        for (id, right, scroll, client) in tables {
            assert!(
                right <= viewport && scroll <= client,
                "{page}: table {id:?} is wider than the window: its right edge at {right} px of {viewport}, its box scrolls {scroll} px in {client}"
            );
        }
    }
}
