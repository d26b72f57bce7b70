//! The one integration-test binary: every test drives the real `coagent` program.

#![allow(clippy::unwrap_used)]

mod harness;

mod capsule;
mod clipboard;
mod crash;
mod dos;
mod drift;
mod economy;
mod first_hour;
mod guard;
mod hub;
mod ingest;
mod rough_edges;
mod scale;
mod start;
mod surface;
mod sync;
mod todo;
// Kills `coagent ui` with SIGTERM, as the watch tests do.
#[cfg(unix)]
mod ui;
mod watch;
mod wayback;
#[cfg(windows)]
mod windows;
mod wrap;
