//! Gzip for request bodies, with the compressor's state reused.
//!
//! A deflate compressor carries a few hundred KiB of tables. Made afresh for
//! every request (as `flate2::write::GzEncoder` does), that memory is
//! allocated above the allocator's mmap threshold, so every request maps
//! it, zeroes it page by page through page faults, and unmaps it: in a
//! profile of OTLP/HTTP with gzip at full speed, the faults and the zeroing
//! took about a tenth of the export thread's time. [`Gzip`] keeps a few
//! compressors and resets them between requests, and writes the gzip
//! header and trailer (RFC 1952) itself. A reset compressor writes exactly
//! what a new one writes (the tests compare them).

use std::sync::{Mutex, PoisonError};

use flate2::{Compress, Compression, Crc, FlushCompress, Status};

/// Compressors kept for reuse: one per export running at once is enough.
const KEPT: usize = 4;

/// The gzip header `GzEncoder` writes at the fast level: no name, no
/// time, extra flags 4 ("fastest"), operating system unknown (255).
const HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 4, 0xff];

/// Gzips request bodies at the fast level, reusing compressor state. Share
/// one per exporter; it is `Sync`.
#[derive(Default)]
pub struct Gzip {
    spare: Mutex<Vec<Compress>>,
}

impl std::fmt::Debug for Gzip {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gzip").finish_non_exhaustive()
    }
}

impl Gzip {
    /// A gzip with no compressor made yet.
    pub fn new() -> Self {
        Gzip::default()
    }

    /// `body` as one gzip member. Errors only if the compressor reports
    /// one (it does not for input in memory); the message says what failed.
    pub fn compress(&self, body: &[u8]) -> Result<Vec<u8>, String> {
        let mut c = self
            .spare
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop()
            .unwrap_or_else(|| Compress::new(Compression::fast(), false));
        let out = deflate(&mut c, body);
        c.reset();
        let mut spare = self.spare.lock().unwrap_or_else(PoisonError::into_inner);
        if spare.len() < KEPT {
            spare.push(c);
        }
        out
    }
}

fn deflate(c: &mut Compress, body: &[u8]) -> Result<Vec<u8>, String> {
    // Trace batches compress well; the vector grows if this is short.
    let mut out = Vec::with_capacity(HEADER.len() + body.len() / 4 + 64);
    out.extend_from_slice(&HEADER);
    loop {
        if out.len() == out.capacity() {
            out.reserve(out.capacity());
        }
        let (before_in, before_out) = (c.total_in(), c.total_out());
        let consumed = usize::try_from(before_in).unwrap_or(usize::MAX);
        let rest = body.get(consumed..).unwrap_or_default();
        match c.compress_vec(rest, &mut out, FlushCompress::Finish) {
            Ok(Status::StreamEnd) => break,
            // Room was made above, so a call that moves nothing will
            // never finish: say so rather than loop.
            Ok(_) if c.total_in() == before_in && c.total_out() == before_out => {
                return Err(format!(
                    "gzip: the compressor made no progress at byte {consumed} of {}",
                    body.len()
                ));
            }
            Ok(_) => {}
            Err(e) => return Err(format!("gzip: {e}")),
        }
    }
    let mut crc = Crc::new();
    crc.update(body);
    out.extend_from_slice(&crc.sum().to_le_bytes());
    // ISIZE: the input's length modulo 2^32, as RFC 1952 says.
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn gunzip(gz: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(gz)
            .read_to_end(&mut out)
            .unwrap_or_default();
        out
    }

    /// Every body round-trips through `GzDecoder` (which checks the CRC
    /// and length in the trailer), and a reused compressor writes the same
    /// bytes as a new one.
    #[test]
    fn round_trips_and_reused_state_is_clean() {
        let gz = Gzip::new();
        let mut x = 0x2545_f491_4f6c_dd1d_u64;
        let noise: Vec<u8> = (0..100_000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        let text = b"gen_ai.request.model gpt-4o llm.call ".repeat(5_000);
        // Each input twice and in turn, so later ones run on reset state.
        for body in [&b""[..], b"x", &text, &noise, b"x", &text, &noise[..1000]] {
            let got = gz.compress(body).unwrap_or_default();
            let fresh = Gzip::new().compress(body).unwrap_or_default();
            assert!(got == fresh, "{} bytes in", body.len());
            assert_eq!(got[..10], HEADER);
            assert!(gunzip(&got) == body, "{} bytes in", body.len());
        }
    }

    #[test]
    fn compressors_are_shared_across_threads() {
        let gz = std::sync::Arc::new(Gzip::new());
        let handles: Vec<_> = (0..4u8)
            .map(|i| {
                let gz = std::sync::Arc::clone(&gz);
                std::thread::spawn(move || {
                    let body = vec![i; 50_000 + usize::from(i)];
                    for _ in 0..10 {
                        let got = gz.compress(&body).unwrap_or_default();
                        assert!(gunzip(&got) == body);
                    }
                })
            })
            .collect();
        for h in handles {
            assert!(h.join().is_ok());
        }
        assert!(gz.spare.lock().map(|s| s.len()).unwrap_or(0) <= KEPT);
    }
}
