//! Wrapping a session with 1,000 DOs and their artifacts (target: under 1 s): the archive
//! (transcript, scripts, artifacts, manifest with every sha256), the records, and the
//! session's close. Run: `cargo bench -p coagent --bench wrap`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use coagent::clipboard::NoClipboard;
use coagent::clock::Clock;
use coagent::hub::Hub;
use coagent::session::{self, StartOptions};
use coagent::wrap::{self, WrapOptions};
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};

const DOS: usize = 1_000;

fn big_session() -> (tempfile::TempDir, std::path::PathBuf, String) {
    let tmp = tempfile::tempdir().unwrap();
    let report = Hub::init(tmp.path(), true, Clock::System).unwrap();
    let mut hub = Hub::open(&report.hub).unwrap();
    let mut clip = NoClipboard::default();
    let started = session::start(
        &mut hub,
        StartOptions {
            vendor: "claude".into(),
            goal: "bench".into(),
            redact: false,
            respawn: None,
        },
        &mut clip,
    )
    .unwrap();
    let s = started.session.clone();
    let now = hub.now_ms();
    let log = "line of output from a DO\n".repeat(40);
    for i in 0..DOS {
        let id = format!("DO-B{i:09}");
        let script = format!("# DO: step {i}\necho {i}\n# END DO\n");
        coagent::dos::quarantine(&hub, &id, "sh", &script).unwrap();
        hub.store
            .tx(|tx| {
                tx.execute(
                    "INSERT INTO dos (id, session, title, lang, script, sha256, state, proposed_at, first_artifact_at) VALUES (?1, ?2, ?3, 'sh', ?4, ?5, 'succeeded', ?6, ?6)",
                    rusqlite::params![id, s, format!("step {i}"), script, format!("{i:064}"), now],
                )?;
                tx.execute(
                    "INSERT INTO runs (id, do_id, status, exit_code, started_at, ended_at, duration_ms) VALUES (?1, ?2, 'succeeded', 0, ?3, ?3, 5)",
                    rusqlite::params![format!("R-B{i:09}"), id, now],
                )?;
                Ok(())
            })
            .unwrap();
        coagent::artifact::store_new(
            &mut hub,
            &id,
            &format!("R-B{i:09}"),
            "log",
            "log.txt",
            "",
            log.as_bytes(),
        )
        .unwrap();
    }
    (tmp, report.hub, s)
}

fn bench(c: &mut Criterion) {
    let (_tmp, dir, s) = big_session();
    let mut group = c.benchmark_group("wrap");
    group.sample_size(10);
    group.bench_function("session with 1,000 DOs and artifacts", |b| {
        b.iter_batched(
            || {
                let hub = Hub::open(&dir).unwrap();
                hub.store
                    .conn()
                    .execute("UPDATE sessions SET state = 'live' WHERE id = ?1", [&s])
                    .unwrap();
                hub
            },
            |mut hub| {
                let mut clip = NoClipboard::default();
                let w = wrap::wrap(
                    &mut hub,
                    WrapOptions {
                        session: Some(s.clone()),
                        to: None,
                        redact: false,
                        respawn: false,
                        reason: "bench".into(),
                    },
                    &mut clip,
                )
                .unwrap();
                assert_eq!(w.counts.dos, DOS);
                assert_eq!(w.counts.artifacts, DOS);
            },
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
