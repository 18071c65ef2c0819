//! The file store: one line-protocol file per measurement and UTC day,
//! `{dir}/{measurement}/{YYYY-MM-DD}.lp`, with nanosecond timestamps so that
//! `influx write` (or `curl --data-binary @file …/write`) imports a file as it is.
//!
//! Files are only appended to. A re-emitted window appends another line with the
//! same series and timestamp; InfluxDB keeps the last one it reads, and so does
//! [`read_points`].

use std::collections::{BTreeMap, HashMap};
use std::fs::{File, OpenOptions};
use std::io::{BufRead as _, BufReader, BufWriter, Read as _, Seek as _, SeekFrom, Write as _};
use std::path::{Path, PathBuf};

use crate::row::Row;
use time::{Date, OffsetDateTime};

use crate::error::StoreError;
use crate::http::{Refused, WriteReport};
use crate::lp::{self, Precision};
use crate::point::Point;

/// Most files kept open at once; opening one more closes them all first.
const MAX_OPEN_FILES: usize = 16;

/// Appends rows to daily line-protocol files under a directory.
///
/// Each [`FileSink::write`] ends by handing what it wrote to the operating system,
/// so a crash of the process loses nothing that `write` reported written;
/// [`FileSink::flush`] also waits for the disk.
///
/// After an I/O error (a full disk, a read-only file system) the sink forgets its
/// open files and the bytes it still held for them; the next write opens them again
/// and first cuts any line the error left torn, so that writing the same rows again
/// leaves whole lines only.
#[derive(Debug)]
pub struct FileSink {
    dir: PathBuf,
    open: HashMap<(&'static str, Date), BufWriter<File>>,
}

impl FileSink {
    /// A sink writing under `dir` (created when the first row is written).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: dir.into(),
            open: HashMap::new(),
        }
    }

    /// The directory written to.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Appends `rows`, each to its measurement's file for the UTC day of its time.
    /// A row the encoder refuses (see [`crate::lp`]), or whose measurement cannot
    /// name a directory, is not written and comes back refused. An I/O error stops
    /// the write; writing the same rows again after it is harmless.
    pub fn write(&mut self, rows: &[Row]) -> crate::Result<WriteReport> {
        let mut report = WriteReport::default();
        let mut line = Vec::with_capacity(256);
        let mut touched: Vec<(&'static str, Date)> = Vec::new();
        let result: crate::Result<()> = (|| {
            for row in rows {
                line.clear();
                if let Err(e) = lp::encode(row, Precision::Ns, &mut line) {
                    tracing::warn!(error = %e, "row refused by the line-protocol encoder");
                    report.refused.push(Refused::unencodable(row, &e));
                    continue;
                }
                if !usable_as_dir(row.measurement) {
                    report.refused.push(Refused {
                        line: String::from_utf8_lossy(&line).trim_end().to_owned(),
                        status: Refused::NOT_SENT,
                        message: format!(
                            "measurement `{}` cannot name a directory",
                            row.measurement
                        ),
                    });
                    continue;
                }
                let key = (row.measurement, utc_day(row.time_ms));
                let path = file_path(&self.dir, key.0, key.1);
                let w = self.writer(key)?;
                w.write_all(&line).map_err(|e| StoreError::io(&path, e))?;
                if !touched.contains(&key) {
                    touched.push(key);
                }
                report.written += 1;
            }
            Ok(())
        })();
        let result = result.and_then(|()| {
            for key in touched {
                if let Some(w) = self.open.get_mut(&key) {
                    w.flush()
                        .map_err(|e| StoreError::io(file_path(&self.dir, key.0, key.1), e))?;
                }
            }
            Ok(report)
        });
        if result.is_err() {
            self.forget_open_files();
        }
        result
    }

    /// Writes out every buffer and waits until the files are on disk.
    pub fn flush(&mut self) -> crate::Result<()> {
        let mut result = Ok(());
        for ((m, day), w) in &mut self.open {
            let path = file_path(&self.dir, m, *day);
            result = w
                .flush()
                .and_then(|()| w.get_ref().sync_data())
                .map_err(|e| StoreError::io(&path, e));
            if result.is_err() {
                break;
            }
        }
        if result.is_err() {
            // What fsync failed to write may be gone from the page cache: nothing
            // since the last good flush can be trusted, and the caller writes it again.
            self.forget_open_files();
        }
        result
    }

    /// Closes every open file without writing what its buffer still holds.
    fn forget_open_files(&mut self) {
        for (_, w) in self.open.drain() {
            let (_file, _unwritten) = w.into_parts();
        }
    }

    /// The open file for `key`, opening it (and its directory) if needed.
    fn writer(&mut self, key: (&'static str, Date)) -> crate::Result<&mut BufWriter<File>> {
        if !self.open.contains_key(&key) {
            if self.open.len() >= MAX_OPEN_FILES {
                self.flush()?;
                self.open.clear();
            }
            let path = file_path(&self.dir, key.0, key.1);
            let parent = path.parent().expect("a file path has a parent");
            std::fs::create_dir_all(parent).map_err(|e| StoreError::io(parent, e))?;
            let mut file = OpenOptions::new()
                .create(true)
                .append(true)
                .read(true)
                .open(&path)
                .map_err(|e| StoreError::io(&path, e))?;
            // A crash or an I/O error can leave a torn last line, never committed:
            // cut it, so that it neither swallows the next line nor reads as a
            // shorter, wrong one (a timestamp cut short is still a number).
            let cut = cut_torn_tail(&mut file).map_err(|e| StoreError::io(&path, e))?;
            if cut > 0 {
                tracing::warn!(file = %path.display(), bytes = cut, "cut a torn last line");
            }
            self.open
                .insert(key, BufWriter::with_capacity(64 * 1024, file));
        }
        Ok(self.open.get_mut(&key).expect("inserted above"))
    }
}

impl Drop for FileSink {
    fn drop(&mut self) {
        for ((m, day), w) in &mut self.open {
            if let Err(e) = w.flush() {
                tracing::error!(
                    file = %file_path(&self.dir, m, *day).display(),
                    error = %e,
                    "line-protocol file not flushed"
                );
            }
        }
    }
}

/// Cuts what follows the last newline of `file` (all of it when it has none) and
/// returns how many bytes that was. An empty file, or a device, is left alone.
fn cut_torn_tail(file: &mut File) -> std::io::Result<u64> {
    let meta = file.metadata()?;
    let len = meta.len();
    if len == 0 || !meta.is_file() {
        return Ok(0);
    }
    let mut chunk = vec![0u8; 4096];
    let mut end = len;
    let keep = loop {
        let start = end.saturating_sub(chunk.len() as u64);
        let buf = &mut chunk[..(end - start) as usize];
        file.seek(SeekFrom::Start(start))?;
        file.read_exact(buf)?;
        if let Some(i) = buf.iter().rposition(|&b| b == b'\n') {
            break start + i as u64 + 1;
        }
        if start == 0 {
            break 0;
        }
        end = start;
    };
    if keep < len {
        file.set_len(keep)?;
    }
    Ok(len - keep)
}

/// Whether `measurement` can be a directory name.
fn usable_as_dir(measurement: &str) -> bool {
    !matches!(measurement, "" | "." | "..") && !measurement.contains(['/', '\\', '\0'])
}

/// The UTC day of `time_ms` (the first or last day `time` knows, beyond them).
fn utc_day(time_ms: i64) -> Date {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(time_ms) * 1_000_000).map_or(
        if time_ms < 0 { Date::MIN } else { Date::MAX },
        OffsetDateTime::date,
    )
}

/// `{dir}/{measurement}/{YYYY-MM-DD}.lp`.
pub fn file_path(dir: &Path, measurement: &str, day: Date) -> PathBuf {
    dir.join(measurement).join(format!(
        "{:04}-{:02}-{:02}.lp",
        day.year(),
        u8::from(day.month()),
        day.day()
    ))
}

/// The day a file is for, from its name.
fn day_of_file(name: &str) -> Option<Date> {
    let stem = name.strip_suffix(".lp")?;
    let mut parts = stem.splitn(3, '-');
    let (y, m, d) = (parts.next()?, parts.next()?, parts.next()?);
    if y.len() != 4 || m.len() != 2 || d.len() != 2 {
        return None;
    }
    let month = time::Month::try_from(m.parse::<u8>().ok()?).ok()?;
    Date::from_calendar_date(y.parse().ok()?, month, d.parse().ok()?).ok()
}

/// The points of `measurement` with `from_ms <= time_ms < to_ms`, read from the files
/// under `dir` that [`FileSink`] writes, sorted by time then tags. Where a series has
/// several lines at one timestamp the fields are merged and the last line's value
/// of each field wins, as InfluxDB does. Lines that cannot be read (a line torn by a
/// crash) are skipped with a warning. A measurement with no directory has no points.
pub fn read_points(
    dir: &Path,
    measurement: &str,
    from_ms: i64,
    to_ms: i64,
) -> crate::Result<Vec<Point>> {
    let mut points: BTreeMap<(i64, BTreeMap<String, String>), Point> = BTreeMap::new();
    for_each_point(dir, measurement, from_ms, to_ms, |p| {
        match points.entry((p.time_ms, p.tags.clone())) {
            std::collections::btree_map::Entry::Vacant(v) => {
                v.insert(p);
            }
            std::collections::btree_map::Entry::Occupied(mut o) => {
                o.get_mut().fields.extend(p.fields);
            }
        }
    })?;
    Ok(points.into_values().collect())
}

/// Each line of `measurement` with `from_ms <= time_ms < to_ms` under `dir`, as a
/// point, in file order (day by day, each file from its start), without holding more
/// than one line: a window written again (a late correction) comes again, later, and
/// the caller keeps the last, as [`read_points`] and InfluxDB do. Unreadable lines are
/// skipped with a warning.
pub fn for_each_point(
    dir: &Path,
    measurement: &str,
    from_ms: i64,
    to_ms: i64,
    mut f: impl FnMut(Point),
) -> crate::Result<()> {
    let mdir = dir.join(measurement);
    if from_ms >= to_ms || !usable_as_dir(measurement) || !mdir.is_dir() {
        return Ok(());
    }
    let (first, last) = (utc_day(from_ms), utc_day(to_ms - 1));
    let mut files: Vec<(Date, PathBuf)> = Vec::new();
    for entry in std::fs::read_dir(&mdir).map_err(|e| StoreError::io(&mdir, e))? {
        let entry = entry.map_err(|e| StoreError::io(&mdir, e))?;
        let name = entry.file_name();
        if let Some(day) = name.to_str().and_then(day_of_file)
            && (first..=last).contains(&day)
        {
            files.push((day, entry.path()));
        }
    }
    files.sort();
    for (_, path) in files {
        let file = File::open(&path).map_err(|e| StoreError::io(&path, e))?;
        for (i, line) in BufReader::new(file).split(b'\n').enumerate() {
            let line = line.map_err(|e| StoreError::io(&path, e))?;
            let Ok(text) = std::str::from_utf8(&line) else {
                tracing::warn!(file = %path.display(), line = i + 1, "skipped a line that is not UTF-8");
                continue;
            };
            let text = text.trim_end_matches('\r');
            if text.trim().is_empty() || text.starts_with('#') {
                continue;
            }
            let p = match lp::parse_line(text, Precision::Ns) {
                Ok(p) => p,
                Err(e) => {
                    tracing::warn!(file = %path.display(), line = i + 1, error = %e, "skipped an unreadable line");
                    continue;
                }
            };
            if p.measurement != measurement || p.time_ms < from_ms || p.time_ms >= to_ms {
                continue;
            }
            f(p);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
