//! Ctrl-C, the one way a user stops CoAgent while it works: a flag set for as long as a
//! guard lives, and the default effect (the process ends) back once it is dropped.
//!
//! This module owns how an interrupt reaches CoAgent on each platform, and nothing else:
//! it never ends a process itself while a guard lives and never runs work in a handler.
//! On Unix, SIGINT, SIGTERM and SIGHUP set the flag (through `signal-hook`). On Windows
//! the console's Ctrl-C and Ctrl-Break events do (through `ctrlc`, which registers a
//! console control handler): the C runtime's `signal()`, which `signal-hook` uses there,
//! hands back a "previous handler" that is not a function, and calling it crashed
//! CoAgent on the first Ctrl-C.

use std::io;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

/// Keeps interrupts wired to a flag; see [`on_interrupt`].
#[derive(Debug)]
#[must_use = "interrupts set the flag only while the guard lives"]
pub struct InterruptGuard {
    inner: imp::Guard,
}

impl Drop for InterruptGuard {
    fn drop(&mut self) {
        self.inner.release();
    }
}

/// Sets `flag` on Ctrl-C (and on Unix on SIGTERM and SIGHUP) instead of ending the process,
/// for as long as the returned guard lives. Several guards may live at once; each sets
/// its own flag. Once none lives, an interrupt ends the process as it did before.
pub fn on_interrupt(flag: Arc<AtomicBool>) -> io::Result<InterruptGuard> {
    Ok(InterruptGuard {
        inner: imp::Guard::new(flag)?,
    })
}

#[cfg(unix)]
mod imp {
    use std::io;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    const SIGNALS: &[i32] = &[
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGHUP,
    ];

    #[derive(Debug)]
    pub(super) struct Guard {
        ids: Vec<signal_hook::SigId>,
        restore: Arc<AtomicBool>,
    }

    impl Guard {
        pub(super) fn new(flag: Arc<AtomicBool>) -> io::Result<Guard> {
            let restore = Arc::new(AtomicBool::new(false));
            let mut ids = Vec::new();
            for &signal in SIGNALS {
                // Left registered on purpose: once the guard sets `restore`, this makes the
                // signal terminate the process again, as it did before.
                signal_hook::flag::register_conditional_default(signal, Arc::clone(&restore))?;
                ids.push(signal_hook::flag::register(signal, Arc::clone(&flag))?);
            }
            Ok(Guard { ids, restore })
        }

        pub(super) fn release(&mut self) {
            for id in self.ids.drain(..) {
                signal_hook::low_level::unregister(id);
            }
            self.restore.store(true, Ordering::SeqCst);
        }
    }
}

#[cfg(windows)]
mod imp {
    use std::io;
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    use std::sync::{Arc, Mutex, OnceLock, PoisonError};

    /// The exit code Windows gives a console process ended by Ctrl-C (`STATUS_CONTROL_C_EXIT`).
    const CONTROL_C_EXIT: i32 = 0xC000_013A_u32 as i32;

    /// The flags of the guards alive now. `ctrlc` takes one handler per process, for good:
    /// it is installed once and looks here.
    static FLAGS: Mutex<Vec<(u64, Arc<AtomicBool>)>> = Mutex::new(Vec::new());
    static INSTALLED: OnceLock<Result<(), String>> = OnceLock::new();
    static NEXT: AtomicU64 = AtomicU64::new(0);

    fn handler() {
        let flags = FLAGS.lock().unwrap_or_else(PoisonError::into_inner);
        if flags.is_empty() {
            // No guard lives: what Ctrl-C does to a console program without a handler.
            std::process::exit(CONTROL_C_EXIT);
        }
        for (_, flag) in flags.iter() {
            flag.store(true, Ordering::SeqCst);
        }
    }

    #[derive(Debug)]
    pub(super) struct Guard {
        id: Option<u64>,
    }

    impl Guard {
        pub(super) fn new(flag: Arc<AtomicBool>) -> io::Result<Guard> {
            INSTALLED
                .get_or_init(|| ctrlc::set_handler(handler).map_err(|e| e.to_string()))
                .clone()
                .map_err(io::Error::other)?;
            let id = NEXT.fetch_add(1, Ordering::Relaxed);
            FLAGS
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push((id, flag));
            Ok(Guard { id: Some(id) })
        }

        pub(super) fn release(&mut self) {
            if let Some(id) = self.id.take() {
                FLAGS
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .retain(|(i, _)| *i != id);
            }
        }
    }
}
