//! CoAgent: web chats as stateless, replaceable orchestrators behind a human paste gate.
//!
//! This crate holds all of CoAgent's logic; the `coagent` binary (crate `coagent-cli`) only
//! parses arguments, calls in here and renders what comes back. The library never prints
//! and never touches a terminal: the clipboard and other I/O sit behind small traits.
//!
//! Every word of the product's specification has its module:
//! [`hub`] (the `.coagent/` folder) and its [`store`], [`profile`] (CoProfile),
//! [`capsule`] (Policy Capsule), [`bpoe`] (BPOE contract), [`session`], [`todo`],
//! [`backchat`] (BackchatMessage), [`payload`] (the outbox, the one guarded way out),
//! [`vendor`], [`clipboard`], [`guard`], [`ingest`], [`ack`], [`dos`], [`artifact`], [`outbox`],
//! [`bloat`], [`wrap`] (CoWrap) and its [`handoff`], [`turns`] (tokens per turn), [`ticker`] (CoTicker), [`stats`].

pub mod ack;
pub mod artifact;
pub mod backchat;
pub mod backup;
pub mod bloat;
pub mod bpoe;
pub mod capsule;
pub mod clipboard;
pub mod clock;
pub mod config;
pub mod doctor;
pub mod dos;
pub mod drift;
pub mod error;
pub mod fsx;
pub mod guard;
pub mod handoff;
pub mod hlc;
pub mod hub;
pub mod id;
pub mod ingest;
pub mod outbox;
pub mod payload;
pub mod profile;
pub mod records;
pub mod session;
pub mod stats;
pub mod status;
pub mod store;
pub mod template;
pub mod ticker;
pub mod todo;
pub mod turns;
pub mod vendor;
pub mod watch;
pub mod wrap;

pub use error::{Error, Result};
