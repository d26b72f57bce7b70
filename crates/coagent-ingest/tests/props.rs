//! Property tests: the parser never panics, keeps its invariants on any input
//! (invalid UTF-8 included), and a generated reply gives the same records
//! whether it was copied with the copy button or as a rendered selection.
#![allow(clippy::unwrap_used)]

mod common;

use coagent_ingest::{Reply, parse_reply};
use common::{Noise, Vendor, render};
use proptest::prelude::*;
use proptest::test_runner::RngSeed;
use sha2::Digest;

/// The seed CI uses, so that every run checks the same cases and a failure
/// is reproducible from the log alone.
const DEFAULT_SEED: u64 = 0x0C0A_6E47_2026_1124;

/// `cases` cases from a fixed seed. Locally, explore with other seeds and
/// more cases: `PROPTEST_SEED=7 PROPTEST_CASES=4096 cargo test -p
/// coagent-ingest --test props` (proptest's own `PROPTEST_RNG_SEED` works
/// too). A failure names the seed, so it can be replayed and pinned.
fn config(cases: u32) -> ProptestConfig {
    let base = ProptestConfig::default();
    let seed = match std::env::var("PROPTEST_SEED") {
        Ok(s) => s
            .trim()
            .parse::<u64>()
            .unwrap_or_else(|_| panic!("PROPTEST_SEED={s:?} is not a u64")),
        Err(_) => match base.rng_seed {
            RngSeed::Fixed(s) => s,
            RngSeed::Random => DEFAULT_SEED,
        },
    };
    // An explicit `cases` would override PROPTEST_CASES; honour it here.
    let cases = if std::env::var_os("PROPTEST_CASES").is_some() {
        base.cases
    } else {
        cases
    };
    eprintln!("proptest seed {seed}, {cases} cases (set PROPTEST_SEED to replay)");
    ProptestConfig {
        cases,
        rng_seed: RngSeed::Fixed(seed),
        ..base
    }
}

fn sha256_hex(b: &[u8]) -> String {
    sha2::Sha256::digest(b)
        .iter()
        .map(|x| format!("{x:02x}"))
        .collect()
}

/// What must hold for any reply, whatever the input.
fn invariants(input: &[u8], r: &Reply<'_>) {
    assert_eq!(r.lossy_utf8, std::str::from_utf8(input).is_err());
    if r.lossy_utf8 {
        assert!(r.warnings.iter().any(|w| w.contains("not valid UTF-8")));
    }
    assert!(!r.text.contains('\r'));
    let lines = r.text.split('\n').count();
    for d in &r.dos {
        assert!(d.script.trim_start().starts_with('#'), "{:?}", d.script);
        assert!(d.script.contains("DO:"));
        assert!(d.script.ends_with('\n'));
        assert_eq!(d.sha256, sha256_hex(d.script.as_bytes()));
        assert!(["bash", "sh", "zsh", "python", "pwsh"].contains(&d.lang.as_str()));
        assert!(d.line >= 1 && d.line <= lines);
    }
    for a in &r.acks {
        assert!(a.line >= 1 && a.line <= lines);
        assert!(a.raw.contains("ACK"));
    }
    for m in &r.messages {
        assert!(m.json.starts_with('{') && m.json.ends_with('}'));
    }
    if let Some(n) = r.next {
        assert!(n.k >= 1 && n.k <= n.n);
    }
    // Serialising never fails.
    serde_json::to_string(r).unwrap();
}

/// Fragments that exercise every branch of the scanner.
fn fragment() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(b"```".to_vec()),
        Just(b"````bash".to_vec()),
        Just(b"~~~".to_vec()),
        Just(b"```coagent".to_vec()),
        Just(b"```text".to_vec()),
        Just(b"# DO: x".to_vec()),
        Just(b"# END DO".to_vec()),
        Just(b"ACK DO-7 PR #1 a/b".to_vec()),
        Just(b"ACK BC-1 ../../etc/passwd".to_vec()),
        Just(b"Policy v1.2 loaded. (sha256:abcdef12)".to_vec()),
        Just(b"NEXT 1/2".to_vec()),
        Just(b"<!-- coagent v1 id=X kind=boot -->".to_vec()),
        Just(b"{\"schema\": \"coagent.backchat.v1\", \"a\": \"}\"".to_vec()),
        Just(b"{".to_vec()),
        Just(b"}".to_vec()),
        Just(b"\"\\".to_vec()),
        Just(b"> ".to_vec()),
        Just(b"bash".to_vec()),
        Just(b"Copy code".to_vec()),
        Just(b"For example:".to_vec()),
        Just(b"\n".to_vec()),
        Just(b"\r\n".to_vec()),
        Just(b"\r".to_vec()),
        Just("\u{00A0}".as_bytes().to_vec()),
        Just("\u{200B}".as_bytes().to_vec()),
        Just("\u{2028}".as_bytes().to_vec()),
        Just(b"\xff\xc3".to_vec()),
        Just(b"   ".to_vec()),
        "[ -~]{0,12}".prop_map(String::into_bytes),
    ]
}

fn protocol_soup() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(fragment(), 0..120).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn never_panics_on_arbitrary_bytes(input in prop::collection::vec(any::<u8>(), 0..4096)) {
        let r = parse_reply(&input);
        invariants(&input, &r);
    }

    #[test]
    fn never_panics_on_protocol_soup(input in protocol_soup()) {
        let r = parse_reply(&input);
        invariants(&input, &r);
    }
}

// ---- generated replies rendered both ways ----

#[derive(Debug, Clone)]
enum Block {
    Prose(String),
    Echo {
        version: String,
        hash: Option<String>,
        bold: bool,
    },
    Do(GenDo),
    Ack {
        id: String,
        refs: Vec<String>,
        style: u8,
    },
    Message {
        id: String,
        body: String,
    },
    /// A protocol explanation: a `text` fence with a DO and an ACK in it.
    Example,
    /// A DO whose fence closes before `# END DO`.
    Broken {
        title: String,
        body: Vec<String>,
    },
}

#[derive(Debug, Clone)]
struct GenDo {
    title: String,
    tag: &'static str,
    fence: &'static str,
    body: Vec<String>,
    heredoc_fence: bool,
}

fn lang_of(tag: &str, script: &str) -> &'static str {
    match tag {
        "bash" => "bash",
        "sh" | "shell" => "sh",
        "zsh" => "zsh",
        "python" | "py" | "python3" => "python",
        "powershell" | "pwsh" | "ps1" => "pwsh",
        _ => {
            if script.lines().any(|l| l.starts_with("import ")) {
                "python"
            } else {
                "bash"
            }
        }
    }
}

impl GenDo {
    fn script(&self) -> String {
        let mut s = format!("# DO: {}\n", self.title);
        for l in &self.body {
            s.push_str(l);
            s.push('\n');
        }
        if self.heredoc_fence {
            s.push_str("cat > notes.md <<'EOF'\n```sh\nmake check\n```\nEOF\n");
        }
        s.push_str("# END DO\n");
        s
    }
}

fn word() -> impl Strategy<Value = String> {
    "[a-z]{1,8}"
}

fn prose() -> impl Strategy<Value = String> {
    (
        "[A-Z][a-z]{2,8}",
        prop::collection::vec(word(), 0..8),
        "[.!?]",
    )
        .prop_map(|(a, ws, p)| {
            format!("{a} {}{p}", ws.join(" "))
                .replace(" .", ".")
                .replace(" !", "!")
                .replace(" ?", "?")
        })
}

fn body_line() -> impl Strategy<Value = String> {
    prop_oneof![
        (word(), prop::collection::vec("[a-z0-9./=-]{1,10}", 0..4)).prop_map(|(c, a)| format!(
            "{c} {}",
            a.join(" ")
        )
        .trim_end()
        .to_string()),
        ("[ ]{2,4}", word()).prop_map(|(i, w)| format!("{i}echo {w}")),
        Just("import os".to_string()),
        Just(String::new()),
        Just("echo \"ACK DO-1 quoted\"".to_string()),
    ]
}

fn gen_do() -> impl Strategy<Value = GenDo> {
    (
        "[a-z]{2,8}( [a-z]{2,8}){0,3}",
        prop::sample::select(vec![
            "bash",
            "sh",
            "shell",
            "zsh",
            "python",
            "py",
            "python3",
            "powershell",
            "pwsh",
            "ps1",
            "",
        ]),
        prop::sample::select(vec!["```", "````", "~~~"]),
        prop::collection::vec(body_line(), 0..6),
        any::<bool>(),
    )
        .prop_map(|(title, tag, fence, body, heredoc)| GenDo {
            title,
            tag,
            fence,
            body,
            heredoc_fence: heredoc && fence != "```",
        })
}

fn block() -> impl Strategy<Value = Block> {
    prop_oneof![
        3 => prose().prop_map(Block::Prose),
        1 => ("[1-9]", "[0-9]{1,2}", prop::option::of("[0-9a-f]{7,12}"), any::<bool>())
            .prop_map(|(a, b, hash, bold)| Block::Echo { version: format!("{a}.{b}"), hash, bold }),
        3 => gen_do().prop_map(Block::Do),
        2 => (
            prop::sample::select(vec!["DO", "BC", "W"]),
            "[0-9A-Z]{1,10}",
            prop::collection::vec(prop_oneof![
                "[0-9]{1,4}".prop_map(|n| format!("PR #{n}")),
                "[0-9a-f]{7,40}".prop_map(|s| format!("commit:{s}")),
                "[0-9A-Z]{4,10}".prop_map(|s| format!("artifact:A-{s}")),
                ("[a-z]{1,6}", "[a-z]{1,6}", "[0-9]{1,3}").prop_map(|(o, r, n)| format!("pr:{o}/{r}#{n}")),
                "[a-z]{1,6}".prop_map(|p| format!("https://ci.example.test/{p}")),
                ("[a-z]{1,6}", "[a-z]{1,6}").prop_map(|(d, f)| format!("{d}/{f}.log")),
                Just("../../etc/passwd".to_string()),
            ], 0..4),
            0u8..6,
        )
            .prop_map(|(p, s, refs, style)| Block::Ack { id: format!("{p}-{s}"), refs, style }),
        1 => ("[0-9A-Z]{26}", "[ -~&&[^\"\\\\]]{0,40}").prop_map(|(id, body)| Block::Message { id: format!("BC-{id}"), body }),
        1 => Just(Block::Example),
        1 => ("[a-z]{2,8}", prop::collection::vec(body_line(), 1..4)).prop_map(|(title, body)| Block::Broken { title, body }),
    ]
}

/// The copy-button markdown of a reply, and what it must yield:
/// (echo version, DO (title, lang, script), incomplete titles, ACK ids, message ids).
type Expected = (
    Option<String>,
    Vec<(String, String, String)>,
    Vec<String>,
    Vec<String>,
    Vec<String>,
);

fn markdown(blocks: &[Block]) -> (String, Expected) {
    let mut md = String::new();
    let mut exp: Expected = (None, vec![], vec![], vec![], vec![]);
    for b in blocks {
        match b {
            Block::Prose(p) => md.push_str(&format!("{p}\n")),
            Block::Echo {
                version,
                hash,
                bold,
            } => {
                let h = hash
                    .as_ref()
                    .map(|h| format!(" (sha256:{h})"))
                    .unwrap_or_default();
                if *bold {
                    md.push_str(&format!("**Policy v{version} loaded.**{h}\n"));
                } else {
                    md.push_str(&format!("Policy v{version} loaded.{h}\n"));
                }
                exp.0.get_or_insert(version.clone());
            }
            Block::Do(d) => {
                let script = d.script();
                md.push_str(&format!("{}{}\n{script}{}\n", d.fence, d.tag, d.fence));
                // A block's language is its own tag's or its own content's, whatever
                // block comes before it.
                let lang = lang_of(d.tag, &script).to_string();
                exp.1.push((d.title.clone(), lang, script));
            }
            Block::Ack { id, refs, style } => {
                let line = format!("ACK {id} {}", refs.join(" "));
                let line = line.trim_end();
                match style {
                    0 => md.push_str(&format!("{line}\n")),
                    1 => md.push_str(&format!("- **{line}**\n")),
                    2 => md.push_str(&format!("✅ {line} 🎉\n")),
                    3 => md.push_str(&format!("{line} — done, thanks\n")),
                    4 => md.push_str(&format!("## `{line}`\n")),
                    _ => {
                        // The first ref as a markdown link: its text is the ref.
                        let linked: Vec<String> = refs
                            .iter()
                            .enumerate()
                            .map(|(i, r)| {
                                if i == 0 {
                                    format!("[{r}](https://x.test/{i})")
                                } else {
                                    r.clone()
                                }
                            })
                            .collect();
                        md.push_str(&format!(
                            "{}\n",
                            format!("ACK {id} {}", linked.join(" ")).trim_end()
                        ));
                    }
                }
                // Ids are Crockford base32: O reads as 0, I and L as 1.
                let (kind, rest) = id.split_once('-').unwrap();
                exp.3.push(format!(
                    "{kind}-{}",
                    rest.replace('O', "0").replace(['I', 'L'], "1")
                ));
            }
            Block::Message { id, body } => {
                md.push_str(&format!(
                    "```coagent\n{{\n  \"schema\": \"coagent.backchat.v1\",\n  \"id\": \"{id}\",\n  \"body\": \"{body} {{}}\"\n}}\n```\n"
                ));
                exp.4.push(id.clone());
            }
            Block::Example => {
                // The lead-in covers what follows until the next prose line.
                md.push_str("For example:\n\n```text\n# DO: list files\nls\n# END DO\nACK DO-7 PR #12\n```\n\nThat is the format.\n");
            }
            Block::Broken { title, body } => {
                md.push_str(&format!(
                    "```bash\n# DO: {title}\n{}\n```\n",
                    body.join("\n")
                ));
                exp.2.push(title.clone());
            }
        }
        md.push('\n');
    }
    (md, exp)
}

fn check_expected(r: &Reply<'_>, exp: &Expected, what: &str) {
    assert_eq!(
        r.echo.as_ref().map(|e| e.version.clone()),
        exp.0,
        "{what}: echo"
    );
    let dos: Vec<(String, String, String)> = r
        .dos
        .iter()
        .map(|d| (d.title.clone(), d.lang.clone(), d.script.clone()))
        .collect();
    assert_eq!(dos, exp.1, "{what}: DOs");
    let inc: Vec<String> = r.incomplete_dos.iter().map(|d| d.title.clone()).collect();
    assert_eq!(inc, exp.2, "{what}: incomplete");
    let acks: Vec<String> = r.acks.iter().map(|a| a.id.clone()).collect();
    assert_eq!(acks, exp.3, "{what}: acks");
    let msgs: Vec<String> = r
        .messages
        .iter()
        .map(|m| {
            serde_json::from_str::<serde_json::Value>(&m.json).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(msgs, exp.4, "{what}: messages");
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn a_reply_gives_the_same_records_copied_either_way(
        blocks in prop::collection::vec(block(), 0..10),
        vendor in prop::sample::select(Vendor::ALL.to_vec()),
        crlf in any::<bool>(),
        nbsp in any::<bool>(),
        zero_width in any::<bool>(),
        trailing_spaces in any::<bool>(),
        seed in any::<u64>(),
    ) {
        let (md, exp) = markdown(&blocks);
        let noise = Noise { crlf, nbsp, zero_width, trailing_spaces, seed };
        let rendered = render(&md, vendor, &noise);
        let a = parse_reply(md.as_bytes());
        let b = parse_reply(rendered.as_bytes());
        check_expected(&a, &exp, "copy");
        check_expected(&b, &exp, &format!("rendered {vendor:?}:\n{rendered}"));
        prop_assert_eq!(a.records(), b.records());
        prop_assert_eq!(a.fingerprint(), b.fingerprint());
    }
}

proptest! {
    #![proptest_config(config(128))]

    #[test]
    fn a_next_answer_is_read_the_same_either_way(
        k in 1u32..20,
        extra in 0u32..20,
        deco in prop::sample::select(vec!["{}", "**{}**", "`{}`", "{}.", "👉 {}"]),
        in_block in any::<bool>(),
        vendor in prop::sample::select(Vendor::ALL.to_vec()),
        seed in any::<u64>(),
    ) {
        let n = k + extra;
        let line = deco.replace("{}", &format!("NEXT {k}/{n}"));
        let md = if in_block { format!("```\n{line}\n```\n") } else { format!("{line}\n") };
        let noise = Noise { crlf: seed.is_multiple_of(2), nbsp: true, zero_width: true, trailing_spaces: true, seed };
        let rendered = render(&md, vendor, &noise);
        let want = Some(coagent_ingest::NextPart { k, n });
        prop_assert_eq!(parse_reply(md.as_bytes()).next, want);
        prop_assert_eq!(parse_reply(rendered.as_bytes()).next, want, "{}", rendered);
    }
}

// ---- regressions found by the properties, pinned for every vendor ----

/// Checks one generated reply both ways, for every vendor and noise mix.
fn check_both_ways(blocks: &[Block]) {
    let (md, exp) = markdown(blocks);
    let a = parse_reply(md.as_bytes());
    check_expected(&a, &exp, &format!("copy:\n{md}"));
    for vendor in Vendor::ALL {
        for bits in 0u8..16 {
            let noise = Noise {
                crlf: bits & 1 != 0,
                nbsp: bits & 2 != 0,
                zero_width: bits & 4 != 0,
                trailing_spaces: bits & 8 != 0,
                seed: u64::from(bits) * 0x9E37_79B9,
            };
            let rendered = render(&md, vendor, &noise);
            let b = parse_reply(rendered.as_bytes());
            check_expected(&b, &exp, &format!("rendered {vendor:?}:\n{rendered}"));
            assert_eq!(a.records(), b.records(), "{vendor:?}:\n{rendered}");
        }
    }
}

/// A DO broken by its fence, then an untagged complete DO in the next block
/// whose body starts with blank lines (CI, Gemini).
#[test]
fn an_incomplete_do_then_a_complete_one_in_the_next_block() {
    check_both_ways(&[
        Block::Ack {
            id: "W-K2QXK".into(),
            refs: vec![],
            style: 0,
        },
        Block::Broken {
            title: "jnoklc".into(),
            body: vec!["r".into()],
        },
        Block::Do(GenDo {
            title: "vjjuohso jgkl".into(),
            tag: "",
            fence: "```",
            body: vec![
                String::new(),
                String::new(),
                "echo \"ACK DO-1 quoted\"".into(),
                "echo \"ACK DO-1 quoted\"".into(),
            ],
            heredoc_fence: false,
        }),
        Block::Prose("Phnpuzwj qbzmw cwr b dshzhx wbup ze gtsjb!".into()),
    ]);
}

/// A DO broken by its fence whose last line reads like a `md` label, then an
/// echo: the rendered copy must not take the rest for a markdown example.
#[test]
fn a_broken_do_ending_in_a_label_like_line_then_an_echo() {
    for last in ["md", "text", "r", "go", "bash"] {
        check_both_ways(&[
            Block::Broken {
                title: "aa".into(),
                body: vec!["ls".into(), last.into()],
            },
            Block::Echo {
                version: "1.0".into(),
                hash: None,
                bold: false,
            },
            Block::Do(GenDo {
                title: "next step".into(),
                tag: "",
                fence: "~~~",
                body: vec!["echo hi".into()],
                heredoc_fence: false,
            }),
            Block::Ack {
                id: "DO-7".into(),
                refs: vec!["PR #1".into()],
                style: 0,
            },
        ]);
    }
}
