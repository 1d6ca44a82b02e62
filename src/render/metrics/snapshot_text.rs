//! The snapshot part of the exposition as text: one buffer per family,
//! sized or recycled from the previous render, served as chunks. It renders assessed snapshots only, as the
//! store holds them: the same path for a scrape, a test and the benchmark.

use bytes::Bytes;
use chrono::{DateTime, Utc};

use super::families::{Fam, SNAPSHOT_FAMILIES};
use super::walk::{Sink, walk_snapshots};
use crate::domain::Assessed;
use crate::render::text::{write_header, write_sample};

/// The snapshot part of the exposition, in the text format.
#[derive(Clone, Debug, Default)]
pub struct SnapshotText {
    /// One chunk per non-empty family (its `# HELP` and `# TYPE` lines, then
    /// its samples), in output order. Served as they are, never joined.
    pub chunks: Vec<Bytes>,
    /// Total length of the chunks.
    pub len: usize,
    /// The earliest next run of a backup schedule in the output: from then
    /// on, a fresh render differs.
    pub valid_until: Option<DateTime<Utc>>,
    /// Bytes of each family (0 when empty), to size the next render.
    family_sizes: [usize; SNAPSHOT_FAMILIES.len()],
}

impl SnapshotText {
    /// The chunks joined (tests and benchmarks).
    pub fn to_vec(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.len);
        for c in &self.chunks {
            out.extend_from_slice(c);
        }
        out
    }
}

/// Writes samples as text, one buffer per family.
struct TextSink(Vec<Vec<u8>>);

impl Sink for TextSink {
    fn push(&mut self, family: Fam, labels: &[(&str, &str)], value: f64) {
        let i = family as usize;
        let (Some(out), Some((name, help))) = (self.0.get_mut(i), SNAPSHOT_FAMILIES.get(i)) else {
            return;
        };
        if out.is_empty() {
            write_header(out, name, help, "gauge");
        }
        write_sample(out, name, labels, value);
    }
}

/// Renders the snapshot part of the exposition as text, from snapshots
/// as the store holds them (each with its assessment).
pub fn snapshot_text(snapshots: &[&Assessed], now: DateTime<Utc>) -> SnapshotText {
    render_into(snapshots, now, Buffers::default())
}

/// Renders like [`snapshot_text`], sizing each family's buffer from a
/// previous render (plus a little): in steady state every family is
/// allocated once, never grown, so large buffers do not leave freed copies
/// behind in the allocator.
pub fn snapshot_text_sized(
    snapshots: &[&Assessed],
    now: DateTime<Utc>,
    previous: Option<&SnapshotText>,
) -> SnapshotText {
    let buffers = previous.map_or_else(Buffers::default, |p| Buffers::sized(&p.family_sizes));
    render_into(snapshots, now, buffers)
}

/// Renders like [`snapshot_text`] into the buffers of a previous render that
/// nothing else holds any more (a family whose chunk is still shared gets a
/// new buffer, sized from it). Memory that was written once is written
/// again, instead of being returned to the system and faulted in anew.
pub fn snapshot_text_recycled(
    snapshots: &[&Assessed],
    now: DateTime<Utc>,
    previous: SnapshotText,
) -> SnapshotText {
    render_into(snapshots, now, Buffers::recycled(previous))
}

/// One output buffer per snapshot family.
struct Buffers([Vec<u8>; SNAPSHOT_FAMILIES.len()]);

impl Default for Buffers {
    fn default() -> Self {
        Buffers(std::array::from_fn(|_| Vec::new()))
    }
}

impl Buffers {
    fn sized(sizes: &[usize; SNAPSHOT_FAMILIES.len()]) -> Self {
        Buffers(std::array::from_fn(|i| {
            let before = sizes.get(i).copied().unwrap_or(0);
            Vec::with_capacity(before + before / 16)
        }))
    }

    fn recycled(previous: SnapshotText) -> Self {
        let mut buffers = Buffers::sized(&[0; SNAPSHOT_FAMILIES.len()]);
        let mut chunks = previous.chunks.into_iter();
        for (buffer, &size) in buffers.0.iter_mut().zip(&previous.family_sizes) {
            if size == 0 {
                continue;
            }
            *buffer = match chunks.next().map(Bytes::try_into_mut) {
                Some(Ok(unique)) => {
                    let mut reused = Vec::from(unique);
                    reused.clear();
                    reused
                }
                _ => Vec::with_capacity(size + size / 16),
            };
        }
        buffers
    }
}

fn render_into(snapshots: &[&Assessed], now: DateTime<Utc>, buffers: Buffers) -> SnapshotText {
    let mut sink = TextSink(buffers.0.into());
    let valid_until = walk_snapshots(snapshots, now, &mut sink);
    let mut family_sizes = [0; SNAPSHOT_FAMILIES.len()];
    for (size, b) in family_sizes.iter_mut().zip(&sink.0) {
        *size = b.len();
    }
    let chunks: Vec<Bytes> = sink
        .0
        .into_iter()
        .filter(|b| !b.is_empty())
        .map(|mut b| {
            // Unused capacity would be kept for as long as the cache is.
            b.shrink_to_fit();
            Bytes::from(b)
        })
        .collect();
    let len = chunks.iter().map(Bytes::len).sum();
    SnapshotText {
        chunks,
        len,
        valid_until,
        family_sizes,
    }
}

impl SnapshotText {
    /// The text's family sizes alone, no chunks: enough for
    /// [`snapshot_text_sized`] to size a render after it, without keeping
    /// its chunks in memory during that render.
    pub(crate) fn sizes_only(&self) -> SnapshotText {
        SnapshotText {
            family_sizes: self.family_sizes,
            ..SnapshotText::default()
        }
    }

    /// Each family's chunk, if it has one.
    fn by_family(&self) -> [Option<&Bytes>; SNAPSHOT_FAMILIES.len()] {
        let mut chunks = self.chunks.iter();
        std::array::from_fn(|i| {
            if self.family_sizes.get(i).copied().unwrap_or(0) > 0 {
                chunks.next()
            } else {
                None
            }
        })
    }

    /// Texts rendered apart (one per account, say), as one: byte for byte
    /// what rendering their snapshots together, in this order, gives. Each
    /// family's header is written once; the samples are the parts' own
    /// chunks, shared, not copied (so a merged text holds several chunks
    /// per family).
    pub(crate) fn merged<'a>(parts: impl IntoIterator<Item = &'a SnapshotText>) -> SnapshotText {
        let parts: Vec<&SnapshotText> = parts.into_iter().collect();
        let mut text = SnapshotText::default();
        let by_family: Vec<[Option<&Bytes>; SNAPSHOT_FAMILIES.len()]> =
            parts.iter().map(|p| p.by_family()).collect();
        for (i, (name, help)) in SNAPSHOT_FAMILIES.iter().enumerate() {
            let mut header_len = None;
            for chunk in by_family.iter().filter_map(|f| f.get(i).copied().flatten()) {
                let chunk = match header_len {
                    None => {
                        let mut header = Vec::new();
                        write_header(&mut header, name, help, "gauge");
                        header_len = Some(header.len());
                        chunk.clone()
                    }
                    Some(n) => chunk.slice(n.min(chunk.len())..),
                };
                if let Some(size) = text.family_sizes.get_mut(i) {
                    *size += chunk.len();
                }
                text.len += chunk.len();
                text.chunks.push(chunk);
            }
        }
        text.valid_until = parts.iter().filter_map(|p| p.valid_until).min();
        text
    }
}
