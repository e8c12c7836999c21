//! File exporter: spans as JSON Lines (Prela JSON, one span per line), with
//! size-based rotation, readable by the Python Prela SDK.
//!
//! ## Layouts
//!
//! - [`Layout::PerService`] (default):
//!   `<dir>/<service>/<YYYY-MM-DD>/traces-NNN.jsonl`
//! - [`Layout::Flat`], the Python SDK's layout, so its tools read our
//!   traces: `<dir>/traces-YYYY-MM-DD-NNN.jsonl`
//!
//! `<service>` is the span resource's `service.name` with every character
//! other than ASCII letters, digits, `.`, `-` and `_` replaced by `_`
//! (`unknown_service` when unset). The date is the UTC date when the file is
//! opened. `NNN` counts from `001` (more digits past 999).
//!
//! ## Rotation and restarts
//!
//! A file is closed and the next number opened once it reaches
//! `max_file_size` (default 100 MiB), checked before each span is written,
//! so a file ends up at most one span over. A new day starts a new file. On
//! start, and whenever it opens a file, the exporter takes the number after
//! the highest one already in the directory, and creates the file with
//! `create_new`: an existing file is never overwritten or appended to, even
//! by two processes sharing a directory.
//!
//! Each export batch is written with whole lines and flushed before
//! `export` returns. A write error is returned as a failure, never dropped.
//!
//! ## A full disk, a removed directory
//!
//! A write that fails part way (no space left, a file size limit) is rolled
//! back: the file is truncated to its last whole line, so a line is never
//! torn in the middle of a file, and the spans of that write are reported
//! failed while those written before it in the batch are reported written
//! (a partial success): the counts match the files exactly. A file that
//! cannot be truncated is closed, and the next batch opens a new one.
//!
//! Before a batch, each file it goes to is checked to be still at its
//! path (same device and inode; one `stat`): a file or trace directory
//! removed or moved away while running is made again, never written to
//! unlinked. In single-file mode a file moved away (log rotation) is
//! created again at its path; there the rollback truncates to the length
//! found before the write, and pipes and devices, which cannot be
//! truncated, are left as they are.
//!
//! ## Feature flags
//!
//! None.
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![warn(unreachable_pub, missing_debug_implementations)]
#![warn(clippy::exhaustive_enums, clippy::exhaustive_structs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

use std::collections::HashMap;
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Instant, SystemTime};

use prela_core::json::{ReadError, read_jsonl, write_span_line};
use prela_core::time::format_date;
use prela_core::{ExportError, ExportResult, SpanData, SpanExporter};

/// Where files go inside the directory.
#[allow(clippy::exhaustive_enums)] // the two documented layouts
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Layout {
    /// `<dir>/<service>/<YYYY-MM-DD>/traces-NNN.jsonl`
    #[default]
    PerService,
    /// `<dir>/traces-YYYY-MM-DD-NNN.jsonl`, as the Python SDK writes.
    Flat,
}

/// Why the exporter could not be built.
#[derive(Debug)]
pub struct FileExporterError {
    path: PathBuf,
    source: io::Error,
}

impl fmt::Display for FileExporterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "cannot write traces to directory {:?}: {}",
            self.path, self.source
        )
    }
}

impl std::error::Error for FileExporterError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

/// Default rotation size: 100 MiB, as the Python SDK's `max_file_size_mb`.
pub const DEFAULT_MAX_FILE_SIZE: u64 = 100 * 1024 * 1024;

/// Configures a [`FileExporter`].
#[derive(Debug, Clone)]
#[must_use]
pub struct FileExporterBuilder {
    directory: PathBuf,
    layout: Layout,
    max_file_size: u64,
    single_file: Option<PathBuf>,
}

impl FileExporterBuilder {
    /// The directory (default `./traces`). Created if missing.
    pub fn directory(mut self, dir: impl Into<PathBuf>) -> Self {
        self.directory = dir.into();
        self
    }

    /// The layout (default [`Layout::PerService`]).
    pub fn layout(mut self, layout: Layout) -> Self {
        self.layout = layout;
        self
    }

    /// Rotation size in MiB (default 100), as the Python SDK's
    /// `max_file_size_mb`.
    pub fn max_file_size_mb(mut self, mb: u64) -> Self {
        self.max_file_size = mb.saturating_mul(1024 * 1024).max(1);
        self
    }

    /// Rotation size in bytes.
    pub fn max_file_size_bytes(mut self, bytes: u64) -> Self {
        self.max_file_size = bytes.max(1);
        self
    }

    /// Appends every span to this one file instead (created if missing,
    /// never rotated, truncated only to undo a write of its own that failed
    /// part way): `/dev/stdout`, a named pipe, a log file managed by
    /// something else (moved away, it is created again at its path).
    pub fn single_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.single_file = Some(path.into());
        self
    }

    /// Checks that the directory can be created and written, and builds the
    /// exporter.
    pub fn build(self) -> Result<FileExporter, FileExporterError> {
        if let Some(path) = self.single_file {
            let file = open_single(&path).map_err(|source| FileExporterError {
                path: path.clone(),
                source,
            })?;
            let mut open = HashMap::new();
            open.insert(SINGLE.to_owned(), file);
            return Ok(FileExporter {
                directory: path,
                layout: self.layout,
                max_file_size: u64::MAX,
                single: true,
                state: Mutex::new(State {
                    open,
                    shut_down: false,
                }),
            });
        }
        let err = |source| FileExporterError {
            path: self.directory.clone(),
            source,
        };
        fs::create_dir_all(&self.directory).map_err(err)?;
        let probe = self
            .directory
            .join(format!(".prela-write-check-{}", std::process::id()));
        File::create(&probe).map_err(err)?;
        fs::remove_file(&probe).map_err(err)?;
        Ok(FileExporter {
            directory: self.directory,
            layout: self.layout,
            max_file_size: self.max_file_size,
            single: false,
            state: Mutex::new(State {
                open: HashMap::new(),
                shut_down: false,
            }),
        })
    }
}

struct OpenFile {
    file: File,
    path: PathBuf,
    date: String,
    seq: u32,
    /// Bytes written, all of them whole lines: where a failed write is
    /// rolled back to.
    size: u64,
    /// What the path named when the file was opened.
    identity: Option<Identity>,
    /// Single-file mode: others may append too, so `size` is not where
    /// our last line ends.
    shared: bool,
}

/// A file's device and inode, to tell whether its path still names it.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Identity(u64, u64);

impl Identity {
    #[cfg(unix)]
    fn of(m: &fs::Metadata) -> Option<Identity> {
        use std::os::unix::fs::MetadataExt;
        Some(Identity(m.dev(), m.ino()))
    }

    #[cfg(not(unix))]
    fn of(_: &fs::Metadata) -> Option<Identity> {
        None
    }
}

impl OpenFile {
    fn new(file: File, path: PathBuf, date: &str, seq: u32) -> OpenFile {
        let identity = file.metadata().ok().and_then(|m| Identity::of(&m));
        OpenFile {
            file,
            path,
            date: date.to_owned(),
            seq,
            size: 0,
            identity,
            shared: false,
        }
    }

    /// `true` when the file's path no longer names it (the file or its
    /// directory was removed or replaced): spans written to it would be
    /// written to a file no one can open.
    fn is_gone(&self) -> bool {
        match fs::metadata(&self.path) {
            Ok(m) => Identity::of(&m) != self.identity,
            Err(_) => true,
        }
    }
}

struct State {
    /// The current file per service (one entry in the flat layout).
    open: HashMap<String, OpenFile>,
    shut_down: bool,
}

/// Writes spans as JSONL files. See the crate docs.
pub struct FileExporter {
    directory: PathBuf,
    layout: Layout,
    max_file_size: u64,
    /// Everything goes to one file (`single_file`).
    single: bool,
    state: Mutex<State>,
}

/// The key of the one open file in single-file mode.
const SINGLE: &str = "\u{0}single";

impl fmt::Debug for FileExporter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileExporter")
            .field("directory", &self.directory)
            .field("layout", &self.layout)
            .field("max_file_size", &self.max_file_size)
            .finish()
    }
}

fn sanitize(service: &str) -> String {
    let s: String = service
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if s.is_empty() || s.chars().all(|c| c == '.') {
        "unknown_service".to_owned()
    } else {
        s
    }
}

impl FileExporter {
    /// A builder.
    pub fn builder() -> FileExporterBuilder {
        FileExporterBuilder {
            directory: PathBuf::from("./traces"),
            layout: Layout::PerService,
            max_file_size: DEFAULT_MAX_FILE_SIZE,
            single_file: None,
        }
    }

    /// The directory traces go to.
    pub fn directory(&self) -> &Path {
        &self.directory
    }

    fn dir_and_prefix(&self, service: &str, date: &str) -> (PathBuf, String) {
        match self.layout {
            Layout::Flat => (self.directory.clone(), format!("traces-{date}-")),
            Layout::PerService => (
                self.directory.join(sanitize(service)).join(date),
                "traces-".to_owned(),
            ),
        }
    }

    /// Opens the next file after the highest existing number.
    fn open_next(&self, service: &str, date: &str, after: u32) -> io::Result<OpenFile> {
        let (dir, prefix) = self.dir_and_prefix(service, date);
        fs::create_dir_all(&dir)?;
        let mut seq = after;
        for entry in fs::read_dir(&dir)? {
            let name = entry?.file_name();
            let Some(name) = name.to_str() else { continue };
            if let Some(n) = name
                .strip_prefix(prefix.as_str())
                .and_then(|r| r.strip_suffix(".jsonl"))
                .and_then(|n| n.parse::<u32>().ok())
            {
                seq = seq.max(n);
            }
        }
        loop {
            seq = seq
                .checked_add(1)
                .ok_or_else(|| io::Error::other("file sequence number overflow"))?;
            let path = dir.join(format!("{prefix}{seq:03}.jsonl"));
            match OpenOptions::new().append(true).create_new(true).open(&path) {
                Ok(file) => return Ok(OpenFile::new(file, path, date, seq)),
                // Another process took this number: try the next.
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Writes a batch in whole lines. On an error, how many of its spans
    /// are in files: the write that failed was rolled back, so the rest are
    /// in none.
    fn write_batch(&self, state: &mut State, batch: &[SpanData]) -> Result<(), (usize, io::Error)> {
        if self.single {
            let mut buf = Vec::with_capacity(batch.len() * 512);
            for span in batch {
                write_span_line(&mut buf, span).map_err(|e| (0, io::Error::other(e)))?;
            }
            if state.open.get(SINGLE).is_none_or(OpenFile::is_gone) {
                // Removed or moved away (by log rotation, say): a new file
                // at the path.
                let file = open_single(&self.directory).map_err(|e| (0, e))?;
                state.open.insert(SINGLE.to_owned(), file);
            }
            return Self::write_to(state, SINGLE, &buf).map_err(|e| (0, e));
        }
        let date = format_date(SystemTime::now());
        let mut line = Vec::with_capacity(1024);
        // Per service: the lines not yet written, and how many.
        let mut pending: HashMap<String, (Vec<u8>, usize)> = HashMap::new();
        let mut written = 0;
        for span in batch {
            let service = match self.layout {
                Layout::Flat => String::new(),
                Layout::PerService => span.resource.service_name().unwrap_or("").to_owned(),
            };
            line.clear();
            write_span_line(&mut line, span).map_err(|e| (written, io::Error::other(e)))?;
            let buffered = pending.get(&service);
            let needs_new = match state.open.get(&service) {
                None => true,
                Some(f) => {
                    let bytes = buffered.map_or(0, |(b, _)| b.len() as u64);
                    f.date != date
                        || f.size + bytes >= self.max_file_size
                        // Once a batch: was the file or directory removed?
                        || (buffered.is_none() && f.is_gone())
                }
            };
            if needs_new {
                if let Some((buf, n)) = pending.remove(&service) {
                    Self::write_to(state, &service, &buf).map_err(|e| (written, e))?;
                    written += n;
                }
                let after = state
                    .open
                    .get(&service)
                    .filter(|f| f.date == date)
                    .map_or(0, |f| f.seq);
                let next = self
                    .open_next(&service, &date, after)
                    .map_err(|e| (written, e))?;
                state.open.insert(service.clone(), next);
            }
            let (buf, n) = pending.entry(service).or_default();
            buf.extend_from_slice(&line);
            *n += 1;
        }
        for (service, (buf, n)) in pending {
            Self::write_to(state, &service, &buf).map_err(|e| (written, e))?;
            written += n;
        }
        Ok(())
    }

    /// Appends whole lines to a service's file. A write that fails (a full
    /// disk, a size limit) is rolled back to the last whole line, so no
    /// line is ever torn in the middle of a file; a file that cannot be
    /// rolled back is closed, and the next batch starts a new one.
    fn write_to(state: &mut State, service: &str, buf: &[u8]) -> io::Result<()> {
        let f = state
            .open
            .get_mut(service)
            .ok_or_else(|| io::Error::other("no open file"))?;
        // Where the file ends before the write. A shared file (single-file
        // mode) is asked: pipes and devices have no end to go back to.
        let end = if f.shared {
            f.file
                .metadata()
                .ok()
                .filter(fs::Metadata::is_file)
                .map(|m| m.len())
        } else {
            Some(f.size)
        };
        if let Err(e) = f.file.write_all(buf) {
            let e = io::Error::new(e.kind(), format!("{}: {e}", f.path.display()));
            if let Some(end) = end {
                if f.file.set_len(end).is_err() {
                    state.open.remove(service);
                }
            }
            return Err(e);
        }
        f.size += buf.len() as u64;
        Ok(())
    }

    /// The paths of the files currently being written.
    pub fn current_files(&self) -> Vec<PathBuf> {
        self.state
            .lock()
            .map(|s| s.open.values().map(|f| f.path.clone()).collect())
            .unwrap_or_default()
    }
}

impl FileExporter {
    /// The state; a writer that panicked mid-export poisons it for good.
    fn lock(&self) -> Result<std::sync::MutexGuard<'_, State>, ExportError> {
        self.state.lock().map_err(|_| {
            ExportError::Other("file exporter state poisoned by an earlier panic".into())
        })
    }
}

impl SpanExporter for FileExporter {
    fn export(&self, batch: &[SpanData]) -> ExportResult {
        let mut state = match self.lock() {
            Ok(s) => s,
            Err(e) => return ExportResult::Failure(e),
        };
        if state.shut_down {
            return ExportResult::Failure(ExportError::Shutdown);
        }
        match self.write_batch(&mut state, batch) {
            Ok(()) => ExportResult::Success,
            Err((0, e)) => ExportResult::Failure(ExportError::Io(e)),
            // Some lines went to a file before the error: only the rest
            // are failed.
            Err((written, e)) => ExportResult::PartialSuccess {
                rejected: (batch.len() - written) as u64,
                message: e.to_string(),
            },
        }
    }

    fn force_flush(&self, _deadline: Instant) -> Result<(), ExportError> {
        let mut state = self.lock()?;
        for f in state.open.values_mut() {
            f.file.flush()?;
        }
        Ok(())
    }

    fn shutdown(&self, deadline: Instant) -> Result<(), ExportError> {
        self.force_flush(deadline)?;
        let mut state = self.lock()?;
        state.shut_down = true;
        for f in state.open.values_mut() {
            f.file.sync_data()?;
        }
        state.open.clear();
        Ok(())
    }
}

/// Opens the file of single-file mode for appending, created if missing.
fn open_single(path: &Path) -> io::Result<OpenFile> {
    let file = OpenOptions::new().append(true).create(true).open(path)?;
    let mut f = OpenFile::new(file, path.to_path_buf(), "", 0);
    f.shared = true;
    Ok(f)
}

/// Every `*.jsonl` file under `dir` (recursively), sorted by path.
pub fn trace_files(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in fs::read_dir(&d)? {
            let entry = entry?;
            let path = entry.path();
            if entry.file_type()?.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "jsonl") {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// What [`read_file_lenient`] found.
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct ReadReport {
    /// Every span read, in order.
    pub spans: Vec<SpanData>,
    /// Why a line was skipped (only a torn last line ever is).
    pub warnings: Vec<String>,
}

/// Reads a JSONL file written by this exporter, as after a crash: a torn
/// last line (a process killed mid-write leaves at most that) is skipped
/// with a warning (also logged through `tracing`); any other bad line is an
/// error naming its number.
pub fn read_file_lenient(path: &Path) -> io::Result<ReadReport> {
    let text = fs::read(path)?;
    let complete = text.ends_with(b"\n");
    let lines: Vec<&[u8]> = text
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    let mut report = ReadReport::default();
    for (i, line) in lines.iter().enumerate() {
        let last = i + 1 == lines.len();
        let parsed = std::str::from_utf8(line)
            .map_err(|e| format!("not UTF-8: {e}"))
            .and_then(|l| {
                prela_core::json::parse_span(l)
                    .map_err(|e| (e.to_string(), e.is_truncated()))
                    .map_err(|(m, _)| m)
            });
        match parsed {
            Ok(span) => report.spans.push(span),
            Err(e) if last && !complete => {
                let w = format!(
                    "{}: skipped a torn last line (line {}): {e}",
                    path.display(),
                    i + 1
                );
                tracing::warn!(target: "prela", "{w}");
                report.warnings.push(w);
            }
            Err(e) => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("{}: line {}: {e}", path.display(), i + 1),
                ));
            }
        }
    }
    Ok(report)
}

/// Reads the spans of one JSONL file, in order; each item is a span or the
/// error for that line.
pub fn read_file(path: &Path) -> io::Result<impl Iterator<Item = Result<SpanData, ReadError>>> {
    Ok(read_jsonl(BufReader::new(File::open(path)?)))
}
