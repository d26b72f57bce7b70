//! Fuzz target for the reply parser: any bytes, no panic, and the invariants
//! a caller relies on hold.
//!
//! `RUSTC_BOOTSTRAP=1 cargo fuzz run parse -- -max_total_time=600`
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let r = coagent_ingest::parse_reply(data);
    assert_eq!(r.lossy_utf8, std::str::from_utf8(data).is_err());
    assert!(!r.text.contains('\r'));
    // The normalised text is normal, and a normal input is the text itself.
    assert!(coagent_ingest::is_normal(&r.text));
    if let Ok(s) = std::str::from_utf8(data) {
        assert_eq!(coagent_ingest::is_normal(s), *r.text == *s);
    }
    for d in &r.dos {
        assert!(d.script.ends_with('\n') && d.script.contains("END DO"));
        assert_eq!(d.sha256.len(), 64);
        assert!(matches!(d.lang.as_str(), "bash" | "sh" | "python" | "pwsh"));
    }
    for m in &r.messages {
        assert!(m.json.starts_with('{') && m.json.ends_with('}'));
    }
    if let Some(n) = r.next {
        assert!(n.k >= 1 && n.k <= n.n);
    }
    let _ = r.records();
    let _ = r.fingerprint();
    // Normalising is idempotent: the normalised text parses to the same records.
    let again = coagent_ingest::parse_reply(r.text.as_bytes());
    assert_eq!(again.text, r.text);
    assert_eq!(again.records(), r.records());
});
