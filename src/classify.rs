//! Execution-log classification: which API Gateway execution-log lines are
//! integration failures, of which class, and which record a response status.
//!
//! This module is pure (no I/O) and works on bytes, so a line that is not
//! valid UTF-8 is still counted and classified by its ASCII head instead of
//! being dropped or causing a panic. Only the *start* of a message decides:
//! a line that merely mentions `Execution failed due to` further along (a
//! logged response body, for instance) is never an execution failure.

use std::collections::BTreeMap;
use std::fmt;

/// The error classes of the contract (DESIGN.md, "Execution-log error classes").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ErrorClass {
    VpcLinkInternal,
    TlsHostnameMismatch,
    TlsUntrustedCertificate,
    TlsCertificateExpired,
    TlsKeyMismatch,
    InvalidHttpResponse,
    ConfigOther,
    TargetReset,
    IntegrationTimeout,
    Other,
}

impl ErrorClass {
    /// Every class, in the order of the contract table.
    pub const ALL: [ErrorClass; 10] = [
        ErrorClass::VpcLinkInternal,
        ErrorClass::TlsHostnameMismatch,
        ErrorClass::TlsUntrustedCertificate,
        ErrorClass::TlsCertificateExpired,
        ErrorClass::TlsKeyMismatch,
        ErrorClass::InvalidHttpResponse,
        ErrorClass::ConfigOther,
        ErrorClass::TargetReset,
        ErrorClass::IntegrationTimeout,
        ErrorClass::Other,
    ];

    /// The label value used in metrics and JSON output.
    pub fn as_str(self) -> &'static str {
        self.catalogue().name
    }

    /// The class as the catalogue declares it: its name, cause and fix
    /// (`ALL` is in the catalogue's order).
    pub fn catalogue(self) -> &'static awsconn_catalogue::ErrorClass {
        &awsconn_catalogue::ERROR_CLASSES[self.index()]
    }

    /// The class of a label value ([`ErrorClass::as_str`]), if it is one.
    pub fn from_label(label: &str) -> Option<ErrorClass> {
        Self::ALL.into_iter().find(|c| c.as_str() == label)
    }

    /// TLS classes fail the `no_tls_errors` runbook check.
    pub fn is_tls(self) -> bool {
        self.catalogue().tls
    }

    fn index(self) -> usize {
        self as usize
    }
}

// A class without its catalogue entry would not build (rather than panic).
const _: () = assert!(ErrorClass::ALL.len() == awsconn_catalogue::ERROR_CLASSES.len());

impl fmt::Display for ErrorClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What one execution-log line says, as far as the exporter cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineKind {
    /// `Execution failed due to …` at the start of the message.
    ExecutionFailure(ErrorClass),
    /// `Method completed with status: NNN`.
    MethodCompleted(u16),
    /// Anything else.
    Other,
}

const EXECUTION_FAILED: &[u8] = b"Execution failed due to ";
const METHOD_COMPLETED: &[u8] = b"Method completed with status: ";
const CONFIGURATION_ERROR: &[u8] = b"configuration error: ";

/// Classifies one line (one log event's message). Trailing `\r`/`\n` are ignored.
pub fn classify_line(line: &[u8]) -> LineKind {
    match message_of(trim_line_end(line)) {
        Some(message) => message_kind(message),
        None => LineKind::Other,
    }
}

/// What a message (its prefixes and line end removed) says.
fn message_kind(message: &[u8]) -> LineKind {
    if let Some(rest) = message.strip_prefix(EXECUTION_FAILED) {
        return LineKind::ExecutionFailure(failure_class(rest));
    }
    if let Some(status) = message
        .strip_prefix(METHOD_COMPLETED)
        .and_then(parse_status)
    {
        return LineKind::MethodCompleted(status);
    }
    LineKind::Other
}

fn failure_class(rest: &[u8]) -> ErrorClass {
    if let Some(detail) = rest.strip_prefix(CONFIGURATION_ERROR) {
        return configuration_error_class(detail);
    }
    if rest.starts_with(b"an internal error") {
        ErrorClass::TargetReset
    } else if rest.starts_with(b"a timeout error") {
        ErrorClass::IntegrationTimeout
    } else {
        ErrorClass::Other
    }
}

fn configuration_error_class(detail: &[u8]) -> ErrorClass {
    if detail.starts_with(b"There was an internal error while executing your request") {
        ErrorClass::VpcLinkInternal
    } else if is_host_name_mismatch(detail) {
        ErrorClass::TlsHostnameMismatch
    } else if detail.starts_with(b"PKIX path validation failed")
        && VALIDITY_FAILED.find(detail).is_some()
    {
        // The certificate is out of its validity period (expired, or not
        // yet valid): another fix than an untrusted chain.
        ErrorClass::TlsCertificateExpired
    } else if detail.starts_with(b"PKIX path") {
        ErrorClass::TlsUntrustedCertificate
    } else if detail.starts_with(b"Cannot verify ECDH ServerKeyExchange signature") {
        ErrorClass::TlsKeyMismatch
    } else if detail.starts_with(b"Not a valid protocol version") {
        ErrorClass::InvalidHttpResponse
    } else {
        ErrorClass::ConfigOther
    }
}

fn parse_status(rest: &[u8]) -> Option<u16> {
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    if digits != 3 {
        return None;
    }
    // Three ASCII digits always fit a u16.
    Some(
        rest[..3]
            .iter()
            .fold(0u16, |n, d| n * 10 + u16::from(d - b'0')),
    )
}

/// `Host name 'HOST' does not match the certificate subject ...`: the text
/// after the host name's closing quote (a host name has none).
fn is_host_name_mismatch(detail: &[u8]) -> bool {
    let Some(host_on) = detail.strip_prefix(b"Host name '") else {
        return false;
    };
    memchr::memchr(b'\'', host_on).is_some_and(|quote| {
        host_on[quote..].starts_with(b"' does not match the certificate subject")
    })
}

/// Built once: building a searcher per TLS line cost more than the search.
static VALIDITY_FAILED: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
    std::sync::LazyLock::new(|| memchr::memmem::Finder::new(b"validity check failed"));

/// Leading spaces and tabs removed.
pub(crate) fn trim_blanks(line: &[u8]) -> &[u8] {
    let blanks = line
        .iter()
        .take_while(|b| matches!(b, b' ' | b'\t'))
        .count();
    &line[blanks..]
}

/// Whether `text` starts the way an execution-log message does as it is
/// logged: with a `(request-id)`, a counted phrase or a test-invoke
/// timestamp. Formats that put other fields first use it to tell where
/// those end.
pub fn opens_message(text: &[u8]) -> bool {
    text.first() == Some(&b'(') || could_start_message(text)
}

/// Whether a line starts with the `Thu Aug 04 17:48:21 UTC 2022 : ` stamp of
/// a test-invoke log: each event of such a log does; other lines continue
/// the event before them.
pub fn has_test_invoke_timestamp(line: &[u8]) -> bool {
    strip_timestamp(line).len() < line.len()
}

/// Trailing `\r` and `\n` removed.
pub(crate) fn trim_line_end(mut line: &[u8]) -> &[u8] {
    while let [head @ .., b'\n' | b'\r'] = line {
        line = head;
    }
    line
}

/// Strips the optional `(request-id) ` prefix and then the optional
/// `Thu Aug 04 17:48:21 UTC 2022 : ` timestamp prefix. `None` when the line
/// cannot be a counted message: this is the hot path of a multi-gigabyte
/// log, so the cheap test of what follows the prefix comes before the
/// character-by-character check of the request id.
fn message_of(line: &[u8]) -> Option<&[u8]> {
    let Some(rest) = line.strip_prefix(b"(") else {
        return Some(strip_timestamp(line));
    };
    // A UUID (36 characters) is the usual id: its end needs no search.
    if rest.get(UUID_LEN) == Some(&b')') {
        if let Some(message) = message_after(rest, UUID_LEN) {
            return Some(message);
        }
        // Only an earlier `)` can end a shorter id before a message. The
        // phrases have no `)`, so the shortest (24 bytes) must fit between
        // that `)` and this one: it is among the first 11 bytes.
        const BEFORE: usize = UUID_LEN - 2 - EXECUTION_FAILED.len() + 1;
        let head: &[u8; BEFORE] = rest.first_chunk()?;
        if !head.iter().fold(false, |seen, &b| seen | (b == b')')) {
            return None;
        }
    }
    let window = &rest[..rest.len().min(MAX_REQUEST_ID + 1)];
    message_after(rest, memchr::memchr(b')', window)?)
}

/// The message after the request id `rest[..close]` and its `) `, if one
/// could start there and the id is one.
fn message_after(rest: &[u8], close: usize) -> Option<&[u8]> {
    let message = rest[close + 1..].strip_prefix(b" ")?;
    (could_start_message(message) && is_request_id(&rest[..close]))
        .then(|| strip_timestamp(message))
}

/// A counted message starts with one of the two phrases, or a timestamp
/// (`Thu Aug 04 …`: spaces after the weekday and the month).
fn could_start_message(message: &[u8]) -> bool {
    message.starts_with(EXECUTION_FAILED)
        || message.starts_with(METHOD_COMPLETED)
        || (message.get(3) == Some(&b' ') && message.get(7) == Some(&b' '))
}

/// Longest request id accepted inside `(...)`: UUIDs are 36 characters,
/// extended ids (base64) are shorter; anything far longer is not a prefix.
const MAX_REQUEST_ID: usize = 128;

const UUID_LEN: usize = 36;

/// Whether `id` is all UUID and base64 characters. A UUID (36 characters:
/// hex digits and dashes) is checked first without a branch per byte, which
/// the compiler turns into a few vector operations; any other id byte by byte.
fn is_request_id(id: &[u8]) -> bool {
    match id.first_chunk::<UUID_LEN>() {
        Some(uuid) if id.len() == UUID_LEN => {
            let mut other = 0u8;
            for &b in uuid {
                let alphanumeric =
                    (b.wrapping_sub(b'0') < 10) | ((b | 0x20).wrapping_sub(b'a') < 26);
                other |= u8::from(!(alphanumeric | (b == b'-')));
            }
            other == 0 || uuid.iter().all(|&b| is_request_id_byte(b))
        }
        _ => !id.is_empty() && id.iter().all(|&b| is_request_id_byte(b)),
    }
}

/// A UUID or base64 character.
const fn is_request_id_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'=' | b'+' | b'/' | b'_')
}

/// Matches `Www Mmm DD HH:MM:SS ZONE YYYY : ` (the form API Gateway uses in
/// test-invoke and some execution logs) and returns what follows it.
fn strip_timestamp(line: &[u8]) -> &[u8] {
    fn take(s: &[u8], n: usize, ok: impl Fn(&[u8]) -> bool) -> Option<&[u8]> {
        let (head, tail) = s.split_at_checked(n)?;
        ok(head).then_some(tail)
    }
    let alpha3 = |h: &[u8]| h.iter().all(u8::is_ascii_alphabetic);
    let parse = |s: &[u8]| -> Option<usize> {
        let s = take(s, 3, alpha3)?; // weekday
        let s = take(s, 1, |h| h == b" ")?;
        let s = take(s, 3, alpha3)?; // month
        let s = take(s, 1, |h| h == b" ")?;
        let s = take(s, 2, |h| h.iter().all(|b| b.is_ascii_digit() || *b == b' '))?;
        let s = take(s, 1, |h| h == b" ")?;
        let s = take(s, 8, |h| {
            h[2] == b':'
                && h[5] == b':'
                && [0, 1, 3, 4, 6, 7].iter().all(|&i| h[i].is_ascii_digit())
        })?;
        let s = take(s, 1, |h| h == b" ")?;
        let zone = s.iter().take_while(|b| b.is_ascii_uppercase()).count();
        if zone == 0 || zone > 5 {
            return None;
        }
        let s = take(&s[zone..], 1, |h| h == b" ")?;
        let s = take(s, 4, |h| h.iter().all(u8::is_ascii_digit))?;
        let s = take(s, 3, |h| h == b" : ")?;
        Some(line.len() - s.len())
    };
    // Quick reject: the weekday is followed by a space.
    if line.get(3) != Some(&b' ') {
        return line;
    }
    match parse(line) {
        Some(consumed) => &line[consumed..],
        None => line,
    }
}

/// Running totals over many lines: what `classify` prints and what the
/// execution-log collector adds to its counters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally {
    /// Non-empty lines seen (events).
    pub lines: u64,
    classes: [u64; ErrorClass::ALL.len()],
    /// Responses per HTTP status.
    pub statuses: BTreeMap<u16, u64>,
}

impl Tally {
    pub fn new() -> Self {
        Self::default()
    }

    /// Counts one line of a plain log. Empty lines (after removing the line
    /// ending) are not events and are not counted; leading blanks (an
    /// indented paste) are not part of the message.
    pub fn add_line(&mut self, line: &[u8]) {
        if !trim_line_end(line).is_empty() {
            let _ = self.add_event(trim_blanks(line));
        }
    }

    /// Counts one log event (an empty one too: it is still an event read);
    /// returns its class when it is an execution failure.
    pub fn add_event(&mut self, line: &[u8]) -> Option<ErrorClass> {
        self.lines += 1;
        self.count_kind(classify_line(line))
    }

    /// Counts the class or status a line says (the event itself is
    /// counted by the caller); returns its class when it is a failure.
    fn count_kind(&mut self, kind: LineKind) -> Option<ErrorClass> {
        match kind {
            LineKind::ExecutionFailure(class) => {
                self.classes[class.index()] += 1;
                Some(class)
            }
            LineKind::MethodCompleted(status) => {
                *self.statuses.entry(status).or_insert(0) += 1;
                None
            }
            LineKind::Other => None,
        }
    }

    /// Counts a line that carries nothing to classify.
    pub fn add_other_line(&mut self) {
        self.lines += 1;
    }

    /// Counts an access-log line with its integration error class and status, where present.
    pub fn add_access_log_line(&mut self, class: Option<ErrorClass>, status: Option<u16>) {
        self.lines += 1;
        if let Some(class) = class {
            self.classes[class.index()] += 1;
        }
        if let Some(status) = status {
            *self.statuses.entry(status).or_insert(0) += 1;
        }
    }

    /// Counts every line of `buf` (split on `\n`) as [`Tally::add_line`]
    /// would, one by one (an unterminated last line counts as a line).
    ///
    /// This is the hot path of `classify` on a multi-gigabyte log. Only a
    /// line's head decides, so each line costs the search for its end and
    /// a look at its first bytes; a line that opens with a request id (as
    /// API Gateway writes them) skips the trimming [`Tally::add_line`]
    /// does, which cannot change what such a line says.
    pub fn add_lines(&mut self, buf: &[u8]) {
        // The newline searcher for this CPU, made once: searching line by
        // line through `memchr_iter` picks it again for every short line.
        #[cfg(target_arch = "x86_64")]
        if let Some(newline) = memchr::arch::x86_64::avx2::memchr::One::new(b'\n') {
            return self.add_lines_ending(buf, newline.iter(buf));
        }
        self.add_lines_ending(buf, memchr::memchr_iter(b'\n', buf));
    }

    /// [`Tally::add_lines`], given where the lines end.
    fn add_lines_ending(&mut self, buf: &[u8], ends: impl Iterator<Item = usize>) {
        let mut start = 0;
        let mut events = 0u64;
        for end in ends {
            let line = &buf[start..end];
            start = end + 1;
            match line.first() {
                None => {}
                Some(b'(') => {
                    events += 1;
                    if let Some(message) = message_of(line) {
                        self.count_kind(message_kind(message));
                    }
                }
                Some(_) => self.add_line(line),
            }
        }
        if start < buf.len() {
            self.add_line(&buf[start..]);
        }
        self.lines += events;
    }

    pub fn class_count(&self, class: ErrorClass) -> u64 {
        self.classes[class.index()]
    }

    /// Every class with its count, zeros included, in contract order.
    pub fn classes(&self) -> impl Iterator<Item = (ErrorClass, u64)> + '_ {
        ErrorClass::ALL
            .iter()
            .map(|c| (*c, self.classes[c.index()]))
    }

    pub fn merge(&mut self, other: &Tally) {
        self.lines += other.lines;
        for (mine, theirs) in self.classes.iter_mut().zip(other.classes) {
            *mine += theirs;
        }
        for (status, n) in &other.statuses {
            *self.statuses.entry(*status).or_insert(0) += n;
        }
    }

    /// The JSON document of the `classify` subcommand (DESIGN.md).
    pub fn to_json(&self) -> serde_json::Value {
        let classes: serde_json::Map<String, serde_json::Value> = self
            .classes()
            .map(|(c, n)| (c.as_str().to_owned(), n.into()))
            .collect();
        let statuses: serde_json::Map<String, serde_json::Value> = self
            .statuses
            .iter()
            .map(|(s, n)| (s.to_string(), (*n).into()))
            .collect();
        serde_json::json!({"lines": self.lines, "classes": classes, "statuses": statuses})
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// Any bytes: counted, never a panic; a line is at most one event
        /// and one class.
        #[test]
        fn any_bytes_are_counted_without_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..600)) {
            let mut tally = Tally::new();
            tally.add_lines(&bytes);
            let events = bytes
                .split(|b| *b == b'\n')
                .filter(|l| !trim_line_end(l).is_empty())
                .count() as u64;
            proptest::prop_assert_eq!(tally.lines, events);
            let classified: u64 = tally.classes().map(|(_, n)| n).sum();
            proptest::prop_assert!(classified <= tally.lines);
        }

        /// Counting a buffer at once is counting its lines one by one.
        #[test]
        fn a_buffer_counts_as_its_lines(
            parts in proptest::collection::vec(
                proptest::sample::select(vec![
                    "(0f0e0d0c-1111-2222-3333-444455556666) ", "Execution failed due to ",
                    "Method completed with status: ", "200", "a timeout error",
                    "configuration error: ", "PKIX path", "\n", "\r\n", "\r", "x", " ", "\t",
                    // Long runs: blanks and text past the prefix a message may have.
                    "                                                            ",
                    "yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy",
                    "Thu Aug 04 17:48:21 UTC 2022 : ", "(", ")",
                ]),
                0..80,
            )
        ) {
            let buf = parts.concat();
            let mut whole = Tally::new();
            whole.add_lines(buf.as_bytes());
            let mut each = Tally::new();
            for line in buf.as_bytes().split(|b| *b == b'\n') {
                each.add_line(line);
            }
            proptest::prop_assert_eq!(whole, each);
        }

        /// Known messages with any request-id prefix and any tail are still
        /// recognised as execution failures of some class.
        #[test]
        fn execution_failures_survive_noise_around_them(
            id in "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
            tail in "\\PC{0,80}",
            which in 0usize..3,
        ) {
            let message = [
                "Execution failed due to a timeout error",
                "Execution failed due to configuration error: There was an internal error while executing your request",
                "Execution failed due to an internal error",
            ][which];
            let line = format!("({id}) {message}{tail}");
            let mut tally = Tally::new();
            let class = tally.add_event(line.as_bytes());
            let expected = [
                ErrorClass::IntegrationTimeout,
                ErrorClass::VpcLinkInternal,
                ErrorClass::TargetReset,
            ][which];
            proptest::prop_assert_eq!(class, Some(expected), "{:?}", line);
        }
    }

    /// The classes are the catalogue's, in its order (the mixin's
    /// AwsconnIntegrationErrors has a rule, cause and fix for each of them),
    /// and the four TLS ones are those the catalogue calls TLS.
    #[test]
    fn the_classes_are_the_catalogues() {
        // Each variant by its contract name (DESIGN.md's table): a
        // catalogue in another order would relabel the classes.
        let named = [
            (VpcLinkInternal, "vpc_link_internal"),
            (TlsHostnameMismatch, "tls_hostname_mismatch"),
            (TlsUntrustedCertificate, "tls_untrusted_certificate"),
            (TlsCertificateExpired, "tls_certificate_expired"),
            (TlsKeyMismatch, "tls_key_mismatch"),
            (InvalidHttpResponse, "invalid_http_response"),
            (ConfigOther, "config_other"),
            (TargetReset, "target_reset"),
            (IntegrationTimeout, "integration_timeout"),
            (Other, "other"),
        ];
        assert_eq!(ErrorClass::ALL.len(), named.len());
        for (class, name) in named {
            assert_eq!(class.as_str(), name);
            assert_eq!(ErrorClass::from_label(name), Some(class));
        }
        let declared: Vec<&str> = awsconn_catalogue::ERROR_CLASSES
            .iter()
            .map(|c| c.name)
            .collect();
        let ours: Vec<&str> = ErrorClass::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(ours, declared);
        let tls: Vec<&str> = ErrorClass::ALL
            .iter()
            .filter(|c| c.is_tls())
            .map(|c| c.as_str())
            .collect();
        assert_eq!(
            tls,
            [
                "tls_hostname_mismatch",
                "tls_untrusted_certificate",
                "tls_certificate_expired",
                "tls_key_mismatch"
            ]
        );
    }
    use ErrorClass::*;

    fn class_of(line: &str) -> Option<ErrorClass> {
        match classify_line(line.as_bytes()) {
            LineKind::ExecutionFailure(c) => Some(c),
            _ => None,
        }
    }

    #[test]
    fn every_class_from_its_message() {
        let cases = [
            (
                "Execution failed due to configuration error: There was an internal error while executing your request",
                VpcLinkInternal,
            ),
            (
                "Execution failed due to configuration error: Host name 'api.example.com' does not match the certificate subject provided by the peer (CN=*.other.example)",
                TlsHostnameMismatch,
            ),
            (
                "Execution failed due to configuration error: PKIX path building failed: sun.security.provider.certpath.SunCertPathBuilderException: unable to find valid certification path to requested target",
                TlsUntrustedCertificate,
            ),
            (
                "Execution failed due to configuration error: PKIX path validation failed: java.security.cert.CertPathValidatorException: validity check failed",
                TlsCertificateExpired,
            ),
            (
                "Execution failed due to configuration error: PKIX path validation failed: java.security.cert.CertPathValidatorException: Path does not chain with any of the trust anchors",
                TlsUntrustedCertificate,
            ),
            (
                // Validity is what validation checked, not what building did.
                "Execution failed due to configuration error: PKIX path building failed: validity check failed",
                TlsUntrustedCertificate,
            ),
            (
                "Execution failed due to configuration error: Cannot verify ECDH ServerKeyExchange signature",
                TlsKeyMismatch,
            ),
            (
                "Execution failed due to configuration error: Not a valid protocol version: HTTP/1.1 400",
                InvalidHttpResponse,
            ),
            (
                "Execution failed due to configuration error: Invalid endpoint address",
                ConfigOther,
            ),
            ("Execution failed due to an internal error", TargetReset),
            (
                "Execution failed due to a timeout error",
                IntegrationTimeout,
            ),
            ("Execution failed due to something new", Other),
        ];
        for (line, want) in cases {
            assert_eq!(class_of(line), Some(want), "{line}");
        }
    }

    #[test]
    fn host_name_without_the_mismatch_text_is_config_other() {
        assert_eq!(
            class_of(
                "Execution failed due to configuration error: Host name 'x' could not be resolved"
            ),
            Some(ConfigOther)
        );
    }

    #[test]
    fn request_id_prefixes() {
        let msg = "Execution failed due to a timeout error";
        for prefix in [
            "(c7b7f5b5-1c3e-4a2b-9f7e-2d4f1c3b5a6e) ",
            "(PDS1PEC4oAMFpyA=) ",
            "(a+b/c_d-e) ",
            // 36 characters, as a UUID, but upper case or base64.
            "(C7B7F5B5-1C3E-4A2B-9F7E-2D4F1C3B5A6E) ",
            "(PDS1PEC4oAMFpyA+PDS1PEC4oAMFpyA/abc=) ",
        ] {
            assert_eq!(
                class_of(&format!("{prefix}{msg}")),
                Some(IntegrationTimeout),
                "{prefix}"
            );
        }
        // A short id, and a `)` where a UUID's would be: the first `)` ends it.
        assert_eq!(
            class_of("(a) Execution failed due to 123456789) boom"),
            Some(Other)
        );
        // 36 characters that are not an id: not a message.
        for prefix in [
            "(c7b7f5b5 1c3e-4a2b-9f7e-2d4f1c3b5a6e) ",
            "(c7b7f5b5-1c3e-4a2b-9f7e-2d4f1c3b5a6\u{e9}) ",
            "(c7b7f5b5-1c3e-4a2b-9f7e-2d4f1c3b5a6:) ",
        ] {
            assert_eq!(class_of(&format!("{prefix}{msg}")), None, "{prefix}");
        }
    }

    #[test]
    fn timestamp_prefix_with_and_without_request_id() {
        let msg = "Execution failed due to an internal error";
        assert_eq!(
            class_of(&format!("Thu Aug 04 17:48:21 UTC 2022 : {msg}")),
            Some(TargetReset)
        );
        assert_eq!(
            class_of(&format!("Mon Jan  3 07:08:09 UTC 2022 : {msg}")),
            Some(TargetReset)
        );
        assert_eq!(
            class_of(&format!("(abc-123) Thu Aug 04 17:48:21 UTC 2022 : {msg}")),
            Some(TargetReset)
        );
    }

    #[test]
    fn mentions_further_along_are_not_failures() {
        for line in [
            "(abc) Endpoint response body before transformations: {\"error\":\"Execution failed due to configuration error: There was an internal error while executing your request\"}",
            "Method response body after transformations: Execution failed due to a timeout error",
            " Execution failed due to a timeout error",
            "(abc)Execution failed due to a timeout error",
            "() Execution failed due to a timeout error",
            "(bad id!) Execution failed due to a timeout error",
            "Thu Aug 04 17:48:21 UTC 2022 - Execution failed due to a timeout error",
            "Execution failed due to",
            "execution failed due to a timeout error",
        ] {
            assert_eq!(classify_line(line.as_bytes()), LineKind::Other, "{line}");
        }
    }

    #[test]
    fn method_completed_statuses() {
        assert_eq!(
            classify_line(b"(id-1) Method completed with status: 500"),
            LineKind::MethodCompleted(500)
        );
        assert_eq!(
            classify_line(b"Thu Aug 04 17:48:21 UTC 2022 : Method completed with status: 200\r\n"),
            LineKind::MethodCompleted(200)
        );
        assert_eq!(
            classify_line(b"Method completed with status: 5000"),
            LineKind::Other
        );
        assert_eq!(
            classify_line(b"Method completed with status: "),
            LineKind::Other
        );
        assert_eq!(
            classify_line(b"Endpoint said: Method completed with status: 500"),
            LineKind::Other
        );
    }

    #[test]
    fn crlf_endings() {
        assert_eq!(
            class_of("Execution failed due to a timeout error\r\n"),
            Some(IntegrationTimeout)
        );
        let mut t = Tally::new();
        t.add_lines(b"Execution failed due to an internal error\r\n\r\nMethod completed with status: 502\r\n");
        assert_eq!(t.lines, 2);
        assert_eq!(t.class_count(TargetReset), 1);
        assert_eq!(t.statuses.get(&502), Some(&1));
    }

    #[test]
    fn empty_lines_are_not_events() {
        let mut t = Tally::new();
        t.add_lines(b"\n\n\r\n");
        t.add_line(b"");
        assert_eq!(t, Tally::new());
    }

    #[test]
    fn invalid_utf8_is_counted_never_a_panic() {
        let mut t = Tally::new();
        t.add_lines(b"\xff\xfe\xfd garbage\n(\xc3\x28) Execution failed due to a timeout error\nExecution failed due to configuration error: Host name '\xe9' does not match the certificate subject provided by the peer\n");
        assert_eq!(t.lines, 3);
        assert_eq!(t.class_count(IntegrationTimeout), 0);
        assert_eq!(t.class_count(TlsHostnameMismatch), 1);
    }

    #[test]
    fn truncated_and_odd_lines_do_not_panic() {
        for line in [
            &b"("[..],
            b"(",
            b")",
            b"( ",
            b"Thu",
            b"Thu Aug 04 17:48:21",
            b"Thu Aug 04 17:48:21 UTC 2022 :",
            b"Thu Aug 04 17:48:21 UTCXXXXX 2022 : x",
            b"Execution failed due to configuration error: ",
        ] {
            let _ = classify_line(line);
        }
        let long = vec![b'('; 1 << 20];
        assert_eq!(classify_line(&long), LineKind::Other);
    }

    #[test]
    fn tally_json_has_every_class() {
        let mut t = Tally::new();
        t.add_lines(b"(x) Execution failed due to a timeout error\n(x) Method completed with status: 504\nhello");
        let json = t.to_json();
        assert_eq!(json["lines"], 3);
        assert_eq!(json["classes"]["integration_timeout"], 1);
        assert_eq!(json["classes"]["vpc_link_internal"], 0);
        assert_eq!(
            json["classes"].as_object().unwrap().len(),
            ErrorClass::ALL.len()
        );
        assert_eq!(json["statuses"]["504"], 1);
    }

    #[test]
    fn merge_adds_up() {
        let mut a = Tally::new();
        a.add_line(b"Execution failed due to a timeout error");
        let mut b = Tally::new();
        b.add_line(b"Execution failed due to a timeout error");
        b.add_line(b"Method completed with status: 200");
        a.merge(&b);
        assert_eq!(a.lines, 3);
        assert_eq!(a.class_count(IntegrationTimeout), 2);
        assert_eq!(a.statuses[&200], 1);
    }
}
