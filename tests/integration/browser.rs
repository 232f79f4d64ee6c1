//! Headless Chromium (Debian's `chromium`, installed by scripts/setup) for
//! the pages the exporter serves, and a PNG reader for its screenshots.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Where tests leave files for people to look at (screenshots).
pub fn artefacts() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("artefacts");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs headless Chromium on `url` with extra flags; returns its stdout.
/// Killed after 60 s.
fn chromium(url: &str, flags: &[String]) -> Vec<u8> {
    let profile = tempfile::tempdir().unwrap();
    let mut child = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(flags)
        .arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("run chromium (scripts/setup installs it)");
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut out = Vec::new();
        let _ = stdout.read_to_end(&mut out);
        out
    });
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not finish within 60s on {url}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "chromium failed on {url}: {status}");
    reader.join().unwrap()
}

/// The DOM of a page after the browser has parsed and laid it out.
pub fn dump_dom(url: &str) -> String {
    String::from_utf8(chromium(url, &["--dump-dom".to_owned()])).unwrap()
}

/// Screenshots a page to `path`; returns the decoded image.
pub fn screenshot(url: &str, path: &Path, width: u32, height: u32) -> Image {
    let _ = std::fs::remove_file(path);
    chromium(
        url,
        &[
            format!("--window-size={width},{height}"),
            format!("--screenshot={}", path.display()),
        ],
    );
    Image::decode(&std::fs::read(path).expect("chromium wrote the screenshot"))
}

/// An 8-bit RGB(A) image.
pub struct Image {
    pub width: usize,
    pub height: usize,
    channels: usize,
    pixels: Vec<u8>,
}

impl Image {
    /// Decodes an 8-bit RGB or RGBA PNG (what Chromium writes).
    pub fn decode(data: &[u8]) -> Image {
        let mut reader = png::Decoder::new(std::io::Cursor::new(data))
            .read_info()
            .expect("a PNG");
        let mut pixels = vec![0; reader.output_buffer_size().expect("a PNG of sane size")];
        let frame = reader.next_frame(&mut pixels).expect("a PNG frame");
        assert_eq!(frame.bit_depth, png::BitDepth::Eight, "bit depth");
        let channels = match frame.color_type {
            png::ColorType::Rgb => 3,
            png::ColorType::Rgba => 4,
            other => panic!("PNG colour type {other:?}"),
        };
        pixels.truncate(frame.buffer_size());
        Image {
            width: frame.width as usize,
            height: frame.height as usize,
            channels,
            pixels,
        }
    }

    /// How many pixels have exactly this colour.
    pub fn count(&self, rgb: [u8; 3]) -> usize {
        self.pixels
            .chunks_exact(self.channels)
            .filter(|p| p[..3] == rgb)
            .count()
    }
}
