//! Durable file writes. Payloads, transcripts and artifacts are plain files beside the
//! store; each is written whole or not at all: temp file in the same folder, fsync,
//! rename over the target, fsync the folder. A crash leaves the old file or the new one,
//! never half of either.
//!
//! Every fsync costs milliseconds, on some disks many, so a command that writes several
//! files gathers them in a [`Batch`]: the files' data are synced in parallel, then each is
//! renamed into place, then every folder touched is synced once, in parallel. Files that
//! can be rebuilt from the store (status files, copies of DO scripts) are written with
//! [`write_derived`]: atomic (never seen half-written) but not synced.

use std::fs::{self, File};
use std::io::Write;
use std::path::Path;

use crate::{Error, Result};

/// Temp files are named `.coagent-tmp-<pid>-…`: `coagent doctor` removes those whose
/// process is gone (a write killed before its rename).
pub const TEMP_PREFIX: &str = ".coagent-tmp-";

fn temp_prefix() -> String {
    format!("{TEMP_PREFIX}{}-", std::process::id())
}

pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    write_file(path, bytes, true)
}

/// Atomic but not synced: for files derived from the store, rebuilt when lost.
pub fn write_derived(path: &Path, bytes: &[u8]) -> Result<()> {
    write_file(path, bytes, false)
}

fn write_file(path: &Path, bytes: &[u8], sync: bool) -> Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    fs::create_dir_all(dir)
        .map_err(|e| Error::io(format!("cannot create {}", dir.display()), e))?;
    let ctx = || format!("cannot write {}", path.display());
    let mut tmp = tempfile::Builder::new()
        .prefix(&temp_prefix())
        .tempfile_in(dir)
        .map_err(|e| Error::io(ctx(), e))?;
    tmp.write_all(bytes).map_err(|e| Error::io(ctx(), e))?;
    if sync {
        tmp.as_file().sync_all().map_err(|e| Error::io(ctx(), e))?;
    }
    persist(tmp, path).map_err(|e| Error::io(ctx(), e))?;
    if sync { sync_dir(dir) } else { Ok(()) }
}

/// How long a rename over a file that another program holds open is tried again (Windows).
pub const SHARING_RETRY: std::time::Duration = std::time::Duration::from_secs(2);

/// Renames a temp file over `path`. On Windows a file another program has open (a status
/// bar reading the ticker's files, an editor, a virus scanner) cannot be replaced for a
/// moment: "access denied" (os error 5) or a sharing violation (32). The rename is tried
/// again for up to [`SHARING_RETRY`], with short naps; the file is never left half-written.
pub fn persist(tmp: tempfile::NamedTempFile, path: &Path) -> std::io::Result<()> {
    let mut tmp = tmp;
    let mut nap = std::time::Duration::from_millis(2);
    let until = std::time::Instant::now() + SHARING_RETRY;
    loop {
        match tmp.persist(path) {
            Ok(_) => return Ok(()),
            Err(e) if is_sharing_violation(&e.error) && std::time::Instant::now() < until => {
                tmp = e.file;
                std::thread::sleep(nap);
                nap = (nap * 2).min(std::time::Duration::from_millis(50));
            }
            Err(e) => return Err(e.error),
        }
    }
}

/// Whether an error is Windows' "someone has that file open" (never true elsewhere).
fn is_sharing_violation(e: &std::io::Error) -> bool {
    const ACCESS_DENIED: i32 = 5;
    const SHARING_VIOLATION: i32 = 32;
    const LOCK_VIOLATION: i32 = 33;
    cfg!(windows)
        && matches!(
            e.raw_os_error(),
            Some(ACCESS_DENIED | SHARING_VIOLATION | LOCK_VIOLATION)
        )
}

/// Durable writes that share their syncs (see the module docs).
#[derive(Default)]
pub struct Batch<'a> {
    /// Borrowed bytes are written as they are: a 1 MiB reply is not copied to be saved.
    writes: Vec<(std::path::PathBuf, std::borrow::Cow<'a, [u8]>)>,
    links: Vec<(std::path::PathBuf, std::path::PathBuf)>,
}

impl<'a> Batch<'a> {
    pub fn new() -> Batch<'a> {
        Batch::default()
    }

    pub fn write(
        &mut self,
        path: impl Into<std::path::PathBuf>,
        bytes: impl Into<std::borrow::Cow<'a, [u8]>>,
    ) {
        self.writes.push((path.into(), bytes.into()));
    }

    /// After the writes land, `to` becomes a second name of `from` (a copy where the
    /// filesystem has no hard links): the transcript keeps a payload without copying it.
    pub fn link(&mut self, from: impl Into<std::path::PathBuf>, to: impl Into<std::path::PathBuf>) {
        self.links.push((from.into(), to.into()));
    }

    pub fn is_empty(&self) -> bool {
        self.writes.is_empty() && self.links.is_empty()
    }

    /// The files this batch would create that do not exist yet: what to remove again when
    /// the transaction that should record them fails.
    pub fn new_files(&self) -> Vec<std::path::PathBuf> {
        self.writes
            .iter()
            .map(|(p, _)| p)
            .chain(self.links.iter().map(|(_, to)| to))
            .filter(|p| !p.exists())
            .cloned()
            .collect()
    }

    pub fn commit(self) -> Result<()> {
        let mut dirs: Vec<std::path::PathBuf> = Vec::new();
        let mut temps = Vec::with_capacity(self.writes.len());
        for (path, bytes) in &self.writes {
            let dir = path
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new("."))
                .to_path_buf();
            new_dir(&dir, &mut dirs)?;
            let ctx = || format!("cannot write {}", path.display());
            let mut tmp = tempfile::Builder::new()
                .prefix(&temp_prefix())
                .tempfile_in(&dir)
                .map_err(|e| Error::io(ctx(), e))?;
            tmp.write_all(bytes).map_err(|e| Error::io(ctx(), e))?;
            temps.push((path, tmp));
            if !dirs.contains(&dir) {
                dirs.push(dir);
            }
        }
        parallel(
            temps
                .iter()
                .map(|(p, t)| (p.display().to_string(), t.as_file()))
                .collect(),
            |f| f.sync_data(),
        )?;
        for (path, tmp) in temps {
            persist(tmp, path)
                .map_err(|e| Error::io(format!("cannot write {}", path.display()), e))?;
        }
        for (from, to) in &self.links {
            let dir = to
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new("."))
                .to_path_buf();
            new_dir(&dir, &mut dirs)?;
            let _ = fs::remove_file(to);
            if fs::hard_link(from, to).is_err() {
                let bytes = fs::read(from)
                    .map_err(|e| Error::io(format!("cannot read {}", from.display()), e))?;
                let f = File::create(to)
                    .map_err(|e| Error::io(format!("cannot write {}", to.display()), e))?;
                (&f).write_all(&bytes)
                    .map_err(|e| Error::io(format!("cannot write {}", to.display()), e))?;
                f.sync_data()
                    .map_err(|e| Error::io(format!("cannot sync {}", to.display()), e))?;
            }
            if !dirs.contains(&dir) {
                dirs.push(dir);
            }
        }
        // Windows cannot open a folder as a file (and needs no folder sync: NTFS journals
        // its entries), so there are no handles to sync there.
        let handles: Vec<(String, File)> = dirs
            .iter()
            .filter(|_| cfg!(unix))
            .filter_map(|d| File::open(d).ok().map(|f| (d.display().to_string(), f)))
            .collect();
        parallel(handles.iter().map(|(n, f)| (n.clone(), f)).collect(), |f| {
            f.sync_all()
        })
    }
}

/// Creates `dir` when missing; a new folder's parent must be synced too, for its entry.
fn new_dir(dir: &Path, dirs: &mut Vec<std::path::PathBuf>) -> Result<()> {
    if !dir.exists() {
        fs::create_dir_all(dir)
            .map_err(|e| Error::io(format!("cannot create {}", dir.display()), e))?;
        if let Some(parent) = dir.parent().map(Path::to_path_buf)
            && !dirs.contains(&parent)
        {
            dirs.push(parent);
        }
    }
    Ok(())
}

/// Runs `op` on every file, one thread each (they wait on the disk, not the CPU).
fn parallel(
    files: Vec<(String, &File)>,
    op: impl Fn(&File) -> std::io::Result<()> + Sync,
) -> Result<()> {
    if files.len() <= 1 {
        for (name, f) in files {
            op(f).map_err(|e| Error::io(format!("cannot sync {name}"), e))?;
        }
        return Ok(());
    }
    std::thread::scope(|s| {
        let op = &op;
        let handles: Vec<_> = files
            .iter()
            .map(|(name, f)| {
                s.spawn(move || op(f).map_err(|e| Error::io(format!("cannot sync {name}"), e)))
            })
            .collect();
        handles.into_iter().try_for_each(|h| {
            h.join()
                .unwrap_or_else(|_| Err(Error::Internal("a sync thread panicked".into())))
        })
    })
}

/// fsync a folder so that a rename or a new entry in it survives a power cut. A no-op on
/// Windows, on purpose: a folder cannot be opened for syncing there, and NTFS journals
/// renames and new entries itself (the file's own data is still synced before its rename).
pub fn sync_dir(dir: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        let f =
            File::open(dir).map_err(|e| Error::io(format!("cannot open {}", dir.display()), e))?;
        f.sync_all()
            .map_err(|e| Error::io(format!("cannot sync {}", dir.display()), e))?;
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// `base` joined with a hub-relative path written with `/` (as records and constants
/// name them), one component at a time: on Windows the result has only `\\`, as a path
/// shown to the user or handed to a program should.
pub fn join_rel(base: &Path, rel: &str) -> std::path::PathBuf {
    rel.split('/')
        .filter(|c| !c.is_empty())
        .fold(base.to_path_buf(), |p, c| p.join(c))
}

/// Opens a file to sync it by its path. Windows flushes a file only through a handle that
/// may write (a read-only one fails with "access denied"), so there it is opened for
/// writing too; nothing is written or truncated.
pub fn open_for_sync(path: &Path) -> std::io::Result<File> {
    fs::OpenOptions::new()
        .read(true)
        .write(cfg!(windows))
        .open(path)
}

/// A temp file in `dir`, named after this process (see [`TEMP_PREFIX`]).
pub fn temp_in(dir: &Path) -> Result<tempfile::NamedTempFile> {
    tempfile::Builder::new()
        .prefix(&temp_prefix())
        .tempfile_in(dir)
        .map_err(|e| Error::io(format!("cannot write into {}", dir.display()), e))
}

/// Copies at most `limit` bytes from `from` to `to`, hashing them on the way, in chunks;
/// returns the sha256, the bytes copied, and whether that was all of `from` (`false`: it
/// holds more than `limit`, of which one byte more was read).
pub fn copy_hashed(
    from: &mut impl std::io::Read,
    to: &mut impl Write,
    limit: u64,
) -> std::io::Result<(String, u64, bool)> {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut n = 0u64;
    let mut limited = std::io::Read::take(from, limit + 1);
    loop {
        let k = match std::io::Read::read(&mut limited, &mut buf) {
            Ok(0) => break,
            Ok(k) => k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if n + k as u64 > limit {
            return Ok((String::new(), n, false));
        }
        h.update(&buf[..k]);
        to.write_all(&buf[..k])?;
        n += k as u64;
    }
    Ok((hex::encode(h.finalize()), n, true))
}

/// The sha256 of a file's bytes, read in chunks (never whole into memory).
pub fn sha256_file(path: &Path) -> std::io::Result<(String, u64)> {
    use sha2::Digest;
    use std::io::Read;
    let mut h = sha2::Sha256::new();
    let mut f = File::open(path)?;
    let mut buf = vec![0u8; 64 * 1024];
    let mut n = 0u64;
    loop {
        match f.read(&mut buf) {
            Ok(0) => break,
            Ok(k) => {
                h.update(&buf[..k]);
                n += k as u64;
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok((hex::encode(h.finalize()), n))
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

pub fn read_to_string(path: &Path) -> Result<String> {
    let bytes =
        fs::read(path).map_err(|e| Error::io(format!("cannot read {}", path.display()), e))?;
    String::from_utf8(bytes).map_err(|_| {
        Error::invalid(
            format!("{} is not valid UTF-8", path.display()),
            Some("save it as UTF-8".to_string()),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_whole_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("a/b.txt");
        write_atomic(&p, b"one").expect("write");
        write_atomic(&p, b"two").expect("write");
        assert_eq!(fs::read(&p).expect("read"), b"two");
        let leftovers: Vec<_> = fs::read_dir(p.parent().expect("parent"))
            .expect("ls")
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().starts_with(".coagent-tmp-"))
            .collect();
        assert!(leftovers.is_empty());
    }

    #[test]
    fn a_batch_lands_every_file_and_link() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut b = Batch::new();
        b.write(dir.path().join("a/one.txt"), b"1".to_vec());
        b.write(dir.path().join("b/two.txt"), b"2".to_vec());
        b.link(
            dir.path().join("a/one.txt"),
            dir.path().join("c/one-again.txt"),
        );
        b.commit().expect("commit");
        assert_eq!(fs::read(dir.path().join("a/one.txt")).expect("read"), b"1");
        assert_eq!(fs::read(dir.path().join("b/two.txt")).expect("read"), b"2");
        assert_eq!(
            fs::read(dir.path().join("c/one-again.txt")).expect("read"),
            b"1"
        );
    }

    #[test]
    fn sha256_matches_known_vector() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn join_rel_uses_the_platforms_separator_only() {
        let p = join_rel(Path::new("hub"), "temps/status/ticker.json");
        assert_eq!(
            p,
            Path::new("hub")
                .join("temps")
                .join("status")
                .join("ticker.json")
        );
    }

    /// A status bar holding the ticker's file open (without sharing its deletion, as many
    /// Windows programs open files) made the rename over it fail with os error 5.
    #[cfg(windows)]
    #[test]
    fn a_rename_over_a_file_another_program_holds_open_waits_for_it() {
        use std::os::windows::fs::OpenOptionsExt;
        const FILE_SHARE_READ: u32 = 1;
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("SESSION_OK.txt");
        write_derived(&p, b"old").expect("first write");
        let held = fs::OpenOptions::new()
            .read(true)
            .share_mode(FILE_SHARE_READ)
            .open(&p)
            .expect("open");
        let reader = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(300));
            drop(held);
        });
        write_derived(&p, b"new").expect("the rename is tried again");
        reader.join().expect("reader");
        assert_eq!(fs::read(&p).expect("read"), b"new");
    }
}
