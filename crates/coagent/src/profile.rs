//! CoProfile: `profile.toml` in the hub. `[public]` holds the user's name, preferences and
//! house style, which go into every capsule; `[private]` holds values that never leave the
//! machine — not even redacted: the secret guard treats each of them as a secret.
//! This module parses the file and masks private values for display; it never prints them.

use std::path::Path;

use serde::Deserialize;

use crate::{Error, Result, fsx};

pub const FILE: &str = "profile.toml";

pub const DEFAULT: &str = r#"# CoProfile: who you are to the chats you work with.
# [public] goes into every Policy Capsule you paste into a chat.
# [private] never leaves this machine: the secret guard refuses any payload that
# contains one of these values (exactly as written), so list what must stay local.

[public]
name = ""
# How you like to work, beyond the policy (which already asks for short answers and
# DOs). Each entry becomes one line of every boot, so each costs tokens; e.g.
# preferences = ["Explain a failure in one sentence before proposing the fix."]
preferences = []
# Your house style for code and docs (one paragraph), e.g. "Rust 2024, thiserror, no unwrap()".
house_style = ""

[private]
# email = "me@example.com"
# employer = "Example Corp"
"#;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProfileFile {
    #[serde(default)]
    public: toml::Table,
    #[serde(default)]
    private: toml::Table,
}

#[derive(Debug, Clone, Default)]
pub struct Profile {
    pub public: toml::Table,
    private: toml::Table,
}

/// One public entry, flattened for rendering (`preferences` → one line per item).
#[derive(Debug, Clone, serde::Serialize)]
pub struct PublicEntry {
    pub key: String,
    pub values: Vec<String>,
}

/// A private field as it may be shown: its name and length, never its value.
#[derive(Debug, Clone, serde::Serialize)]
pub struct MaskedEntry {
    pub key: String,
    pub masked: String,
}

impl Profile {
    pub fn load(path: &Path) -> Result<Profile> {
        if !path.exists() {
            return Ok(Profile::default());
        }
        let text = fsx::read_to_string(path)?;
        Profile::parse(&text).map_err(|message| Error::Config {
            file: path.to_path_buf(),
            message,
        })
    }

    pub fn parse(text: &str) -> std::result::Result<Profile, String> {
        let f: ProfileFile =
            toml::from_str(text).map_err(|e| crate::config::toml_error(text, &e))?;
        Ok(Profile {
            public: f.public,
            private: f.private,
        })
    }

    /// Public entries in file order, empty ones left out.
    pub fn public_entries(&self) -> Vec<PublicEntry> {
        self.public
            .iter()
            .map(|(k, v)| PublicEntry {
                key: k.clone(),
                values: flatten(v),
            })
            .filter(|e| e.values.iter().any(|v| !v.trim().is_empty()))
            .collect()
    }

    /// Every private value, flattened to strings: what the secret guard must never let out.
    pub fn private_values(&self) -> Vec<String> {
        self.private
            .values()
            .flat_map(flatten)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
            .collect()
    }

    pub fn private_masked(&self) -> Vec<MaskedEntry> {
        self.private
            .iter()
            .map(|(k, v)| {
                let n: usize = flatten(v).iter().map(|s| s.chars().count()).sum();
                MaskedEntry {
                    key: k.clone(),
                    masked: format!("•••••• ({n} chars, never leaves this machine)"),
                }
            })
            .collect()
    }
}

fn flatten(v: &toml::Value) -> Vec<String> {
    match v {
        toml::Value::String(s) => vec![s.clone()],
        toml::Value::Array(a) => a.iter().flat_map(flatten).collect(),
        toml::Value::Table(t) => t.values().flat_map(flatten).collect(),
        other => vec![other.to_string()],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_profile_parses_with_no_private_values() {
        let p = Profile::parse(DEFAULT).expect("default parses");
        assert!(p.private_values().is_empty());
        // Nothing that repeats the policy: the default pastes no "About me" at all.
        assert!(p.public_entries().is_empty(), "{:?}", p.public_entries());
    }

    #[test]
    fn private_values_are_flattened_and_masked() {
        let p = Profile::parse(
            "[private]\nemail = \"a@b.c\"\nnested = { card = \"4111\" }\nlist = [\"x1\"]\n",
        )
        .expect("parse");
        let mut v = p.private_values();
        v.sort();
        assert_eq!(v, vec!["4111", "a@b.c", "x1"]);
        let m = p.private_masked();
        assert!(m.iter().all(|e| !e.masked.contains("a@b.c")));
    }

    #[test]
    fn errors_name_the_line() {
        let err = Profile::parse("[public]\nname = \"x\"\nbroken = \n").expect_err("bad");
        assert!(err.contains("line 3"), "{err}");
        let err = Profile::parse("[secret]\nx = 1\n").expect_err("unknown table");
        assert!(err.contains("secret"), "{err}");
    }
}
