//! Expands the token templates of `tests/corpus/formats.toml` into fresh random secrets.
//!
//! A template is literal text with `{class:N}` placeholders: N random characters of the
//! class. Classes follow the providers' published alphabets.
#![allow(dead_code)]

use fastrand::Rng;

const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const B64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const URL: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";

fn class(name: &str) -> Option<&'static [u8]> {
    Some(match name {
        "an" => ALNUM,
        "b64" => B64,
        "url" => URL,
        "hex" => b"0123456789abcdef",
        "HEX" => b"0123456789ABCDEF",
        "d" => b"0123456789",
        "alpha" => b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
        "lower" => b"abcdefghijklmnopqrstuvwxyz",
        "upper" => b"ABCDEFGHIJKLMNOPQRSTUVWXYZ",
        "uan" => b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
        "b32" => b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567",
        "bech" => b"QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L",
        _ => return None,
    })
}

pub fn random_from(rng: &mut Rng, alphabet: &[u8], n: usize) -> String {
    (0..n)
        .map(|_| char::from(alphabet[rng.usize(..alphabet.len())]))
        .collect()
}

/// Expand one template. Besides the classes: `{pem:N}` is N lines of 64 base64
/// characters joined by newlines, `{pemesc:N}` the same joined by a literal `\n` (JSON).
pub fn expand(rng: &mut Rng, template: &str) -> String {
    let mut out = String::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let close = rest[open..].find('}').expect("unclosed { in template") + open;
        let spec = &rest[open + 1..close];
        let (name, n) = spec.split_once(':').expect("placeholder is {class:N}");
        let n: usize = n.parse().expect("placeholder count is a number");
        match name {
            "pem" | "pemesc" => {
                let sep = if name == "pem" { "\n" } else { "\\n" };
                let lines: Vec<String> = (0..n).map(|_| random_from(rng, B64, 64)).collect();
                out.push_str(&lines.join(sep));
            }
            _ => out.push_str(&random_from(
                rng,
                class(name).unwrap_or_else(|| panic!("unknown class {name}")),
                n,
            )),
        }
        rest = &rest[close + 1..];
    }
    out.push_str(rest);
    out
}
