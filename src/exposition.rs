//! The Prometheus text format, and the exposition as it is served: [`text`]
//! writes a family's lines; [`Encoded`] is one part (the exporter's own
//! families, or one scope's), split by family; [`Exposition::assemble`]
//! joins parts family by family into one list of shared buffers, never
//! copied into one string, so a scope that kept its part costs nothing to
//! join again; the gzip form is made on the first scrape that asks for it,
//! not by every publish.

use std::collections::HashMap;
use std::io::Write;
use std::sync::OnceLock;

use bytes::Bytes;

/// One family of an encoded part: its `# HELP`/`# TYPE` lines and its
/// sample lines, as shared buffers.
#[derive(Debug, Clone)]
struct EncodedFamily {
    /// The name in the `# HELP` line (`_total` included for counters).
    name: Box<str>,
    header: Bytes,
    samples: Bytes,
}

/// Families encoded in the Prometheus text format, split by family so that
/// several parts can be joined into one exposition (the format allows each
/// family once).
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
    pub fn parse(mut text: String) -> Encoded {
        // Kept for as long as the scope's data stays: without the room the
        // encoder grew into (up to as much again).
        text.shrink_to_fit();
        let text = Bytes::from(text);
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
                .map(|(name, header, samples)| EncodedFamily {
                    name,
                    header: text.slice(header),
                    samples: samples.map_or_else(Bytes::new, |samples| text.slice(samples)),
                })
                .collect(),
        }
    }

    /// Families written by [`text`]: each its name, its header and its
    /// sample lines, kept without the room they grew into.
    pub fn from_families(families: impl IntoIterator<Item = (String, String, String)>) -> Encoded {
        let bytes = |mut text: String| {
            text.shrink_to_fit();
            Bytes::from(text)
        };
        Encoded {
            families: families
                .into_iter()
                .map(|(name, header, samples)| EncodedFamily {
                    name: name.into(),
                    header: bytes(header),
                    samples: bytes(samples),
                })
                .collect(),
        }
    }
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

/// One published exposition: the buffers to send, in order, and the gzip
/// form, made once on first use.
#[derive(Debug, Clone, Default)]
pub struct Exposition {
    buffers: Vec<Bytes>,
    len: usize,
    gzip: OnceLock<Bytes>,
}

impl Exposition {
    /// Joins parts family by family, in the order the families first
    /// appear: each family's header once, then its samples from every part
    /// that has it. Nothing is copied; the buffers are shared with the parts.
    pub fn assemble<'a>(parts: impl IntoIterator<Item = &'a Encoded>) -> Exposition {
        let mut order: Vec<(&Bytes, Vec<&Bytes>)> = Vec::new();
        let mut index: HashMap<&str, usize> = HashMap::new();
        for part in parts {
            for family in &part.families {
                let i = *index.entry(&family.name).or_insert_with(|| {
                    order.push((&family.header, Vec::new()));
                    order.len() - 1
                });
                if !family.samples.is_empty() {
                    order[i].1.push(&family.samples);
                }
            }
        }
        let mut buffers = Vec::with_capacity(order.iter().map(|(_, s)| 1 + s.len()).sum());
        for (header, samples) in order {
            buffers.push(header.clone());
            buffers.extend(samples.into_iter().cloned());
        }
        let len = buffers.iter().map(Bytes::len).sum();
        Exposition {
            buffers,
            len,
            gzip: OnceLock::new(),
        }
    }

    /// The buffers of the text, in order.
    pub fn buffers(&self) -> &[Bytes] {
        &self.buffers
    }

    /// Bytes of text.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The text as one buffer (a copy: for the tests and the benchmark).
    pub fn to_vec(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.len);
        for buffer in &self.buffers {
            out.extend_from_slice(buffer);
        }
        out
    }

    /// The text gzip-compressed, made by the first caller and kept.
    pub fn gzip(&self) -> Bytes {
        self.gzip
            .get_or_init(|| {
                let mut encoder = gzip_encoder(self.len / 8);
                for buffer in &self.buffers {
                    // Writing to a Vec cannot fail.
                    let _ = encoder.write_all(buffer);
                }
                Bytes::from(encoder.finish().unwrap_or_default())
            })
            .clone()
    }

    /// The gzip form if it has been made already.
    pub fn gzip_made(&self) -> Option<Bytes> {
        self.gzip.get().cloned()
    }
}

fn gzip_encoder(capacity: usize) -> flate2::write::GzEncoder<Vec<u8>> {
    flate2::write::GzEncoder::new(Vec::with_capacity(capacity), flate2::Compression::fast())
}

/// `data` gzip-compressed, fast rather than small.
pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = gzip_encoder(data.len() / 8);
    // Writing to a Vec cannot fail.
    let _ = encoder.write_all(data);
    encoder.finish().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCOPE_A: &str = "# HELP up_total Up.\n# TYPE up_total counter\nup_total{s=\"a\"} 1\nup_total{s=\"a\",x=\"2\"} 2\n# HELP temp Temp.\n# TYPE temp gauge\n# UNIT temp celsius\ntemp{s=\"a\"} 3\n";
    const SCOPE_B: &str = "# HELP temp Temp.\n# TYPE temp gauge\n# UNIT temp celsius\ntemp{s=\"b\"} 4\n# HELP new New.\n# TYPE new gauge\n";

    #[test]
    fn parts_join_family_by_family_with_each_header_once() {
        let a = Encoded::parse(SCOPE_A.into());
        let b = Encoded::parse(SCOPE_B.into());
        let exposition = Exposition::assemble([&a, &b]);
        let text = String::from_utf8(exposition.to_vec()).unwrap();
        assert_eq!(
            text,
            "# HELP up_total Up.\n# TYPE up_total counter\nup_total{s=\"a\"} 1\nup_total{s=\"a\",x=\"2\"} 2\n\
             # HELP temp Temp.\n# TYPE temp gauge\n# UNIT temp celsius\ntemp{s=\"a\"} 3\ntemp{s=\"b\"} 4\n\
             # HELP new New.\n# TYPE new gauge\n"
        );
        assert_eq!(exposition.len(), text.len());
    }

    /// A comment after a family's samples (an OpenMetrics `# EOF`) is left
    /// out; the samples before and after it are not lost or doubled.
    #[test]
    fn a_comment_after_samples_is_left_out() {
        let part = Encoded::parse(
            "# HELP a A.\n# TYPE a gauge\na 1\n# EOF\na 2\n# HELP b B.\n# TYPE b gauge\nb 3\n"
                .into(),
        );
        let text = String::from_utf8(Exposition::assemble([&part]).to_vec()).unwrap();
        assert_eq!(
            text,
            "# HELP a A.\n# TYPE a gauge\na 1\n# HELP b B.\n# TYPE b gauge\nb 3\n"
        );
    }

    #[test]
    fn the_gzip_form_is_made_once_and_holds_the_text() {
        let a = Encoded::parse(SCOPE_A.into());
        let exposition = Exposition::assemble([&a]);
        assert!(exposition.gzip_made().is_none());
        let gzip = exposition.gzip();
        assert_eq!(exposition.gzip_made().as_ref(), Some(&gzip));
        let mut plain = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&gzip[..]), &mut plain)
            .unwrap();
        assert_eq!(plain, SCOPE_A.as_bytes());
    }

    #[test]
    fn an_empty_exposition_is_empty() {
        let exposition = Exposition::assemble([&Encoded::default()]);
        assert!(exposition.is_empty());
        assert!(exposition.to_vec().is_empty());
    }
}
