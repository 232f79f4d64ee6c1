//! Log output: logfmt (the Prometheus default) or JSON, on stderr.

use tracing_subscriber::EnvFilter;

use crate::cli::{LogFormat, LogLevel};

/// Installs the global subscriber. `AWSCONN_LOG_FILTER` (an `EnvFilter`
/// directive) overrides the level for fine-grained debugging.
pub fn init(level: LogLevel, format: LogFormat) {
    let level = match level {
        LogLevel::Debug => "debug",
        LogLevel::Info => "info",
        LogLevel::Warn => "warn",
        LogLevel::Error => "error",
    };
    // The SDK's own crates are chatty at debug; keep them at warn unless asked.
    let filter = EnvFilter::try_from_env("AWSCONN_LOG_FILTER").unwrap_or_else(|_| {
        EnvFilter::new(format!(
            "{level},aws_config=warn,aws_config::sts=error,aws_smithy_runtime=warn,aws_smithy_runtime_api=warn,hyper=warn,h2=warn,rustls=warn"
        ))
    });
    let result = match format {
        LogFormat::Logfmt => tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .event_format(tracing_logfmt::EventsFormatter::default())
            .fmt_fields(tracing_logfmt::FieldsFormatter::default())
            .try_init(),
        LogFormat::Json => tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .json()
            .try_init(),
    };
    // Only fails when a subscriber is already set (tests); logging then goes there.
    let _ = result;
}
