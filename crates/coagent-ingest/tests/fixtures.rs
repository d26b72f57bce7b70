//! The fixture corpus: real-looking replies from each vendor, each in its
//! copy-button form (`<name>.copy.md`) and its rendered-selection form
//! (`<name>.rendered.txt`), with the records a user must get
//! (`<name>.expected.json`). Both forms must give exactly those records.
#![allow(clippy::unwrap_used)]

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use coagent_ingest::{Reply, parse_reply};
use serde_json::Value;

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// (vendor, name) of every fixture, sorted.
fn fixtures() -> Vec<(String, String)> {
    let mut out = Vec::new();
    for vendor in fs::read_dir(fixtures_dir()).unwrap() {
        let vendor = vendor.unwrap().path();
        if !vendor.is_dir() {
            continue;
        }
        let vname = vendor.file_name().unwrap().to_string_lossy().to_string();
        for f in fs::read_dir(&vendor).unwrap() {
            let f = f.unwrap().file_name().to_string_lossy().to_string();
            if let Some(name) = f.strip_suffix(".copy.md") {
                out.push((vname.clone(), name.to_string()));
            }
        }
    }
    out.sort();
    out
}

fn seed_of(name: &str) -> u64 {
    name.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

/// Writes the rendered form of every fixture that lacks one. Run with
/// `cargo test -p coagent-ingest --test fixtures -- --ignored` after adding a
/// copy-button fixture; then review the file (and make it more real by hand
/// where the helper is too simple).
#[test]
#[ignore = "writes fixture files"]
fn write_missing_rendered_forms() {
    for (vendor, name) in fixtures() {
        let dir = fixtures_dir().join(&vendor);
        let out = dir.join(format!("{name}.rendered.txt"));
        if out.exists() {
            continue;
        }
        let copy = fs::read_to_string(dir.join(format!("{name}.copy.md"))).unwrap();
        let seed = seed_of(&name);
        let noise = common::Noise {
            crlf: seed.is_multiple_of(3),
            nbsp: true,
            zero_width: true,
            trailing_spaces: true,
            seed,
        };
        let rendered = if name.starts_with("own_payload") {
            // A payload pasted back was never rendered as markdown: it is the
            // user's own message, copied as typed.
            common::noise_only(&copy, &noise)
        } else {
            common::render(&copy, common::Vendor::from_dir(&vendor), &noise)
        };
        fs::write(out, rendered).unwrap();
    }
}

fn check(reply: &Reply<'_>, exp: &Value, what: &str, errors: &mut Vec<String>) {
    let mut fail = |m: String| errors.push(format!("{what}: {m}"));
    let echo = reply
        .echo
        .as_ref()
        .map(|e| serde_json::json!([e.version, e.hash]));
    if echo.as_ref().unwrap_or(&Value::Null) != &exp["echo"] {
        fail(format!("echo {echo:?} != {}", exp["echo"]));
    }
    let own = reply
        .own_payload
        .as_ref()
        .map(|p| Value::from(p.id.clone().unwrap_or_default()))
        .unwrap_or(Value::Null);
    if own != exp["own_payload"] {
        fail(format!("own_payload {own} != {}", exp["own_payload"]));
    }
    let dos = exp["dos"].as_array().unwrap();
    if reply.dos.len() != dos.len() {
        fail(format!(
            "{} DOs {:?} != {} expected",
            reply.dos.len(),
            reply.dos.iter().map(|d| &d.title).collect::<Vec<_>>(),
            dos.len()
        ));
    }
    for (d, e) in reply.dos.iter().zip(dos) {
        if d.title != e["title"].as_str().unwrap() || d.lang != e["lang"].as_str().unwrap() {
            fail(format!("DO ({}, {}) != {e}", d.title, d.lang));
        }
        if !d.script.starts_with(&format!("# DO: {}\n", d.title))
            || !d.script.ends_with("# END DO\n")
        {
            fail(format!(
                "DO {} script not framed by its sentinels:\n{}",
                d.title, d.script
            ));
        }
        let todo = d
            .todo
            .as_ref()
            .map_or(Value::Null, |t| Value::from(t.clone()));
        if todo != e["todo"] {
            fail(format!(
                "DO {} serves {todo}, expected {}",
                d.title, e["todo"]
            ));
        }
        if d.sha256 != sha256_hex(d.script.as_bytes()) {
            fail(format!("DO {} sha256 mismatch", d.title));
        }
        for c in e["contains"].as_array().into_iter().flatten() {
            if !d.script.contains(c.as_str().unwrap()) {
                fail(format!("DO {} script lacks {c}:\n{}", d.title, d.script));
            }
        }
    }
    let inc: Vec<&str> = reply
        .incomplete_dos
        .iter()
        .map(|d| d.title.as_str())
        .collect();
    let exp_inc: Vec<&str> = exp["incomplete"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    if inc != exp_inc {
        fail(format!("incomplete {inc:?} != {exp_inc:?}"));
    }
    let acks: Vec<Value> = reply
        .acks
        .iter()
        .map(|a| serde_json::json!([a.id, a.refs.iter().map(|r| r.as_str()).collect::<Vec<_>>()]))
        .collect();
    if Value::from(acks.clone()) != exp["acks"] {
        fail(format!("acks {acks:?} != {}", exp["acks"]));
    }
    let dones: Vec<Value> = reply
        .dones
        .iter()
        .map(|a| serde_json::json!([a.id, a.refs.iter().map(|r| r.as_str()).collect::<Vec<_>>()]))
        .collect();
    let exp_dones = exp
        .get("dones")
        .cloned()
        .unwrap_or(Value::Array(Vec::new()));
    if Value::from(dones.clone()) != exp_dones {
        fail(format!("dones {dones:?} != {exp_dones}"));
    }
    let questions: Vec<&str> = reply.questions.iter().map(|q| q.text.as_str()).collect();
    let exp_q = exp
        .get("questions")
        .cloned()
        .unwrap_or(Value::Array(Vec::new()));
    if serde_json::json!(questions) != exp_q {
        fail(format!("questions {questions:?} != {exp_q}"));
    }
    let msgs: Vec<Value> = reply
        .messages
        .iter()
        .map(|m| {
            serde_json::from_str::<Value>(&m.json)
                .map(|v| v["id"].clone())
                .unwrap_or(Value::from("<invalid json>"))
        })
        .collect();
    if Value::from(msgs.clone()) != exp["messages"] {
        fail(format!("messages {msgs:?} != {}", exp["messages"]));
    }
    let next = reply.next.map(|n| serde_json::json!([n.k, n.n]));
    if next.as_ref().unwrap_or(&Value::Null) != &exp["next"] {
        fail(format!("next {next:?} != {}", exp["next"]));
    }
}

fn sha256_hex(b: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(b)
        .iter()
        .map(|x| format!("{x:02x}"))
        .collect()
}

#[test]
fn corpus_is_big_enough_and_covers_every_vendor() {
    let all = fixtures();
    assert!(all.len() >= 40, "only {} fixtures", all.len());
    for v in ["chatgpt", "claude", "gemini", "copilot"] {
        let n = all.iter().filter(|(x, _)| x == v).count();
        assert!(n >= 10, "{v} has only {n} fixtures");
    }
    for (v, n) in &all {
        let dir = fixtures_dir().join(v);
        assert!(
            dir.join(format!("{n}.rendered.txt")).exists(),
            "{v}/{n} lacks its rendered form"
        );
        assert!(
            dir.join(format!("{n}.expected.json")).exists(),
            "{v}/{n} lacks its expectations"
        );
    }
}

#[test]
fn every_fixture_gives_its_expected_records_in_both_forms() {
    let mut errors = Vec::new();
    for (vendor, name) in fixtures() {
        let dir = fixtures_dir().join(&vendor);
        let copy = fs::read(dir.join(format!("{name}.copy.md"))).unwrap();
        let Ok(rendered) = fs::read(dir.join(format!("{name}.rendered.txt"))) else {
            continue; // reported by the corpus test
        };
        let exp: Value = serde_json::from_str(
            &fs::read_to_string(dir.join(format!("{name}.expected.json"))).unwrap(),
        )
        .unwrap();
        let a = parse_reply(&copy);
        let b = parse_reply(&rendered);
        check(&a, &exp, &format!("{vendor}/{name} copy"), &mut errors);
        check(&b, &exp, &format!("{vendor}/{name} rendered"), &mut errors);
        if a.records() != b.records() {
            errors.push(format!(
                "{vendor}/{name}: copy and rendered differ:\n  copy:     {:?}\n  rendered: {:?}",
                a.records(),
                b.records()
            ));
        }
        let scripts = |r: &Reply<'_>| r.dos.iter().map(|d| d.script.clone()).collect::<Vec<_>>();
        if scripts(&a) != scripts(&b) {
            errors.push(format!(
                "{vendor}/{name}: scripts differ between the two copies"
            ));
        }
    }
    assert!(
        errors.is_empty(),
        "{} problem(s):\n{}",
        errors.len(),
        errors.join("\n")
    );
}

#[test]
fn the_noise_in_rendered_fixtures_is_real() {
    // The corpus must exercise normalisation: some rendered forms carry CRLF,
    // NBSP and zero-width characters.
    let mut crlf = 0;
    let mut nbsp = 0;
    let mut zw = 0;
    for (vendor, name) in fixtures() {
        let Ok(r) = fs::read_to_string(
            fixtures_dir()
                .join(&vendor)
                .join(format!("{name}.rendered.txt")),
        ) else {
            continue;
        };
        crlf += usize::from(r.contains("\r\n"));
        nbsp += usize::from(r.contains('\u{00A0}'));
        zw += usize::from(r.contains(['\u{200B}', '\u{200C}', '\u{200D}', '\u{FEFF}', '\u{2060}']));
    }
    assert!(
        crlf >= 5 && nbsp >= 20 && zw >= 20,
        "crlf {crlf}, nbsp {nbsp}, zero-width {zw}"
    );
}
