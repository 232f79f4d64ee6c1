//! Every alert, declared once: its name, severity, the collectors whose data
//! it reads (for the inhibitions), its rules (expression, `for`,
//! description) and the promtool cases that prove each rule fires and stays
//! silent. `rules.rs` writes the rule file and its tests, `examples.rs` the
//! inhibitions, all from this table.

use std::collections::BTreeMap;

use crate::config::{Config, Duration, ForDurations};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// Pages a person: a path is broken or nothing watches it.
    Critical,
    /// Work for the queue.
    Warning,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Critical => "critical",
            Severity::Warning => "warning",
        }
    }
}

/// The collectors, as named under `collectors:` in the exporter's config.
pub use awsconn_catalogue::COLLECTORS;
use awsconn_catalogue::check;

/// What an alert is about, which decides the extra annotations and the
/// inhibitions that apply to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// The exporter itself: no `account`/`region` of a resource, no `hold`
    /// (only AwsconnDataStale is muted, by its own collector's failure).
    Exporter,
    /// One VPC link (`vpc_link_id`): gets `links_url` and `dashboard_url`,
    /// and is muted while its link is failed or inactive.
    VpcLink,
    /// Another AWS resource.
    Resource,
}

/// Whose an alert is: the `_info` series that carries the tags of what it
/// is about (`tags_as_labels`), and the labels that name that on both
/// sides. Its rules take the owner's labels (`owners.labels`) from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Owner {
    pub info: &'static str,
    pub keys: &'static [&'static str],
}

pub const LINK_OWNER: Owner = Owner {
    info: "awsconn_vpc_link_info",
    keys: &["job", "instance", "account", "region", "vpc_link_id"],
};
pub const API_OWNER: Owner = Owner {
    info: "awsconn_api_info",
    keys: &["job", "instance", "account", "region", "api_id"],
};
pub const LOAD_BALANCER_OWNER: Owner = Owner {
    info: "awsconn_load_balancer_info",
    keys: &["job", "instance", "account", "region", "load_balancer"],
};
pub const CONNECTION_OWNER: Owner = Owner {
    info: "awsconn_interconnect_connection_info",
    keys: &["job", "instance", "account", "region", "connection_id"],
};

pub struct Alert {
    pub name: &'static str,
    pub severity: Severity,
    /// A static sentence: what is wrong, without labels.
    pub summary: &'static str,
    pub scope: Scope,
    /// Where its owner's labels come from; `None` for the exporter's own
    /// alerts (its IAM policy, its quota share, a collector failing are
    /// for whoever runs the exporter, not for the team of an account) and
    /// for alerts that name a resource as CloudWatch does, not by its id.
    pub owner: Option<Owner>,
    /// The collectors whose data the alert reads: a failing one inhibits it
    /// in the same account and region.
    pub collectors: &'static [&'static str],
    pub rules: Vec<Rule>,
}

pub struct Rule {
    pub expr: String,
    /// Rule labels besides `severity` (they tell apart the rules of one alert).
    pub labels: Vec<(&'static str, String)>,
    pub for_: Duration,
    /// Go template over `$labels` (and `$value`): the resource, the cause, the fix.
    pub description: String,
    pub cases: Cases,
}

/// The promtool cases of one rule.
pub struct Cases {
    /// Series that make the rule fire, and the alert they raise.
    pub fires: Vec<Case>,
    /// Series of a healthy world, and of a near miss: just under the
    /// threshold, or just short of `for`.
    pub silent: Vec<Case>,
}

pub struct Case {
    pub name: String,
    /// `metric{labels}` and its promtool values (`1x30`).
    pub series: Vec<(String, String)>,
    /// Minutes after the start (the series step is one minute).
    pub eval_minutes: u64,
    /// The fired alert's labels besides `alertname` and `severity` (empty for
    /// a silent case).
    pub labels: BTreeMap<String, String>,
    /// What `{{ $value | ... }}` renders to in this case.
    pub value_text: Option<String>,
}

/// The labels of the series the test cases are built from: where the exporter
/// runs and what it looked at.
const JOB_INSTANCE: &[(&str, &str)] = &[("instance", "exporter:9740")];
const SCOPE_LABELS: &[(&str, &str)] = &[("account", "123456789012"), ("region", "eu-west-1")];

fn minutes(d: Duration) -> u64 {
    d.seconds().div_ceil(60)
}

/// Builds promtool series and expected labels from label pairs.
struct Series<'a> {
    metric: &'a str,
    labels: Vec<(String, String)>,
}

impl<'a> Series<'a> {
    fn new(config: &'a Config, metric: &'a str, labels: &[(&str, &str)]) -> Self {
        let mut all: Vec<(String, String)> = vec![("job".into(), config.job.clone())];
        for (k, v) in JOB_INSTANCE.iter().chain(labels) {
            all.push(((*k).into(), (*v).into()));
        }
        Series {
            metric,
            labels: all,
        }
    }

    fn with(mut self, labels: &[(&str, &str)]) -> Self {
        for (k, v) in labels {
            self.labels.push(((*k).into(), (*v).into()));
        }
        self
    }

    fn text(&self) -> String {
        let inner: Vec<String> = self
            .labels
            .iter()
            .map(|(k, v)| format!("{k}=\"{v}\""))
            .collect();
        format!("{}{{{}}}", self.metric, inner.join(", "))
    }

    fn label_map(&self) -> BTreeMap<String, String> {
        self.labels.iter().cloned().collect()
    }

    /// Only these labels (a rule that aggregates keeps only its `by` labels).
    fn label_map_of(&self, keep: &[&str]) -> BTreeMap<String, String> {
        self.labels
            .iter()
            .filter(|(k, _)| keep.contains(&k.as_str()))
            .cloned()
            .collect()
    }
}

fn case(name: &str, series: Vec<(String, String)>, eval_minutes: u64) -> Case {
    Case {
        name: name.to_owned(),
        series,
        eval_minutes,
        labels: BTreeMap::new(),
        value_text: None,
    }
}

/// Cases for a rule over one gauge that fires on a bad value: bad for long
/// enough fires; good stays silent; bad but one step short of `for` too.
fn gauge_cases(series: &Series, bad: &str, good: &str, for_: Duration) -> Cases {
    let steps = minutes(for_) + 10;
    let eval = minutes(for_) + 2;
    let mut silent = vec![case(
        "healthy",
        vec![(series.text(), format!("{good}x{steps}"))],
        eval,
    )];
    // `for` pinned: silent a minute short of it, firing at it.
    if minutes(for_) >= 1 {
        silent.push(case(
            "short of for",
            vec![(series.text(), format!("{bad}x{steps}"))],
            minutes(for_) - 1,
        ));
    }
    let fires = |name: &str, eval: u64| Case {
        labels: series.label_map(),
        ..case(name, vec![(series.text(), format!("{bad}x{steps}"))], eval)
    };
    Cases {
        fires: vec![
            fires("fires", eval),
            fires("fires at its for", minutes(for_)),
        ],
        silent,
    }
}

/// Cases of a resource alert, which keeps firing for `hold` after its
/// condition stops (`keep_firing_for`), so that a failed scrape does not
/// resolve it: the gauge cases, plus one bad poll among good ones staying
/// silent, and a firing alert whose series goes stale firing on through the
/// hold and resolving after it.
fn resource_cases(
    config: &Config,
    series: &Series,
    bad: &str,
    good: &str,
    for_: Duration,
) -> Cases {
    let mut cases = gauge_cases(series, bad, good, for_);
    let f = minutes(for_);
    if for_.seconds() > 0 {
        cases.silent.push(case(
            "one bad poll",
            vec![(series.text(), format!("{good}x3 {bad} {good}x{}", f + 10))],
            f + 6,
        ));
    }
    let hold = minutes(config.hold);
    if hold >= 3 {
        // Good at 0, bad from 1 to f+2 (firing from f+1), stale from f+3 on.
        let values = format!("{good} {bad}x{} stale", f + 1);
        let stale_at = f + 3;
        cases.fires.push(Case {
            labels: series.label_map(),
            ..case(
                "held after its series goes stale",
                vec![(series.text(), values.clone())],
                stale_at + 1,
            )
        });
        cases.silent.push(case(
            "resolved after the hold",
            vec![(series.text(), values)],
            stale_at + hold + 2,
        ));
    }
    cases
}

/// Cases of a resource alert on a count above `threshold`: the resource
/// cases (firing 12 above it, quiet at 0), and quiet exactly at it.
fn over_threshold_cases(config: &Config, series: &Series, threshold: f64, for_: Duration) -> Cases {
    let bad = threshold.floor() + 12.0;
    let mut cases = resource_cases(config, series, &bad.to_string(), "0", for_);
    for case in &mut cases.fires {
        case.value_text = Some(bad.to_string());
    }
    cases.silent.push(case(
        "at the threshold",
        vec![(series.text(), format!("{threshold}x{}", minutes(for_) + 10))],
        minutes(for_) + 2,
    ));
    cases
}

/// A state-set alert: `metric{state...} == 1`.
fn state_rule(
    config: &Config,
    metric: &'static str,
    state_matcher: &str,
    for_: Duration,
    labels: &[(&str, &str)],
    description: String,
) -> Rule {
    let expr = format!("{metric}{{{}, {state_matcher}}} == 1", config.selector());
    let series = Series::new(config, metric, SCOPE_LABELS).with(labels);
    Rule {
        labels: Vec::new(),
        expr,
        for_,
        description,
        cases: resource_cases(config, &series, "1", "0", for_),
    }
}

/// Everything a VPC-link description ends with: where to look.
const LINK_CONFIRM: &str = "Confirm with `aws-connectivity-exporter diagnose --vpc-link {{ $labels.vpc_link_id }}` or the exporter's /links page (links_url).";

/// One runbook check and the alert that fires when it fails.
struct CheckAlert {
    /// The check: its name, object labels and the collectors it reads
    /// (whose failure mutes the alert) are the catalogue's.
    check: &'static awsconn_catalogue::Check,
    alert: &'static str,
    severity: Severity,
    /// Sample values of some of the check's object labels, for the test
    /// series.
    example: &'static [(&'static str, &'static str)],
    summary: &'static str,
    /// What failed (a template), then the cause and the fix.
    description: &'static str,
    /// How long the check must fail: at once for a break that does not
    /// flap, longer where the signal does (`mixin/config.yaml`).
    for_: fn(&ForDurations) -> Duration,
}

const CHECK_ALERTS: &[CheckAlert] = &[
    CheckAlert {
        check: &check::LOAD_BALANCER_ACTIVE,
        alert: "AwsconnLoadBalancerUnavailable",
        for_: |f| f.check_broken,
        severity: Severity::Critical,
        example: &[(
            "load_balancer",
            "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/net/orders-nlb/50dc6c495c0c9188",
        )],
        summary: "A VPC link's load balancer does not exist or is not active.",
        description: "Load balancer {{ $labels.load_balancer }} does not exist or is not active, so API Gateway has nowhere to send the request and callers get HTTP 500 (execution log: \"There was an internal error while executing your request\"). Fix: if it was deleted, create it again with its listeners and target groups and point the link at it (a V1 link must be recreated with the new NLB's ARN, then the API redeployed); if it is provisioning, impaired or failed, check its state and its subnets in the EC2 console.",
    },
    CheckAlert {
        check: &check::LISTENER_PORT,
        alert: "AwsconnListenerPortMissing",
        for_: |f| f.check_broken,
        severity: Severity::Critical,
        example: &[
            (
                "load_balancer",
                "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/net/orders-nlb/50dc6c495c0c9188",
            ),
            ("port", "8443"),
        ],
        summary: "An integration calls a port the load balancer does not listen on.",
        description: "{{ if $labels.listener }}An integration names listener {{ $labels.listener }}, which load balancer {{ $labels.load_balancer }} does not have{{ else }}An integration calls port {{ $labels.port }} of load balancer {{ $labels.load_balancer }}, which has no listener on that port{{ end }}, so the connection fails and callers get HTTP 500. Fix: {{ if $labels.listener }}point the integration at a listener the load balancer has, or create the listener again{{ else }}add a listener on port {{ $labels.port }}, or correct the port in the integration URI or the stage variable that sets it{{ end }}, then redeploy the API.",
    },
    CheckAlert {
        check: &check::ENDPOINT_SERVICE_AVAILABLE,
        alert: "AwsconnEndpointServiceUnavailable",
        for_: |f| f.check_broken,
        severity: Severity::Critical,
        example: &[
            (
                "load_balancer",
                "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/net/orders-nlb/50dc6c495c0c9188",
            ),
            ("service_id", "vpce-svc-0123456789abcdef0"),
        ],
        summary: "The PrivateLink endpoint service behind a REST VPC link is missing or not available.",
        description: "The endpoint service {{ $labels.service_id }} of load balancer {{ $labels.load_balancer }} is missing or not available; a V1 VPC link reaches its NLB only through it, so callers get HTTP 500. Fix: a V1 link creates and owns this endpoint service: if it was deleted or failed, delete and recreate the VPC link, update the integrations to use the new link and redeploy the API.",
    },
    CheckAlert {
        check: &check::ENDPOINT_CONNECTION_AVAILABLE,
        alert: "AwsconnEndpointConnectionUnavailable",
        for_: |f| f.check_broken,
        severity: Severity::Critical,
        example: &[("service_id", "vpce-svc-0123456789abcdef0")],
        summary: "API Gateway's PrivateLink connection to a REST VPC link's NLB is not available.",
        description: "API Gateway's endpoint connection to endpoint service {{ $labels.service_id }} is missing, pending acceptance, rejected or expired, so the link cannot carry traffic and callers get HTTP 500. Fix: accept the pending connection in the VPC console (Endpoint services, Endpoint connections) or turn off acceptance required; a rejected or expired connection needs the VPC link to be recreated.",
    },
    CheckAlert {
        check: &check::TARGETS_HEALTHY,
        alert: "AwsconnNoHealthyTargets",
        for_: |f| f.targets_unhealthy,
        severity: Severity::Critical,
        example: &[(
            "target_group",
            "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/orders-tg/73e2d6bc24d8a067",
        )],
        summary: "A target group behind a VPC link has no healthy target.",
        description: "Target group {{ $labels.target_group }} has no healthy target, so the load balancer has nobody to forward to and callers get HTTP 500. Fix: look at the targets' health reasons (awsconn_target_group_unhealthy_reasons, or the target group's Targets tab): start stopped or unused targets, make the backend listen on the target port and answer the health check, and let the targets' security groups admit the health-check port.",
    },
    CheckAlert {
        check: &check::SECURITY_GROUPS_ADMIT,
        alert: "AwsconnSecurityGroupBlocks",
        for_: |f| f.check_broken,
        severity: Severity::Critical,
        example: &[
            ("security_group", "sg-0123456789abcdef0"),
            ("direction", "ingress"),
            (
                "target_group",
                "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/orders-tg/73e2d6bc24d8a067",
            ),
            ("port", "8080"),
        ],
        summary: "A security group on a VPC link's path does not admit the traffic.",
        description: "Security groups {{ $labels.security_group }} do not let TCP port {{ $labels.port }} through ({{ $labels.direction }}) on the hop to {{ if $labels.target_group }}the targets of {{ $labels.target_group }}{{ else }}load balancer {{ $labels.load_balancer }}{{ end }}, so connections time out and callers get HTTP 500. Fix: add a rule to these groups that admits port {{ $labels.port }} from the sender (the load balancer's security group or its subnets' CIDRs; for a V2 link, the link's security group) and, for egress, to the receiver.",
    },
    CheckAlert {
        check: &check::NETWORK_ACLS_ADMIT,
        alert: "AwsconnNetworkAclBlocks",
        for_: |f| f.check_broken,
        severity: Severity::Critical,
        example: &[
            ("network_acl", "acl-0123456789abcdef0"),
            (
                "target_group",
                "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/orders-tg/73e2d6bc24d8a067",
            ),
            ("port", "8080"),
        ],
        summary: "A network ACL on a VPC link's path blocks the traffic.",
        description: "Network ACL {{ $labels.network_acl }} blocks TCP port {{ $labels.port }} or its return traffic on the hop to {{ if $labels.target_group }}the targets of {{ $labels.target_group }}{{ else }}load balancer {{ $labels.load_balancer }}{{ end }}; network ACLs are stateless, so both the request and the answer on the ephemeral ports 1024-65535 must be allowed. Fix: add or reorder the ACL's entries so that an allow for the port (inbound) and for 1024-65535 (outbound, and inbound on the sender's subnet) comes before any deny; diagnose names the entry that blocks.",
    },
    CheckAlert {
        check: &check::PRIVATELINK_INBOUND_RULES,
        alert: "AwsconnPrivateLinkInboundRulesBlock",
        for_: |f| f.check_broken,
        severity: Severity::Critical,
        example: &[(
            "load_balancer",
            "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/net/orders-nlb/50dc6c495c0c9188",
        )],
        summary: "PrivateLink inbound-rule enforcement blocks a REST VPC link's traffic.",
        description: "\"Enforce inbound rules on PrivateLink traffic\" is on for load balancer {{ $labels.load_balancer }} and its security groups do not admit the listener ports from anywhere; the link's traffic comes from API Gateway's own addresses, so the NLB drops it and callers get HTTP 500. Fix: turn the setting off on the load balancer's Security tab (the usual choice for a VPC link), or add inbound rules to its security groups that admit the listener ports from 0.0.0.0/0.",
    },
    CheckAlert {
        check: &check::NO_TLS_ERRORS,
        alert: "AwsconnTlsErrors",
        for_: |f| f.check_broken,
        severity: Severity::Critical,
        example: &[("api_id", "a1b2c3d4e5"), ("stage", "prod")],
        summary: "TLS handshakes between API Gateway and a VPC link's backend fail.",
        description: "The execution log of API {{ $labels.api_id }} stage {{ $labels.stage }} shows TLS failures towards the backend (host name mismatch, untrusted or expired certificate, key mismatch), and callers get HTTP 500. Fix: the integration's host name must match the certificate the TLS listener or target presents, which must chain to a public CA and be valid; insecureSkipVerification does not skip these checks. awsconn_execution_errors_total names the class.",
    },
    CheckAlert {
        check: &check::CERTIFICATE_MATCHES_HOST,
        alert: "AwsconnCertificateHostMismatch",
        for_: |f| f.check_broken,
        severity: Severity::Critical,
        example: &[
            (
                "load_balancer",
                "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/net/orders-nlb/50dc6c495c0c9188",
            ),
            ("port", "443"),
            ("host", "orders.internal.example.com"),
        ],
        summary: "No certificate of a TLS listener covers the host name an integration verifies.",
        description: "No certificate of the TLS listener on port {{ $labels.port }} of load balancer {{ $labels.load_balancer }} covers {{ $labels.host }}, the host name the integration verifies (its URI's host, or tlsConfig.serverNameToVerify), so API Gateway fails the handshake with \"Host name ... does not match the certificate subject\" (tls_hostname_mismatch) and callers get HTTP 500; insecureSkipVerification does not skip this. Fix: add a certificate that covers {{ $labels.host }} to the listener (ACM, then the listener's certificate list), or change the integration's host name or serverNameToVerify to a name the certificate covers and redeploy.",
    },
    CheckAlert {
        check: &check::TLS_PROBE,
        alert: "AwsconnTlsProbeFailing",
        for_: |f| f.tls_probe_failing,
        severity: Severity::Critical,
        example: &[
            (
                "load_balancer",
                "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/net/orders-nlb/50dc6c495c0c9188",
            ),
            ("port", "443"),
            ("host", "orders.internal.example.com"),
        ],
        summary: "The TLS probe of an integration's backend fails as API Gateway would.",
        description: "The exporter's TLS probe connected to load balancer {{ $labels.load_balancer }} on port {{ $labels.port }} as API Gateway does (SNI {{ $labels.host }}) and a check API Gateway makes failed: the chain to a public CA, the certificate's dates or host name, the handshake key, or an HTTP answer over the session (a probe that cannot reach the load balancer leaves the check unknown instead). Requests through the integration fail the same way (HTTP 500, or 504 for a backend that does not answer). awsconn_tls_probe_failure names the execution-log class. Fix: as that class says (diagnose gives the cause): a certificate that covers the host name, chains to a public CA with its intermediates and is valid, served with its own key; a TLS listener in front of a plain HTTP target, or a TCP listener in front of a TLS target.",
    },
    CheckAlert {
        check: &check::CERTIFICATE_VALID,
        alert: "AwsconnCertificateInvalid",
        // As long as AwsconnCertificateExpiring, which mutes it for the
        // same certificate: never paged before it can be muted.
        for_: |f| f.certificate_expiring,
        severity: Severity::Warning,
        example: &[
            (
                "load_balancer",
                "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/net/orders-nlb/50dc6c495c0c9188",
            ),
            ("port", "443"),
            (
                "certificate_arn",
                "arn:aws:acm:eu-west-1:123456789012:certificate/0d5b7a3e-1f2c-4c1e-9a51-6c3e2f0b8d11",
            ),
        ],
        summary: "The certificate a TLS listener serves an integration is expired, expiring, not yet valid or not issued.",
        description: "Certificate {{ $labels.certificate_arn }}, which the TLS listener on port {{ $labels.port }} of load balancer {{ $labels.load_balancer }} serves for an integration's host name, is expired, not yet valid, expiring within the exporter's diagnosis.certificate_expiry_warning, or not ISSUED in ACM (revoked, failed); API Gateway checks validity even with insecureSkipVerification, and fails the handshake (tls_certificate_expired). AwsconnCertificateExpiring, which mutes this alert for the same certificate, grades the expiry by date. Fix: renew or replace the certificate and set it on the listener; diagnose says which of these it is.",
    },
];

/// The longest a break takes to page with `config`'s settings, once its
/// condition holds, for each distinct `for` of the alert's rules (shortest
/// first): the poll that sees it (a CloudWatch datapoint also waits for its
/// period to end and for the exporter's delay behind now), a scrape, a rule evaluation, the `for` and Alertmanager's group
/// wait. An alert on Prometheus' own `up` waits for no poll.
pub fn time_to_page(config: &Config, alert: &Alert) -> Vec<(Duration, Duration)> {
    let reads_no_poll = alert.rules.iter().all(|r| !r.expr.contains("awsconn_"));
    let seen = if reads_no_poll {
        Duration::from_seconds(0)
    } else if alert.collectors.contains(&"cloudwatch") {
        config.exporter.poll_interval
            + config.exporter.cloudwatch_period
            + config.exporter.cloudwatch_delay
    } else {
        config.exporter.poll_interval
    };
    let mut fors: Vec<Duration> = alert.rules.iter().map(|r| r.for_).collect();
    fors.sort();
    fors.dedup();
    fors.into_iter()
        .map(|for_| {
            let page = seen
                + config.prometheus.scrape_interval
                + config.prometheus.evaluation_interval
                + for_
                + config.alertmanager.group_wait;
            (for_, page)
        })
        .collect()
}

/// The row of `docs/runbooks.md`'s time-to-page table for an alert.
pub fn time_to_page_row(config: &Config, alert: &Alert) -> String {
    let times = time_to_page(config, alert);
    let join = |pick: fn(&(Duration, Duration)) -> Duration| {
        times
            .iter()
            .map(|t| pick(t).to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!(
        "| [{}](#{}) | {} | {} |",
        alert.name,
        alert.name.to_lowercase(),
        join(|t| t.0),
        join(|t| t.1)
    )
}

/// Each runbook check with an alert, and that alert: `(check, alert)`.
pub fn check_alerts_by_check() -> impl Iterator<Item = (&'static str, &'static str)> {
    CHECK_ALERTS.iter().map(|c| (c.check.name, c.alert))
}

/// Every alert, in the order the rule file lists them.
pub fn alerts(config: &Config) -> Vec<Alert> {
    let mut out = exporter_alerts(config);
    out.extend(link_alerts(config));
    out.extend(check_alerts(config));
    out.push(unknown_alert(config));
    out.extend(traffic_alerts(config));
    out.extend(interconnect_alerts(config));
    out.push(certificate_expiring_alert(config));
    for alert in &mut out {
        let Some(owner) = alert.owner else { continue };
        if config.owners.labels.is_empty() {
            continue;
        }
        for rule in &mut alert.rules {
            rule.expr = owner_join(config, owner, &rule.expr);
            owner_case(config, owner, rule);
        }
    }
    out
}

/// An alert with its owner's labels (`owners.labels`, from the `_info`
/// series of what it is about), for Alertmanager to route by; an alert
/// whose resource has no info series fires without them. One info series
/// per resource is taken (`topk`): two (one link seen through two entries
/// of one account) must not turn the rule into a many-to-many error.
fn owner_join(config: &Config, owner: Owner, expr: &str) -> String {
    let keys = owner.keys.join(", ");
    format!(
        "(({expr}) * on ({keys}) group_left ({}) topk by ({keys}) (1, {}{{{}}})) or on ({keys}) ({expr})",
        config.owners.labels.join(", "),
        owner.info,
        config.selector()
    )
}

/// A promtool case for each rule that has an owner: its first firing case
/// again, with the owner's info series beside it, fires with the owner's
/// labels. So every alert that names an owner is proven to carry it.
fn owner_case(config: &Config, owner: Owner, rule: &mut Rule) {
    let Some(first) = rule.cases.fires.first() else {
        return;
    };
    // The key labels as the alert carries them; an alert without one of
    // them (an `absent()`) has nothing to join on.
    let Some(keys) = owner
        .keys
        .iter()
        .map(|k| Some((*k, first.labels.get(*k)?.clone())))
        .collect::<Option<Vec<_>>>()
    else {
        return;
    };
    let mut info = Series::new(config, owner.info, &[]);
    info.labels.clear();
    for (k, v) in &keys {
        info.labels.push(((*k).to_owned(), v.clone()));
    }
    let mut labels = first.labels.clone();
    for (i, label) in config.owners.labels.iter().enumerate() {
        let value = if i == 0 {
            "payments".to_owned()
        } else {
            format!("owner-{i}")
        };
        info.labels.push((label.clone(), value.clone()));
        labels.insert(label.clone(), value);
    }
    let steps = first.eval_minutes + 10;
    let mut series = first.series.clone();
    series.push((info.text(), format!("1x{steps}")));
    let case = Case {
        name: format!(
            "{}, carries the owner of what it is about, from its tags",
            first.name
        ),
        series,
        eval_minutes: first.eval_minutes,
        labels,
        value_text: first.value_text.clone(),
    };
    rule.cases.fires.push(case);
}

/// `AwsconnCertificateExpiring`: by the expiry date ACM gives, every
/// certificate of the TLS listeners the links use, whether or not an
/// integration's host name picks it. A warning, then critical, rule.
fn certificate_expiring_alert(config: &Config) -> Alert {
    let s = config.selector();
    let t = &config.thresholds;
    let f = config.for_.certificate_expiring;
    let (warning, critical) = (
        t.certificate_expiry_warning.seconds(),
        t.certificate_expiry_critical.seconds(),
    );
    let metric = "awsconn_listener_certificate_expiry_timestamp_seconds";
    let series = Series::new(config, metric, SCOPE_LABELS).with(&[
        (
            "load_balancer",
            "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/net/orders-nlb/50dc6c495c0c9188",
        ),
        ("port", "443"),
        (
            "certificate_arn",
            "arn:aws:acm:eu-west-1:123456789012:certificate/0d5b7a3e-1f2c-4c1e-9a51-6c3e2f0b8d11",
        ),
        ("domain", "orders.internal.example.com"),
    ]);
    let eval = minutes(f) + 2;
    let steps = eval + 10;
    // The series holds the expiry time; promtool's clock starts at 0.
    let expiring_in = |left_s: u64| format!("{}x{steps}", left_s + eval * 60);
    let rule = |name: &str, left_s: u64, severity: &str| Rule {
        labels: vec![("severity", severity.to_owned())],
        expr: if severity == "critical" {
            format!("{metric}{{{s}}} - time() < {critical}")
        } else {
            format!(
                "{metric}{{{s}}} - time() < {warning}\nand {metric}{{{s}}} - time() >= {critical}"
            )
        },
        for_: f,
        description: format!(
            "The certificate {{{{ $labels.certificate_arn }}}} ({{{{ $labels.domain }}}}) of the TLS listener on port {{{{ $labels.port }}}} of load balancer {{{{ $labels.load_balancer }}}} (account {{{{ $labels.account }}}}, region {{{{ $labels.region }}}}) has {{{{ $value | humanizeDuration }}}} left before it expires{}; API Gateway then fails every TLS handshake through it with \"PKIX path validation failed ... validity check failed\" (tls_certificate_expired), even with insecureSkipVerification. Fix: renew or replace it: an ACM certificate validated by DNS renews itself while its CNAME validation record stays in place (check the record and ACM's renewal status); an imported certificate must be imported again, with its chain, then set on the listener.",
            if name == "expired" {
                " (a negative time: it has expired)"
            } else {
                ""
            }
        ),
        cases: Cases {
            fires: vec![Case {
                labels: series.label_map(),
                value_text: Some(humanize_duration(left_s)),
                ..case(name, vec![(series.text(), expiring_in(left_s))], eval)
            }],
            // Just outside the critical threshold is the warning rule's: a
            // near miss is silent only above the warning one.
            silent: [
                Some(case(
                    "healthy",
                    vec![(series.text(), expiring_in(warning * 4))],
                    eval,
                )),
                (severity == "warning").then(|| {
                    case(
                        "just outside the threshold",
                        vec![(series.text(), expiring_in(warning + 3600))],
                        eval,
                    )
                }),
                Some(case(
                    "short of for",
                    vec![(series.text(), expiring_in(left_s))],
                    minutes(f).saturating_sub(1),
                )),
            ]
            .into_iter()
            .flatten()
            .collect(),
        },
    };
    Alert {
        name: "AwsconnCertificateExpiring",
        severity: Severity::Warning,
        summary: "The certificate of a TLS listener on a VPC link's path expires soon.",
        scope: Scope::Resource,
        owner: Some(LOAD_BALANCER_OWNER),
        // Not muted by a failing collector: the date it last read stays true.
        collectors: &[],
        rules: vec![
            rule("expiring", warning / 2, "warning"),
            rule("expired", critical / 2, "critical"),
        ],
    }
}

fn exporter_alerts(config: &Config) -> Vec<Alert> {
    let s = config.selector();
    let f = &config.for_;
    let t = &config.thresholds;
    let up = Series::new(config, "up", &[]);
    let down = gauge_cases(&up, "0", "1", f.exporter_down);
    let absent_steps = minutes(f.exporter_down) + 10;
    let other_job = "up{job=\"other\", instance=\"other:9100\"}".to_owned();
    let absent = Cases {
        fires: vec![Case {
            labels: [("job".to_owned(), config.job.clone())].into(),
            ..case(
                "no target",
                vec![(other_job.clone(), format!("1x{absent_steps}"))],
                minutes(f.exporter_down) + 2,
            )
        }],
        silent: vec![case(
            "target scraped",
            vec![
                (up.text(), format!("1x{absent_steps}")),
                (other_job, format!("1x{absent_steps}")),
            ],
            minutes(f.exporter_down) + 2,
        )],
    };

    let success = Series::new(config, "awsconn_collector_success", SCOPE_LABELS)
        .with(&[("collector", "endpoints")]);
    let stale = Series::new(
        config,
        "awsconn_collector_last_success_timestamp_seconds",
        SCOPE_LABELS,
    )
    .with(&[("collector", "endpoints")]);
    let stale_after = t.data_stale_after.seconds();
    let stale_fires_at = minutes(t.data_stale_after) + minutes(f.data_stale) + 2;
    let stale_steps = stale_fires_at + 8;
    let stale_cases = Cases {
        // Last success at 0 and never again: stale from `data_stale_after` on.
        fires: vec![Case {
            labels: stale.label_map(),
            ..case(
                "never again",
                vec![(stale.text(), format!("0x{stale_steps}"))],
                stale_fires_at,
            )
        }],
        silent: vec![
            case(
                "every minute",
                vec![(stale.text(), format!("0+60x{stale_steps}"))],
                stale_steps - 2,
            ),
            case(
                "exactly at the threshold",
                vec![(stale.text(), format!("-{stale_after}+60x{stale_steps}"))],
                stale_steps - 2,
            ),
        ],
    };

    let requests = |outcome: &str| {
        Series::new(config, "awsconn_aws_api_requests_total", &[]).with(&[
            ("service", "elasticloadbalancingv2"),
            ("operation", "DescribeTargetHealth"),
            ("outcome", outcome),
            ("account", "123456789012"),
            ("region", "eu-west-1"),
        ])
    };
    let thr_steps = minutes(f.aws_api_throttled) + 15;
    let thr_eval = minutes(f.aws_api_throttled) + 8;
    // Requests per minute out of 100: five points above the threshold, and
    // the last whole point under it.
    let thr_fire = percent_above(t.throttled_ratio);
    let thr_near = (t.throttled_ratio * 100.0).ceil() as u64 - 1;
    let throttled = Cases {
        fires: vec![Case {
            labels: requests("throttled")
                .label_map_of(&["job", "instance", "account", "region", "service"]),
            value_text: Some(format!("{thr_fire}%")),
            ..case(
                "above the threshold",
                vec![
                    (
                        requests("ok").text(),
                        format!("0+{}x{thr_steps}", 100 - thr_fire),
                    ),
                    (
                        requests("throttled").text(),
                        format!("0+{thr_fire}x{thr_steps}"),
                    ),
                ],
                thr_eval,
            )
        }],
        silent: vec![
            case(
                "none throttled",
                vec![
                    (requests("ok").text(), format!("0+10x{thr_steps}")),
                    (requests("throttled").text(), format!("0x{thr_steps}")),
                ],
                thr_eval,
            ),
            case(
                "just under the threshold",
                vec![
                    (
                        requests("ok").text(),
                        format!("0+{}x{thr_steps}", 100 - thr_near),
                    ),
                    (
                        requests("throttled").text(),
                        format!("0+{thr_near}x{thr_steps}"),
                    ),
                ],
                thr_eval,
            ),
        ],
    };
    let den_steps = minutes(f.aws_access_denied) + 15;
    let denied = Cases {
        fires: vec![Case {
            labels: requests("denied").label_map_of(&[
                "job",
                "instance",
                "account",
                "region",
                "service",
                "operation",
            ]),
            ..case(
                "denied every minute",
                vec![(requests("denied").text(), format!("0+1x{den_steps}"))],
                minutes(f.aws_access_denied) + 5,
            )
        }],
        silent: vec![
            case(
                "never denied",
                vec![(requests("denied").text(), format!("0x{den_steps}"))],
                minutes(f.aws_access_denied) + 5,
            ),
            case(
                "denied, short of for",
                vec![(requests("denied").text(), format!("0+1x{den_steps}"))],
                minutes(f.aws_access_denied).saturating_sub(1),
            ),
        ],
    };

    let exhausted = Series::new(config, "awsconn_aws_quota_exhausted_total", SCOPE_LABELS)
        .with(&[("service", "apigateway"), ("operation", "GetResources")]);
    let spent_steps = minutes(f.aws_quota_spent) + 40;
    let spent_eval = minutes(f.aws_quota_spent) + 35;
    let spent = Cases {
        fires: vec![Case {
            labels: exhausted.label_map(),
            ..case(
                "calls refused every minute",
                vec![(exhausted.text(), format!("0+1x{spent_steps}"))],
                spent_eval,
            )
        }],
        silent: vec![
            case(
                "never refused",
                vec![(exhausted.text(), format!("0x{spent_steps}"))],
                spent_eval,
            ),
            case(
                "a first read spread over a few polls, then caught up",
                vec![(exhausted.text(), format!("0+1x10 10x{}", spent_steps - 10))],
                spent_eval,
            ),
        ],
    };
    let deferred = Series::new(
        config,
        "awsconn_execution_log_groups_deferred",
        SCOPE_LABELS,
    );
    let deferred_cases = gauge_cases(&deferred, "12", "0", f.aws_quota_spent);

    vec![
        Alert {
            name: "AwsconnExporterDown",
            severity: Severity::Critical,
            summary: "The exporter is down: nothing watches the VPC links and Interconnect connections.",
            scope: Scope::Exporter,
            owner: None,
            collectors: &[],
            rules: vec![Rule {
                labels: Vec::new(),
                expr: format!("up{{{s}}} == 0 or absent(up{{{s}}})"),
                for_: f.exporter_down,
                description: "{{ if $labels.instance }}Prometheus cannot scrape the exporter at {{ $labels.instance }} (job {{ $labels.job }}), so no VPC link, load balancer or Interconnect connection it watches is checked, and its resource alerts are muted rather than resolved. Fix: look at the exporter's process and logs, and at the network path from Prometheus to it; /healthz answers while it runs.{{ else }}Prometheus has no target for job {{ $labels.job }}: the exporter is not scraped at all, so no VPC link or Interconnect connection is watched. Fix: check the scrape configuration (job name, service discovery) against alerts/prometheus.example.yml.{{ end }}".into(),
                cases: Cases {
                    fires: down.fires.into_iter().chain(absent.fires).collect(),
                    silent: down.silent.into_iter().chain(absent.silent).collect(),
                },
            }],
        },
        Alert {
            name: "AwsconnCollectorFailing",
            severity: Severity::Warning,
            summary: "A collector of the exporter keeps failing: its data is getting old.",
            scope: Scope::Exporter,
            owner: None,
            collectors: &[],
            rules: vec![Rule {
                labels: Vec::new(),
                expr: format!("awsconn_collector_success{{{s}}} == 0"),
                for_: f.collector_failing,
                description: format!("The {{{{ $labels.collector }}}} collector of {{{{ $labels.instance }}}} has failed every poll of account {{{{ $labels.account }}}} in region {{{{ $labels.region }}}} for {} or more; the alerts built on its data are muted, because they would judge old data. Fix: the exporter's log names the AWS error (logged once); AccessDenied means the IAM policy lacks an action (`aws-connectivity-exporter iam-policy` prints the right one), a timeout means the collector's timeout is too short for the inventory.", f.collector_failing),
                cases: gauge_cases(&success, "0", "1", f.collector_failing),
            }],
        },
        Alert {
            name: "AwsconnDataStale",
            severity: Severity::Warning,
            summary: "A collector has not succeeded for too long: its metrics show old data.",
            scope: Scope::Exporter,
            owner: None,
            collectors: &[],
            rules: vec![Rule {
                labels: Vec::new(),
                expr: format!(
                    "time() - awsconn_collector_last_success_timestamp_seconds{{{s}}} > {stale_after}"
                ),
                for_: f.data_stale,
                description: format!(
                    "The {{{{ $labels.collector }}}} collector of {{{{ $labels.instance }}}} last succeeded for account {{{{ $labels.account }}}} in region {{{{ $labels.region }}}} {{{{ $value | humanizeDuration }}}} ago (more than {}), so what the dashboards and alerts show for it is old. Fix: see AwsconnCollectorFailing and the exporter's log; a collector that hangs is cut off by its timeout.",
                    t.data_stale_after
                ),
                cases: Cases {
                    fires: stale_cases
                        .fires
                        .into_iter()
                        .map(|case| Case {
                            value_text: Some(humanize_duration(
                                stale_fires_at * 60,
                            )),
                            ..case
                        })
                        .collect(),
                    silent: stale_cases.silent,
                },
            }],
        },
        Alert {
            name: "AwsconnAwsApiThrottled",
            severity: Severity::Warning,
            summary: "AWS throttles many of the exporter's requests to a service.",
            scope: Scope::Exporter,
            owner: None,
            collectors: &[],
            rules: vec![Rule {
                labels: Vec::new(),
                expr: format!(
                    "sum by (job, instance, account, region, service) (rate(awsconn_aws_api_requests_total{{{s}, outcome=\"throttled\"}}[5m]))\n  / sum by (job, instance, account, region, service) (rate(awsconn_aws_api_requests_total{{{s}}}[5m]))\n> {}",
                    t.throttled_ratio
                ),
                for_: f.aws_api_throttled,
                description: "{{ $value | humanizePercentage }} of the requests of {{ $labels.instance }} to {{ $labels.service }} in account {{ $labels.account }}, {{ $labels.region }} were throttled over the last 5 minutes. The exporter keeps to its share of AWS's default quota (aws.quota_share), so another client of the same account and region is using the rest, or the account's quota is lower than the default; the team's own tools are slowed too, and polls may time out. Fix: find the other heavy client (CloudTrail), lower aws.quota_share, or set the account's real quota in aws.quotas.".into(),
                cases: throttled,
            }],
        },
        Alert {
            name: "AwsconnAwsAccessDenied",
            severity: Severity::Warning,
            summary: "AWS denies some of the exporter's requests: its IAM policy lacks an action.",
            scope: Scope::Exporter,
            owner: None,
            collectors: &[],
            rules: vec![Rule {
                labels: Vec::new(),
                expr: format!(
                    "sum by (job, instance, account, region, service, operation) (increase(awsconn_aws_api_requests_total{{{s}, outcome=\"denied\"}}[5m])) > 0"
                ),
                for_: f.aws_access_denied,
                description: "AWS denies {{ $labels.operation }} on {{ $labels.service }} in account {{ $labels.account }}, {{ $labels.region }} to the exporter at {{ $labels.instance }}, so what that call reads is missing. Fix: give the exporter's role the policy `aws-connectivity-exporter iam-policy --config ...` prints; a service that refuses the account or region itself (Interconnect where it is not offered) counts as outcome `not_offered` instead where its answer says so; a bare AccessDenied is counted here: then disable that collector or drop the region.".into(),
                cases: denied,
            }],
        },
        Alert {
            name: "AwsconnAwsQuotaSpent",
            severity: Severity::Warning,
            summary: "The exporter's share of AWS's request quota cannot read one account and region in time: what it reads there lags.",
            scope: Scope::Exporter,
            owner: None,
            collectors: &[],
            rules: vec![
                Rule {
                    labels: vec![("unread", "calls".into())],
                    expr: format!(
                        "sum by (job, instance, account, region, service, operation) (increase(awsconn_aws_quota_exhausted_total{{{s}}}[30m])) > 0"
                    ),
                    for_: f.aws_quota_spent,
                    description: "For over {for} the exporter at {{ $labels.instance }} has had to leave {{ $labels.service }} {{ $labels.operation }} calls in account {{ $labels.account }}, {{ $labels.region }} for a later poll: its share of AWS's quota (aws.quota_share of the default, or aws.quotas) does not fit a poll's calls in the collector's timeout, so what those calls read (API integrations, log groups, target health) lags behind, or a collector fails. Fix: raise the collector's interval and timeout, or aws.quota_share if no other client needs the rest, or set the account's real quota in aws.quotas where it has been raised; splitting the account's regions over shards does not help (the quota is per account and region).".replace("{for}", &f.aws_quota_spent.to_string()),
                    cases: spent,
                },
                Rule {
                    labels: vec![("unread", "log_groups".into())],
                    expr: format!(
                        "max by (job, instance, account, region) (awsconn_execution_log_groups_deferred{{{s}}}) > 0"
                    ),
                    for_: f.aws_quota_spent,
                    description: "For over {for} every execution_logs poll of account {{ $labels.account }}, {{ $labels.region }} at {{ $labels.instance }} has left log groups for the next poll: FilterLogEvents allows 5 calls a second per account and region, and the exporter's share of that does not read every group within the collector's timeout. No event is lost, but error counts arrive a poll or more late, and a group with more pages than a poll allows does not catch up. Fix: raise collectors.execution_logs.timeout (and interval) to fit the groups (100 groups need 40 s at the default half share), or aws.quota_share.".replace("{for}", &f.aws_quota_spent.to_string()),
                    cases: deferred_cases,
                },
            ],
        },
        Alert {
            name: "AwsconnConfigReloadFailed",
            severity: Severity::Warning,
            summary: "The exporter refused its reloaded configuration: it runs the previous one.",
            scope: Scope::Exporter,
            owner: None,
            collectors: &[],
            rules: vec![
                Rule {
                    labels: vec![("file", "config".into())],
                    expr: format!("awsconn_config_last_reload_successful{{{s}}} == 0"),
                    for_: f.config_reload_failed,
                    description: "The exporter at {{ $labels.instance }} refused the configuration file it was asked to reload (SIGHUP or POST /-/reload) and still runs the previous one, so the change has not taken effect and the next restart will fail the same way. Fix: `aws-connectivity-exporter check-config --config FILE` names the field and line; correct the file and reload again.".into(),
                    cases: gauge_cases(
                        &Series::new(config, "awsconn_config_last_reload_successful", &[]),
                        "0",
                        "1",
                        f.config_reload_failed,
                    ),
                },
                Rule {
                    labels: vec![("file", "web_config".into())],
                    expr: format!("awsconn_web_config_last_reload_successful{{{s}}} == 0"),
                    for_: f.config_reload_failed,
                    description: "The exporter at {{ $labels.instance }} found its web configuration file (--web.config.file) or a certificate it names changed and invalid, and still serves with the previous one, so the change (a new certificate, a password) has not taken effect and the next restart will fail on the same file. Fix: `aws-connectivity-exporter check-config --web.config.file FILE` names the field and line; correct the file (or the certificate) and the exporter re-reads it by itself.".into(),
                    cases: gauge_cases(
                        &Series::new(config, "awsconn_web_config_last_reload_successful", &[]),
                        "0",
                        "1",
                        f.config_reload_failed,
                    ),
                },
            ],
        },
        Alert {
            name: "AwsconnDiscoveryFailing",
            severity: Severity::Warning,
            summary: "The exporter cannot list the organisation's accounts: it polls the last good list.",
            scope: Scope::Exporter,
            owner: None,
            collectors: &[],
            rules: vec![Rule {
                labels: Vec::new(),
                expr: format!("awsconn_discovery_success{{{s}}} == 0"),
                for_: f.discovery_failing,
                description: "For over {for} the exporter at {{ $labels.instance }} has not been able to list the accounts of the AWS organisation (discovery.organizations): it keeps polling the accounts of its last good listing (none if it never had one), so an account created since is not watched, and one closed since is still polled. Fix: the exporter's log says why (`cannot list the organisation's accounts`); AccessDenied means its credentials are not the management account's or a delegated administrator's, or lack organizations:ListAccounts (ListAccountsForParent and ListChildren with include_ous, ListTagsForResource with tags_as_labels): `aws-connectivity-exporter iam-policy` prints the discovering account's policy.".replace("{for}", &f.discovery_failing.to_string()),
                cases: gauge_cases(
                    &Series::new(config, "awsconn_discovery_success", &[("source", "organizations")]),
                    "0",
                    "1",
                    f.discovery_failing,
                ),
            }],
        },
    ]
}

fn link_alerts(config: &Config) -> Vec<Alert> {
    let f = &config.for_;
    let t = &config.thresholds;
    let idle_days = t.vpc_link_idle_days;
    let idle = Series::new(config, "awsconn_vpc_link_idle_seconds", SCOPE_LABELS)
        .with(&[("vpc_link_id", "x1y2z3")]);
    let threshold = idle_days * 86_400;
    let mut idle_cases = resource_cases(
        config,
        &idle,
        &(threshold + 5 * 86_400).to_string(),
        &(threshold / 2).to_string(),
        f.vpc_link_idle,
    );
    for case in &mut idle_cases.fires {
        case.value_text = Some(humanize_duration(threshold + 5 * 86_400));
    }
    idle_cases.silent.push(case(
        "exactly at the threshold",
        vec![(
            idle.text(),
            format!("{threshold}x{}", minutes(f.vpc_link_idle) + 10),
        )],
        minutes(f.vpc_link_idle) + 2,
    ));

    let unresolved = Series::new(config, "awsconn_integration_unresolved", SCOPE_LABELS).with(&[
        ("api_id", "a1b2c3d4e5"),
        ("api_type", "rest"),
        ("stage", "dev"),
        ("integration", "GET /orders"),
        ("reason", "stage variable ordersHost is not defined"),
    ]);

    vec![
        Alert {
            name: "AwsconnVpcLinkFailed",
            severity: Severity::Critical,
            summary: "A VPC link is FAILED: every integration through it answers HTTP 500.",
            scope: Scope::VpcLink,
            owner: Some(LINK_OWNER),
            collectors: &["vpc_links"],
            rules: vec![failed_link_rule(config)],
        },
        Alert {
            name: "AwsconnVpcLinkInactive",
            severity: Severity::Critical,
            summary: "An HTTP API VPC link is INACTIVE after 60 days without traffic.",
            scope: Scope::VpcLink,
            owner: Some(LINK_OWNER),
            collectors: &["vpc_links"],
            rules: vec![state_rule(
                config,
                "awsconn_vpc_link_status",
                "status=\"inactive\"",
                f.vpc_link_inactive,
                &[("vpc_link_id", "x1y2z3"), ("api_type", "http"), ("status", "inactive")],
                format!(
                    "VPC link {{{{ $labels.vpc_link_id }}}} (account {{{{ $labels.account }}}}, region {{{{ $labels.region }}}}) is INACTIVE: AWS deactivates an HTTP API's VPC link after 60 days without traffic, and the next requests through it fail until it is active again. Fix: send a request through an integration that uses the link (AWS then reactivates it, which takes a few minutes), or recreate the link; AwsconnVpcLinkIdle warns before it happens. {LINK_CONFIRM}"
                ),
            )],
        },
        Alert {
            name: "AwsconnVpcLinkIdle",
            severity: Severity::Warning,
            summary: "A V2 VPC link has carried no traffic for weeks: AWS makes it inactive at 60 days.",
            scope: Scope::VpcLink,
            owner: Some(LINK_OWNER),
            collectors: &["vpc_links", "cloudwatch"],
            rules: vec![Rule {
                labels: Vec::new(),
                expr: format!(
                    "awsconn_vpc_link_idle_seconds{{{}}} > {threshold}",
                    config.selector()
                ),
                for_: f.vpc_link_idle,
                description: format!(
                    "No API request has gone through VPC link {{{{ $labels.vpc_link_id }}}} (account {{{{ $labels.account }}}}, region {{{{ $labels.region }}}}) for {{{{ $value | humanizeDuration }}}} (more than {idle_days} days, CloudWatch Count of the APIs that use it). AWS makes an HTTP API's VPC link INACTIVE after 60 days without traffic, and the first requests after that fail. Fix: if the link is still needed, send a request through it now and then (a synthetic check); otherwise delete it. {LINK_CONFIRM}"
                ),
                cases: idle_cases,
            }],
        },
        Alert {
            name: "AwsconnIntegrationUnresolved",
            severity: Severity::Warning,
            summary: "An integration through a VPC link cannot be resolved in a stage.",
            scope: Scope::Resource,
            owner: Some(API_OWNER),
            collectors: &["vpc_links"],
            rules: vec![Rule {
                labels: Vec::new(),
                expr: format!(
                    "awsconn_integration_unresolved{{{}}} == 1",
                    config.selector()
                ),
                for_: f.integration_unresolved,
                description: "Integration {{ $labels.integration }} of API {{ $labels.api_id }} (account {{ $labels.account }}, region {{ $labels.region }}) cannot be resolved in stage {{ $labels.stage }}: {{ $labels.reason }}. Requests to it fail in that stage, and the exporter cannot check its path. Fix: define the stage variable in that stage (or correct the integration URI or connection id), then redeploy.".into(),
                cases: resource_cases(config, &unresolved, "1", "0", f.integration_unresolved),
            }],
        },
    ]
}

/// `AwsconnVpcLinkFailed`, with AWS's reason (`statusMessage`) as the
/// `message` label where the exporter has one, so the page quotes it.
fn failed_link_rule(config: &Config) -> Rule {
    let for_ = config.for_.vpc_link_failed;
    let labels = [
        ("vpc_link_id", "a1b2c3"),
        ("api_type", "rest"),
        ("status", "failed"),
    ];
    let mut rule = state_rule(
        config,
        "awsconn_vpc_link_status",
        "status=\"failed\"",
        for_,
        &labels,
        format!(
            "VPC link {{{{ $labels.vpc_link_id }}}} (account {{{{ $labels.account }}}}, region {{{{ $labels.region }}}}) is FAILED, so every integration that uses it answers HTTP 500. {{{{ if $labels.message }}}}AWS says: \"{{{{ $labels.message }}}}\". {{{{ end }}}}Cause: usually its target load balancer was deleted or could not be attached (AWS's message says which). Fix: a failed link cannot be repaired: create a new VPC link to a working load balancer, point the integrations (or the stage variable that names the link) at it and redeploy the API. {LINK_CONFIRM}"
        ),
    );
    let message = "NLB ARN is malformed or NLB not found: arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/net/orders-nlb/50dc6c495c0c9188";
    join_info_label(
        config,
        &mut rule,
        InfoLabel {
            on: "vpc_link_id",
            metric: "awsconn_vpc_link_status_message_info",
            label: "message",
            value: message,
            case: "quotes AWS's status message",
        },
        Series::new(config, "awsconn_vpc_link_status", SCOPE_LABELS).with(&labels),
        &[("vpc_link_id", "a1b2c3")],
    );
    rule
}

/// One label of an `_info` series joined into a rule's alerts, for its
/// description to name.
struct InfoLabel {
    /// The label that names the resource on both sides.
    on: &'static str,
    metric: &'static str,
    label: &'static str,
    /// Its value in the test case, and the case's name.
    value: &'static str,
    case: &'static str,
}

/// Joins `info.label` into `rule`'s alerts where the `_info` series exists
/// (alone where it does not), and adds the case that proves the join:
/// `series` of the rule, and the `_info` series with the `info_labels`.
fn join_info_label(
    config: &Config,
    rule: &mut Rule,
    info: InfoLabel,
    series: Series,
    info_labels: &[(&str, &str)],
) {
    let matched = rule.expr.clone();
    let on = format!("on (job, instance, account, region, {})", info.on);
    rule.expr = format!(
        "({matched}) * {on} group_left ({}) {}{{{}}} or {on} {matched}",
        info.label,
        info.metric,
        config.selector()
    );
    let said = Series::new(config, info.metric, SCOPE_LABELS)
        .with(info_labels)
        .with(&[(info.label, info.value)]);
    let steps = minutes(rule.for_) + 10;
    let mut labels = series.label_map();
    labels.insert(info.label.into(), info.value.into());
    rule.cases.fires.push(Case {
        labels,
        ..case(
            info.case,
            vec![
                (series.text(), format!("1x{steps}")),
                (said.text(), format!("1x{steps}")),
            ],
            minutes(rule.for_) + 2,
        )
    });
}

fn check_alerts(config: &Config) -> Vec<Alert> {
    CHECK_ALERTS
        .iter()
        .map(|c| {
            let series = Series::new(config, "awsconn_vpc_link_check", SCOPE_LABELS)
                .with(&[("vpc_link_id", "a1b2c3"), ("check", c.check.name)])
                .with(c.example);
            Alert {
                name: c.alert,
                severity: c.severity,
                summary: c.summary,
                scope: Scope::VpcLink,
                owner: Some(LINK_OWNER),
                collectors: c.check.reads,
                rules: vec![Rule {
                    labels: Vec::new(),
                    expr: format!(
                        "awsconn_vpc_link_check{{{}, check=\"{}\"}} == 0",
                        config.selector(),
                        c.check.name
                    ),
                    for_: (c.for_)(&config.for_),
                    description: format!(
                        "Check {} fails for VPC link {{{{ $labels.vpc_link_id }}}} (account {{{{ $labels.account }}}}, region {{{{ $labels.region }}}}). {} {LINK_CONFIRM}",
                        c.check.name, c.description
                    ),
                    cases: resource_cases(config, &series, "0", "1", (c.for_)(&config.for_)),
                }],
            }
        })
        .collect()
}

/// A check that cannot be made, because the collector it needs has not
/// succeeded, or (`log_group`) a log group it needs could not be read: the
/// link is not known to be healthy.
fn unknown_alert(config: &Config) -> Alert {
    let series = Series::new(config, "awsconn_vpc_link_check_unknown", SCOPE_LABELS).with(&[
        ("vpc_link_id", "a1b2c3"),
        ("check", "targets_healthy"),
        ("collector", "load_balancers"),
    ]);
    let unread_log = Series::new(config, "awsconn_vpc_link_check_unknown", SCOPE_LABELS).with(&[
        ("vpc_link_id", "a1b2c3"),
        ("check", "no_tls_errors"),
        ("collector", "execution_logs"),
        ("api_id", "a1b2c3d4e5"),
        ("stage", "prod"),
        ("log_group", "API-Gateway-Execution-Logs_a1b2c3d4e5/prod"),
    ]);
    let mut cases = resource_cases(config, &series, "1", "0", config.for_.check_unknown);
    cases.fires.extend(
        resource_cases(config, &unread_log, "1", "0", config.for_.check_unknown)
            .fires
            .into_iter()
            .map(|mut c| {
                c.name = format!("{} (an unread log group)", c.name);
                c
            }),
    );
    Alert {
        name: "AwsconnVpcLinkCheckUnknown",
        severity: Severity::Warning,
        summary: "A runbook check of a VPC link cannot be made: the link is not known to be healthy.",
        scope: Scope::VpcLink,
        owner: Some(LINK_OWNER),
        collectors: &["vpc_links"],
        rules: vec![Rule {
            labels: Vec::new(),
            expr: format!(
                "awsconn_vpc_link_check_unknown{{{}}} == 1",
                config.selector()
            ),
            for_: config.for_.check_unknown,
            description: format!(
                "Check {{{{ $labels.check }}}} of VPC link {{{{ $labels.vpc_link_id }}}} (account {{{{ $labels.account }}}}, region {{{{ $labels.region }}}}) cannot be made: {{{{ if $labels.log_group }}}}log group {{{{ $labels.log_group }}}} of API {{{{ $labels.api_id }}}} stage {{{{ $labels.stage }}}} could not be read, so the errors it may hold are not known{{{{ else }}}}the {{{{ $labels.collector }}}} collector it needs has not succeeded{{{{ end }}}}, so the link is reported neither healthy nor broken. Fix: make that collector's calls succeed (AwsconnCollectorFailing or AwsconnExecutionLogUnreadable, which mute this alert, awsconn_execution_log_read_error_info and the exporter's log name the AWS error; AccessDenied means the IAM policy lacks an action: `aws-connectivity-exporter iam-policy` prints the right one). {LINK_CONFIRM}"
            ),
            cases,
        }],
    }
}

fn traffic_alerts(config: &Config) -> Vec<Alert> {
    let s = config.selector();
    let f = &config.for_;
    let t = &config.thresholds;

    let by = "job, instance, account, region, api_id, stage, class";
    let errors_per_minute_fire = (t.integration_errors_per_second * 60.0 * 2.0).max(1.0);
    let errors_per_minute_near = t.integration_errors_per_second * 60.0 * 0.9;
    let integration_rules = awsconn_catalogue::ERROR_CLASSES
        .iter()
        .map(|error| {
            let class = error.name;
            let text = format!("{} Fix: {}", error.cause, error.fix);
            let series = Series::new(config, "awsconn_execution_errors_total", SCOPE_LABELS)
                .with(&[("api_id", "a1b2c3d4e5"), ("stage", "prod"), ("class", class)]);
            let steps = minutes(f.integration_errors) + 15;
            let eval = minutes(f.integration_errors) + 8;
            Rule {
                labels: vec![("class", class.to_owned())],
                expr: format!(
                    "sum by ({by}) (rate(awsconn_execution_errors_total{{{s}, class=\"{class}\"}}[5m])) > {}",
                    t.integration_errors_per_second
                ),
                for_: f.integration_errors,
                description: format!(
                    "API {{{{ $labels.api_id }}}} stage {{{{ $labels.stage }}}} (account {{{{ $labels.account }}}}, region {{{{ $labels.region }}}}) fails {{{{ printf \"%.2f\" $value }}}} requests per second with {class} in its execution log. Cause: {text}"
                ),
                cases: Cases {
                    fires: vec![Case {
                        labels: series.label_map(),
                        value_text: Some(format!("{:.2}", errors_per_minute_fire / 60.0)),
                        ..case(
                            "errors above the threshold",
                            vec![(series.text(), format!("0+{errors_per_minute_fire}x{steps}"))],
                            eval,
                        )
                    }],
                    silent: vec![
                        case("no errors", vec![(series.text(), format!("0x{steps}"))], eval),
                        case(
                            "just under the threshold",
                            vec![(series.text(), format!("0+{errors_per_minute_near}x{steps}"))],
                            eval,
                        ),
                    ],
                },
            }
        })
        .collect();

    let five_xx = |metric_5xx: &'static str, api_label: (&'static str, &'static str)| {
        let bad =
            Series::new(config, metric_5xx, SCOPE_LABELS).with(&[api_label, ("stage", "prod")]);
        let count = Series::new(
            config,
            "awsconn_cloudwatch_aws_api_gateway_count_sum_per_period",
            SCOPE_LABELS,
        )
        .with(&[api_label, ("stage", "prod")]);
        let steps = minutes(f.api_5xx_high) + 10;
        let eval = minutes(f.api_5xx_high) + 2;
        let near = ((t.api_5xx_ratio * 1000.0).floor() as u64).saturating_sub(1);
        let fire = percent_above(t.api_5xx_ratio);
        Cases {
            fires: vec![Case {
                labels: bad.label_map(),
                value_text: Some(format!("{fire}%")),
                ..case(
                    "above the threshold",
                    vec![
                        (bad.text(), format!("{}x{steps}", fire * 10)),
                        (count.text(), format!("1000x{steps}")),
                    ],
                    eval,
                )
            }],
            silent: vec![
                case(
                    "no 5XX",
                    vec![
                        (bad.text(), format!("0x{steps}")),
                        (count.text(), format!("1000x{steps}")),
                    ],
                    eval,
                ),
                case(
                    "just under the threshold",
                    vec![
                        (bad.text(), format!("{near}x{steps}")),
                        (count.text(), format!("1000x{steps}")),
                    ],
                    eval,
                ),
                case(
                    "no requests",
                    vec![
                        (bad.text(), format!("0x{steps}")),
                        (count.text(), format!("0x{steps}")),
                    ],
                    eval,
                ),
            ],
        }
    };
    let five_xx_text = "{{ $value | humanizePercentage }} of the requests to API {{ API }} stage {{ $labels.stage }} (account {{ $labels.account }}, region {{ $labels.region }}) were answered with a 5XX in the newest CloudWatch period. Fix: AwsconnIntegrationErrors and the VPC-link check alerts name the cause when the errors come from a VPC-link integration; otherwise look at the backend.";

    let resets = Series::new(
        config,
        "awsconn_cloudwatch_aws_network_elb_tcp_target_reset_count_sum_per_period",
        SCOPE_LABELS,
    )
    .with(&[("load_balancer", "net/orders-nlb/50dc6c495c0c9188")]);
    let reset_cases = over_threshold_cases(config, &resets, t.target_resets, f.target_resets);

    let load_balancer_errors = alb_error_rules(config);

    let unreadable =
        Series::new(config, "awsconn_execution_log_read_success", SCOPE_LABELS).with(&[
            ("api_id", "a1b2c3d4e5"),
            ("stage", "prod"),
            ("log_group", "API-Gateway-Execution-Logs_a1b2c3d4e5/prod"),
        ]);

    vec![
        Alert {
            name: "AwsconnIntegrationErrors",
            severity: Severity::Warning,
            summary: "An API's execution log shows integration failures of one class.",
            scope: Scope::Resource,
            owner: Some(API_OWNER),
            collectors: &["execution_logs"],
            rules: integration_rules,
        },
        Alert {
            name: "AwsconnApi5xxHigh",
            severity: Severity::Warning,
            summary: "Many of an API stage's requests are answered with a 5XX.",
            scope: Scope::Resource,
            owner: None,
            collectors: &["cloudwatch"],
            rules: vec![
                Rule {
                    labels: vec![("api_type", "rest".to_owned())],
                    expr: format!(
                        "awsconn_cloudwatch_aws_api_gateway_5xx_error_sum_per_period{{{s}}}\n  / (awsconn_cloudwatch_aws_api_gateway_count_sum_per_period{{{s}}} > 0)\n> {}",
                        t.api_5xx_ratio
                    ),
                    for_: f.api_5xx_high,
                    description: five_xx_text.replace("{{ API }}", "{{ $labels.api_name }}"),
                    cases: five_xx("awsconn_cloudwatch_aws_api_gateway_5xx_error_sum_per_period", ("api_name", "orders-api")),
                },
                Rule {
                    labels: vec![("api_type", "http".to_owned())],
                    expr: format!(
                        "awsconn_cloudwatch_aws_api_gateway_5xx_sum_per_period{{{s}}}\n  / (awsconn_cloudwatch_aws_api_gateway_count_sum_per_period{{{s}}} > 0)\n> {}",
                        t.api_5xx_ratio
                    ),
                    for_: f.api_5xx_high,
                    description: five_xx_text.replace("{{ API }}", "{{ $labels.api_id }}"),
                    cases: five_xx("awsconn_cloudwatch_aws_api_gateway_5xx_sum_per_period", ("api_id", "x9y8z7w6v5")),
                },
            ],
        },
        Alert {
            name: "AwsconnTargetResets",
            severity: Severity::Warning,
            summary: "Targets behind a Network Load Balancer reset connections.",
            scope: Scope::Resource,
            owner: None,
            collectors: &["cloudwatch"],
            rules: vec![Rule {
                labels: Vec::new(),
                expr: format!(
                    "awsconn_cloudwatch_aws_network_elb_tcp_target_reset_count_sum_per_period{{{s}}} > {}",
                    t.target_resets
                ),
                for_: f.target_resets,
                description: "Targets of NLB {{ $labels.load_balancer }} (account {{ $labels.account }}, region {{ $labels.region }}) reset {{ $value | humanize }} connections in the newest CloudWatch period; API Gateway reports these as \"Execution failed due to an internal error\" and callers get HTTP 500. Cause: the targets close idle keep-alive connections before the load balancer does, or the backend is not running or not listening on the target port. Fix: set the targets' keep-alive or idle timeout above the NLB's 350-second idle timeout, and check that the service listens on the target port.".into(),
                cases: reset_cases,
            }],
        },
        Alert {
            name: "AwsconnLoadBalancerErrors",
            severity: Severity::Warning,
            summary: "An Application Load Balancer answers 5XXs of its own or cannot reach its targets.",
            scope: Scope::Resource,
            owner: None,
            collectors: &["cloudwatch"],
            rules: load_balancer_errors,
        },
        Alert {
            name: "AwsconnExecutionLogUnreadable",
            severity: Severity::Warning,
            summary: "An API stage's execution log cannot be read: its errors go uncounted.",
            scope: Scope::Resource,
            owner: Some(API_OWNER),
            collectors: &["execution_logs"],
            rules: vec![Rule {
                labels: Vec::new(),
                expr: format!("awsconn_execution_log_read_success{{{s}}} == 0"),
                for_: f.execution_log_unreadable,
                description: "The exporter at {{ $labels.instance }} cannot read log group {{ $labels.log_group }} of API {{ $labels.api_id }} stage {{ $labels.stage }} (account {{ $labels.account }}, region {{ $labels.region }}), so that stage's integration errors are not counted and the no_tls_errors check of the links it uses is unknown (AwsconnVpcLinkCheckUnknown, muted by this alert), unless the group does not exist (ResourceNotFoundException: API Gateway has logged nothing to it, for want of traffic or of a CloudWatch role in its account settings). awsconn_execution_log_read_error_info says AWS's error. Fix: allow logs:FilterLogEvents on the group (`aws-connectivity-exporter iam-policy`), or set API Gateway's CloudWatch role and turn the stage's execution logging back on if the group does not exist.".into(),
                cases: resource_cases(config, &unreadable, "0", "1", f.execution_log_unreadable),
            }],
        },
    ]
}

/// The ALB errors `AwsconnLoadBalancerErrors` watches, each its own rule
/// (`problem` label) with its cause and fix: `(problem, metric, what, cause
/// and fix)`.
const ALB_ERRORS: &[(&str, &str, &str, &str)] = &[
    (
        "elb_502",
        "http_code_elb_502_count",
        "answered {{ $value | humanize }} requests with 502 Bad Gateway",
        "Cause: a target closed the connection or reset it before answering, or answered something the ALB cannot read (a malformed header, a Lambda error). Fix: make the targets' keep-alive timeout longer than the ALB's idle timeout (60 s by default) and look at the targets' logs for crashes at those times.",
    ),
    (
        "elb_503",
        "http_code_elb_503_count",
        "answered {{ $value | humanize }} requests with 503 Service Unavailable",
        "Cause: a target group the listener forwards to has no registered target, or none healthy. Fix: register targets and make them pass the health check (awsconn_target_group_targets and AwsconnNoHealthyTargets say which group).",
    ),
    (
        "elb_504",
        "http_code_elb_504_count",
        "answered {{ $value | humanize }} requests with 504 Gateway Timeout",
        "Cause: a target did not answer within the ALB's idle timeout, or the ALB could not connect to it. Fix: speed up or scale the backend, or raise the idle timeout; check that the targets' security groups admit the ALB on the target port.",
    ),
    (
        "target_connection",
        "target_connection_error_count",
        "failed to open {{ $value | humanize }} connections to its targets",
        "Cause: the targets' security groups or network ACLs do not admit the ALB on the target port, or nothing listens there. Fix: admit the ALB's security group on the target port (AwsconnSecurityGroupBlocks and AwsconnNetworkAclBlocks name the rule) and make the service listen on it.",
    ),
    (
        "target_tls",
        "target_tls_negotiation_error_count",
        "failed {{ $value | humanize }} TLS handshakes with HTTPS targets",
        "Cause: an HTTPS target group's targets offer no TLS version or cipher the ALB accepts, or do not speak TLS on that port. Fix: serve TLS 1.2 or later with a current cipher on the target port, or make the target group HTTP if the targets speak plain HTTP.",
    ),
];

/// `AwsconnLoadBalancerErrors`: one rule per ALB error, above
/// `thresholds.load_balancer_errors` in the newest CloudWatch period with
/// data (the exporter keeps the newest datapoint within its lookback).
fn alb_error_rules(config: &Config) -> Vec<Rule> {
    let s = config.selector();
    let (for_, threshold) = (
        config.for_.load_balancer_errors,
        config.thresholds.load_balancer_errors,
    );
    ALB_ERRORS
        .iter()
        .map(|(problem, metric, what, fix)| {
            let metric = format!("awsconn_cloudwatch_aws_application_elb_{metric}_sum_per_period");
            let series = Series::new(config, &metric, SCOPE_LABELS)
                .with(&[("load_balancer", "app/web-alb/50dc6c495c0c9188")]);
            let cases = over_threshold_cases(config, &series, threshold, for_);
            Rule {
                labels: vec![("problem", (*problem).to_owned())],
                expr: format!("{metric}{{{s}}} > {threshold}"),
                for_,
                description: format!(
                    "Application Load Balancer {{{{ $labels.load_balancer }}}} (account {{{{ $labels.account }}}}, region {{{{ $labels.region }}}}) {what} in the newest CloudWatch period that has any (ALBs publish these only when they happen); requests through the VPC links and integrations that reach it fail with them. {fix}"
                ),
                cases,
            }
        })
        .collect()
}

fn interconnect_alerts(config: &Config) -> Vec<Alert> {
    let f = &config.for_;
    let conn = [("connection_id", "mcc-azuredr1")];
    let stuck_matcher = "state!~\"available|down|failed|deleted\"";
    let mut stuck = state_rule(
        config,
        "awsconn_interconnect_connection_state",
        stuck_matcher,
        f.interconnect_connection_stuck,
        &[conn[0], ("state", "pending")],
        "Interconnect connection {{ $labels.connection_id }} (account {{ $labels.account }}, region {{ $labels.region }}) has been {{ $labels.state }} for a long time instead of available. Fix: check the connection's progress in the AWS Interconnect console and on the partner cloud's side (the attachment must be accepted there).".into(),
    );
    stuck.labels = vec![("problem", "stuck".to_owned())];
    // A state that is not stuck (`available`) is the healthy case.
    stuck.cases.silent[0] = case(
        "available",
        vec![(
            Series::new(
                config,
                "awsconn_interconnect_connection_state",
                SCOPE_LABELS,
            )
            .with(&[conn[0], ("state", "available")])
            .text(),
            format!("1x{}", minutes(f.interconnect_connection_stuck) + 10),
        )],
        minutes(f.interconnect_connection_stuck) + 2,
    );
    let mut gone = state_rule(
        config,
        "awsconn_interconnect_connection_state",
        "state=~\"failed|deleted\"",
        f.interconnect_connection_gone,
        &[conn[0], ("state", "failed")],
        "Interconnect connection {{ $labels.connection_id }} (account {{ $labels.account }}, region {{ $labels.region }}) is {{ $labels.state }} and carries no traffic. Fix: if it is still needed, create it again in the AWS Interconnect console and accept it on the partner cloud's side.".into(),
    );
    gone.labels = vec![("problem", "gone".to_owned())];
    vec![
        Alert {
            name: "AwsconnInterconnectConnectionDown",
            severity: Severity::Critical,
            summary: "An AWS Interconnect multicloud connection is down.",
            scope: Scope::Resource,
            owner: Some(CONNECTION_OWNER),
            collectors: &["interconnect"],
            rules: vec![state_rule(
                config,
                "awsconn_interconnect_connection_state",
                "state=\"down\"",
                f.interconnect_connection_down,
                &[conn[0], ("state", "down")],
                "Interconnect connection {{ $labels.connection_id }} (account {{ $labels.account }}, region {{ $labels.region }}) is down: traffic between AWS and the other cloud over it stops. Fix: check the connection and its environment in the AWS Interconnect console and the partner cloud's status; the Direct Connect gateway it attaches to must still exist.".into(),
            )],
        },
        Alert {
            name: "AwsconnInterconnectConnectionUnavailable",
            severity: Severity::Warning,
            summary: "An AWS Interconnect multicloud connection is failed, deleted or stuck outside available.",
            scope: Scope::Resource,
            owner: Some(CONNECTION_OWNER),
            collectors: &["interconnect"],
            rules: vec![gone, stuck],
        },
        Alert {
            name: "AwsconnInterconnectEnvironmentDegraded",
            severity: Severity::Warning,
            summary: "An AWS Interconnect environment is limited or unavailable.",
            scope: Scope::Resource,
            owner: None,
            collectors: &["interconnect"],
            rules: vec![environment_degraded_rule(config)],
        },
        Alert {
            name: "AwsconnInterconnectAttachPointMissing",
            severity: Severity::Critical,
            summary: "An AWS Interconnect connection's attach point is no longer one its environment offers.",
            scope: Scope::Resource,
            owner: Some(CONNECTION_OWNER),
            collectors: &["interconnect"],
            rules: vec![attach_point_rule(config)],
        },
    ]
}

/// `AwsconnInterconnectEnvironmentDegraded`, with the bandwidths that can
/// still be ordered (the environment's `available_bandwidths`) joined in.
fn environment_degraded_rule(config: &Config) -> Rule {
    let for_ = config.for_.interconnect_environment_degraded;
    let labels = [
        ("environment_id", "azure-eastus"),
        ("provider", "azure"),
        ("location", "eastus"),
        ("state", "limited"),
    ];
    let mut rule = state_rule(
        config,
        "awsconn_interconnect_environment_state",
        "state!=\"available\"",
        for_,
        &labels,
        "Interconnect environment {{ $labels.environment_id }} ({{ $labels.provider }}, {{ $labels.location }}; account {{ $labels.account }}, region {{ $labels.region }}) is {{ $labels.state }}: existing connections there may be degraded, and {{ if $labels.available_bandwidths }}new ones can be ordered only at {{ $labels.available_bandwidths }}{{ else }}no bandwidth is offered for new ones{{ end }}. Fix: nothing to change on your side; follow the AWS Health Dashboard and the partner cloud's status, and move traffic to another environment if it lasts.".into(),
    );
    join_info_label(
        config,
        &mut rule,
        InfoLabel {
            on: "environment_id",
            metric: "awsconn_interconnect_environment_info",
            label: "available_bandwidths",
            value: "50Mbps,100Mbps",
            case: "names the bandwidths still offered",
        },
        Series::new(
            config,
            "awsconn_interconnect_environment_state",
            SCOPE_LABELS,
        )
        .with(&labels),
        &[
            ("environment_id", "azure-eastus"),
            ("provider", "azure"),
            ("location", "eastus"),
        ],
    );
    rule
}

/// `AwsconnInterconnectAttachPointMissing`: the check `attach_point_present` fails.
fn attach_point_rule(config: &Config) -> Rule {
    let for_ = config.for_.interconnect_attach_point_missing;
    let metric = "awsconn_interconnect_connection_check";
    let series = Series::new(config, metric, SCOPE_LABELS).with(&[
        ("connection_id", "mcc-gcpprod1"),
        ("check", "attach_point_present"),
        ("attach_point", "5f2c1e0a-8d3b-4c7e-9a61-2b4d6f8e0c13"),
    ]);
    Rule {
        labels: Vec::new(),
        expr: format!(
            "{metric}{{{}, check=\"attach_point_present\"}} == 0",
            config.selector()
        ),
        for_,
        description: "Interconnect connection {{ $labels.connection_id }} (account {{ $labels.account }}, region {{ $labels.region }}) is attached to {{ $labels.attach_point }}, which its environment no longer lists among its attach points (ListAttachPoints): the Direct Connect gateway was deleted or can no longer be used there, so traffic between the other cloud and your VPCs has no way in. Fix: recreate or re-share the Direct Connect gateway and associate it again, or create the connection anew on a gateway the environment lists (`aws interconnect list-attach-points --environment-id <environment_id>`).".into(),
        cases: resource_cases(config, &series, "0", "1", for_),
    }
}

/// A whole percentage five points above `ratio` (at most 0.9, so at most 95).
fn percent_above(ratio: f64) -> u64 {
    (ratio * 100.0).floor() as u64 + 5
}

/// Go's `humanizeDuration` for whole seconds: `55d 0h 0m 0s`, `1h 2m 3s`, `5m 0s`.
pub fn humanize_duration(seconds: u64) -> String {
    let (d, h, m, s) = (
        seconds / 86_400,
        seconds / 3600 % 24,
        seconds / 60 % 60,
        seconds % 60,
    );
    if d > 0 {
        format!("{d}d {h}h {m}m {s}s")
    } else if h > 0 {
        format!("{h}h {m}m {s}s")
    } else if m > 0 {
        format!("{m}m {s}s")
    } else {
        format!("{s}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    /// One alert per check, and one check per alert (which checks there
    /// are is the catalogue's: tests/checks.rs compares with docs/metrics.md).
    fn every_check_has_one_alert() {
        let checks: std::collections::BTreeSet<&str> =
            CHECK_ALERTS.iter().map(|c| c.check.name).collect();
        let alerts: std::collections::BTreeSet<&str> =
            CHECK_ALERTS.iter().map(|c| c.alert).collect();
        assert_eq!(checks.len(), CHECK_ALERTS.len(), "a check with two alerts");
        assert_eq!(alerts.len(), CHECK_ALERTS.len(), "an alert for two checks");
        assert_eq!(checks.len(), 12);
    }

    /// The test series name only labels the check has.
    #[test]
    fn examples_name_the_checks_labels() {
        for c in CHECK_ALERTS {
            for (label, _) in c.example {
                assert!(c.check.object.contains(label), "{}: {label}", c.check.name);
            }
        }
    }

    #[test]
    fn collectors_named_by_alerts_exist() {
        for alert in alerts(&Config::shipped()) {
            for collector in alert.collectors {
                assert!(
                    COLLECTORS.contains(collector),
                    "{}: {collector}",
                    alert.name
                );
            }
        }
    }

    #[test]
    fn go_humanizers() {
        assert_eq!(humanize_duration(55 * 86_400), "55d 0h 0m 0s");
        assert_eq!(humanize_duration(3723), "1h 2m 3s");
        assert_eq!(humanize_duration(300), "5m 0s");
    }
}
