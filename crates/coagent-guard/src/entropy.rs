//! Randomness checks applied to a candidate secret after its regex matched.
//!
//! Owns the judgement "does this value look like a secret or like a word, a placeholder,
//! an identifier". It sees only the candidate value and must never log or keep it.

use crate::rules::STOPWORDS;

/// Shannon entropy of `bytes` in bits per byte (0 for an empty slice).
pub fn shannon_entropy(bytes: &[u8]) -> f32 {
    if bytes.is_empty() {
        return 0.0;
    }
    let mut counts = [0u32; 256];
    for &b in bytes {
        counts[usize::from(b)] += 1;
    }
    #[allow(clippy::cast_precision_loss)]
    let len = bytes.len() as f32;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            #[allow(clippy::cast_precision_loss)]
            let p = c as f32 / len;
            -p * p.log2()
        })
        .sum()
}

/// Longest value checked for an interleaved ascending run (`1a2b3c4d-5e6f-7a8b-9c0d`).
const INTERLEAVED_MAX: usize = 64;

/// True when the value contains a placeholder marker (`example`, `xxxxxx`, `<…>`, `${`…)
/// or a run of eight ascending characters (`12345678`, `abcdefgh`), which documentation uses to
/// fill the shape of a token.
pub fn is_placeholder(value: &[u8]) -> bool {
    let lower: Vec<u8> = value.to_ascii_lowercase();
    if STOPWORDS.iter().any(|w| {
        memchr::memmem::find_iter(&lower, w.as_bytes())
            .any(|at| written_as_a_word(&value[at..at + w.len()]))
    }) {
        return true;
    }
    // Interleaved runs (`1a2b3c4d…`) are a short placeholder's shape; in a long value the
    // digits (or letters) from all over it line up by chance now and then (a fresh corpus
    // run missed a 3 kB private key that way).
    let short = value.len() <= INTERLEAVED_MAX;
    ascending_run(value.iter().copied()) >= 8
        || short && ascending_run(value.iter().copied().filter(u8::is_ascii_digit)) >= 8
        || short
            && ascending_run(
                value
                    .iter()
                    .filter(|b| b.is_ascii_alphabetic())
                    .map(u8::to_ascii_lowercase),
            ) >= 8
}

/// A stopword as people write it: `dummy`, `DUMMY` or `Dummy`. Random mixed case
/// (`duMMY`, found in a real JWT's signature) is a token's letters, not a word: a long
/// token holds one of the five-letter stopwords in some case mix often enough to miss a
/// secret now and then.
fn written_as_a_word(window: &[u8]) -> bool {
    let rest = window.get(1..).unwrap_or_default();
    !rest.iter().any(u8::is_ascii_uppercase) || !window.iter().any(u8::is_ascii_lowercase)
}

/// The longest run of consecutive characters (`a`→`b`, `8`→`9`, and `9`→`0` for digits
/// placeholders such as `1a2b3c4d-5e6f-7a8b-9c0d`).
fn ascending_run(bytes: impl Iterator<Item = u8>) -> usize {
    let (mut best, mut run) = (0usize, 0usize);
    let mut prev: Option<u8> = None;
    for b in bytes {
        let follows = prev.is_some_and(|p| {
            p.is_ascii_alphanumeric() && (b == p.wrapping_add(1) || (p == b'9' && b == b'0'))
        });
        run = if follows { run + 1 } else { 1 };
        best = best.max(run);
        prev = Some(b);
    }
    best
}

/// Extra placeholder words for values of credential assignments (`mysecret123`,
/// `supersecrettoken`); not applied to token formats, some of which contain them.
const ASSIGNMENT_STOPWORDS: &[&str] = &["secret", "passwd", "passphrase", "..."];

/// The check of the generic assignment rule, given the whole text and the value's span:
/// the value must be a literal (a quoted string, or an unquoted value that ends its line
/// as in `.env`, YAML and INI files, or a command-line flag), and look random.
///
/// An unquoted value followed by more code (`name: Type,`, `x = other_name;`) is an
/// identifier or an expression, never a secret literal, whatever it looks like.
pub fn assigned_value_is_secret(text: &[u8], start: usize, end: usize) -> bool {
    let value = &text[start..end];
    let before = start.checked_sub(1).map(|i| text[i]);
    let after = text.get(end).copied();
    let quoted = matches!(before, Some(b'"' | b'\'' | b'`'));
    if quoted {
        if after != before {
            // `"secret": "two words"`: prose in a string, not a token.
            return false;
        }
    } else {
        let rest = &text[end..];
        let skip = rest
            .iter()
            .take_while(|b| matches!(b, b' ' | b'\t'))
            .count();
        let next = &rest[skip..];
        let literal_end = next.is_empty()
            || matches!(next[0], b'\n' | b'\r' | b'#' | b'"' | b'\'')
            || next.starts_with(b"//")
            || (skip > 0 && matches!(next[0], b'-' | b'|' | b'&' | b'\\' | b';'));
        if !literal_end {
            return false;
        }
    }
    if value.iter().all(u8::is_ascii_hexdigit) && value.len() < 20 {
        // Short hex: ids, short hashes, colours; hex secrets are 16 bytes (32 digits) or more.
        return false;
    }
    if value.ends_with(b"*") {
        // `AmazonDataZone-*`: a pattern (resource names, globs), not a value.
        return false;
    }
    let is_hex = value.iter().all(u8::is_ascii_hexdigit);
    if !is_hex
        && (ascending_run(value.iter().copied()) >= 6
            || ascending_run(
                value
                    .iter()
                    .filter(|b| b.is_ascii_alphabetic())
                    .map(u8::to_ascii_lowercase),
            ) >= 6)
    {
        // `abcdefg123`: shorter alphabet runs than `is_placeholder` allows for tokens
        // (whose hex alphabets make such runs likely by chance).
        return false;
    }
    let lower = value.to_ascii_lowercase();
    if ASSIGNMENT_STOPWORDS
        .iter()
        .any(|w| memchr::memmem::find(&lower, w.as_bytes()).is_some())
    {
        return false;
    }
    looks_random(value)
}

/// True when `value` looks like a random secret rather than a word, an identifier, a
/// number or a reference to a variable. Used for values that have no known shape
/// (assignments such as `password = …`).
///
/// The entropy floor is relative to the largest entropy a string of this length and
/// alphabet can have, so short random values pass while patterned values do not; words
/// and identifiers are recognised by their letter pairs (see `is_wordy`).
pub fn looks_random(value: &[u8]) -> bool {
    let len = value.len();
    if len < 10 || is_placeholder(value) {
        return false;
    }
    if matches!(value[0], b'$' | b'%' | b'&' | b'*' | b'.') || is_path(value) {
        // Shell or template variable, pointer, file path: a reference, not a value.
        return false;
    }
    let lower = value.iter().filter(|b| b.is_ascii_lowercase()).count();
    let upper = value.iter().filter(|b| b.is_ascii_uppercase()).count();
    let digit = value.iter().filter(|b| b.is_ascii_digit()).count();
    let classes = usize::from(lower > 0) + usize::from(upper > 0) + usize::from(digit > 0);
    if classes < 2 || digit == len || is_wordy(value) {
        return false;
    }
    let is_hex = value.iter().all(u8::is_ascii_hexdigit);
    let alphabet: usize = if is_hex { 16 } else { 64 };
    #[allow(clippy::cast_precision_loss)]
    let ceiling = (len.min(alphabet) as f32).log2();
    // Test vectors such as `000102…0f` repeat one character far more than chance would.
    let mut counts = [0usize; 256];
    for &b in value {
        counts[usize::from(b)] += 1;
    }
    let most = counts.iter().copied().max().unwrap_or(0);
    most * 5 <= len * 2 && shannon_entropy(value) >= 0.7 * ceiling
}

/// `/run/secrets/db`, `~/.config/app/token`: a path (random base64 may start with `/` too,
/// but then it has upper-case letters).
fn is_path(value: &[u8]) -> bool {
    (value.starts_with(b"/") || value.starts_with(b"~/"))
        && !value.iter().any(u8::is_ascii_uppercase)
}

/// `exports2.STRICT_TOKEN`, `SOCKS5_CUSTOM_AUTH_END`, `SuperSecretToken`, `John-David`:
/// every piece between separators is a word or an identifier made of words.
fn is_wordy(value: &[u8]) -> bool {
    let pieces: Vec<&[u8]> = value
        .split(|&b| matches!(b, b'.' | b'_' | b'-' | b'$' | b'/' | b':'))
        .filter(|piece| !piece.is_empty())
        .collect();
    let several = pieces.len() > 1;
    pieces.iter().all(|piece| word_like(piece, several))
}

/// The 180 most frequent letter pairs inside the words of identifiers (split at case humps)
/// in Python's standard library and a few thousand Rust source files: 89% of all pairs
/// there, 27% of random letter pairs.
const COMMON_BIGRAMS: &str = "se in st on er te re co at ns pu en el ub es or de et nt le th al as \
    it tr ti ar lf me ne nd ra ta an ge ro li pe ng ri rt ss la ed ty io he ct lo is ma ec un ut pa \
    si to ex no ve ea pr if fo ce us oc ur fi od ac il ca am op ll im di ch ha id fe ad tt ke tu bi \
    mp ou ic na om ef ul yp ot po rr ck rs fl cl em pl cr va ap nc su eq pt ol sa ue ai ho mu ts ze \
    rn ag ru so fn wi iz bu do qu ep sh mo ig sp os ni dg nl lt fa um xt ie mi rg iv ff da hi af ld \
    bl of rd ip ia oo lu ow up pp ev nu ab be sy ua ls nf ry fr sc ba uc bo ee rm ui cf py";

const BIGRAM_TABLE: [bool; 676] = {
    let bytes = COMMON_BIGRAMS.as_bytes();
    let mut table = [false; 676];
    let mut i = 0;
    while i + 1 < bytes.len() {
        let (a, b) = (bytes[i], bytes[i + 1]);
        if a.is_ascii_lowercase() && b.is_ascii_lowercase() {
            table[(a - b'a') as usize * 26 + (b - b'a') as usize] = true;
            i += 2;
        } else {
            i += 1;
        }
    }
    table
};

/// One piece of a value: letters (at least two) with at most one run of up to four digits,
/// and either a single case inside a multi-piece identifier (`STRICT_TOKEN`, `john-david`)
/// or words (few capitals, and nearly all letter pairs common, as in `SuperSecretToken`).
fn word_like(piece: &[u8], several: bool) -> bool {
    if !piece.iter().all(u8::is_ascii_alphanumeric) {
        return false;
    }
    if several && piece.len() <= 2 {
        // `e.token`, `v2.api`: a minified name or a short component says nothing.
        return true;
    }
    let digits = piece.iter().filter(|b| b.is_ascii_digit()).count();
    let digit_runs = piece
        .split(|b| !b.is_ascii_digit())
        .filter(|run| !run.is_empty())
        .count();
    if digits > 4 || digit_runs > 1 {
        return false;
    }
    let letters = piece.len() - digits;
    let upper = piece.iter().filter(|b| b.is_ascii_uppercase()).count();
    if letters < 2 {
        return false;
    }
    if several && (upper == 0 || upper == letters) {
        return true;
    }
    if digits == 0 && piece[1..].iter().all(u8::is_ascii_lowercase) {
        // `Punctuation`, `Name`: one capitalised or lower-case word.
        return true;
    }
    if upper * 3 > letters {
        return false;
    }
    // Letter pairs inside words: not across a digit, nor across a lower→upper hump.
    let (mut pairs, mut common) = (0usize, 0usize);
    for w in piece.windows(2) {
        let (a, b) = (w[0], w[1]);
        if !a.is_ascii_alphabetic() || !b.is_ascii_alphabetic() {
            continue;
        }
        if a.is_ascii_lowercase() && b.is_ascii_uppercase() {
            continue;
        }
        pairs += 1;
        let (a, b) = (a.to_ascii_lowercase(), b.to_ascii_lowercase());
        if BIGRAM_TABLE[usize::from(a - b'a') * 26 + usize::from(b - b'a')] {
            common += 1;
        }
    }
    pairs >= 4 && common * 4 >= pairs * 3
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_stopword_counts_as_written_not_in_random_case() {
        use super::is_placeholder;
        for v in [
            "my-dummy-key",
            "DUMMY_TOKEN_1",
            "DummyValue9",
            "sk_EXAMPLE_key",
            "Placeholder",
        ] {
            assert!(is_placeholder(v.as_bytes()), "{v}");
        }
        // Letters of a real token's signature (a fresh corpus run missed this JWT).
        assert!(!is_placeholder(
            b"vXj0G86duMMYgiAY_O3pZ3ZCSbHyt5rTWeHhQjmQIB7UQfyrcCdzKS"
        ));
        assert!(!is_placeholder(b"q8SaMPLe2LmZ0xRt5WbNc7Yp"));
    }

    #[test]
    fn an_interleaved_run_is_a_short_placeholder_s_shape_only() {
        use super::is_placeholder;
        assert!(is_placeholder(b"1a2b3c4d-5e6f-7a8b-9c0d"));
        // The digits 1 to 8, far apart in a long random value (a key block's lines).
        let long =
            "Qw1RtzKpLmNbVx2HjGfDsAqWe3ZxCvBnMkLj4PoIuYtReWq5AsDfGhJkLz6XcVbNmQwE7RtYuIoPlKj8Hg";
        assert!(long.len() > 64);
        assert!(!is_placeholder(long.as_bytes()));
    }

    #[test]
    fn only_literal_values_count() {
        let check = |line: &str| {
            let v = "q8Vh2LmZ0xRt5WbNc7Yp";
            let start = line.find(v).unwrap_or(0);
            assigned_value_is_secret(line.as_bytes(), start, start + v.len())
        };
        assert!(check("API_TOKEN=q8Vh2LmZ0xRt5WbNc7Yp"));
        assert!(check(
            "api_token: q8Vh2LmZ0xRt5WbNc7Yp   # rotated monthly\n"
        ));
        assert!(check("password = \"q8Vh2LmZ0xRt5WbNc7Yp\";"));
        assert!(check(
            "curl -H \"X-Api-Token: q8Vh2LmZ0xRt5WbNc7Yp\" https://x"
        ));
        assert!(check("app --password=q8Vh2LmZ0xRt5WbNc7Yp --verbose"));
        assert!(!check("token: q8Vh2LmZ0xRt5WbNc7Yp,"));
        assert!(!check("let token = q8Vh2LmZ0xRt5WbNc7Yp.clone();"));
        assert!(!check("secret = \"q8Vh2LmZ0xRt5WbNc7Yp and more\""));
    }

    use super::*;

    #[test]
    fn entropy_of_uniform_and_constant_strings() {
        assert!((shannon_entropy(b"aaaaaaaa") - 0.0).abs() < 1e-6);
        assert!((shannon_entropy(b"0123456789abcdef") - 4.0).abs() < 1e-5);
    }

    #[test]
    fn random_values_pass_and_words_do_not() {
        assert!(looks_random(b"q8Vh2LmZ0xRt5WbN"));
        assert!(looks_random(b"9f86d081884c7d659a2feaa0c55ad015"));
        assert!(!looks_random(b"correcthorsebatterystaple"));
        assert!(!looks_random(b"getUserPasswordHash"));
        assert!(!looks_random(b"settings.SECRET_KEY"));
        assert!(!looks_random(b"${DATABASE_PASSWORD}"));
        assert!(!looks_random(b"000102030405060708090a0b0c0d0e0f"));
        assert!(!looks_random(b"12345678901234"));
        assert!(!looks_random(b"your_api_key_here"));
        assert!(!looks_random(b"exports2.STRICT_TOKEN"));
        assert!(!looks_random(b"SOCKS5_CUSTOM_AUTH_END"));
        assert!(!looks_random(b"SuperSecretToken"));
        assert!(!looks_random(b"X509AuthorityKeyIDExtension"));
        assert!(!looks_random(b"Name.Builtin.Pseudo"));
        assert!(!looks_random(b"ActualLexer"));
        assert!(!looks_random(b"SslOpenPrivateKeyFn"));
    }

    #[test]
    fn placeholders_are_recognised() {
        assert!(is_placeholder(b"ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"));
        assert!(is_placeholder(b"ghp_1234567890abcdefghijklmnopqrstuvwxyz"));
        assert!(is_placeholder(b"AKIAIOSFODNN7EXAMPLE"));
        assert!(is_placeholder(b"1a2b3c4d-5e6f-7a8b-9c0d-1e2f3a4b5c6d"));
        assert!(is_placeholder(
            b"AB1C2defGHijkLMNo3PqQRstUvwxyzaBCDeFghh4ijklMN5op"
        ));
        assert!(!is_placeholder(b"ghp_R2d9Kq7LmX0vTb3NcW8yHs1JfP4gZa6EoU5i"));
    }
}

#[cfg(test)]
mod random_tests {
    use super::looks_random;

    /// Random values of the shapes secrets have are (nearly) never mistaken for words. The
    /// seed is fixed, so this is deterministic; the bound is what the fresh-corpus test
    /// relies on to stay reliable.
    #[test]
    fn random_values_are_almost_never_rejected() {
        let alphabets: [(&str, &[u8], usize); 5] = [
            (
                "base62/24",
                b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
                24,
            ),
            (
                "base62/16",
                b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
                16,
            ),
            ("hex/32", b"0123456789abcdef", 32),
            (
                "base64/43",
                b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
                43,
            ),
            (
                "base64url/30",
                b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-",
                30,
            ),
        ];
        let mut rng = fastrand::Rng::with_seed(20261124);
        let n = 20_000;
        for (name, alphabet, len) in alphabets {
            let rejected = (0..n)
                .filter(|_| {
                    let v: Vec<u8> = (0..len)
                        .map(|_| alphabet[rng.usize(..alphabet.len())])
                        .collect();
                    let r = !looks_random(&v);
                    if r && std::env::var_os("GUARD_DEBUG").is_some() {
                        println!(
                            "  rejected {} wordy={} entropy={}",
                            String::from_utf8_lossy(&v),
                            super::is_wordy(&v),
                            super::shannon_entropy(&v)
                        );
                    }
                    r
                })
                .count();
            println!("{name}: {rejected} of {n} rejected");
            let bound = if len < 20 { n / 100 } else { 1 };
            assert!(
                rejected <= bound,
                "{name}: {rejected} of {n} random values rejected"
            );
        }
    }
}
