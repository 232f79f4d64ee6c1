//! The Prometheus text format, and the exposition as it is served: [`text`]
//! writes a family's lines; [`Encoded`] is one part (the exporter's own
//! families, or one scope's), split by family and kept deflated;
//! [`Joined`] is parts joined family by family into shared chunks, never
//! copied (a block of scopes keeps its join while its parts stay), and
//! [`Exposition::assemble_joined`] joins such blocks into the exposition.
//!
//! Why deflated: the text is mostly label values written again and again (a
//! load balancer's ARN on each of its samples), so it deflates to a
//! twentieth. Each chunk ends in a full flush, which makes it independent of
//! what was deflated before it: chunks taken in any order are one valid
//! deflate stream, and a gzip header, a final block and a CRC (combined from
//! the chunks' own) around them make the gzip body. A compressed scrape costs
//! no compression; a plain one inflates chunk by chunk as it is sent.
//!
//! Chunks deflated one by one at the fast level are what a publish can
//! afford, but their join is some 40 % bigger than `gzip -6` of the text.
//! So each exposition is also [packed](Exposition::pack) once, when a
//! scrape first asks for an encoding: the whole text deflated as one stream
//! at the default level, or inflated into one buffer. Every later scrape of
//! that exposition writes the packed bytes as they are.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use crate::lock::LockOrRecover;
use bytes::Bytes;
use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

/// Text kept as raw deflate ending in a full flush, with the CRC-32 and
/// length of the text, for the gzip trailer.
#[derive(Debug, Clone, Default)]
struct Chunk {
    deflated: Bytes,
    crc: u32,
    len: usize,
}

/// Text shorter than this is kept as a stored (uncompressed) block: a full
/// flush clears the deflater's tables, which costs more than the few bytes
/// that deflating a short text would save.
const STORED_UNDER: usize = 2048;

impl Chunk {
    /// `text` deflated on its own (nothing before it is referred to).
    fn deflate(text: &[u8]) -> Chunk {
        if text.is_empty() {
            return Chunk::default();
        }
        let deflated = if text.len() < STORED_UNDER {
            stored_block(text)
        } else {
            compressed(text)
        };
        Chunk {
            deflated: Bytes::from(deflated),
            crc: crc32fast::hash(text),
            len: text.len(),
        }
    }

    /// The text back, inflated by `inflater` (reset first: a chunk refers
    /// to nothing before it).
    fn inflate(&self, inflater: &mut Decompress) -> std::io::Result<Bytes> {
        inflater.reset(false);
        // Room for one byte more than the text, so that the inflater reads
        // the flush marker after it rather than stopping when full.
        let mut out = Vec::with_capacity(self.len + 1);
        let mut input = &self.deflated[..];
        while !input.is_empty() {
            let before = inflater.total_in();
            let status = inflater
                .decompress_vec(input, &mut out, FlushDecompress::Sync)
                .map_err(std::io::Error::other)?;
            let read = (inflater.total_in() - before) as usize;
            input = &input[read..];
            if read == 0 || status == Status::StreamEnd {
                break;
            }
        }
        if !input.is_empty() || out.len() != self.len {
            return Err(std::io::Error::other(format!(
                "an exposition chunk inflated to {} bytes, not {}",
                out.len(),
                self.len
            )));
        }
        Ok(Bytes::from(out))
    }
}

/// `text` (at most 65 535 bytes) as one stored deflate block (RFC 1951,
/// 3.2.4). A chunk starts on a byte boundary, so the block is a byte for
/// its type, then the length and its complement, then the text.
fn stored_block(text: &[u8]) -> Vec<u8> {
    let len = text.len() as u16;
    let mut out = Vec::with_capacity(5 + text.len());
    out.push(0);
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&(!len).to_le_bytes());
    out.extend_from_slice(text);
    out
}

/// `text` deflated, ending in a full flush.
fn compressed(text: &[u8]) -> Vec<u8> {
    thread_local! {
        // Its tables are a few hundred KiB: made once per thread, not per
        // chunk. A full flush leaves it as new for the next chunk.
        static DEFLATER: std::cell::RefCell<Compress> =
            std::cell::RefCell::new(Compress::new(Compression::fast(), false));
    }
    DEFLATER.with_borrow_mut(|deflater| {
        let mut out = Vec::with_capacity(text.len() / 8 + 64);
        if deflate_into(deflater, text, &mut out, FlushCompress::Full).is_err() {
            // Fails only on misuse; should it ever, the text is kept
            // stored, and the deflater starts again.
            deflater.reset();
            return stored_blocks(text);
        }
        out.shrink_to_fit();
        out
    })
}

/// Deflates `input` into `out` with `flush`, growing `out` (doubling it)
/// whenever a call fills it: the one deflate loop of the chunks and the
/// packed text.
fn deflate_into(
    deflater: &mut Compress,
    mut input: &[u8],
    out: &mut Vec<u8>,
    flush: FlushCompress,
) -> std::io::Result<()> {
    loop {
        let before = deflater.total_in();
        deflater
            .compress_vec(input, out, flush)
            .map_err(std::io::Error::other)?;
        input = &input[(deflater.total_in() - before) as usize..];
        // A flush is complete when it left room in the output.
        if input.is_empty() && (flush == FlushCompress::None || out.len() < out.capacity()) {
            return Ok(());
        }
        out.reserve(out.capacity().max(64));
    }
}

/// `text` of any length as stored blocks of at most 65 535 bytes each.
fn stored_blocks(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() + text.len() / 65_535 * 5 + 5);
    for piece in text.chunks(u16::MAX as usize) {
        out.extend_from_slice(&stored_block(piece));
    }
    out
}

/// A family's name and header chunk, made once per distinct header and
/// shared by every part that has the family: the `# HELP` and `# TYPE`
/// lines are the same in every scope, and each scope has some sixty
/// families (at 2 000 scopes, a copy each came to about 9 KiB a scope).
/// The headers are as many as the families the configuration can make;
/// past `MOST` distinct ones, each part keeps its own.
fn shared_header(name: &str, header: &[u8]) -> (Arc<str>, Chunk) {
    const MOST: usize = 4096;
    type Headers = HashMap<Box<[u8]>, (Arc<str>, Chunk)>;
    static HEADERS: OnceLock<Mutex<Headers>> = OnceLock::new();
    let mut headers = HEADERS.get_or_init(Mutex::default).lock_or_recover();
    if let Some((known, chunk)) = headers.get(header)
        && **known == *name
    {
        return (known.clone(), chunk.clone());
    }
    let made = (Arc::<str>::from(name), Chunk::deflate(header));
    if headers.len() < MOST {
        headers.insert(header.into(), made.clone());
    }
    made
}

/// One family of an encoded part: its `# HELP`/`# TYPE` lines and its
/// sample lines, each deflated.
#[derive(Debug, Clone)]
struct EncodedFamily {
    /// The name in the `# HELP` line (`_total` included for counters).
    name: Arc<str>,
    header: Chunk,
    samples: Chunk,
}

/// Families encoded in the Prometheus text format, split by family so that
/// several parts can be joined into one exposition (the format allows each
/// family once), and deflated.
#[derive(Debug, Clone, Default)]
pub struct Encoded {
    families: Vec<EncodedFamily>,
}

impl Encoded {
    /// Splits text as prometheus-client writes it: each family a `# HELP`
    /// line, its other descriptor lines (`# TYPE`, `# UNIT`), then its
    /// samples. A label value or help text never holds a raw newline (the
    /// encoder escapes it), so lines are the unit. A comment anywhere else
    /// (an OpenMetrics `# EOF`, say) is left out: it would end the scrape
    /// or be read as a family of its own.
    pub fn parse(text: &str) -> Encoded {
        let text = text.as_bytes();
        // Per family: its name, and the byte ranges of its header and samples.
        type Range = std::ops::Range<usize>;
        let mut ranges: Vec<(Box<str>, Range, Option<Range>)> = Vec::new();
        let mut offset = 0;
        for line in text.split_inclusive(|&b| b == b'\n') {
            let (start, end) = (offset, offset + line.len());
            offset = end;
            if let Some(rest) = line.strip_prefix(b"# HELP ") {
                let name_len = rest.iter().position(|&b| b == b' ' || b == b'\n');
                let name = String::from_utf8_lossy(&rest[..name_len.unwrap_or(rest.len())]);
                ranges.push((name.into(), start..end, None));
            } else if let Some((_, header, samples)) = ranges.last_mut() {
                let comment = line.starts_with(b"#");
                match samples {
                    None if comment && header.end == start => header.end = end,
                    None if !comment && header.end == start => *samples = Some(start..end),
                    Some(samples) if !comment && samples.end == start => samples.end = end,
                    // A comment after samples, or a line after one: left out.
                    _ => {}
                }
            }
        }
        Encoded {
            families: ranges
                .into_iter()
                .map(|(name, header, samples)| {
                    let (name, header) = shared_header(&name, &text[header]);
                    EncodedFamily {
                        name,
                        header,
                        samples: samples.map_or_else(Chunk::default, |s| Chunk::deflate(&text[s])),
                    }
                })
                .collect(),
        }
    }

    /// Families written by [`text`]: each its name, its header and its
    /// sample lines.
    pub fn from_families(families: impl IntoIterator<Item = (String, String, String)>) -> Encoded {
        Encoded {
            families: families
                .into_iter()
                .map(|(name, header, samples)| {
                    let (name, header) = shared_header(&name, header.as_bytes());
                    EncodedFamily {
                        name,
                        header,
                        samples: Chunk::deflate(samples.as_bytes()),
                    }
                })
                .collect(),
        }
    }
}

/// A registry in the Prometheus text format; empty when it cannot be
/// encoded (a family is left out, never made up).
pub fn encode_text(registry: &prometheus_client::registry::Registry) -> String {
    let mut out = String::new();
    if prometheus_client::encoding::prometheus_text::encode(&mut out, registry).is_err() {
        return String::new();
    }
    out
}

/// The families registered in `registry` (live metrics, encoded by
/// prometheus-client) as an encoded part.
pub fn encode_registry(registry: &prometheus_client::registry::Registry) -> Encoded {
    Encoded::parse(&encode_text(registry))
}

/// Families written straight into their text, as prometheus-client writes
/// them (a unit test in `render` holds the two to the same bytes): a
/// family's samples become lines as they are added, so no label set
/// outlives its line.
pub mod text {
    use std::fmt::Write;

    /// What a counter's samples are called: its name with `_total`.
    const COUNTER_SUFFIX: &str = "_total";

    /// A family's name as its lines write it (and as [`super::Encoded`]
    /// knows it).
    pub fn written_name(name: &str, counter: bool) -> String {
        let suffix = if counter { COUNTER_SUFFIX } else { "" };
        format!("{name}{suffix}")
    }

    /// The `# HELP` and `# TYPE` lines of a family.
    pub fn header(out: &mut String, name: &str, counter: bool, help: &str) {
        let name = written_name(name, counter);
        let kind = if counter { "counter" } else { "gauge" };
        out.push_str("# HELP ");
        out.push_str(&name);
        out.push(' ');
        escape(out, help, false);
        let _ = writeln!(out, "\n# TYPE {name} {kind}");
    }

    /// One sample line. A whole number is written without a fraction (`1`,
    /// not `1.0`); any other as the shortest decimal that reads back the same.
    pub fn sample<'l>(
        out: &mut String,
        name: &str,
        counter: bool,
        labels: impl IntoIterator<Item = (&'l str, &'l str)>,
        value: f64,
    ) {
        out.push_str(name);
        if counter {
            out.push_str(COUNTER_SUFFIX);
        }
        let mut open = false;
        for (key, value) in labels {
            out.push(if open { ',' } else { '{' });
            open = true;
            out.push_str(key);
            out.push_str("=\"");
            escape(out, value, true);
            out.push('"');
        }
        if open {
            out.push('}');
        }
        out.push(' ');
        let whole = value.fract() == 0.0 && value.abs() < 9.0e15;
        if whole && (!counter || value >= 0.0) {
            // Exact: a whole number under 2^53 converts without loss.
            out.push_str(itoa::Buffer::new().format(value as i64));
        } else if value.is_finite() {
            out.push_str(dtoa::Buffer::new().format_finite(value));
        } else if value.is_nan() {
            out.push_str("NaN");
        } else if value > 0.0 {
            out.push_str("+Inf");
        } else {
            out.push_str("-Inf");
        }
        out.push('\n');
    }

    /// Escapes a backslash and a newline, and in a label value a double quote.
    fn escape(out: &mut String, s: &str, quote: bool) {
        let bytes = s.as_bytes();
        let special = if quote {
            memchr::memchr3(b'\\', b'\n', b'"', bytes)
        } else {
            memchr::memchr2(b'\\', b'\n', bytes)
        };
        if special.is_none() {
            out.push_str(s);
            return;
        }
        for c in s.chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '"' if quote => out.push_str("\\\""),
                c => out.push(c),
            }
        }
    }
}

/// One published exposition: the deflated chunks of its text, in order,
/// shared with the parts they came from, and its packed forms, shared by
/// its clones.
#[derive(Debug, Clone, Default)]
pub struct Exposition {
    chunks: Vec<Chunk>,
    /// Bytes of text.
    len: usize,
    /// CRC-32 of the text.
    crc: u32,
    packed: Arc<Packed>,
}

/// Text sent after an exposition (the web server's and the process's own
/// metrics), kept plain and deflated, so that scrapes that share it share
/// the deflating too.
#[derive(Debug, Clone, Default)]
pub struct Tail {
    text: Bytes,
    deflated: Chunk,
}

impl Tail {
    pub fn new(text: String) -> Tail {
        Tail {
            deflated: Chunk::deflate(text.as_bytes()),
            text: Bytes::from(text),
        }
    }

    /// The text.
    pub fn text(&self) -> &Bytes {
        &self.text
    }
}

/// The two encodings a scrape can ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Identity,
    Gzip,
}

/// An exposition's text in the form a scrape sends, made once (see
/// [`Exposition::pack`]).
#[derive(Debug, Default)]
struct Packed {
    /// The gzip header, then the text deflated as one stream at the
    /// default level, ending in a sync flush (so that the scrape-time tail
    /// can follow it in the same member).
    gzip: OnceLock<Bytes>,
    /// The text inflated into one buffer.
    plain: OnceLock<Bytes>,
}

/// Text longer than this is not kept inflated: a plain scrape inflates it
/// chunk by chunk as it is sent. A plain copy takes the text's size, for as
/// long as the publish is served or a reader still holds it (a slow reader
/// of each of `--web.max-requests` publishes could hold one each), and
/// Prometheus asks for gzip anyway: kept for an exposition of a region or
/// two, not for a shard of an organisation.
const PLAIN_PACK_MAX: usize = 4 << 20;

/// The gzip member header (RFC 1952): deflate, no name, no time, unknown OS.
const GZIP_HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
/// An empty final deflate block (fixed Huffman): ends the chunks' stream.
const DEFLATE_END: [u8; 2] = [0x03, 0x00];

/// The CRC-32 and length of text made of pieces, combined piece by piece.
#[derive(Debug, Clone, Copy, Default)]
struct Sum {
    crc: u32,
    len: usize,
}

impl Sum {
    /// The sum of this text followed by text of `crc` and `len`.
    fn then(self, crc: u32, len: usize) -> Sum {
        if len == 0 {
            return self;
        }
        let mut hasher = crc32fast::Hasher::new_with_initial_len(self.crc, self.len as u64);
        hasher.combine(&crc32fast::Hasher::new_with_initial_len(crc, len as u64));
        Sum {
            crc: hasher.finalize(),
            len: self.len + len,
        }
    }
}

/// Parts joined family by family, to be joined again with other such
/// blocks: a block of scopes keeps its join while none of its parts
/// changes, so that a publish joins a few dozen blocks rather than every
/// scope's part, and combines a CRC per block and family rather than per
/// chunk.
#[derive(Debug, Default)]
pub struct Joined {
    families: Vec<JoinedFamily>,
}

#[derive(Debug)]
struct JoinedFamily {
    name: Arc<str>,
    header: Chunk,
    samples: Vec<Chunk>,
    /// Of the samples' text, in order.
    sum: Sum,
}

impl Joined {
    /// Joins parts family by family, in the order the families first
    /// appear: each family's header once, then its samples from every part
    /// that has it. Nothing is copied or compressed again.
    pub fn join<'a>(parts: impl IntoIterator<Item = &'a Encoded>) -> Joined {
        let mut families: Vec<JoinedFamily> = Vec::new();
        let mut index: HashMap<&str, usize> = HashMap::new();
        for part in parts {
            for family in &part.families {
                let i = *index.entry(&family.name).or_insert_with(|| {
                    families.push(JoinedFamily {
                        name: family.name.clone(),
                        header: family.header.clone(),
                        samples: Vec::new(),
                        sum: Sum::default(),
                    });
                    families.len() - 1
                });
                let samples = &family.samples;
                if samples.len > 0 {
                    let joined = &mut families[i];
                    joined.sum = joined.sum.then(samples.crc, samples.len);
                    joined.samples.push(samples.clone());
                }
            }
        }
        for family in &mut families {
            family.samples.shrink_to_fit();
        }
        Joined { families }
    }
}

impl Exposition {
    /// Joins parts family by family: see [`Joined::join`].
    pub fn assemble<'a>(parts: impl IntoIterator<Item = &'a Encoded>) -> Exposition {
        Exposition::assemble_joined([&Joined::join(parts)])
    }

    /// Joins blocks family by family, as [`Joined::join`] joins parts:
    /// each family's header once, then its samples from every block.
    pub fn assemble_joined<'a>(blocks: impl IntoIterator<Item = &'a Joined>) -> Exposition {
        let mut order: Vec<(&Chunk, Vec<&JoinedFamily>)> = Vec::new();
        let mut index: HashMap<&str, usize> = HashMap::new();
        for block in blocks {
            for family in &block.families {
                let i = *index.entry(&family.name).or_insert_with(|| {
                    order.push((&family.header, Vec::new()));
                    order.len() - 1
                });
                if family.sum.len > 0 {
                    order[i].1.push(family);
                }
            }
        }
        let count = order
            .iter()
            .map(|(_, runs)| 1 + runs.iter().map(|r| r.samples.len()).sum::<usize>())
            .sum();
        let mut chunks = Vec::with_capacity(count);
        let mut sum = Sum::default();
        for (header, runs) in order {
            if header.len > 0 {
                sum = sum.then(header.crc, header.len);
                chunks.push(header.clone());
            }
            for run in runs {
                sum = sum.then(run.sum.crc, run.sum.len);
                chunks.extend(run.samples.iter().cloned());
            }
        }
        Exposition {
            chunks,
            len: sum.len,
            crc: sum.crc,
            packed: Arc::default(),
        }
    }

    /// Whether a scrape in `encoding` finds the text packed (or never
    /// will: a plain text over `PLAIN_PACK_MAX` is not).
    pub fn is_packed(&self, encoding: Encoding) -> bool {
        match encoding {
            Encoding::Gzip => self.packed.gzip.get().is_some(),
            Encoding::Identity => self.packed.plain.get().is_some() || self.len > PLAIN_PACK_MAX,
        }
    }

    /// Packs the text for scrapes in `encoding`, once per exposition (a
    /// concurrent call waits for the first): deflating is some 10 ms a MB
    /// of text, which the first scrape of a publish in gzip waits for (as a
    /// server that compresses every answer makes each scrape wait), so call
    /// it on a blocking thread. The chunks stay: the next publish joins
    /// them again.
    pub fn pack(&self, encoding: Encoding) -> std::io::Result<()> {
        let cell = match encoding {
            Encoding::Gzip => &self.packed.gzip,
            Encoding::Identity if self.len > PLAIN_PACK_MAX => return Ok(()),
            Encoding::Identity => &self.packed.plain,
        };
        let mut failed = None;
        cell.get_or_init(|| {
            // A panic would leave the cell empty, for every scrape to try
            // (and panic) again: it counts as a failure.
            let made = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| match encoding {
                Encoding::Gzip => self.deflate_whole(),
                Encoding::Identity => self.inflate_whole(),
            }))
            .unwrap_or_else(|_| Err(std::io::Error::other("packing panicked")));
            made.map(Bytes::from).unwrap_or_else(|e| {
                failed = Some(e);
                Bytes::new()
            })
        });
        // A failure leaves an empty cell, never tried again: scrapes go on
        // with the chunks (a chunk that did not inflate ends them short, as
        // before).
        failed.map_or(Ok(()), Err)
    }

    /// The gzip header and the whole text as one deflate stream at the
    /// default level, ending in a sync flush.
    fn deflate_whole(&self) -> std::io::Result<Vec<u8>> {
        let mut deflater = Compress::new(Compression::default(), false);
        let mut out = Vec::with_capacity(self.len / 16 + 64);
        out.extend_from_slice(&GZIP_HEADER);
        for text in self.chunk_texts() {
            deflate_into(&mut deflater, &text?, &mut out, FlushCompress::None)?;
        }
        deflate_into(&mut deflater, &[], &mut out, FlushCompress::Sync)?;
        out.shrink_to_fit();
        Ok(out)
    }

    fn inflate_whole(&self) -> std::io::Result<Vec<u8>> {
        gather(self.chunk_texts(), self.len)
    }

    /// The chunks inflated one by one.
    fn chunk_texts(&self) -> Text {
        Text {
            plain: None,
            chunks: self.chunks.clone().into_iter(),
            inflater: None,
        }
    }

    /// Bytes of text.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The text as one gzip member, in buffers to send one after the other:
    /// the header, the text as packed or the chunks as kept, the end and the
    /// trailer.
    pub fn gzip(&self) -> Vec<Bytes> {
        self.gzip_with_tail(&Tail::default())
    }

    /// The text and then `tail` (what is read at the scrape: the web
    /// server's and the process's own metrics) as one gzip member: the tail
    /// is deflated on its own, joins the text as packed (or else its
    /// chunks as kept), and its CRC is combined with the text's. One member,
    /// because readers that take only the first (`curl --compressed`,
    /// browsers, many libraries) would drop a second.
    pub fn gzip_with_tail(&self, tail: &Tail) -> Vec<Bytes> {
        let tail = &tail.deflated;
        let packed = self.packed.gzip.get().filter(|p| !p.is_empty());
        let mut crc = crc32fast::Hasher::new_with_initial_len(self.crc, self.len as u64);
        crc.combine(&crc32fast::Hasher::new_with_initial_len(
            tail.crc,
            tail.len as u64,
        ));
        let len = self.len + tail.len;
        let mut buffers = Vec::with_capacity(3);
        if let Some(packed) = packed {
            buffers.push(packed.clone());
        } else {
            buffers.reserve(self.chunks.len() + 1);
            buffers.push(Bytes::from_static(&GZIP_HEADER));
            buffers.extend(self.chunks.iter().map(|c| c.deflated.clone()));
        }
        if tail.len > 0 {
            buffers.push(tail.deflated.clone());
        }
        let mut end = Vec::with_capacity(DEFLATE_END.len() + 8);
        end.extend_from_slice(&DEFLATE_END);
        end.extend_from_slice(&crc.finalize().to_le_bytes());
        // The length modulo 2^32, as RFC 1952 has it.
        end.extend_from_slice(&(len as u32).to_le_bytes());
        buffers.push(Bytes::from(end));
        buffers
    }

    /// The text: packed, or else inflated a chunk at a time as it is read.
    pub fn text(&self) -> Text {
        match self.packed.plain.get().filter(|p| !p.is_empty()) {
            Some(plain) => Text {
                plain: Some(plain.clone()),
                chunks: Vec::new().into_iter(),
                inflater: None,
            },
            None => self.chunk_texts(),
        }
    }

    /// The text as one buffer (for `once`, the tests and the benchmark).
    pub fn to_vec(&self) -> std::io::Result<Vec<u8>> {
        gather(self.text(), self.len)
    }
}

/// `len` bytes of text, read piece by piece into one buffer.
fn gather(text: Text, len: usize) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(len);
    for piece in text {
        out.extend_from_slice(&piece?);
    }
    Ok(out)
}

/// An exposition's text, a chunk at a time: see [`Exposition::text`].
pub struct Text {
    /// The packed text, sent first (and then nothing else).
    plain: Option<Bytes>,
    chunks: std::vec::IntoIter<Chunk>,
    /// Made on the first chunk.
    inflater: Option<Decompress>,
}

impl Iterator for Text {
    type Item = std::io::Result<Bytes>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(plain) = self.plain.take() {
            return Some(Ok(plain));
        }
        let chunk = self.chunks.next()?;
        let inflater = self.inflater.get_or_insert_with(|| Decompress::new(false));
        Some(chunk.inflate(inflater))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCOPE_A: &str = "# HELP up_total Up.\n# TYPE up_total counter\nup_total{s=\"a\"} 1\nup_total{s=\"a\",x=\"2\"} 2\n# HELP temp Temp.\n# TYPE temp gauge\n# UNIT temp celsius\ntemp{s=\"a\"} 3\n";
    const SCOPE_B: &str = "# HELP temp Temp.\n# TYPE temp gauge\n# UNIT temp celsius\ntemp{s=\"b\"} 4\n# HELP new New.\n# TYPE new gauge\n";
    const JOINED: &str = "# HELP up_total Up.\n# TYPE up_total counter\nup_total{s=\"a\"} 1\nup_total{s=\"a\",x=\"2\"} 2\n\
         # HELP temp Temp.\n# TYPE temp gauge\n# UNIT temp celsius\ntemp{s=\"a\"} 3\ntemp{s=\"b\"} 4\n\
         # HELP new New.\n# TYPE new gauge\n";

    fn text_of(exposition: &Exposition) -> String {
        String::from_utf8(exposition.to_vec().unwrap()).unwrap()
    }

    /// The gzip body, read as Prometheus reads it.
    fn gunzip(buffers: &[Bytes]) -> Vec<u8> {
        let body: Vec<u8> = buffers.iter().flat_map(|b| b.iter().copied()).collect();
        let mut plain = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&body[..]), &mut plain)
            .unwrap();
        plain
    }

    /// Packed, an exposition is one gzip member of its text and the tail
    /// at most 1.1 times the size of `gzip -6` of the same text (the
    /// chunks' join is bigger), and one buffer of plain text; its clones
    /// share both, and packing again changes nothing.
    #[test]
    fn packing_makes_one_small_gzip_member_and_one_plain_buffer() {
        let parts: Vec<Encoded> = (0..60)
            .map(|scope| {
                let samples: String = (0..40)
                    .map(|i| {
                        format!(
                            "x{{scope=\"{scope}\",load_balancer=\"arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/net/lb-{i}/{:016x}\"}} {}\n",
                            i * 7919,
                            (scope + i) % 3
                        )
                    })
                    .collect();
                Encoded::parse(&format!("# HELP x X.\n# TYPE x gauge\n{samples}"))
            })
            .collect();
        let exposition = Exposition::assemble(&parts);
        let text = text_of(&exposition);
        let tail = Tail::new("process_open_fds 9\n".into());
        let whole = [text.as_bytes(), tail.text()].concat();
        let size = |b: &[Bytes]| b.iter().map(Bytes::len).sum::<usize>();
        let gzip_six = {
            let mut encoder = flate2::write::GzEncoder::new(Vec::new(), Compression::new(6));
            std::io::Write::write_all(&mut encoder, &whole).unwrap();
            encoder.finish().unwrap().len()
        };

        let copy = exposition.clone();
        let chunked = copy.gzip_with_tail(&tail);
        assert!(!copy.is_packed(Encoding::Gzip));
        exposition.pack(Encoding::Gzip).unwrap();
        assert!(copy.is_packed(Encoding::Gzip));
        let packed = copy.gzip_with_tail(&tail);
        assert_eq!(gunzip(&chunked), whole);
        assert_eq!(gunzip(&packed), whole);
        assert!(
            size(&packed) * 10 <= gzip_six * 11 && size(&chunked) > size(&packed),
            "packed {} chunked {} gzip -6 {gzip_six}",
            size(&packed),
            size(&chunked)
        );
        exposition.pack(Encoding::Gzip).unwrap();
        assert_eq!(copy.gzip_with_tail(&tail), packed);

        assert!(!copy.is_packed(Encoding::Identity));
        exposition.pack(Encoding::Identity).unwrap();
        let pieces: Vec<Bytes> = copy.text().collect::<Result<_, _>>().unwrap();
        assert_eq!(pieces, [Bytes::from(text.clone())]);
        // Packing reads the text as kept, whichever form is packed first.
        assert_eq!(
            gunzip(&copy.gzip_with_tail(&Tail::new("".into()))),
            text.as_bytes()
        );
    }

    /// An empty exposition packs to a member that holds the tail alone.
    #[test]
    fn an_empty_exposition_packs() {
        let empty = Exposition::default();
        empty.pack(Encoding::Gzip).unwrap();
        empty.pack(Encoding::Identity).unwrap();
        assert!(empty.is_packed(Encoding::Gzip) && empty.is_packed(Encoding::Identity));
        assert_eq!(
            gunzip(&empty.gzip_with_tail(&Tail::new("x 1\n".into()))),
            b"x 1\n"
        );
        assert_eq!(empty.to_vec().unwrap(), b"");
    }

    #[test]
    fn parts_join_family_by_family_with_each_header_once() {
        let a = Encoded::parse(SCOPE_A);
        let b = Encoded::parse(SCOPE_B);
        let exposition = Exposition::assemble([&a, &b]);
        assert_eq!(text_of(&exposition), JOINED);
        assert_eq!(exposition.len(), JOINED.len());
    }

    /// Blocks joined and joined again make the text and the CRC that
    /// joining every part at once makes.
    #[test]
    fn blocks_join_as_their_parts_would() {
        let a = Encoded::parse(SCOPE_A);
        let b = Encoded::parse(SCOPE_B);
        let c = Encoded::parse(&SCOPE_A.replace("\"a\"", "\"c\""));
        let whole = Exposition::assemble([&a, &b, &c]);
        let blocks = [
            Joined::join([&a]),
            Joined::join([&b, &c]),
            Joined::default(),
        ];
        let joined = Exposition::assemble_joined(&blocks);
        assert_eq!(text_of(&joined), text_of(&whole));
        assert_eq!((joined.len, joined.crc), (whole.len, whole.crc));
        assert_eq!(gunzip(&joined.gzip()), text_of(&whole).as_bytes());
        assert!(text_of(&whole).contains("up_total{s=\"c\"} 1\n"));
    }

    /// What is read at the scrape joins the published chunks in the same
    /// gzip member: a reader of one member (flate2's `GzDecoder`, as
    /// `curl --compressed`) reads the whole, tail included.
    #[test]
    fn the_scrape_time_tail_is_in_the_same_gzip_member() {
        let a = Encoded::parse(SCOPE_A);
        let exposition = Exposition::assemble([&a]);
        let tail = "# HELP live Read at the scrape.\n# TYPE live gauge\nlive 1\n".repeat(100);
        let body = exposition.gzip_with_tail(&Tail::new(tail.to_owned()));
        let expected = format!("{SCOPE_A}{tail}");
        assert_eq!(gunzip(&body), expected.as_bytes());
        assert_eq!(
            gunzip(&Exposition::default().gzip_with_tail(&Tail::new("x 1\n".into()))),
            b"x 1\n"
        );
        assert_eq!(
            gunzip(&exposition.gzip_with_tail(&Tail::new("".into()))),
            SCOPE_A.as_bytes()
        );
    }

    /// The chunks, kept apart and joined in another order than they were
    /// deflated in, are one gzip member that any reader takes whole.
    #[test]
    fn the_gzip_form_is_the_chunks_as_kept_and_holds_the_text() {
        let b = Encoded::parse(SCOPE_B);
        let a = Encoded::parse(SCOPE_A);
        let exposition = Exposition::assemble([&a, &b]);
        assert_eq!(gunzip(&exposition.gzip()), JOINED.as_bytes());
        // The same chunks, not copies.
        let kept = &a.families[0].samples.deflated;
        assert!(
            exposition
                .gzip()
                .iter()
                .any(|b| b.as_ptr() == kept.as_ptr() && b.len() == kept.len())
        );
    }

    /// Text of many MiB and of every byte (escaped label values are
    /// arbitrary UTF-8) comes back whole, both ways.
    #[test]
    fn large_and_varied_text_comes_back_whole() {
        let mut samples = String::new();
        let mut n: u64 = 1;
        for i in 0..200_000 {
            // A cheap generator: text that does not deflate to nothing.
            n = n
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            samples.push_str(&format!(
                "big{{i=\"{i}\",v=\"{:x}é€\"}} {}\n",
                n >> 20,
                n % 1000
            ));
        }
        let part = format!("# HELP big Big.\n# TYPE big gauge\n{samples}");
        let other = Encoded::parse("# HELP big Big.\n# TYPE big gauge\nbig{i=\"x\"} 1\n");
        let exposition = Exposition::assemble([&Encoded::parse(&part), &other]);
        let expected = format!("{part}big{{i=\"x\"}} 1\n");
        assert!(expected.len() > 4 << 20);
        assert_eq!(text_of(&exposition), expected);
        assert_eq!(gunzip(&exposition.gzip()), expected.as_bytes());
        assert_eq!(exposition.len(), expected.len());
    }

    /// A comment after a family's samples (an OpenMetrics `# EOF`) is left
    /// out; the samples before and after it are not lost or doubled.
    #[test]
    fn a_comment_after_samples_is_left_out() {
        let part = Encoded::parse(
            "# HELP a A.\n# TYPE a gauge\na 1\n# EOF\na 2\n# HELP b B.\n# TYPE b gauge\nb 3\n",
        );
        assert_eq!(
            text_of(&Exposition::assemble([&part])),
            "# HELP a A.\n# TYPE a gauge\na 1\n# HELP b B.\n# TYPE b gauge\nb 3\n"
        );
    }

    #[test]
    fn an_empty_exposition_is_empty_both_ways() {
        let exposition = Exposition::assemble([&Encoded::default()]);
        assert!(exposition.is_empty());
        assert!(exposition.to_vec().unwrap().is_empty());
        assert!(gunzip(&exposition.gzip()).is_empty());
    }

    /// Two compressed chunks made one after the other by the same deflater
    /// join in the other order: a full flush leaves nothing to refer back to.
    #[test]
    fn compressed_chunks_join_in_any_order() {
        let text = |tag: &str| -> String {
            (0..2000)
                .map(|i| {
                    format!("{tag}{{load_balancer=\"arn:aws:elasticloadbalancing:lb/{i}\"}} 1\n")
                })
                .collect()
        };
        let (a, b) = (text("a"), text("b"));
        let first = Encoded::parse(&format!("# HELP x X.\n# TYPE x gauge\n{a}"));
        let second = Encoded::parse(&format!("# HELP x X.\n# TYPE x gauge\n{b}"));
        assert!(
            first.families[0].samples.deflated.len() < a.len() / 4,
            "compressed"
        );
        let exposition = Exposition::assemble([&second, &first]);
        let expected = format!("# HELP x X.\n# TYPE x gauge\n{b}{a}");
        assert_eq!(text_of(&exposition), expected);
        assert_eq!(gunzip(&exposition.gzip()), expected.as_bytes());
    }

    #[test]
    fn stored_blocks_hold_any_length() {
        let text: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let chunk = Chunk {
            deflated: Bytes::from(stored_blocks(&text)),
            crc: crc32fast::hash(&text),
            len: text.len(),
        };
        let back = chunk.inflate(&mut Decompress::new(false)).unwrap();
        assert_eq!(&back[..], &text[..]);
    }

    /// A chunk whose bytes were damaged is an error, not short text.
    #[test]
    fn a_damaged_chunk_is_an_error() {
        let mut part = Encoded::parse(SCOPE_A);
        let samples = &mut part.families[0].samples;
        samples.deflated = samples.deflated.slice(..samples.deflated.len() / 2);
        let exposition = Exposition::assemble([&part]);
        assert!(exposition.to_vec().is_err());
        // Packing fails once and is not tried again; scrapes get the
        // chunks as kept.
        assert!(exposition.pack(Encoding::Gzip).is_err());
        assert!(exposition.pack(Encoding::Identity).is_err());
        assert!(exposition.is_packed(Encoding::Gzip) && exposition.is_packed(Encoding::Identity));
        assert!(exposition.pack(Encoding::Gzip).is_ok());
        assert!(exposition.text().any(|t| t.is_err()));
        assert_eq!(
            exposition.gzip_with_tail(&Tail::new("".into()))[0],
            Bytes::from_static(&GZIP_HEADER)
        );
    }
}
