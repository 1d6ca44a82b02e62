//! The fake account's ground truth, generated deterministically from a seed.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// What to generate.
#[derive(Clone, Debug)]
pub struct FleetSpec {
    pub seed: u64,
    pub servers: usize,
    pub sites: usize,
}

impl FleetSpec {
    /// The fleet served by `--demo`: seed 42, 3 servers, 40 sites.
    pub fn demo() -> Self {
        Self {
            seed: 42,
            servers: 3,
            sites: 40,
        }
    }
}

/// Everything the fake serves, so tests can assert exporter output for specific sites.
#[derive(Clone, Debug)]
pub struct Fleet {
    pub servers: Vec<FakeServer>,
    pub sites: Vec<FakeSite>,
    /// Remote backup integrations only (what `/backups/integrations` lists).
    pub integrations: Vec<FakeIntegration>,
    /// How `/backups/original/{id}` lays out the record.
    pub history_shape: HistoryShape,
    /// Unix seconds the backup record is rendered at; `None`: the wall clock.
    pub history_now: Option<i64>,
}

#[derive(Clone, Debug)]
pub struct FakeServer {
    pub id: u64,
    pub label: String,
    pub ip: String,
    pub region: String,
    /// `update_backups`: the server is on Backups V2.
    pub backups_v2: bool,
}

#[derive(Clone, Debug)]
pub struct FakeSite {
    pub id: u64,
    pub url: String,
    pub server_id: u64,
    /// Served as `type`: `primary`, or `staging` for every fifth site.
    pub site_type: &'static str,
    pub local_bup: bool,
    pub remote_bup: bool,
    pub local_schedule: Option<FakeSchedule>,
    pub remote_schedule: Option<FakeSchedule>,
    /// 0 keeps everything.
    pub local_retain_days: u32,
    /// 0 keeps everything.
    pub remote_retain_days: u32,
    /// 0..=3, see the API notes.
    pub local_prune_schedule: u8,
    /// 0..=3, see the API notes.
    pub remote_prune_schedule: u8,
    pub problems: Vec<SiteFault>,
    /// What GridPane's backup record holds for the site.
    pub history: FakeHistory,
}

#[derive(Clone, Debug)]
pub struct FakeSchedule {
    pub id: u64,
    pub frequency: FakeFrequency,
    pub hour: u8,
    pub minute: u8,
    /// Weekly: 0..=6 (0 = Sunday). Monthly: 1..=28. Otherwise `None`.
    pub day: Option<u8>,
    pub service_id: Option<u64>,
    pub service_name: Option<String>,
    /// Served as `service_user_id`: the integration the remote backups go to.
    pub integration_id: Option<u64>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FakeFrequency {
    Hourly,
    Daily,
    Weekly,
    Monthly,
}

impl FakeFrequency {
    pub const ALL: [FakeFrequency; 4] = [
        FakeFrequency::Hourly,
        FakeFrequency::Daily,
        FakeFrequency::Weekly,
        FakeFrequency::Monthly,
    ];

    /// The `bup_schedule` string.
    pub fn as_str(self) -> &'static str {
        match self {
            FakeFrequency::Hourly => "hourly",
            FakeFrequency::Daily => "daily",
            FakeFrequency::Weekly => "weekly",
            FakeFrequency::Monthly => "monthly",
        }
    }
}

#[derive(Clone, Debug)]
pub struct FakeIntegration {
    pub id: u64,
    pub name: String,
    /// `aws-s3`, `backblaze`, `dropbox` or `wasabi`.
    pub provider: String,
    pub region: Option<String>,
    pub service_id: u64,
}

/// How the fake lays out a backup record (`/backups/original/{id}`; the
/// history module renders it). Every shape is by source, then by type.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum HistoryShape {
    /// The production shape: one comma-separated string of names per type.
    #[default]
    Production,
    /// Lists of name strings in place of the strings.
    BySource,
    /// Lists of objects, each naming its backup in `name`.
    Objects,
}

/// A backup record the exporter must not read as OK: each row of the
/// hostile answers in docs/policy.md ("Unknown is never OK").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HostileRecord {
    /// The site's real record, with a `generated_at` of now beside it and
    /// its backups stopped this many days ago.
    DateElsewhere { days: u32 },
    /// The site's real record plus a name dated 2099-01-01 00:00.
    FutureName,
    /// `{"success": false, ...}`.
    SuccessFalse,
    /// `{"success": "false", ...}` beside the real backups.
    SuccessFalseString,
    /// 200 with an HTML page.
    Html,
    /// 204 with no body.
    NoContent,
    /// The first half of the real body.
    Truncated,
    /// The real record beside a value nested 40 deep.
    Deep,
    /// Names as epoch numbers.
    Epoch,
    /// Names as ISO-8601 times.
    Iso,
    /// `{}`.
    EmptyObject,
    /// `null`.
    Null,
    /// `[]`.
    EmptyList,
    /// About this many bytes of `[0,0,0,...]`, streamed without a length.
    Zeros(usize),
}

/// What a site's backup record holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FakeHistory {
    /// Backups as the schedules say, up to the record's time.
    #[default]
    Regular,
    /// Backups as the schedules say, but none in the last `days` days.
    Stopped { days: u32 },
    /// No backup at all.
    Never,
    /// An answer that is not a readable record.
    Hostile(HostileRecord),
}

/// A deliberate misconfiguration planted on a site.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SiteFault {
    /// `local_bup` false, but a local schedule row still exists.
    LocalOff,
    /// `remote_bup` false, but a remote schedule row still exists.
    RemoteOff,
    /// `remote_bup` false and no remote schedule row.
    RemoteNeverSetUp,
    /// The remote schedule's `service_user_id` names an integration that no longer exists.
    IntegrationDeleted,
    /// No schedule rows at all although `local_bup` (and `remote_bup`) are true.
    /// Sites with an even id are absent from `/backups/schedules`; odd ids
    /// appear with an empty `schedule_backups`.
    NoSchedule,
    /// `local_retain_days` is 1 or 2.
    ShortRetention,
    /// A URL with quotes, backslashes, a newline, non-ASCII or HTML in it;
    /// otherwise healthy.
    HostileName,
}

/// The problems of the first sites, in site order. Sites are numbered so
/// that neighbouring ids alternate in parity, which puts the two
/// `NoSchedule` sites (4 and 7) on different forms.
const PROBLEM_SLOTS: [SiteFault; 9] = [
    SiteFault::LocalOff,
    SiteFault::RemoteOff,
    SiteFault::RemoteNeverSetUp,
    SiteFault::IntegrationDeleted,
    SiteFault::NoSchedule,
    SiteFault::ShortRetention,
    SiteFault::HostileName,
    SiteFault::NoSchedule,
    SiteFault::HostileName,
];

/// The first healthy site keeps all backups (retain days 0).
const KEEP_ALL_SLOT: usize = PROBLEM_SLOTS.len();

/// Sites whose backup record is not regular: backups stopped twenty days
/// ago (its weekly local backups are overdue under the default policy, two
/// weeks and an hour), and never backed up (both with schedules on).
const HISTORY_SLOTS: [(usize, FakeHistory); 2] = [
    (KEEP_ALL_SLOT + 1, FakeHistory::Stopped { days: 20 }),
    (KEEP_ALL_SLOT + 2, FakeHistory::Never),
];

/// Sites before this index get their frequencies by rotation, so that every
/// frequency appears locally and remotely; later ones are drawn at random.
const ROTATION_SLOTS: usize = 16;

const HOSTILE_URLS: [&str; 2] = [
    "ünï-кириллица.\"quoted\"\\back\\slash.example.com",
    "<script>alert(1)</script>\n\"evil\\\"-ünï.example.net",
];

const REGIONS: [&str; 6] = ["nyc1", "ams3", "fra1", "sfo3", "lon1", "sgp1"];
const SITE_WORDS: [&str; 10] = [
    "shop",
    "blog",
    "news",
    "docs",
    "store",
    "studio",
    "agency",
    "cafe",
    "portfolio",
    "events",
];
const SITE_DOMAINS: [&str; 3] = ["example.com", "example.net", "example.org"];
const INTEGRATION_NAMES: [&str; 8] = [
    "Knight of Alderaan Major",
    "Padawan of Naboo Prime",
    "Smuggler of Corellia Minor",
    "Master of Dagobah Deep",
    "Pilot of Hoth Echo",
    "Droid of Tatooine East",
    "Senator of Coruscant High",
    "Scout of Endor Forest",
];
/// Backup providers with the `service_id` and region the fake gives them.
const PROVIDERS: [(&str, u64, Option<&str>); 4] = [
    ("aws-s3", 4, Some("us-east-1")),
    ("backblaze", 3, None),
    ("dropbox", 5, None),
    ("wasabi", 6, Some("us-east-2")),
];

impl Fleet {
    /// The same spec always yields the same fleet.
    ///
    /// Layout: sites 0..9 carry the problems of `PROBLEM_SLOTS` (as many as
    /// fit), site 9 keeps all backups, the rest are healthy. There are always
    /// five backup integrations: one per provider in use plus an unused one.
    /// A fleet with sites has at least one server.
    pub fn generate(spec: &FleetSpec) -> Fleet {
        let mut rng = StdRng::seed_from_u64(spec.seed);

        let server_count = if spec.sites > 0 {
            spec.servers.max(1)
        } else {
            spec.servers
        };
        let mut servers = Vec::with_capacity(server_count);
        let mut server_id = 33_000 + rng.random_range(0..900u64);
        for k in 0..server_count {
            if k > 0 {
                // Steps ending in 7 make neighbouring ids alternate in parity.
                server_id += 10 * rng.random_range(0..40u64) + 7;
            }
            servers.push(FakeServer {
                id: server_id,
                label: format!("web-{:02}", k + 1),
                ip: format!("203.0.{}.{}", 113 + k / 200, 10 + k % 200),
                region: REGIONS[k % REGIONS.len()].to_owned(),
                backups_v2: k != 3,
            });
        }

        let mut integrations = Vec::with_capacity(PROVIDERS.len() + 1);
        let mut integration_id = 2_700 + rng.random_range(0..80u64);
        let name_offset = rng.random_range(0..INTEGRATION_NAMES.len());
        for (k, (provider, service_id, region)) in PROVIDERS.iter().enumerate() {
            integrations.push(FakeIntegration {
                id: integration_id,
                name: INTEGRATION_NAMES[(name_offset + k) % INTEGRATION_NAMES.len()].to_owned(),
                provider: (*provider).to_owned(),
                region: region.map(str::to_owned),
                service_id: *service_id,
            });
            integration_id += rng.random_range(1..40u64);
        }
        integrations.push(FakeIntegration {
            id: integration_id,
            name: format!(
                "{} (unused)",
                INTEGRATION_NAMES[(name_offset + PROVIDERS.len()) % INTEGRATION_NAMES.len()]
            ),
            provider: "wasabi".to_owned(),
            region: Some("eu-central-1".to_owned()),
            service_id: 6,
        });
        let deleted_integration_id = integration_id + 100 + rng.random_range(0..50u64);

        let mut sites = Vec::with_capacity(spec.sites);
        let mut site_id = 495_000 + rng.random_range(0..2_000u64);
        let mut schedule_id = 156_000 + rng.random_range(0..3_000u64);
        for i in 0..spec.sites {
            if i > 0 {
                // Steps ending in 3 cycle the last digit through all ten values,
                // so ids alternate in parity and cover every `SiteDrift`.
                site_id += 10 * rng.random_range(0..5u64) + 3;
            }
            let problem = PROBLEM_SLOTS.get(i).copied();
            let hostile = PROBLEM_SLOTS[..i.min(PROBLEM_SLOTS.len())]
                .iter()
                .filter(|p| **p == SiteFault::HostileName)
                .count();
            let url = match problem {
                Some(SiteFault::HostileName) => {
                    HOSTILE_URLS[hostile % HOSTILE_URLS.len()].to_owned()
                }
                _ => format!(
                    "{}-{}.{}",
                    SITE_WORDS[rng.random_range(0..SITE_WORDS.len())],
                    i + 1,
                    SITE_DOMAINS[rng.random_range(0..SITE_DOMAINS.len())]
                ),
            };
            let server_id = servers
                .get(rng.random_range(0..servers.len().max(1)))
                .map_or(0, |s| s.id);

            let local_frequency = if i < ROTATION_SLOTS {
                FakeFrequency::ALL[i % 4]
            } else {
                random_frequency(&mut rng)
            };
            let remote_frequency = if i < ROTATION_SLOTS {
                FakeFrequency::ALL[(i + 1) % 4]
            } else {
                random_frequency(&mut rng)
            };
            let local_schedule = random_schedule(&mut rng, schedule_id, local_frequency, None);
            let used = &integrations[i % PROVIDERS.len()];
            let remote_schedule = random_schedule(
                &mut rng,
                schedule_id + 1,
                remote_frequency,
                Some((used.service_id, used.provider.clone(), used.id)),
            );
            schedule_id += 2 + rng.random_range(0..30u64);

            let mut site = FakeSite {
                id: site_id,
                url,
                server_id,
                site_type: if i % 5 == 4 { "staging" } else { "primary" },
                local_bup: true,
                remote_bup: true,
                local_schedule: Some(local_schedule),
                remote_schedule: Some(remote_schedule),
                local_retain_days: [30, 60, 90, 180, 360][rng.random_range(0..5)],
                remote_retain_days: [30, 90, 180, 360][rng.random_range(0..4)],
                local_prune_schedule: rng.random_range(0..=3),
                remote_prune_schedule: rng.random_range(0..=3),
                problems: problem.into_iter().collect(),
                history: HISTORY_SLOTS
                    .iter()
                    .find(|(slot, _)| *slot == i)
                    .map_or(FakeHistory::Regular, |(_, h)| *h),
            };
            match problem {
                Some(SiteFault::LocalOff) => site.local_bup = false,
                Some(SiteFault::RemoteOff) => site.remote_bup = false,
                Some(SiteFault::RemoteNeverSetUp) => {
                    site.remote_bup = false;
                    site.remote_schedule = None;
                }
                Some(SiteFault::IntegrationDeleted) => {
                    if let Some(remote) = site.remote_schedule.as_mut() {
                        remote.service_id = Some(6);
                        remote.service_name = Some("wasabi".to_owned());
                        remote.integration_id = Some(deleted_integration_id);
                    }
                }
                Some(SiteFault::NoSchedule) => {
                    site.local_schedule = None;
                    site.remote_schedule = None;
                }
                Some(SiteFault::ShortRetention) => {
                    site.local_retain_days = rng.random_range(1..=2);
                }
                Some(SiteFault::HostileName) | None => {}
            }
            if i == KEEP_ALL_SLOT {
                site.local_retain_days = 0;
                site.remote_retain_days = 0;
            }
            sites.push(site);
        }

        Fleet {
            servers,
            sites,
            integrations,
            history_shape: HistoryShape::default(),
            history_now: None,
        }
    }

    /// The first site that has this problem.
    pub fn site_with(&self, p: SiteFault) -> Option<&FakeSite> {
        self.sites.iter().find(|s| s.problems.contains(&p))
    }

    /// Removes the site; its schedules, domain and attachments go with it.
    pub fn remove_site(&mut self, site_id: u64) {
        self.sites.retain(|s| s.id != site_id);
    }

    /// Generated fleets list sites and servers in id order, so a lookup is
    /// a binary search (a fleet of 100k sites renders each site's server);
    /// a fleet a test edited out of order still finds it by a scan.
    pub(crate) fn site(&self, site_id: u64) -> Option<&FakeSite> {
        by_id(&self.sites, site_id, |s| s.id)
    }

    pub fn server(&self, server_id: u64) -> Option<&FakeServer> {
        by_id(&self.servers, server_id, |s| s.id)
    }

    pub fn integration(&self, integration_id: u64) -> Option<&FakeIntegration> {
        self.integrations.iter().find(|i| i.id == integration_id)
    }
}

/// Mostly daily, as on real fleets.
fn random_frequency(rng: &mut StdRng) -> FakeFrequency {
    match rng.random_range(0..10) {
        0 => FakeFrequency::Hourly,
        1 | 2 => FakeFrequency::Weekly,
        3 => FakeFrequency::Monthly,
        _ => FakeFrequency::Daily,
    }
}

fn random_schedule(
    rng: &mut StdRng,
    id: u64,
    frequency: FakeFrequency,
    remote: Option<(u64, String, u64)>,
) -> FakeSchedule {
    let hour = rng.random_range(0..24);
    let minute = 5 * rng.random_range(0..12);
    let day = match frequency {
        FakeFrequency::Weekly => Some(rng.random_range(0..=6)),
        FakeFrequency::Monthly => Some(rng.random_range(1..=28)),
        FakeFrequency::Hourly | FakeFrequency::Daily => None,
    };
    let (service_id, service_name, integration_id) = match remote {
        Some((service_id, name, integration)) => (Some(service_id), Some(name), Some(integration)),
        None => (None, None, None),
    };
    FakeSchedule {
        id,
        frequency,
        hour,
        minute,
        day,
        service_id,
        service_name,
        integration_id,
    }
}

fn by_id<T>(items: &[T], id: u64, id_of: impl Fn(&T) -> u64) -> Option<&T> {
    match items.binary_search_by_key(&id, &id_of) {
        Ok(i) => items.get(i),
        Err(_) => items.iter().find(|item| id_of(item) == id),
    }
}
