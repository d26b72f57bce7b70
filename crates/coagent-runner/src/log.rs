//! The bounded log of a DO run: the first and last bytes of what the script printed.
//!
//! It owns the memory bound: whatever a script prints, the log keeps at most
//! `head + tail` bytes and counts the rest. It never decodes or rewrites the bytes
//! (non-UTF-8 output is kept as it came) and never writes anywhere itself.

/// The first `head` and last `tail` bytes of a run's merged output, with what was cut.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BoundedLog {
    /// The first bytes, up to the head limit.
    pub head: Vec<u8>,
    /// The last bytes that did not fit in the head, up to the tail limit.
    pub tail: Vec<u8>,
    /// Every byte the script printed.
    pub total_bytes: u64,
    /// Bytes neither in `head` nor in `tail`.
    pub cut_bytes: u64,
}

impl BoundedLog {
    /// The log as one byte string: head, a marker saying how much was cut (only when
    /// something was), then tail.
    pub fn render(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.head.len() + self.tail.len() + 64);
        out.extend_from_slice(&self.head);
        if self.cut_bytes > 0 {
            out.extend_from_slice(self.cut_marker().as_bytes());
        }
        out.extend_from_slice(&self.tail);
        out
    }

    /// The line placed between head and tail when output was cut.
    pub fn cut_marker(&self) -> String {
        format!("\n[… coagent cut {} bytes of output …]\n", self.cut_bytes)
    }

    /// Whether anything was cut.
    pub fn is_truncated(&self) -> bool {
        self.cut_bytes > 0
    }
}

/// Collects output chunk by chunk into a fixed head buffer and a ring-buffer tail.
#[derive(Debug)]
pub struct LogBuilder {
    head: Vec<u8>,
    head_limit: usize,
    ring: Vec<u8>,
    tail_limit: usize,
    /// Next write position in `ring` once it is full.
    ring_pos: usize,
    total: u64,
}

impl LogBuilder {
    /// A builder keeping at most `head_limit` + `tail_limit` bytes.
    pub fn new(head_limit: usize, tail_limit: usize) -> Self {
        LogBuilder {
            head: Vec::new(),
            head_limit,
            ring: Vec::new(),
            tail_limit,
            ring_pos: 0,
            total: 0,
        }
    }

    /// Appends a chunk of output.
    pub fn push(&mut self, mut chunk: &[u8]) {
        self.total += chunk.len() as u64;
        let room = self.head_limit - self.head.len();
        if room > 0 {
            let take = room.min(chunk.len());
            self.head.extend_from_slice(&chunk[..take]);
            chunk = &chunk[take..];
        }
        if chunk.is_empty() || self.tail_limit == 0 {
            return;
        }
        if chunk.len() >= self.tail_limit {
            // The chunk alone fills the tail: keep its end, forget the ring.
            self.ring.clear();
            self.ring
                .extend_from_slice(&chunk[chunk.len() - self.tail_limit..]);
            self.ring_pos = 0;
            return;
        }
        let fill = (self.tail_limit - self.ring.len()).min(chunk.len());
        if fill > 0 {
            // Still growing: append (ring_pos stays 0 until the ring is full).
            self.ring.extend_from_slice(&chunk[..fill]);
            chunk = &chunk[fill..];
        }
        while !chunk.is_empty() {
            let n = (self.tail_limit - self.ring_pos).min(chunk.len());
            self.ring[self.ring_pos..self.ring_pos + n].copy_from_slice(&chunk[..n]);
            self.ring_pos = (self.ring_pos + n) % self.tail_limit;
            chunk = &chunk[n..];
        }
    }

    /// Bytes seen so far.
    pub fn total_bytes(&self) -> u64 {
        self.total
    }

    /// The finished log.
    pub fn finish(mut self) -> BoundedLog {
        self.ring.rotate_left(self.ring_pos);
        let kept = (self.head.len() + self.ring.len()) as u64;
        BoundedLog {
            head: self.head,
            tail: self.ring,
            total_bytes: self.total,
            cut_bytes: self.total - kept,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(head: usize, tail: usize, chunks: &[&[u8]]) -> BoundedLog {
        let mut b = LogBuilder::new(head, tail);
        for c in chunks {
            b.push(c);
        }
        b.finish()
    }

    #[test]
    fn small_output_is_kept_whole_without_marker() {
        let log = collect(8, 8, &[b"hello ", b"world"]);
        assert_eq!(log.render(), b"hello world");
        assert_eq!(log.cut_bytes, 0);
        assert_eq!(log.total_bytes, 11);
    }

    #[test]
    fn long_output_keeps_head_and_tail_and_says_what_was_cut() {
        let data: Vec<u8> = (0..1000u32).map(|i| (i % 251) as u8).collect();
        // Odd chunk sizes exercise the ring's wrap-around.
        let chunks: Vec<&[u8]> = data.chunks(7).collect();
        let log = collect(10, 20, &chunks);
        assert_eq!(log.head, &data[..10]);
        assert_eq!(log.tail, &data[980..]);
        assert_eq!(log.cut_bytes, 970);
        let rendered = log.render();
        let marker = b"\n[\xE2\x80\xA6 coagent cut 970 bytes of output \xE2\x80\xA6]\n";
        assert_eq!(&rendered[10..10 + marker.len()], marker);
        assert!(rendered.ends_with(&data[980..]));
    }

    #[test]
    fn one_huge_chunk_keeps_its_end() {
        let data: Vec<u8> = (0..=255u8).collect();
        let log = collect(4, 16, &[&data[..3], &data[3..]]);
        assert_eq!(log.head, &data[..4]);
        assert_eq!(log.tail, &data[240..]);
        assert_eq!(log.cut_bytes, 256 - 20);
    }

    #[test]
    fn every_split_gives_the_same_log() {
        let data: Vec<u8> = (0..300u32).map(|i| (i * 7 % 256) as u8).collect();
        let whole = collect(13, 29, &[&data]);
        for size in 1..40 {
            let chunks: Vec<&[u8]> = data.chunks(size).collect();
            assert_eq!(collect(13, 29, &chunks), whole, "chunk size {size}");
        }
    }

    #[test]
    fn zero_limits_count_everything_as_cut() {
        let log = collect(0, 0, &[b"abc"]);
        assert!(log.head.is_empty() && log.tail.is_empty());
        assert_eq!(log.cut_bytes, 3);
    }
}
