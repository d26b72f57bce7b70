//! Record ids: a kind prefix and a short random part in Crockford base32 (`DO-7K3M9Q2XAB`),
//! short enough to type and read aloud. There are no per-hub counters, because two machines
//! sharing a hub through git must never mint the same id: 10 characters carry 50 random bits,
//! so a hub with a million records of one kind collides with odds below one in two thousand,
//! and lookups accept any unique prefix (like git's short hashes), so users rarely type all 10.
//! BackchatMessage ids are full ULIDs (`BC-<ULID>`), as the message format requires.
//!
//! With `COAGENT_SEED` set the random source is seeded, so tests get the same ids every run.

use crate::clock::Millis;

const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
/// Length of the random part of every id but `BC-` ids.
pub const ID_LEN: usize = 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Session,
    Do,
    Artifact,
    Message,
    Wrap,
    Todo,
    Run,
}

impl Kind {
    /// What the kind is called in messages ("no DO matches …").
    pub fn noun(self) -> &'static str {
        match self {
            Kind::Session => "session",
            Kind::Do => "DO",
            Kind::Artifact => "artifact",
            Kind::Message => "message",
            Kind::Wrap => "wrap",
            Kind::Todo => "todo",
            Kind::Run => "run",
        }
    }

    pub fn prefix(self) -> &'static str {
        match self {
            Kind::Session => "S",
            Kind::Do => "DO",
            Kind::Artifact => "A",
            Kind::Message => "BC",
            Kind::Wrap => "W",
            Kind::Todo => "T",
            Kind::Run => "R",
        }
    }
}

/// The id source. Seeded in tests (`COAGENT_SEED`), from the OS otherwise.
#[derive(Debug)]
pub struct IdGen {
    rng: fastrand::Rng,
}

impl IdGen {
    pub fn new(seed: Option<u64>) -> IdGen {
        IdGen {
            rng: seed.map_or_else(fastrand::Rng::new, fastrand::Rng::with_seed),
        }
    }

    /// `COAGENT_SEED` (a number) when set; `mix` varies it between processes sharing a seed
    /// (the store passes a per-hub counter) so that a sequence of commands stays reproducible
    /// without two commands minting the same id.
    pub fn from_env(mix: impl FnOnce() -> u64) -> IdGen {
        match std::env::var("COAGENT_SEED")
            .ok()
            .and_then(|s| s.trim().parse::<u64>().ok())
        {
            Some(seed) => IdGen::new(Some(seed ^ mix().wrapping_mul(0x9E37_79B9_7F4A_7C15))),
            None => IdGen::new(None),
        }
    }

    pub fn seeded() -> bool {
        std::env::var("COAGENT_SEED").is_ok_and(|s| s.trim().parse::<u64>().is_ok())
    }

    pub fn next(&mut self, kind: Kind, now: Millis) -> String {
        if kind == Kind::Message {
            let ulid = ulid::Ulid::from_parts(now.max(0) as u64, self.rng.u128(..));
            return format!("BC-{ulid}");
        }
        let mut s = String::with_capacity(3 + ID_LEN);
        s.push_str(kind.prefix());
        s.push('-');
        for _ in 0..ID_LEN {
            s.push(CROCKFORD[self.rng.usize(..32)] as char);
        }
        s
    }
}

/// Normalises what a user typed: upper case, Crockford's look-alikes (`O`→`0`, `I`/`L`→`1`)
/// fixed in the random part. `do-7k3m` → `DO-7K3M`.
pub fn normalize(typed: &str) -> String {
    coagent_ingest::normalize_id(typed.trim())
}

/// What a user typed for an id of `kind`, normalised as [`normalize`] does; a bare random
/// part (`9edm`, no prefix) gets the kind's prefix (`DO-9EDM`).
pub fn normalize_as(kind: Kind, typed: &str) -> String {
    let t = typed.trim();
    if t.contains('-') {
        normalize(t)
    } else {
        normalize(&format!("{}-{t}", kind.prefix()))
    }
}

/// How far apart two ids are, for "did you mean": the edits (a character changed, added,
/// dropped, or two swapped) between `typed` and as much of `known` as was typed, so a
/// typed prefix is compared with the prefix of each known id.
pub fn distance(typed: &str, known: &str) -> usize {
    let (Some((tp, tr)), Some((kp, kr))) = (typed.split_once('-'), known.split_once('-')) else {
        return usize::MAX;
    };
    if tp != kp {
        return usize::MAX;
    }
    let cut = kr
        .char_indices()
        .nth(tr.chars().count())
        .map_or(kr, |(i, _)| &kr[..i]);
    strsim::osa_distance(tr, cut)
}

/// Does `s` look like an id of `kind`?
pub fn is_id(s: &str, kind: Kind) -> bool {
    s.strip_prefix(kind.prefix())
        .and_then(|r| r.strip_prefix('-'))
        .is_some_and(|r| !r.is_empty() && r.bytes().all(|b| CROCKFORD.contains(&b)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_prefix_and_length() {
        let mut g = IdGen::new(Some(7));
        let id = g.next(Kind::Do, 0);
        assert!(id.starts_with("DO-"));
        assert_eq!(id.len(), 3 + ID_LEN);
        assert!(is_id(&id, Kind::Do));
        let bc = g.next(Kind::Message, 1_700_000_000_000);
        assert_eq!(bc.len(), 3 + 26);
        assert!(is_id(&bc, Kind::Message));
    }

    #[test]
    fn seeded_ids_repeat_and_unseeded_differ() {
        let a: Vec<_> = (0..5)
            .map({
                let mut g = IdGen::new(Some(1));
                move |_| g.next(Kind::Todo, 0)
            })
            .collect();
        let b: Vec<_> = (0..5)
            .map({
                let mut g = IdGen::new(Some(1));
                move |_| g.next(Kind::Todo, 0)
            })
            .collect();
        assert_eq!(a, b);
        let mut g = IdGen::new(None);
        let mut h = IdGen::new(None);
        assert_ne!(g.next(Kind::Todo, 0), h.next(Kind::Todo, 0));
    }

    #[test]
    fn typed_ids_are_normalised() {
        assert_eq!(normalize(" do-7k3mo "), "DO-7K3M0");
        assert_eq!(normalize("s-il"), "S-11");
        assert_eq!(normalize_as(Kind::Do, "9edm"), "DO-9EDM");
        assert_eq!(normalize_as(Kind::Do, " 9eDo "), "DO-9ED0");
        assert_eq!(normalize_as(Kind::Wrap, "w-ab"), "W-AB");
        assert_eq!(normalize_as(Kind::Do, "T-12"), "T-12");
    }

    #[test]
    fn distance_compares_what_was_typed() {
        assert_eq!(distance("DO-9EDM", "DO-9EDMQ1X3ZZ"), 0);
        assert_eq!(distance("DO-9EMD", "DO-9EDMQ1X3ZZ"), 1, "two swapped");
        assert_eq!(distance("DO-9XDM", "DO-9EDMQ1X3ZZ"), 1, "one changed");
        assert_eq!(
            distance("DO-9EDMQ1X3ZZ7", "DO-9EDMQ1X3ZZ"),
            1,
            "one too many"
        );
        assert_eq!(distance("T-9EDM", "DO-9EDMQ1X3ZZ"), usize::MAX);
    }
}
