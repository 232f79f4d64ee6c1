//! What a check finds: one [`Check`] of one link (passed, failed with a
//! cause and a fix, or unknown), the hop of the path it judges ([`Place`],
//! [`Judges`]), and the [`Clock`] the checks judge by. The check families
//! (`checks/`) make them; the report, `/links` and the metrics read them.

use serde::Serialize;

use super::Object;

/// The kinds of hop a check judges (what `/links` colours with it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Judges {
    Link,
    Stage,
    EndpointService,
    EndpointConnection,
    LoadBalancer,
    Listener,
    TargetGroup,
}

/// One runbook check of one VPC link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// The check's name (`link_available`, ...), the `check` label.
    pub check: &'static str,
    pub ok: bool,
    /// What was checked, as label name -> value (`vpc_link`, `load_balancer`, `port`, ...).
    pub object: Object,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cause: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
    /// Set when the check could not be made: the collector whose data it
    /// needs has not succeeded. Such a check is not `ok`, and not a failure
    /// of the path either.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unknown: Option<&'static str>,
    /// What a passing check wants said all the same: that it judged less
    /// than its name says, and where the rest is judged.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// The hop it judges, set by the check that made it.
    #[serde(skip)]
    pub place: Place,
}

/// The hop of a link's path a check judges, by the object it names: where
/// `/links` shows the check, and the key of the hop that stands for it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Place {
    /// The VPC link itself (and checks that could not be placed anywhere else).
    #[default]
    Link,
    /// A stage of an API.
    Api(String, String),
    /// An endpoint service.
    Service(String),
    /// A connection of a service: the one named, or (`None`) any that is not available.
    Connection(String, Option<String>),
    /// The endpoint service a load balancer lacks.
    NoService(String),
    LoadBalancer(String),
    Listener(String, u16),
    TargetGroup(String),
}

impl Place {
    /// The kind of hop this is.
    pub fn judges(&self) -> Judges {
        match self {
            Place::Link => Judges::Link,
            Place::Api(..) => Judges::Stage,
            Place::Service(_) | Place::NoService(_) => Judges::EndpointService,
            Place::Connection(..) => Judges::EndpointConnection,
            Place::LoadBalancer(_) => Judges::LoadBalancer,
            Place::Listener(..) => Judges::Listener,
            Place::TargetGroup(_) => Judges::TargetGroup,
        }
    }
}
/// The time the checks judge by, and the windows they judge with: how
/// recent a TLS error must be to fail `no_tls_errors`, how soon a
/// certificate may expire before `certificate_valid` fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Clock {
    pub now_ms: i64,
    pub tls_error_window_ms: i64,
    pub certificate_warning_ms: i64,
}

impl Default for Clock {
    fn default() -> Self {
        Self::from_config(0, &crate::config::DiagnosisConfig::default())
    }
}

impl Clock {
    /// The clock at `now_ms` with the windows of the configuration.
    pub fn from_config(now_ms: i64, config: &crate::config::DiagnosisConfig) -> Clock {
        let ms = |d: std::time::Duration| i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        Clock {
            now_ms,
            tls_error_window_ms: ms(config.tls_error_window),
            certificate_warning_ms: ms(config.certificate_expiry_warning),
        }
    }

    /// The windows alone (what a render depends on besides the time).
    pub fn settings(&self) -> Clock {
        Clock { now_ms: 0, ..*self }
    }
}
/// A check that could not be made: `collector` did not get what it needs.
pub(super) fn unknown(
    check: &'static str,
    mut object: Object,
    place: Place,
    collector: &'static str,
    why: &str,
) -> Check {
    object.insert("collector", collector.to_owned());
    Check {
        check,
        ok: false,
        object,
        cause: Some(format!("Not known: {why}.")),
        fix: Some(format!(
            "Make the {collector} collector's calls succeed in this account and region: the exporter's log names the AWS error; AccessDenied means the IAM policy lacks an action (`aws-connectivity-exporter iam-policy` prints the right one)."
        )),
        unknown: Some(collector),
        note: None,
        place,
    }
}
pub(super) fn failed(
    check: &'static str,
    object: Object,
    place: Place,
    mut cause: String,
    mut fix: String,
) -> Check {
    // Kept as long as the findings: no spare room from `format!`.
    cause.shrink_to_fit();
    fix.shrink_to_fit();
    Check {
        check,
        ok: false,
        object,
        cause: Some(cause),
        fix: Some(fix),
        unknown: None,
        note: None,
        place,
    }
}

pub(super) fn passed(check: &'static str, object: Object, place: Place) -> Check {
    Check {
        check,
        ok: true,
        object,
        cause: None,
        fix: None,
        unknown: None,
        note: None,
        place,
    }
}
