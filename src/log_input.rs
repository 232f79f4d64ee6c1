//! Execution logs as people have them, for `classify`: which format an
//! input is in, and each log event's message out of it.
//!
//! An execution log reaches a person as plain lines (`(request-id)
//! message`), as a copy from the CloudWatch console (an ISO-8601 time, a
//! TAB, the message), as `aws logs tail` prints it (the time, the log
//! stream, the message), as the JSON of `aws logs filter-log-events` or
//! `get-log-events` (events with a `message`), as a Logs Insights export
//! (CSV or TSV with an `@message` column, or JSON), or as the JSON of `aws
//! apigateway test-invoke-method` (one `log` string of `\n`-separated
//! lines). Each is unwrapped to the events' messages, which are classified
//! as the collector classifies them ([`crate::classify`]): only the start
//! of a message decides, so text further along (a logged body, a line it
//! continues onto) never makes a failure.
//!
//! Every reader streams: memory stays at a read buffer and one event,
//! whatever the size of the input. Malformed JSON or CSV is an error that
//! names the line.

use std::io::Read;
use std::path::Path;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};

use crate::classify::{
    Tally, has_test_invoke_timestamp, opens_message, trim_blanks, trim_line_end as trim_end,
};

/// The formats `classify` reads; [`detect`] tells which one an input is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// One event per line, as API Gateway writes them: `(request-id) message`.
    Plain,
    /// Copied from the CloudWatch console: `2024-05-14T10:21:33.412Z<TAB>message`.
    Console,
    /// `aws logs tail`: `2024-05-14T10:21:33.412000+00:00 STREAM message`
    /// (or without the stream, `--format short`).
    Tail,
    /// JSON: `aws logs filter-log-events`/`get-log-events`, a Logs Insights
    /// export or `get-query-results`, `aws apigateway test-invoke-method`,
    /// or one event object per line.
    Json,
    /// A Logs Insights export as CSV, with an `@message` column.
    Csv,
    /// A Logs Insights export as TSV, with an `@message` column.
    Tsv,
}

impl Format {
    /// Whether each line of the input stands alone (no state across lines),
    /// so a large file can be cut into stretches of whole lines.
    pub fn is_line_based(self) -> bool {
        matches!(self, Format::Plain | Format::Console | Format::Tail)
    }
}

/// Why an input could not be read.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error("malformed JSON: {0} (--format plain reads it as lines)")]
    Json(serde_json::Error),
    #[error("malformed {format} at line {line}: {message}")]
    Table {
        format: &'static str,
        line: u64,
        message: String,
    },
    #[error("the {format} header has no @message column (it has: {header})")]
    NoMessageColumn {
        format: &'static str,
        header: String,
    },
    #[error("no log events in this JSON: it has none of events, results, log, message or @message")]
    NoEvents,
}

/// A UTF-8 byte order mark, which some editors write first.
const BOM: &[u8] = b"\xEF\xBB\xBF";

/// How much of an input [`detect`] looks at.
pub const DETECT_BYTES: usize = 64 * 1024;

/// The format of an input, from its first non-empty line.
pub fn detect(head: &[u8]) -> Format {
    let head = head.strip_prefix(BOM).unwrap_or(head);
    let Some(first) = head
        .split(|b| *b == b'\n')
        .map(|l| trim_end(trim_blanks(l)))
        .find(|l| !l.is_empty())
    else {
        return Format::Plain;
    };
    if matches!(first[0], b'{' | b'[') {
        return Format::Json;
    }
    if memchr::memmem::find(first, b"@message").is_some() {
        if first.contains(&b'\t') {
            return Format::Tsv;
        }
        if first.contains(&b',') {
            return Format::Csv;
        }
    }
    match iso_timestamp_len(first) {
        Some(n) if first.get(n) == Some(&b'\t') => Format::Console,
        Some(_) => Format::Tail,
        None => Format::Plain,
    }
}

/// Counts every event of `reader`, in `format`, into `tally`.
pub fn tally_input(reader: impl Read, format: Format, tally: &mut Tally) -> Result<(), InputError> {
    match format {
        Format::Plain => Ok(tally_plain(reader, tally)?),
        Format::Console | Format::Tail => {
            let mut events = TimestampedEvents { tally, format };
            Ok(for_each_line(reader, |line| events.line(line))?)
        }
        Format::Json => tally_json(reader, tally),
        Format::Csv => tally_table(reader, b',', "CSV", tally),
        Format::Tsv => tally_table(reader, b'\t', "TSV", tally),
    }
}

/// Size of each read: large enough that the per-read cost vanishes.
const READ_CHUNK: usize = 1 << 20;
/// Bytes of one line kept for classification: the class is decided by the
/// head of a line, so a multi-gigabyte line costs no more memory than this.
pub const LINE_HEAD: usize = 64 * 1024;

/// Counts every line of a plain log into `tally`, streaming: memory stays
/// at one read buffer plus the head of one line, whatever the input size.
pub fn tally_plain(reader: impl Read, tally: &mut Tally) -> std::io::Result<()> {
    for_chunks(reader, |piece| match piece {
        Piece::Lines(lines) => tally.add_lines(lines),
        Piece::Line(line) => tally.add_line(line),
    })
}

/// Calls `each` for every line of `reader` (its head, at most
/// [`LINE_HEAD`] bytes, without the `\n`).
fn for_each_line(reader: impl Read, mut each: impl FnMut(&[u8])) -> std::io::Result<()> {
    for_chunks(reader, |piece| match piece {
        Piece::Lines(lines) => {
            let mut start = 0;
            for end in memchr::memchr_iter(b'\n', lines) {
                each(&lines[start..end]);
                start = end + 1;
            }
        }
        Piece::Line(line) => each(line),
    })
}

/// What [`for_chunks`] hands on.
enum Piece<'a> {
    /// Whole lines, each ending in `\n`.
    Lines(&'a [u8]),
    /// One line pieced together across reads (its head only), without `\n`.
    Line(&'a [u8]),
}

/// Reads `reader` in large chunks and hands on their whole lines at once,
/// and each line that spans chunks pieced together.
fn for_chunks(mut reader: impl Read, mut each: impl FnMut(Piece)) -> std::io::Result<()> {
    let mut buf = vec![0u8; READ_CHUNK];
    let mut partial: Vec<u8> = Vec::new();
    let mut in_partial = false;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        let chunk = &buf[..n];
        let Some(last_newline) = memchr::memrchr(b'\n', chunk) else {
            keep_head(&mut partial, chunk);
            in_partial = true;
            continue;
        };
        let mut whole = &chunk[..=last_newline];
        if in_partial {
            let first_newline = memchr::memchr(b'\n', whole).unwrap_or(last_newline);
            keep_head(&mut partial, &whole[..first_newline]);
            each(Piece::Line(&partial));
            partial.clear();
            whole = &whole[first_newline + 1..];
        }
        each(Piece::Lines(whole));
        let rest = &chunk[last_newline + 1..];
        in_partial = !rest.is_empty();
        keep_head(&mut partial, rest);
    }
    if in_partial {
        each(Piece::Line(&partial));
    }
    Ok(())
}

fn keep_head(partial: &mut Vec<u8>, bytes: &[u8]) {
    let room = LINE_HEAD.saturating_sub(partial.len());
    partial.extend_from_slice(&bytes[..bytes.len().min(room)]);
}

/// Lines that start with an ISO-8601 time: the CloudWatch console's copy
/// and `aws logs tail`. A line without the time continues the event
/// before it (a multi-line body) and is not an event.
struct TimestampedEvents<'t> {
    tally: &'t mut Tally,
    format: Format,
}

impl TimestampedEvents<'_> {
    fn line(&mut self, line: &[u8]) {
        if let Some(message) = timestamped_message(line, self.format) {
            self.tally.add_event(message);
        }
    }
}

/// The message of a console or `tail` line, `None` for a line that
/// continues an event (or is blank).
fn timestamped_message(line: &[u8], format: Format) -> Option<&[u8]> {
    let line = trim_blanks(trim_end(line));
    let stamp = iso_timestamp_len(line)?;
    let rest = trim_blanks(&line[stamp..]);
    if format == Format::Console || opens_message(rest) {
        return Some(rest);
    }
    // `aws logs tail` names the log stream before the message. A stream's
    // name has no `:` or `*` (CloudWatch Logs' rule), which keeps a
    // message's first word from being taken for one.
    let token = rest
        .iter()
        .position(|b| matches!(b, b' ' | b'\t'))
        .unwrap_or(rest.len());
    if rest[..token].iter().any(|b| matches!(b, b':' | b'*')) {
        return Some(rest);
    }
    Some(trim_blanks(&rest[token..]))
}

/// The length of an ISO-8601 time at the start of `line`:
/// `YYYY-MM-DD`, `T` or a space, `HH:MM:SS`, an optional fraction and an
/// optional zone (`Z`, `+HH:MM`, `+HHMM` or `+HH`).
fn iso_timestamp_len(line: &[u8]) -> Option<usize> {
    let digits = |range: std::ops::Range<usize>| {
        line.get(range)
            .is_some_and(|d| d.iter().all(u8::is_ascii_digit))
    };
    let at = |i: usize, ok: &[u8]| line.get(i).is_some_and(|b| ok.contains(b));
    let shape = digits(0..4)
        && at(4, b"-")
        && digits(5..7)
        && at(7, b"-")
        && digits(8..10)
        && at(10, b"T ")
        && digits(11..13)
        && at(13, b":")
        && digits(14..16)
        && at(16, b":")
        && digits(17..19);
    if !shape {
        return None;
    }
    let mut n = 19;
    if at(n, b".,") {
        let fraction = line[n + 1..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
        if fraction > 0 {
            n += 1 + fraction;
        }
    }
    if at(n, b"Z") {
        n += 1;
    } else if at(n, b"+-") && digits(n + 1..n + 3) {
        n += 3;
        if at(n, b":") && digits(n + 1..n + 3) {
            n += 3;
        } else if digits(n..n + 2) {
            n += 2;
        }
    }
    Some(n)
}

/// Counts the events of a JSON input: one document or several (one per
/// line, say), each streamed, so a large `filter-log-events` output is
/// never held whole.
fn tally_json(reader: impl Read, tally: &mut Tally) -> Result<(), InputError> {
    let reader = std::io::BufReader::with_capacity(READ_CHUNK, reader);
    let mut recognised = false;
    for document in serde_json::Deserializer::from_reader(reader).into_iter::<JsonEvents>() {
        let document = document.map_err(|e| match e.io_error_kind() {
            Some(kind) => InputError::Io(std::io::Error::new(kind, e)),
            None => InputError::Json(e),
        })?;
        recognised |= document.recognised;
        tally.merge(&document.tally);
    }
    if recognised {
        Ok(())
    } else {
        Err(InputError::NoEvents)
    }
}

/// The events of one JSON document, counted as it is parsed.
#[derive(Default)]
struct JsonEvents {
    tally: Tally,
    /// Whether the document had any field that holds events.
    recognised: bool,
}

impl<'de> de::Deserialize<'de> for JsonEvents {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let mut events = JsonEvents::default();
        deserializer.deserialize_any(EventsVisitor {
            events: &mut events,
        })?;
        Ok(events)
    }
}

/// Walks a JSON value for events: arrays of them, an object's `events` or
/// `results`, an event's `message`/`@message`, a Logs Insights result's
/// `{"field": "@message", "value": …}`, a test-invoke `log`. Nothing else
/// is looked into, so text deeper in a document never counts.
struct EventsVisitor<'e> {
    events: &'e mut JsonEvents,
}

impl<'de> DeserializeSeed<'de> for EventsVisitor<'_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for EventsVisitor<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON document of log events")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        // A list of events, empty or not (a Logs Insights export of no rows).
        self.events.recognised = true;
        while seq
            .next_element_seed(EventsVisitor {
                events: &mut *self.events,
            })?
            .is_some()
        {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        // A Logs Insights result's cell: `field` names it, `value` holds it,
        // in either order.
        let mut field_is_message: Option<bool> = None;
        let mut value: Option<String> = None;
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "events" | "results" => {
                    self.events.recognised = true;
                    map.next_value_seed(EventsVisitor {
                        events: &mut *self.events,
                    })?;
                }
                "message" | "@message" => {
                    self.events.recognised = true;
                    let message: Text = map.next_value()?;
                    self.events.tally.add_event(message.0.as_bytes());
                }
                "log" => {
                    self.events.recognised = true;
                    let log: Text = map.next_value()?;
                    tally_test_invoke_log(log.0.as_bytes(), &mut self.events.tally);
                }
                "field" => {
                    let field: Text = map.next_value()?;
                    field_is_message = Some(field.0 == "@message");
                }
                "value" => {
                    let cell: Text = map.next_value()?;
                    value = Some(cell.0);
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        if field_is_message == Some(true) {
            self.events.recognised = true;
            self.events
                .tally
                .add_event(value.unwrap_or_default().as_bytes());
        }
        Ok(())
    }

    // A bare value is nothing to count (a number, a status, a header).
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
}

/// A field as the text of a message: a string as it is, a number or a
/// boolean as written, `null` as nothing; an array or an object is skipped
/// as it is parsed, never held (a huge one costs no memory).
struct Text(String);

impl<'de> de::Deserialize<'de> for Text {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(TextVisitor)
    }
}

struct TextVisitor;

impl<'de> Visitor<'de> for TextVisitor {
    type Value = Text;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a message")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Text, E> {
        Ok(Text(v.to_owned()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Text, E> {
        Ok(Text(v))
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Text, E> {
        Ok(Text(v.to_string()))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Text, E> {
        Ok(Text(v.to_string()))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Text, E> {
        Ok(Text(v.to_string()))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Text, E> {
        Ok(Text(v.to_string()))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Text, E> {
        Ok(Text(String::new()))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Text, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Text(String::new()))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Text, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Text(String::new()))
    }
}

/// The `log` of `aws apigateway test-invoke-method`: its first line names
/// the request; each event starts with `Thu Aug 04 17:48:21 UTC 2022 : `,
/// and a line without it continues the event before.
fn tally_test_invoke_log(log: &[u8], tally: &mut Tally) {
    for line in log.split(|b| *b == b'\n') {
        let line = trim_end(line);
        if has_test_invoke_timestamp(line) {
            tally.add_event(line);
        }
    }
}

/// Counts the `@message` column of a Logs Insights CSV or TSV export.
fn tally_table(
    reader: impl Read,
    delimiter: u8,
    format: &'static str,
    tally: &mut Tally,
) -> Result<(), InputError> {
    let malformed = |e: csv::Error| match e.kind() {
        csv::ErrorKind::Io(_) => match e.into_kind() {
            csv::ErrorKind::Io(io) => InputError::Io(io),
            _ => unreachable!("matched as Io above"),
        },
        _ => InputError::Table {
            format,
            line: e.position().map_or(0, |p| p.line()),
            message: e.to_string(),
        },
    };
    let mut table = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .buffer_capacity(READ_CHUNK)
        .from_reader(reader);
    let header = table.byte_headers().map_err(malformed)?.clone();
    let is_message = |name: &[u8]| {
        let name = name.strip_prefix(BOM).unwrap_or(name);
        trim_blanks(trim_end(name)) == b"@message"
    };
    let column = header
        .iter()
        .position(is_message)
        .ok_or_else(|| InputError::NoMessageColumn {
            format,
            header: String::from_utf8_lossy(header.as_slice()).into_owned(),
        })?;
    let mut record = csv::ByteRecord::new();
    while table.read_byte_record(&mut record).map_err(malformed)? {
        let Some(message) = record.get(column) else {
            return Err(InputError::Table {
                format,
                line: record.position().map_or(0, |p| p.line()),
                message: format!(
                    "{} fields, no @message (field {})",
                    record.len(),
                    column + 1
                ),
            });
        };
        tally.add_event(message);
    }
    Ok(())
}

/// Counts a file, in `format` (or the one [`detect`] finds). A large file
/// in a line-based format is cut into stretches of whole lines, each read
/// and classified by its own thread (classification is CPU-bound, and a
/// machine has cores); the counts are the same as reading it in one go.
pub fn tally_file(
    path: &Path,
    format: Option<Format>,
    threads: usize,
    parallel_from: u64,
) -> Result<Tally, InputError> {
    let mut file = std::fs::File::open(path)?;
    let head = read_head(&mut file)?;
    let format = format.unwrap_or_else(|| detect(&head));
    // Read from past a UTF-8 byte order mark (Notepad, PowerShell).
    let bom = if head.starts_with(BOM) {
        BOM.len() as u64
    } else {
        0
    };
    std::io::Seek::seek(&mut file, std::io::SeekFrom::Start(bom))?;
    let meta = file.metadata()?;
    let len = meta.len();
    let mut starts = vec![bom];
    if format.is_line_based() && meta.is_file() && len >= parallel_from && threads > 1 {
        for i in 1..threads as u64 {
            match next_line_start(&file, len * i / threads as u64)? {
                Some(at) if at < len && at > *starts.last().unwrap_or(&0) => starts.push(at),
                _ => {}
            }
        }
    }
    if starts.len() == 1 {
        let mut tally = Tally::new();
        tally_input(file, format, &mut tally)?;
        return Ok(tally);
    }
    starts.push(len);
    std::thread::scope(|scope| {
        let stretches: Vec<_> = starts
            .windows(2)
            .map(|w| {
                let (start, end) = (w[0], w[1]);
                scope.spawn(move || -> Result<Tally, InputError> {
                    use std::io::Seek;
                    let mut file = std::fs::File::open(path)?;
                    file.seek(std::io::SeekFrom::Start(start))?;
                    let mut tally = Tally::new();
                    tally_input(file.take(end - start), format, &mut tally)?;
                    Ok(tally)
                })
            })
            .collect();
        let mut total = Tally::new();
        for stretch in stretches {
            let counted = stretch
                .join()
                .map_err(|_| std::io::Error::other("a classify thread failed"))??;
            total.merge(&counted);
        }
        Ok(total)
    })
}

/// Counts a stream (stdin), in `format` or the one its head says.
pub fn tally_stream(mut reader: impl Read, format: Option<Format>) -> Result<Tally, InputError> {
    let mut head = read_head(&mut reader)?;
    let format = format.unwrap_or_else(|| detect(&head));
    if head.starts_with(BOM) {
        head.drain(..BOM.len());
    }
    let mut tally = Tally::new();
    tally_input(std::io::Cursor::new(head).chain(reader), format, &mut tally)?;
    Ok(tally)
}

/// The first [`DETECT_BYTES`] of an input (fewer if it ends first).
fn read_head(reader: &mut impl Read) -> std::io::Result<Vec<u8>> {
    let mut head = Vec::with_capacity(DETECT_BYTES);
    reader.take(DETECT_BYTES as u64).read_to_end(&mut head)?;
    Ok(head)
}

/// The offset just past the first newline at or after `at`; `None` when
/// the file ends first.
fn next_line_start(file: &std::fs::File, at: u64) -> std::io::Result<Option<u64>> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut pos = at;
    loop {
        let n = read_at(file, &mut buf, pos)?;
        if n == 0 {
            return Ok(None);
        }
        if let Some(i) = memchr::memchr(b'\n', &buf[..n]) {
            return Ok(Some(pos + i as u64 + 1));
        }
        pos += n as u64;
    }
}

#[cfg(unix)]
fn read_at(file: &std::fs::File, buf: &mut [u8], pos: u64) -> std::io::Result<usize> {
    std::os::unix::fs::FileExt::read_at(file, buf, pos)
}

#[cfg(windows)]
fn read_at(file: &std::fs::File, buf: &mut [u8], pos: u64) -> std::io::Result<usize> {
    std::os::windows::fs::FileExt::seek_read(file, buf, pos)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::ErrorClass::{self, *};

    const ID: &str = "c0a7f4d1-5b2e-4c3a-9f8e-7d6c5b4a3921";

    /// Counts `input` as `classify` would: its format detected.
    fn counted(input: &str) -> (Format, Tally) {
        let format = detect(input.as_bytes());
        let tally = tally_stream(input.as_bytes(), None).unwrap();
        (format, tally)
    }

    /// The classes counted, in contract order, without zeros.
    fn classes(tally: &Tally) -> Vec<(ErrorClass, u64)> {
        tally.classes().filter(|(_, n)| *n > 0).collect()
    }

    fn statuses(tally: &Tally) -> Vec<(u16, u64)> {
        tally.statuses.iter().map(|(s, n)| (*s, *n)).collect()
    }

    #[test]
    fn plain_lines_indented_and_with_crlf() {
        let input = format!(
            "    ({ID}) Extended Request Id: Xk3sYF1AIAMEbcw=\r\n\
             \t({ID}) Execution failed due to configuration error: There was an internal error while executing your request\r\n\
             \r\n\
             \x20 ({ID}) Method completed with status: 500\r\n\
             ({ID}) Endpoint response body before transformations: Execution failed due to nothing\r\n"
        );
        let (format, tally) = counted(&input);
        assert_eq!(format, Format::Plain);
        assert_eq!(tally.lines, 4);
        assert_eq!(classes(&tally), [(VpcLinkInternal, 1)]);
        assert_eq!(statuses(&tally), [(500, 1)]);
    }

    /// The CloudWatch console's copy of selected events: the time, a TAB,
    /// the message; a multi-line message continues on lines without a time.
    #[test]
    fn a_console_copy() {
        let input = format!(
            "2024-05-14T10:21:33.401Z\t({ID}) Starting execution for request: {ID}\n\
             2024-05-14T10:21:33.412Z\t({ID}) Endpoint response body before transformations: {{\"error\":\n\
             Execution failed due to a timeout error\"}}\n\
             2024-05-14T10:21:33.412Z\t({ID}) Execution failed due to configuration error: Host name 'orders.internal.example.com' does not match the certificate subject provided by the peer (CN=*.example.net)\n\
             2024-05-14T10:21:33.413Z\t({ID}) Method completed with status: 500\n"
        );
        let (format, tally) = counted(&input);
        assert_eq!(format, Format::Console);
        assert_eq!(tally.lines, 4);
        assert_eq!(classes(&tally), [(TlsHostnameMismatch, 1)]);
        assert_eq!(statuses(&tally), [(500, 1)]);
    }

    /// `aws logs tail`: the time and the log stream before each message
    /// (`--format detailed`, the default), or the time only (`short`).
    #[test]
    fn aws_logs_tail_detailed_and_short() {
        let detailed = format!(
            "2024-05-14T10:21:33.401000+00:00 6512bd43d9caa6e02c990b0a82652dca ({ID}) Sending request to https://orders.internal.example.com/orders\n\
             2024-05-14T10:21:43.402000+00:00 6512bd43d9caa6e02c990b0a82652dca ({ID}) Execution failed due to a timeout error\n\
             2024-05-14T10:21:43.403000+00:00 6512bd43d9caa6e02c990b0a82652dca ({ID}) Method completed with status: 504\n"
        );
        let (format, tally) = counted(&detailed);
        assert_eq!(format, Format::Tail);
        assert_eq!(tally.lines, 3);
        assert_eq!(classes(&tally), [(IntegrationTimeout, 1)]);
        assert_eq!(statuses(&tally), [(504, 1)]);
        let short = format!(
            "2024-05-14T10:21:43 ({ID}) Execution failed due to an internal error\n\
             2024-05-14T10:21:43 ({ID}) Method completed with status: 500\n\
             2024-05-14T10:21:44 Extended Request Id: Xk3sYF1AIAMEbcw=\n"
        );
        let (format, tally) = counted(&short);
        assert_eq!(format, Format::Tail);
        assert_eq!(tally.lines, 3);
        assert_eq!(classes(&tally), [(TargetReset, 1)]);
        assert_eq!(statuses(&tally), [(500, 1)]);
    }

    /// `aws logs filter-log-events` and `get-log-events` print the events'
    /// JSON: each `message` is one event.
    #[test]
    fn aws_logs_events_json() {
        let filtered = format!(
            r#"{{
    "events": [
        {{
            "logStreamName": "6512bd43d9caa6e02c990b0a82652dca",
            "timestamp": 1715682093412,
            "message": "({ID}) Execution failed due to configuration error: PKIX path building failed: sun.security.provider.certpath.SunCertPathBuilderException: unable to find valid certification path to requested target",
            "ingestionTime": 1715682094120,
            "eventId": "38275614739284719283749182736451827364918273649182736400"
        }},
        {{
            "logStreamName": "6512bd43d9caa6e02c990b0a82652dca",
            "timestamp": 1715682093413,
            "message": "({ID}) Method completed with status: 500",
            "ingestionTime": 1715682094120,
            "eventId": "38275614739284719283749182736451827364918273649182736401"
        }}
    ],
    "searchedLogStreams": []
}}
"#
        );
        let (format, tally) = counted(&filtered);
        assert_eq!(format, Format::Json);
        assert_eq!(tally.lines, 2);
        assert_eq!(classes(&tally), [(TlsUntrustedCertificate, 1)]);
        assert_eq!(statuses(&tally), [(500, 1)]);
        let got = format!(
            r#"{{"events": [{{"timestamp": 1715682093412, "message": "({ID}) Execution failed due to configuration error: PKIX path validation failed: java.security.cert.CertPathValidatorException: validity check failed", "ingestionTime": 1715682094120}}], "nextForwardToken": "f/3827561473928471928374918273645182736491827364918273640", "nextBackwardToken": "b/3827561473928471928374918273645182736491827364918273640"}}"#
        );
        let (_, tally) = counted(&got);
        assert_eq!(classes(&tally), [(TlsCertificateExpired, 1)]);
        // One event object per line (`jq -c '.events[]'`).
        let lines = format!(
            "{{\"timestamp\":1,\"message\":\"({ID}) Execution failed due to a timeout error\"}}\n\
             {{\"timestamp\":2,\"message\":\"({ID}) Method completed with status: 504\"}}\n"
        );
        let (format, tally) = counted(&lines);
        assert_eq!(format, Format::Json);
        assert_eq!(
            (tally.lines, classes(&tally)),
            (2, vec![(IntegrationTimeout, 1)])
        );
    }

    /// Logs Insights: the console's CSV, TSV and JSON exports, and `aws
    /// logs get-query-results`.
    #[test]
    fn logs_insights_exports() {
        let csv = format!(
            "@timestamp,@message,@logStream\n\
             2024-05-14 10:21:33.412,\"({ID}) Execution failed due to configuration error: Host name 'a.example.com' does not match the certificate subject provided by the peer (CN=b.example.com, O=Example, C=US)\",6512bd43d9caa6e02c990b0a82652dca\n\
             2024-05-14 10:21:33.413,({ID}) Method completed with status: 500,6512bd43d9caa6e02c990b0a82652dca\n\
             2024-05-14 10:21:33.414,\"({ID}) Endpoint response body before transformations: {{\"\"a\"\":1}}\n\
             Execution failed due to nothing\",6512bd43d9caa6e02c990b0a82652dca\n"
        );
        let (format, tally) = counted(&csv);
        assert_eq!(format, Format::Csv);
        assert_eq!(tally.lines, 3);
        assert_eq!(classes(&tally), [(TlsHostnameMismatch, 1)]);
        assert_eq!(statuses(&tally), [(500, 1)]);

        let tsv = format!(
            "@timestamp\t@message\r\n\
             2024-05-14 10:21:33.412\t({ID}) Execution failed due to configuration error: Cannot verify ECDH ServerKeyExchange signature\r\n\
             2024-05-14 10:21:33.413\t({ID}) Method completed with status: 500\r\n"
        );
        let (format, tally) = counted(&tsv);
        assert_eq!(format, Format::Tsv);
        assert_eq!(tally.lines, 2);
        assert_eq!(classes(&tally), [(TlsKeyMismatch, 1)]);
        assert_eq!(statuses(&tally), [(500, 1)]);

        let exported = format!(
            r#"[
  {{"@timestamp": "2024-05-14 10:21:33.412", "@message": "({ID}) Execution failed due to configuration error: Not a valid protocol version"}},
  {{"@timestamp": "2024-05-14 10:21:33.413", "@message": "({ID}) Method completed with status: 500"}}
]"#
        );
        let (format, tally) = counted(&exported);
        assert_eq!(format, Format::Json);
        assert_eq!(tally.lines, 2);
        assert_eq!(classes(&tally), [(InvalidHttpResponse, 1)]);

        let results = format!(
            r#"{{"results": [[{{"field": "@timestamp", "value": "2024-05-14 10:21:33.412"}}, {{"field": "@message", "value": "({ID}) Execution failed due to configuration error: There was an internal error while executing your request"}}, {{"field": "@ptr", "value": "CmAKJwojMTIzNDU2Nzg5MDEyOkFQSS1HYXRld2F5LUV4ZWN1dGlvbi1Mb2dz"}}], [{{"value": "({ID}) Method completed with status: 500", "field": "@message"}}]], "statistics": {{"recordsMatched": 2.0, "recordsScanned": 1380.0, "bytesScanned": 262512.0}}, "status": "Complete"}}"#
        );
        let (_, tally) = counted(&results);
        assert_eq!(tally.lines, 2);
        assert_eq!(classes(&tally), [(VpcLinkInternal, 1)]);
        assert_eq!(statuses(&tally), [(500, 1)]);
    }

    /// `aws apigateway test-invoke-method`: the `log` is one string of
    /// lines; each event starts with its time, the first line names the
    /// request, and a body's lines continue their event.
    #[test]
    fn test_invoke_method_json() {
        let log = format!(
            "Execution log for request {ID}\n\
             Tue May 14 10:21:33 UTC 2024 : Starting execution for request: {ID}\n\
             Tue May 14 10:21:33 UTC 2024 : HTTP Method: GET, Resource Path: /orders\n\
             Tue May 14 10:21:33 UTC 2024 : Method request body before transformations: {{\n\
             Execution failed due to nothing\n}}\n\
             Tue May 14 10:21:33 UTC 2024 : Sending request to https://orders.internal.example.com/orders\n\
             Tue May 14 10:21:33 UTC 2024 : Execution failed due to configuration error: Host name 'orders.internal.example.com' does not match the certificate subject provided by the peer (CN=*.example.net)\n\
             Tue May 14 10:21:33 UTC 2024 : Method completed with status: 500\n"
        );
        let input = serde_json::json!({
            "status": 500,
            "body": "{\"message\": \"Internal server error\"}",
            "headers": {"x-amzn-ErrorType": "InternalServerErrorException"},
            "multiValueHeaders": {"x-amzn-ErrorType": ["InternalServerErrorException"]},
            "log": log,
            "latency": 31
        });
        let (format, tally) = counted(&serde_json::to_string_pretty(&input).unwrap());
        assert_eq!(format, Format::Json);
        assert_eq!(tally.lines, 6);
        assert_eq!(classes(&tally), [(TlsHostnameMismatch, 1)]);
        assert_eq!(statuses(&tally), [(500, 1)]);
    }

    #[test]
    fn malformed_json_and_csv_name_the_line() {
        let broken = "{\n  \"events\": [\n    {\"message\": \"(a) Method completed with status: 500\"},\n    {\"message\": oops}\n  ]\n}\n";
        let e = tally_stream(broken.as_bytes(), None).unwrap_err();
        assert!(matches!(e, InputError::Json(_)), "{e}");
        assert!(e.to_string().contains("line 4"), "{e}");
        let e = tally_stream(&b"{\"status\": 200}"[..], None).unwrap_err();
        assert!(matches!(e, InputError::NoEvents), "{e}");
        let short_row = "@timestamp,@logStream,@message\n2024-05-14 10:21:33.412,s,(a) Method completed with status: 500\n2024-05-14 10:21:33.413,s\n";
        let e = tally_stream(short_row.as_bytes(), None).unwrap_err();
        assert!(e.to_string().contains("line 3"), "{e}");
        let e = tally_stream(&b"@timestamp,@message\n"[..], Some(Format::Tsv)).unwrap_err();
        assert!(matches!(e, InputError::NoMessageColumn { .. }), "{e}");
        // A paste that only looks like JSON reads as lines when told.
        let tally = tally_stream(
            &b"{not json}\n(a) Method completed with status: 502\n"[..],
            Some(Format::Plain),
        )
        .unwrap();
        assert_eq!(statuses(&tally), [(502, 1)]);
    }

    /// A byte order mark first (Notepad, PowerShell), an export with no
    /// rows, and fields that are not strings.
    #[test]
    fn byte_order_marks_empty_exports_and_odd_fields() {
        let json = format!(
            "\u{feff}{{\"events\": [{{\"message\": \"({ID}) Execution failed due to a timeout error\"}}]}}"
        );
        let console = format!(
            "\u{feff}2024-05-14T10:21:33.412Z\t({ID}) Execution failed due to a timeout error\n"
        );
        let plain = format!("\u{feff}({ID}) Execution failed due to a timeout error\n");
        for input in [&json, &console, &plain] {
            let tally = tally_stream(input.as_bytes(), None).unwrap();
            assert_eq!(
                (tally.lines, classes(&tally)),
                (1, vec![(IntegrationTimeout, 1)]),
                "{input}"
            );
            let file = tempfile::NamedTempFile::new().unwrap();
            std::fs::write(file.path(), input).unwrap();
            assert_eq!(
                tally_file(file.path(), None, 2, 0).unwrap(),
                tally,
                "{input}"
            );
        }
        let empty = tally_stream(&b"[]"[..], None).unwrap();
        assert_eq!(empty.lines, 0);
        // A message that is not a string is an event with nothing to
        // classify; a nested value is skipped, never held.
        let odd = r#"{"events": [{"message": 42}, {"message": null}, {"message": [1, [2, {"a": "Execution failed due to a timeout error"}]]}, {"message": {"x": 1}}]}"#;
        let tally = tally_stream(odd.as_bytes(), None).unwrap();
        assert_eq!((tally.lines, classes(&tally)), (4, vec![]));
    }

    proptest::proptest! {
        /// Any bytes, in any format: a count or an error, never a panic.
        #[test]
        fn any_input_in_any_format_is_counted_or_refused(
            bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..400),
            format in proptest::sample::select(vec![
                Format::Plain, Format::Console, Format::Tail, Format::Json, Format::Csv, Format::Tsv,
            ]),
        ) {
            let _ = detect(&bytes);
            let _ = tally_stream(&bytes[..], Some(format));
        }
    }

    /// A console copy cut into stretches, one thread each, counts as it
    /// streams: a continuation line at a stretch's start is no event.
    #[test]
    fn a_console_copy_in_stretches_counts_as_it_streams() {
        let mut text = String::new();
        for i in 0..3000 {
            text.push_str(&format!(
                "2024-05-14T10:21:{:02}.401Z\t({ID}) Execution failed due to a timeout error\n",
                i % 60
            ));
            text.push_str(
                "Execution failed due to an internal error (a body line, not an event)\n",
            );
            text.push_str(&format!(
                "2024-05-14T10:21:{:02}.402Z\t({ID}) Method completed with status: 504\r\n",
                i % 60
            ));
        }
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), &text).unwrap();
        let streamed = tally_stream(text.as_bytes(), None).unwrap();
        assert_eq!(
            (streamed.lines, classes(&streamed)),
            (6000, vec![(IntegrationTimeout, 3000)])
        );
        for threads in [1, 2, 3, 7] {
            assert_eq!(
                tally_file(file.path(), None, threads, 0).unwrap(),
                streamed,
                "{threads}"
            );
        }
    }

    #[test]
    fn timestamps_of_every_shape() {
        for (line, len) in [
            ("2024-05-14T10:21:33.412Z\tx", 24),
            ("2024-05-14T10:21:33.412000+00:00 s", 32),
            ("2024-05-14T10:21:33+0000 s", 24),
            ("2024-05-14T10:21:33-05 s", 22),
            ("2024-05-14 10:21:33.412,x", 23),
            ("2024-05-14T10:21:33 x", 19),
        ] {
            assert_eq!(iso_timestamp_len(line.as_bytes()), Some(len), "{line}");
        }
        for line in ["2024-05-14", "24-05-14T10:21:33", "2024-05-14X10:21:33", ""] {
            assert_eq!(iso_timestamp_len(line.as_bytes()), None, "{line}");
        }
    }
    /// Cut into stretches of whole lines, a file counts as read in one go:
    /// whatever the number of threads, with long lines, blank lines and CRLF.
    #[test]
    fn a_file_counts_the_same_in_stretches() {
        let mut text = Vec::new();
        for i in 0..5_000 {
            let line: &[u8] = match i % 7 {
                0 => b"(0f0e0d0c-1111-2222-3333-444455556666) Execution failed due to a timeout error\n",
                1 => b"(0f0e0d0c-1111-2222-3333-444455556666) Method completed with status: 502\r\n",
                2 => b"\n",
                3 => b"\r\n",
                4 => b"Execution failed due to configuration error: PKIX path building failed\n",
                _ => b"(0f0e0d0c-1111-2222-3333-444455556666) Method request path: {}\n",
            };
            text.extend_from_slice(line);
            if i % 1000 == 0 {
                text.extend(std::iter::repeat_n(b'x', 200_000));
            }
        }
        text.extend_from_slice(b"Execution failed due to an internal error"); // no newline at the end
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), &text).unwrap();
        let mut whole = Tally::new();
        tally_plain(&text[..], &mut whole).unwrap();
        for threads in [1, 2, 3, 7, 64] {
            let cut = tally_file(file.path(), Some(Format::Plain), threads, 0).unwrap();
            assert_eq!(cut, whole, "{threads} threads");
        }
        assert_eq!(tally_file(file.path(), None, 4, u64::MAX).unwrap(), whole);
    }

    /// A reader that hands out at most `step` bytes per read, to split lines
    /// at every possible place.
    struct Trickle<'a> {
        data: &'a [u8],
        step: usize,
    }

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = self.step.min(buf.len()).min(self.data.len());
            buf[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Ok(n)
        }
    }

    #[test]
    fn streaming_matches_whole_input_for_any_split() {
        let data = b"(a) Execution failed due to a timeout error\r\n\nMethod completed with status: 504\nnoise\n(b) Execution failed due to an internal error";
        let mut whole = Tally::new();
        whole.add_lines(data);
        for step in 1..data.len() {
            let mut t = Tally::new();
            tally_plain(Trickle { data, step }, &mut t).unwrap();
            assert_eq!(t, whole, "step {step}");
        }
    }

    #[test]
    fn a_huge_line_keeps_only_its_head() {
        let mut data = b"Execution failed due to a timeout error ".to_vec();
        data.extend(std::iter::repeat_n(b'x', 5 * READ_CHUNK));
        data.extend_from_slice(b"\nMethod completed with status: 200\n");
        let mut t = Tally::new();
        tally_plain(&data[..], &mut t).unwrap();
        assert_eq!(t.lines, 2);
        assert_eq!(t.class_count(IntegrationTimeout), 1);
        assert_eq!(t.statuses[&200], 1);
    }
}
