//! Inputs for the parser's benchmarks, shared by `benches/parse.rs` and
//! `examples/throughput.rs`.
#![allow(dead_code)]

use std::path::Path;

pub const MIB: usize = 1 << 20;

pub fn corpus(suffix: &str) -> Vec<u8> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut files = Vec::new();
    for v in std::fs::read_dir(&dir).expect("fixtures") {
        let v = v.expect("entry").path();
        if !v.is_dir() {
            continue;
        }
        for f in std::fs::read_dir(&v).expect("vendor dir") {
            let f = f.expect("entry").path();
            if f.to_string_lossy().ends_with(suffix) {
                files.push(f);
            }
        }
    }
    files.sort();
    let mut out = Vec::with_capacity(MIB + 4096);
    'fill: loop {
        for f in &files {
            out.extend_from_slice(&std::fs::read(f).expect("fixture"));
            out.extend_from_slice(
                b"\n\nSome prose between replies, the way a long chat reads.\n\n",
            );
            if out.len() >= MIB {
                break 'fill;
            }
        }
    }
    out.truncate(MIB);
    out
}

/// A long, realistic reply: paragraphs of prose (some with NBSP and smart
/// quotes), ordinary code blocks, and now and then a DO, an ACK or a message.
pub fn realistic() -> Vec<u8> {
    const WORDS: &[&str] = &[
        "the", "session", "capsule", "handoff", "we", "should", "run", "tests", "before",
        "merging", "this", "change", "because", "retry", "logic", "depends", "on", "timeouts",
        "and", "a", "flaky", "network", "in", "CI", "so", "I", "propose", "to", "measure", "first",
        "then", "fix", "what", "fails",
    ];
    let mut seed = 0x9E37_79B9_7F4A_7C15_u64;
    let mut rnd = move |n: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % n as u64) as usize
    };
    let mut out = String::with_capacity(MIB + 4096);
    out.push_str("Policy v1.2 loaded.\n\n");
    let mut k = 0;
    while out.len() < MIB {
        k += 1;
        for _ in 0..1 + rnd(4) {
            let n = 12 + rnd(50);
            let mut line = String::from("It");
            for _ in 0..n {
                line.push(if rnd(40) == 0 { '\u{00A0}' } else { ' ' });
                line.push_str(WORDS[rnd(WORDS.len())]);
            }
            line.push_str(if rnd(9) == 0 {
                " \u{201C}quoted\u{201D}.\n"
            } else {
                ".\n"
            });
            out.push_str(&line);
        }
        out.push('\n');
        match k % 10 {
            3 => out.push_str(
                "```python\ndef retry(fn, attempts=3):\n    for i in range(attempts):\n        try:\n            return fn()\n        except IOError:\n            pass\n```\n\n",
            ),
            6 => out.push_str(
                "```rust\nfn main() {\n    let v: Vec<u32> = (0..10).collect();\n    println!(\"{v:?}\");\n}\n```\n\n",
            ),
            8 if k % 50 == 8 => out.push_str(
                "```bash\n# DO: run the suite\nset -eu\ncargo test --workspace 2>&1 | tee test.log\n# END DO\n```\n\n",
            ),
            9 if k % 70 == 9 => out.push_str("- ACK DO-7K3M9Q2XAB PR #12 logs/test.log\n\n"),
            _ => {}
        }
    }
    let mut b = out.into_bytes();
    b.truncate(MIB);
    b
}

pub fn adversarial() -> Vec<u8> {
    let pieces: [&[u8]; 8] = [
        b"# DO: x\n",
        b"{\n",
        b"```\n",
        b"ACK DO-7 PR #1 a/b\n",
        b"bash\n",
        b"Copy code\n",
        b"{\"schema\": \"coagent.backchat.v1\"\n",
        b"Policy v1.2 loaded.\n",
    ];
    let mut out = Vec::with_capacity(MIB);
    let mut i = 0usize;
    while out.len() < MIB {
        out.extend_from_slice(pieces[(i * 7 + i / 3) % pieces.len()]);
        i += 1;
    }
    // Long lines that would make a careless scan quadratic.
    out.extend_from_slice(b"ACK DO-7 ");
    out.extend(std::iter::repeat_n(b'[', 64 << 10));
    out.extend_from_slice(b"](x\n# DO: ");
    out.extend(std::iter::repeat_n(b'<', 64 << 10));
    out.extend_from_slice(b">\n");
    out.extend(std::iter::repeat_n(b'\n', 64 << 10));
    out.extend(std::iter::repeat_n(&b"# DO: y\n"[..], 4 << 10).flatten());
    out.extend_from_slice(b"# END DO\n");
    out
}
