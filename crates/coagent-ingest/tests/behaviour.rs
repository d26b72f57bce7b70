//! Behaviour a user notices that the fixture corpus does not pin down on its
//! own: invalid UTF-8, warnings, quoted examples, payloads pasted back.
#![allow(clippy::unwrap_used)]

use coagent_ingest::{AckRef, matches_payload, parse_reply};

#[test]
fn invalid_utf8_is_read_lossily_and_reported() {
    let mut input =
        b"Policy v1.2 loaded.\n\n```bash\n# DO: show \xff bytes\necho hi\n# END DO\n```\n".to_vec();
    input.extend_from_slice(b"\xc3");
    let r = parse_reply(&input);
    assert!(r.lossy_utf8);
    assert!(r.warnings.iter().any(|w| w.contains("not valid UTF-8")));
    assert_eq!(r.echo.as_ref().unwrap().version, "1.2");
    assert_eq!(r.dos.len(), 1);
    assert!(r.dos[0].title.contains('\u{FFFD}'));
    assert!(r.warnings.iter().any(|w| w.contains("U+FFFD")));
}

#[test]
fn valid_input_is_not_lossy() {
    let r = parse_reply("héllo “quotes” ✓".as_bytes());
    assert!(!r.lossy_utf8);
    assert!(r.warnings.is_empty());
    assert!(r.is_empty());
    assert_eq!(r.text, "héllo “quotes” ✓");
}

#[test]
fn a_blockquoted_ack_in_markdown_is_an_example() {
    let r = parse_reply(b"> ACK DO-7K3M9Q2XAB PR #1\n\nACK DO-8M2K4Q9X1Z PR #2\n");
    assert_eq!(r.acks.len(), 1);
    assert_eq!(r.acks[0].id, "DO-8M2K4Q9X1Z");
    assert_eq!(r.acks[0].refs, vec![AckRef::Pr { number: 2 }]);
    assert_eq!(r.acks[0].line, 3);
}

#[test]
fn a_line_that_starts_like_an_ack_but_is_prose_is_reported_unreadable() {
    let r = parse_reply(b"Done.\n\nACK DO-7 once the run finishes\n");
    assert!(r.acks.is_empty());
    assert_eq!(r.unreadable_acks.len(), 1, "{:?}", r.unreadable_acks);
    let u = &r.unreadable_acks[0];
    assert_eq!(u.line, 3);
    assert_eq!(u.text, "ACK DO-7 once the run finishes");
    assert!(u.reason.contains("`once` is not a ref"), "{}", u.reason);
}

#[test]
fn only_do_bc_and_w_ids_can_be_acknowledged() {
    let r = parse_reply(b"ACK T-4KX9M2QP7A done.txt\n");
    assert!(r.acks.is_empty());
    assert!(
        r.unreadable_acks
            .iter()
            .any(|u| u.reason.contains("only DO-, BC- and W-"))
    );
}

#[test]
fn a_second_different_echo_is_a_warning_and_the_first_is_kept() {
    let r = parse_reply(b"Policy v1.2 loaded.\n\nPolicy v1.3 loaded.\n");
    assert_eq!(r.echo.as_ref().unwrap().version, "1.2");
    assert!(r.warnings.iter().any(|w| w.contains("second echo")));
}

#[test]
fn next_in_a_long_reply_is_not_an_answer() {
    let r = parse_reply(b"NEXT 1/2\nOne.\nTwo.\nThree.\nFour.\n");
    assert_eq!(r.next, None);
    assert!(r.warnings.iter().any(|w| w.contains("NEXT 1/2")));
}

#[test]
fn a_do_without_a_title_is_incomplete() {
    let r = parse_reply(b"```bash\n# DO:\nls\n# END DO\n```\n");
    assert!(r.dos.is_empty());
    assert_eq!(r.incomplete_dos.len(), 1);
    assert!(r.incomplete_dos[0].reason.contains("no title"));
}

#[test]
fn a_do_with_no_end_anywhere_in_a_rendered_copy_is_incomplete() {
    let r = parse_reply(
        b"bash\nCopy code\n# DO: migrate\n./migrate.sh\n\nACK DO-7K3M9Q2XAB logs/m.txt\n",
    );
    assert!(r.dos.is_empty());
    assert_eq!(r.incomplete_dos[0].title, "migrate");
    // The lines after it are still read: the ACK is found.
    assert_eq!(r.acks.len(), 1);
}

#[test]
fn the_script_keeps_smart_quotes_and_tabs_but_not_browser_noise() {
    let copy = "```python\r\n# DO: greet\r\nprint(\"“hi”\")\u{00A0}\u{00A0}\r\n\tpass\u{200B}\r\n# END DO\r\n```\r\n";
    let r = parse_reply(copy.as_bytes());
    assert_eq!(
        r.dos[0].script,
        "# DO: greet\nprint(\"“hi”\")\n\tpass\n# END DO\n"
    );
}

#[test]
fn a_pasted_back_payload_is_recognised_by_its_text() {
    let payload = "<!-- coagent v1 id=BC-01JD8Z6Q4M3N7P9R2T5V8W0XYZ kind=boot part=1/1 sha256=ab -->\n\
        # CoAgent boot — session S-7Q2M4K8X1Z\n\n\
        Answer with `Policy v1.2 loaded.` on its own line, then propose DOs.\n\n\
        - Write each DO as a fenced block: first line `# DO: <title>`, last line `# END DO`.\n\
        - Acknowledge results with `ACK <id> <ref>`.\n";
    // Copied from the chat's message bubble: no header, NBSP and CRLF added.
    let pasted = payload
        .lines()
        .skip(1)
        .collect::<Vec<_>>()
        .join("\r\n")
        .replace("its own", "its\u{00A0}own");
    let r = parse_reply(pasted.as_bytes());
    assert!(r.own_payload.is_none());
    assert!(matches_payload(&r, payload));
    let unrelated = parse_reply(b"Policy v1.2 loaded.\n\nHere is my plan for the tests.\n");
    assert!(!matches_payload(&unrelated, payload));
}

#[test]
fn a_json_tagged_backchat_is_not_a_message_but_a_coagent_one_is() {
    let json = r#"{"schema": "coagent.backchat.v1", "id": "BC-1"}"#;
    let tagged_json = format!("```json\n{json}\n```\n");
    let r = parse_reply(tagged_json.as_bytes());
    assert!(r.messages.is_empty());
    let tagged_coagent = format!("```coagent\n{json}\n```\n");
    let r = parse_reply(tagged_coagent.as_bytes());
    assert_eq!(r.messages.len(), 1);
    assert!(r.messages[0].fenced);
    assert_eq!(r.messages[0].json, json);
    assert_eq!(
        r.messages[0].canonical().as_deref(),
        Some(r#"{"id":"BC-1","schema":"coagent.backchat.v1"}"#)
    );
}

#[test]
fn refs_render_in_canonical_form() {
    let r = parse_reply(b"ACK DO-7 PR #12 pr:o/r#3 commit:abcdef1 artifact:A-1234 https://x.test/y ../../etc/passwd\n");
    let refs: Vec<String> = r.acks[0].refs.iter().map(AckRef::as_str).collect();
    assert_eq!(
        refs,
        [
            "PR #12",
            "pr:o/r#3",
            "commit:abcdef1",
            "artifact:A-1234",
            "https://x.test/y",
            "../../etc/passwd"
        ]
    );
    let json = serde_json::to_value(&r.acks[0].refs[1]).unwrap();
    assert_eq!(json["kind"], "pr_full");
}

#[test]
fn a_payload_header_in_the_middle_flags_a_whole_conversation_copy() {
    let text = "You said:\n<!-- coagent v1 id=BC-01JD kind=boot part=1/1 sha256=ab -->\n\
        Answer with the echo.\n\nChatGPT said:\nPolicy v1.2 loaded.\n";
    let r = parse_reply(text.as_bytes());
    let p = r.own_payload.expect("flagged");
    assert_eq!(p.id.as_deref(), Some("BC-01JD"));
    assert_eq!(p.kind.as_deref(), Some("boot"));
}

#[test]
fn a_non_breaking_hyphen_in_an_ack_id_is_read_as_a_hyphen() {
    let r = parse_reply("ACK DO\u{2011}7K3M9Q2XAB PR #4\n".as_bytes());
    assert_eq!(r.acks[0].id, "DO-7K3M9Q2XAB");
}

/// Fingerprints recorded before DONE lines existed must stay equal: a reply without
/// one serialises its records exactly as before (the fingerprint below was taken with
/// the parser of before).
#[test]
fn records_of_a_reply_without_done_lines_are_unchanged() {
    let r = parse_reply(
        b"Policy v1.2 loaded.\n\nShall I go on?\n\n```bash\n# DO: x (T-1)\n# TODO: T-2\nls\n# END DO\n```\n\nACK DO-7 PR #1\n",
    );
    assert_eq!(r.dos[0].todo.as_deref(), Some("T-2"));
    assert_eq!(r.questions.len(), 1);
    let json = serde_json::to_string(&r.records()).unwrap();
    assert!(!json.contains("dones"), "{json}");
    assert_eq!(
        r.fingerprint(),
        "e6c0592ff9d803d9add46560f5f2076d6c63f8e917e82534e19ec2116f2e86a7"
    );
    let d = parse_reply(b"DONE T-2 docs/x.md\n");
    assert!(!d.is_empty());
    assert!(
        serde_json::to_string(&d.records())
            .unwrap()
            .contains("\"dones\"")
    );
}

#[test]
fn questions_are_prose_only() {
    let r = parse_reply(
        b"# What now?\n\n> Is this quoted?\n\n```text\nIs this an example?\n```\n\n```bash\necho 'is this code?'\n```\n\nFor example:\nIs this announced?\n\n- **Which port should it use?**\n",
    );
    let q: Vec<&str> = r.questions.iter().map(|q| q.text.as_str()).collect();
    assert_eq!(q, vec!["Which port should it use?"]);
    assert_eq!(r.questions[0].line, 16);
    let many: String = (0..15).map(|i| format!("Question number {i}?\n")).collect();
    let r = parse_reply(many.as_bytes());
    assert_eq!(r.questions.len(), 10);
    assert!(
        r.warnings
            .iter()
            .any(|w| w.contains("more than 10 questions"))
    );
}
