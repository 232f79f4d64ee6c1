//! The exporter's own process metrics, as every Prometheus client library
//! exports them (`process_cpu_seconds_total`, `process_resident_memory_bytes`,
//! `process_open_fds`, ...): read from `/proc` when scraped, so they are as
//! fresh as the scrape. Elsewhere than Linux there are none. And the one
//! allocator setting the process starts with.

use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;

/// Limits glibc's malloc to one arena, unless `MALLOC_ARENA_MAX` or
/// `GLIBC_TUNABLES` (`glibc.malloc.arena_max`) says otherwise. Called first thing, before any other thread exists.
///
/// Why: glibc gives each thread that allocates an arena of its own (up to
/// eight per core), and memory freed in one is not reused by another. The
/// publisher renders on whichever runtime worker it runs on, so each arena
/// ends up holding room for a publish's peak. `cargo bench --bench publish`
/// at 200 scopes, peak RSS with rounds of polls through the publisher on a
/// runtime: 71-75 MiB with glibc's default, 56-71 MiB with two arenas (as
/// the publisher happens to move between workers), 56 MiB with one; the
/// heap itself peaks at 39 MiB. Small allocations come from each thread's
/// own cache either way, and the exporter's few threads seldom allocate at
/// the same moment.
pub fn limit_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_ARENA_MAX").is_none()
        && !std::env::var("GLIBC_TUNABLES").is_ok_and(|t| t.contains("arena_max"))
    {
        // SAFETY: mallopt sets a tunable of the allocator; no other thread
        // allocates yet. Its result (0 when refused) leaves glibc's default.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, 1);
        }
    }
}

/// Gives the allocator's free memory back to the system. glibc keeps the
/// memory a publish frees (its text before it is compressed, the
/// findings it replaced) for reuse, so without this the RSS stays at the
/// peak of the largest publish. Called after each publish, off the
/// runtime; it walks the heap once, cheap beside the publish.
pub fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free pages to the system; it is
    // safe to call from any thread at any time.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// The process metrics in the Prometheus text format; empty when `/proc`
/// cannot be read (they are left out, never made up).
pub fn exposition() -> String {
    let mut registry = Registry::default();
    if register(&mut registry).is_none() {
        return String::new();
    }
    crate::exposition::encode_text(&registry)
}

/// The async runtime's live tasks (`awsconn_runtime_tasks_alive`): a task
/// leak shows as growth, as an fd leak does in `process_open_fds`. Empty
/// outside a runtime.
pub fn runtime_exposition() -> String {
    let Ok(handle) = tokio::runtime::Handle::try_current() else {
        return String::new();
    };
    let mut registry = Registry::default();
    registry.register(
        "awsconn_runtime_tasks_alive",
        "Tasks alive in the exporter's async runtime",
        ConstGauge::new(handle.metrics().num_alive_tasks() as i64),
    );
    crate::exposition::encode_text(&registry)
}

#[cfg(target_os = "linux")]
fn register(registry: &mut Registry) -> Option<()> {
    let me = procfs::process::Process::myself().ok()?;
    let stat = me.stat().ok()?;
    let ticks = procfs::ticks_per_second() as f64;
    let cpu = (stat.utime + stat.stime) as f64 / ticks;
    registry.register(
        "process_cpu_seconds",
        "Total user and system CPU time spent in seconds",
        ConstCounter::new(cpu),
    );
    let page = procfs::page_size() as f64;
    registry.register(
        "process_resident_memory_bytes",
        "Resident memory size in bytes",
        ConstGauge::new(stat.rss as f64 * page),
    );
    registry.register(
        "process_virtual_memory_bytes",
        "Virtual memory size in bytes",
        ConstGauge::new(stat.vsize as f64),
    );
    if let Ok(boot) = procfs::boot_time_secs() {
        registry.register(
            "process_start_time_seconds",
            "Start time of the process since unix epoch in seconds",
            ConstGauge::new(boot as f64 + stat.starttime as f64 / ticks),
        );
    }
    if let Ok(open) = me.fd_count() {
        registry.register(
            "process_open_fds",
            "Number of open file descriptors",
            ConstGauge::new(open as f64),
        );
    }
    if let Some(max) = fd_limit() {
        registry.register(
            "process_max_fds",
            "Maximum number of open file descriptors",
            ConstGauge::new(max as f64),
        );
    }
    Some(())
}

/// The process' soft limit on open file descriptors; none when unlimited
/// or unknown.
#[cfg(target_os = "linux")]
pub fn fd_limit() -> Option<u64> {
    let limits = procfs::process::Process::myself().ok()?.limits().ok()?;
    match limits.max_open_files.soft_limit {
        procfs::process::LimitValue::Value(max) => Some(max),
        procfs::process::LimitValue::Unlimited => None,
    }
}

#[cfg(not(target_os = "linux"))]
pub fn fd_limit() -> Option<u64> {
    None
}

#[cfg(not(target_os = "linux"))]
fn register(_registry: &mut Registry) -> Option<()> {
    None
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    #[test]
    fn reads_this_process() {
        let text = super::exposition();
        let value = |name: &str| -> f64 {
            text.lines()
                .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
                .unwrap_or_else(|| panic!("{name} missing:\n{text}"))
        };
        assert!(value("process_resident_memory_bytes") > 1e6);
        assert!(value("process_open_fds") >= 3.0);
        assert!(value("process_max_fds") >= value("process_open_fds"));
        assert!(value("process_cpu_seconds_total") >= 0.0);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        let started = value("process_start_time_seconds");
        assert!(
            started <= now + 1.0 && started > now - 86_400.0,
            "{started} vs {now}"
        );
    }
}
