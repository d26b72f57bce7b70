//! Behaviour of the public API as the core crate and `coagent guard scan` use it.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use coagent_guard::{Guard, GuardConfig, GuardError, PRIVATE_RULE, scan_paths};

// Assembled at run time so this file itself holds no complete token.
fn github_token() -> String {
    format!("ghp_{}", "R2d9Kq7LmX0vTb3NcW8yHs1JfP4gZa6EoU5i")
}

#[test]
fn findings_are_sorted_non_overlapping_with_lines_and_masked_previews() {
    let token = github_token();
    let text =
        format!("first line\nexport GITHUB_TOKEN={token}\npassword = \"q8Vh2LmZ0xRt5WbNc7Yp\"\n");
    let findings = Guard::builtin().scan(text.as_bytes());
    let rules: Vec<&str> = findings.iter().map(|f| f.rule.as_str()).collect();
    assert_eq!(rules, ["github-pat", "generic-credential"]);
    assert_eq!(findings[0].line, 2);
    assert_eq!(findings[1].line, 3);
    assert_eq!(&text[findings[0].start..findings[0].end], token);
    assert_eq!(findings[0].preview, "ghp_…[36 chars]");
    assert_eq!(findings[1].preview, "[20 chars]");
    assert!(findings[0].end <= findings[1].start);
}

#[test]
fn redact_replaces_each_secret_with_its_rule() {
    let text = format!("token: {}\nnothing else", github_token());
    let (redacted, findings) = Guard::builtin().redact(&text);
    assert_eq!(redacted, "token: [REDACTED:github-pat]\nnothing else");
    assert_eq!(findings.len(), 1);
    let (again, none) = Guard::builtin().redact(&redacted);
    assert_eq!(again, redacted);
    assert!(none.is_empty());
}

#[test]
fn clean_text_has_no_findings() {
    let text =
        "fn main() {\n    let token = lexer.next_token();\n    println!(\"{token:?}\");\n}\n";
    assert!(Guard::builtin().scan(text.as_bytes()).is_empty());
}

#[test]
fn private_values_match_exactly_and_reveal_only_their_length() {
    let private = vec![
        "12 Rue des Lilas, Lyon".to_owned(),
        "Été".to_owned(),
        "ab".to_owned(),
    ];
    let config = GuardConfig::parse("[allowlist]\nregexes = ['''.*''']\n").unwrap();
    let guard = Guard::new(&config, &private).unwrap();
    let text = "I live at 12 Rue des Lilas, Lyon; not at 12 rue des lilas, lyon. ab ab Été";
    let findings = guard.scan(text.as_bytes());
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert_eq!(findings[0].rule, PRIVATE_RULE);
    assert_eq!(findings[0].preview, "[22 chars]");
    assert_eq!(
        &text[findings[0].start..findings[0].end],
        "12 Rue des Lilas, Lyon"
    );
}

#[test]
fn private_value_wins_over_an_overlapping_rule() {
    let password = "q8Vh2LmZ0xRt5WbNc7Yp".to_owned();
    let guard = Guard::new(&GuardConfig::default(), std::slice::from_ref(&password)).unwrap();
    let findings = guard.scan(format!("password = \"{password}\"").as_bytes());
    assert_eq!(findings.len(), 1);
    assert_eq!(findings[0].rule, PRIVATE_RULE);
}

#[test]
fn gitleaks_rules_and_allowlists_work() {
    let config = GuardConfig::parse(
        r#"
title = "acme gitleaks config"

[extend]
useDefault = true
disabledRules = ["jwt"]

[[rules]]
id = "acme-internal-token"
description = "ACME internal token"
regex = '''acme_(?:live|test)_([a-z0-9]{24})'''
secretGroup = 1
entropy = 3.0
keywords = ["acme_live", "acme_test"]
tags = ["internal"]

[rules.allowlist]
stopwords = ["aaaa"]

[allowlist]
description = "global"
regexes = ['''^fixture''']
paths = ['''(^|/)fixtures/''']
"#,
    )
    .unwrap();
    let guard = Guard::new(&config, &[]).unwrap();
    assert!(guard.rule_ids().any(|id| id == "acme-internal-token"));
    assert!(!guard.rule_ids().any(|id| id == "jwt"));

    let found = guard.scan(b"key: acme_live_k3j9x0q2m8v7b1n4c6z5l0p9\n");
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].rule, "acme-internal-token");
    assert_eq!(found[0].preview, "[24 chars]");
    // Rule allowlist stopword, low entropy, global allowlist regex on the secret:
    assert!(guard.scan(b"acme_live_k3j9aaaam8v7b1n4c6z5l0p9").is_empty());
    assert!(guard.scan(b"acme_live_000000000000000000000000").is_empty());
    assert!(guard.scan(b"acme_live_fixture0q2m8v7b1n4c6z5l").is_empty());
    // Global allowlist path:
    assert!(guard.path_allowed("tests/fixtures/keys.txt"));
    assert!(
        guard
            .scan_named(
                "tests/fixtures/keys.txt",
                b"acme_live_k3j9x0q2m8v7b1n4c6z5l0p9"
            )
            .is_empty()
    );
}

#[test]
fn allowlist_regex_target_line_skips_marked_lines() {
    let config = GuardConfig::parse(
        "[allowlist]\nregexTarget = \"line\"\nregexes = ['''coagent:allow''']\n",
    )
    .unwrap();
    let guard = Guard::new(&config, &[]).unwrap();
    let token = github_token();
    assert!(
        guard
            .scan(format!("{token} # coagent:allow").as_bytes())
            .is_empty()
    );
    assert_eq!(guard.scan(token.as_bytes()).len(), 1);
}

#[test]
fn a_user_rule_replaces_the_builtin_with_the_same_id() {
    let config = GuardConfig::parse(
        "[[rules]]\nid = \"github-pat\"\nregex = '''ghp_[A-Za-z0-9]{36}'''\nkeywords = [\"ghp_\"]\n",
    )
    .unwrap();
    let guard = Guard::new(&config, &[]).unwrap();
    assert_eq!(guard.rule_ids().filter(|id| *id == "github-pat").count(), 1);
    let found = guard.scan(github_token().as_bytes());
    assert_eq!(found.len(), 1);
    assert_eq!(
        found[0].preview, "[40 chars]",
        "user rules have no public prefix"
    );
}

#[test]
fn a_rule_that_does_not_compile_is_an_error_naming_it() {
    let err = GuardConfig::parse("[[rules]]\nid = \"broken-rule\"\nregex = '''(unclosed'''\n")
        .unwrap_err();
    assert!(matches!(&err, GuardError::Rule { id, .. } if id == "broken-rule"));
    assert!(err.to_string().contains("rule `broken-rule`"), "{err}");

    let err = GuardConfig::parse("[[rules]]\nid = \"g\"\nregex = '''(a)'''\nsecretGroup = 2\n")
        .unwrap_err();
    assert!(err.to_string().contains("secretGroup"), "{err}");

    let err = GuardConfig::parse("[allowlist]\nregexes = ['''[z-a]''']\n").unwrap_err();
    assert!(matches!(err, GuardError::Allowlist { rule: None, .. }));
}

#[test]
fn invalid_toml_reports_the_line() {
    let err = GuardConfig::parse("[[rules]]\nid = \"x\"\nregex = \n").unwrap_err();
    assert!(matches!(err, GuardError::Config { .. }));
    assert!(err.to_string().contains("line 3"), "{err}");
}

#[test]
fn a_keywordless_rule_matching_everything_is_refused() {
    let config = GuardConfig::parse("[[rules]]\nid = \"all\"\nregex = '''x*'''\n").unwrap();
    let err = Guard::new(&config, &[]).unwrap_err();
    assert!(err.to_string().contains("rule `all`"), "{err}");
}

#[test]
fn scan_paths_walks_folders_honouring_gitignore_and_skipping_binaries() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let token = github_token();
    std::fs::create_dir_all(root.join("src/deep")).unwrap();
    std::fs::create_dir_all(root.join("target")).unwrap();
    std::fs::create_dir_all(root.join(".git")).unwrap();
    std::fs::write(root.join(".gitignore"), "target/\n").unwrap();
    std::fs::write(root.join(".env"), format!("GITHUB_TOKEN={token}\n")).unwrap();
    std::fs::write(
        root.join("src/deep/config.py"),
        format!("x = 1\n\nTOKEN = \"{token}\"\n"),
    )
    .unwrap();
    std::fs::write(root.join("src/clean.rs"), "fn main() {}\n").unwrap();
    std::fs::write(root.join("target/out.txt"), &token).unwrap();
    std::fs::write(root.join(".git/config"), &token).unwrap();
    let mut binary = b"\x7fELF\0\0\0".to_vec();
    binary.extend_from_slice(token.as_bytes());
    std::fs::write(root.join("src/app.bin"), binary).unwrap();

    let report = scan_paths(&Guard::builtin(), &[root.to_path_buf()]).unwrap();
    let seen: Vec<(String, usize)> = report
        .findings
        .iter()
        .map(|f| {
            let rel = PathBuf::from(&f.path)
                .strip_prefix(root)
                .unwrap()
                .display()
                .to_string();
            (rel, f.line)
        })
        .collect();
    assert_eq!(
        seen,
        [
            (".env".to_owned(), 1),
            // The platform's own separator (`src\deep\config.py` on Windows).
            (
                Path::new("src")
                    .join("deep")
                    .join("config.py")
                    .display()
                    .to_string(),
                3
            )
        ]
    );
    assert!(
        report
            .findings
            .iter()
            .all(|f| f.rule == "github-pat" && f.preview == "ghp_…[36 chars]")
    );
    assert_eq!(report.files_scanned, 4, "{report:?}"); // .gitignore, .env, config.py, clean.rs
    assert_eq!(report.files_skipped, 1, "the binary");
    assert!(report.bytes_scanned > 0);
    let json = serde_json::to_value(&report).unwrap();
    assert!(json["findings"][0]["path"].is_string());
    assert!(json["bytes_scanned"].is_u64());
}

#[test]
fn scan_paths_reports_a_missing_path() {
    let err = scan_paths(
        &Guard::builtin(),
        &[PathBuf::from("/nonexistent/coagent/x")],
    )
    .unwrap_err();
    assert!(matches!(err, GuardError::Io { .. }));
    assert!(err.to_string().contains("/nonexistent/coagent/x"));
}
