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

/// True when the value contains a placeholder marker (`example`, `xxxxxx`, `<…>`, `${`…)
/// or a run of eight ascending characters (`12345678`, `abcdefgh`), which documentation uses to
/// fill the shape of a token.
pub fn is_placeholder(value: &[u8]) -> bool {
    let lower: Vec<u8> = value.to_ascii_lowercase();
    if STOPWORDS
        .iter()
        .any(|w| memchr::memmem::find(&lower, w.as_bytes()).is_some())
    {
        return true;
    }
    let mut run = 1;
    for pair in value.windows(2) {
        if pair[0].is_ascii_alphanumeric() && pair[1] == pair[0].wrapping_add(1) {
            run += 1;
            if run >= 8 {
                return true;
            }
        } else {
            run = 1;
        }
    }
    false
}

/// True when `value` looks like a random secret rather than a word, an identifier, a
/// number or a reference to a variable. Used for values that have no known shape
/// (assignments such as `password = …`).
///
/// The entropy floor is relative to the largest entropy a string of this length and
/// alphabet can have, so short random values pass while words and patterned test vectors
/// (`000102…0f`) do not.
pub fn looks_random(value: &[u8]) -> bool {
    let len = value.len();
    if len < 10 || is_placeholder(value) {
        return false;
    }
    if matches!(value[0], b'$' | b'%' | b'&' | b'*' | b'.') || is_path(value) {
        // Shell or template variable, pointer, file path: a reference, not a value.
        return false;
    }
    let (mut lower, mut upper, mut digit) = (0usize, 0usize, 0usize);
    let mut case_switches = 0usize;
    let mut prev_case: Option<bool> = None;
    for &b in value {
        if b.is_ascii_lowercase() {
            lower += 1;
        } else if b.is_ascii_uppercase() {
            upper += 1;
        } else if b.is_ascii_digit() {
            digit += 1;
        }
        if b.is_ascii_alphabetic() {
            let is_upper = b.is_ascii_uppercase();
            if prev_case.is_some_and(|p| p != is_upper) {
                case_switches += 1;
            }
            prev_case = Some(is_upper);
        }
    }
    let classes = usize::from(lower > 0) + usize::from(upper > 0) + usize::from(digit > 0);
    if classes < 2 || digit == len {
        return false;
    }
    if is_identifier_path(value) {
        return false;
    }
    // Letters only: camelCase and Title_Case switch case rarely, random text often.
    if digit == 0 && case_switches * 4 < len {
        return false;
    }
    let is_hex = value.iter().all(u8::is_ascii_hexdigit);
    let alphabet: usize = if is_hex { 16 } else { 64 };
    #[allow(clippy::cast_precision_loss)]
    let ceiling = (len.min(alphabet) as f32).log2();
    shannon_entropy(value) >= 0.75 * ceiling
}

/// `/run/secrets/db`, `~/.config/app/token`: a path (random base64 may start with `/` too,
/// but then it has upper-case letters).
fn is_path(value: &[u8]) -> bool {
    (value.starts_with(b"/") || value.starts_with(b"~/"))
        && !value.iter().any(u8::is_ascii_uppercase)
}

/// `self.token`, `settings.SECRET_KEY`, `os.environ`: dotted identifiers without digits.
fn is_identifier_path(value: &[u8]) -> bool {
    value.contains(&b'.')
        && value
            .split(|&b| b == b'.')
            .all(|seg| !seg.is_empty() && seg.iter().all(|&b| b.is_ascii_alphabetic() || b == b'_'))
}

#[cfg(test)]
mod tests {
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
    }

    #[test]
    fn placeholders_are_recognised() {
        assert!(is_placeholder(b"ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"));
        assert!(is_placeholder(b"ghp_1234567890abcdefghijklmnopqrstuvwxyz"));
        assert!(is_placeholder(b"AKIAIOSFODNN7EXAMPLE"));
        assert!(!is_placeholder(b"ghp_R2d9Kq7LmX0vTb3NcW8yHs1JfP4gZa6EoU5i"));
    }
}
