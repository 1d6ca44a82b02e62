//! Gzip of the exposition in two parts: the snapshot part compressed once,
//! the per-scrape tail appended as stored blocks to make one gzip member.

use std::io::Write as _;

use bytes::Bytes;
use flate2::Compression;
use flate2::Crc;
use flate2::write::DeflateEncoder;

/// The start of a gzip member for a body that begins with `chunks` and
/// goes on with a part not known yet: the gzip header, then the chunks as
/// raw deflate blocks ending with a sync flush (byte-aligned, not final).
/// [`GzipHead::finish`] appends the rest, making one ordinary gzip member.
/// This is how pigz joins blocks compressed apart.
#[derive(Debug, Default)]
pub struct GzipHead {
    /// Header and deflate blocks.
    pub bytes: Bytes,
    crc: Crc,
    len: u64,
}

/// Gzip header: no name, no time, unknown OS.
const GZIP_HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];

impl GzipHead {
    /// Compresses `chunks` (fast level).
    pub fn new(chunks: &[Bytes]) -> GzipHead {
        let len: usize = chunks.iter().map(Bytes::len).sum();
        let mut out = Vec::with_capacity(len / 8 + 64);
        out.extend_from_slice(&GZIP_HEADER);
        let mut crc = Crc::new();
        let mut enc = DeflateEncoder::new(out, Compression::fast());
        for c in chunks {
            crc.update(c);
            // Writing into a Vec cannot fail.
            let _ = enc.write_all(c);
        }
        // A sync flush ends the blocks on a byte boundary without ending the
        // stream; the encoder's final block is then dropped with it.
        let _ = enc.flush();
        let mut out = std::mem::take(enc.get_mut());
        out.shrink_to_fit();
        GzipHead {
            bytes: Bytes::from(out),
            crc,
            len: len as u64,
        }
    }

    /// The rest of the member after [`GzipHead::bytes`]: `tail` as stored
    /// (uncompressed) deflate blocks, the last one final, then the CRC-32 and
    /// length of the whole body. The tail is a few kilobytes of health and
    /// process metrics: storing it costs a copy, where compressing it would
    /// cost setting up a compressor on every scrape.
    pub fn finish(&self, tail: &[u8]) -> Vec<u8> {
        const MAX_STORED: usize = u16::MAX as usize;
        let blocks = tail.len().div_ceil(MAX_STORED).max(1);
        let mut out = Vec::with_capacity(tail.len() + 5 * blocks + 8);
        for i in 0..blocks {
            let block = tail
                .get(i * MAX_STORED..tail.len().min((i + 1) * MAX_STORED))
                .unwrap_or_default();
            // BFINAL in bit 0, BTYPE 00 (stored); the head ended on a byte
            // boundary, and a stored block's header pads to the next one.
            out.push(u8::from(i + 1 == blocks));
            let len = block.len() as u16;
            out.extend_from_slice(&len.to_le_bytes());
            out.extend_from_slice(&(!len).to_le_bytes());
            out.extend_from_slice(block);
        }
        let mut tail_crc = Crc::new();
        tail_crc.update(tail);
        let mut crc = Crc::new();
        crc.combine(&self.crc);
        crc.combine(&tail_crc);
        out.extend_from_slice(&crc.sum().to_le_bytes());
        // ISIZE is the length modulo 2^32 (RFC 1952).
        out.extend_from_slice(&((self.len + tail.len() as u64) as u32).to_le_bytes());
        out
    }
}
