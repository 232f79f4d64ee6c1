//! What the exporter and its mixin both name, declared once: the
//! collectors (the keys under `collectors:` and the `collector` label), the
//! runbook checks (the `check` label, their object labels, the collectors
//! they need and read, REST only), the execution-log error classes (the
//! `class` label) with their cause and fix, and the exporter's default
//! schedule, which the mixin's time-to-page bounds count on.
//!
//! The exporter declares each collector and check with its behaviour
//! (`collect/<name>.rs`, `diagnose/checks/`) and takes its name and labels
//! from here; the mixin writes its alerts, inhibitions and promtool tests
//! from here. No dependencies: the mixin builds without the AWS SDK.

#![forbid(unsafe_code)]

/// The collectors, by their key under `collectors:` in the exporter's
/// configuration (and their `collector` label).
pub mod collector {
    pub const VPC_LINKS: &str = "vpc_links";
    pub const LOAD_BALANCERS: &str = "load_balancers";
    pub const ENDPOINTS: &str = "endpoints";
    pub const NETWORK_RULES: &str = "network_rules";
    pub const EXECUTION_LOGS: &str = "execution_logs";
    pub const CLOUDWATCH: &str = "cloudwatch";
    pub const INTERCONNECT: &str = "interconnect";
    pub const CERTIFICATES: &str = "certificates";
    pub const TLS_PROBE: &str = "tls_probe";
}

use collector::*;

/// Every collector, in the order of the configuration and the exposition.
pub const COLLECTORS: &[&str] = &[
    VPC_LINKS,
    LOAD_BALANCERS,
    ENDPOINTS,
    NETWORK_RULES,
    EXECUTION_LOGS,
    CLOUDWATCH,
    INTERCONNECT,
    CERTIFICATES,
    TLS_PROBE,
];

/// Every collector polls this often by default (`collectors.<name>.interval`).
pub const DEFAULT_POLL_INTERVAL_SECONDS: u64 = 60;
/// `collectors.cloudwatch.period` by default: a datapoint covers this long.
pub const DEFAULT_CLOUDWATCH_PERIOD_SECONDS: u64 = 60;
/// `collectors.cloudwatch.delay` by default: the exporter asks this far
/// behind now, for datapoints CloudWatch has complete.
pub const DEFAULT_CLOUDWATCH_DELAY_SECONDS: u64 = 120;

/// One runbook check of a VPC link, as its series name it.
#[derive(Debug, PartialEq, Eq)]
pub struct Check {
    /// The `check` label.
    pub name: &'static str,
    /// The labels of the objects it names, beside `vpc_link_id` and `check`.
    pub object: &'static [&'static str],
    /// The collectors whose data it needs besides `vpc_links` (which found
    /// the link): until each has succeeded, the check is unknown.
    pub needs: &'static [&'static str],
    /// Every collector whose data it reads, `vpc_links` and its `needs`
    /// included: while one fails, what the check judges may be stale, and
    /// its alert is muted. A collector it reads without needing it leaves
    /// nothing for it to judge when it has not succeeded (another check
    /// says unknown then).
    pub reads: &'static [&'static str],
    /// REST (V1) links only: the PrivateLink hop.
    pub rest_only: bool,
}

pub mod check {
    use super::Check;
    use super::collector::*;

    pub const LINK_AVAILABLE: Check = Check {
        name: "link_available",
        object: &["vpc_link"],
        needs: &[],
        reads: &[VPC_LINKS],
        rest_only: false,
    };
    pub const LOAD_BALANCER_ACTIVE: Check = Check {
        name: "load_balancer_active",
        object: &["load_balancer"],
        needs: &[LOAD_BALANCERS],
        reads: &[VPC_LINKS, LOAD_BALANCERS],
        rest_only: false,
    };
    pub const LISTENER_PORT: Check = Check {
        name: "listener_port",
        object: &["load_balancer", "port", "listener"],
        needs: &[LOAD_BALANCERS],
        reads: &[VPC_LINKS, LOAD_BALANCERS],
        rest_only: false,
    };
    pub const ENDPOINT_SERVICE_AVAILABLE: Check = Check {
        name: "endpoint_service_available",
        object: &["load_balancer", "service_id"],
        // Of the link's NLBs, those that exist (load_balancers) have an
        // endpoint service.
        needs: &[LOAD_BALANCERS, ENDPOINTS],
        reads: &[VPC_LINKS, LOAD_BALANCERS, ENDPOINTS],
        rest_only: true,
    };
    pub const ENDPOINT_CONNECTION_AVAILABLE: Check = Check {
        name: "endpoint_connection_available",
        object: &["service_id", "vpc_endpoint_id"],
        needs: &[LOAD_BALANCERS, ENDPOINTS],
        reads: &[VPC_LINKS, LOAD_BALANCERS, ENDPOINTS],
        rest_only: true,
    };
    pub const TARGETS_HEALTHY: Check = Check {
        name: "targets_healthy",
        object: &["target_group"],
        needs: &[LOAD_BALANCERS],
        reads: &[VPC_LINKS, LOAD_BALANCERS],
        rest_only: false,
    };
    pub const SECURITY_GROUPS_ADMIT: Check = Check {
        name: "security_groups_admit",
        object: &[
            "security_group",
            "direction",
            "load_balancer",
            "target_group",
            "port",
        ],
        needs: &[LOAD_BALANCERS, NETWORK_RULES],
        reads: &[VPC_LINKS, LOAD_BALANCERS, NETWORK_RULES],
        rest_only: false,
    };
    pub const NETWORK_ACLS_ADMIT: Check = Check {
        name: "network_acls_admit",
        // `subnet` instead of `network_acl` when the subnet's ACL was not read.
        object: &[
            "network_acl",
            "subnet",
            "load_balancer",
            "target_group",
            "port",
        ],
        needs: &[LOAD_BALANCERS, NETWORK_RULES],
        reads: &[VPC_LINKS, LOAD_BALANCERS, NETWORK_RULES],
        rest_only: false,
    };
    pub const PRIVATELINK_INBOUND_RULES: Check = Check {
        name: "privatelink_inbound_rules",
        object: &["load_balancer"],
        needs: &[LOAD_BALANCERS, NETWORK_RULES],
        reads: &[VPC_LINKS, LOAD_BALANCERS, NETWORK_RULES],
        rest_only: true,
    };
    pub const NO_TLS_ERRORS: Check = Check {
        name: "no_tls_errors",
        object: &["api_id", "stage"],
        needs: &[EXECUTION_LOGS],
        reads: &[VPC_LINKS, EXECUTION_LOGS],
        rest_only: false,
    };
    // The certificate checks and the probe judge listeners: without
    // load_balancers there is none to judge (the load balancer's checks say
    // unknown then), so they read it without needing it; with their own
    // collector turned off, they say nothing.
    pub const CERTIFICATE_MATCHES_HOST: Check = Check {
        name: "certificate_matches_host",
        object: &["load_balancer", "port", "host"],
        needs: &[CERTIFICATES],
        reads: &[VPC_LINKS, LOAD_BALANCERS, CERTIFICATES],
        rest_only: false,
    };
    pub const CERTIFICATE_VALID: Check = Check {
        name: "certificate_valid",
        object: &["load_balancer", "port", "certificate_arn"],
        needs: &[CERTIFICATES],
        reads: &[VPC_LINKS, LOAD_BALANCERS, CERTIFICATES],
        rest_only: false,
    };
    pub const TLS_PROBE: Check = Check {
        name: "tls_probe",
        object: &["load_balancer", "port", "host"],
        needs: &[TLS_PROBE_COLLECTOR],
        reads: &[VPC_LINKS, LOAD_BALANCERS, TLS_PROBE_COLLECTOR],
        rest_only: false,
    };
    /// The collector of the same name as the check.
    const TLS_PROBE_COLLECTOR: &str = super::collector::TLS_PROBE;
}

/// Every check, in the order of the runbook (and of each link's report).
pub const CHECKS: &[&Check] = &[
    &check::LINK_AVAILABLE,
    &check::LOAD_BALANCER_ACTIVE,
    &check::LISTENER_PORT,
    &check::ENDPOINT_SERVICE_AVAILABLE,
    &check::ENDPOINT_CONNECTION_AVAILABLE,
    &check::TARGETS_HEALTHY,
    &check::SECURITY_GROUPS_ADMIT,
    &check::NETWORK_ACLS_ADMIT,
    &check::PRIVATELINK_INBOUND_RULES,
    &check::NO_TLS_ERRORS,
    &check::CERTIFICATE_MATCHES_HOST,
    &check::CERTIFICATE_VALID,
    &check::TLS_PROBE,
];

/// One class of execution-log error (the `class` label): what API Gateway
/// met, and what to do. The exporter's findings and the mixin's alerts say
/// both in these words.
#[derive(Debug, PartialEq, Eq)]
pub struct ErrorClass {
    pub name: &'static str,
    pub cause: &'static str,
    pub fix: &'static str,
    /// A TLS class fails the `no_tls_errors` check.
    pub tls: bool,
}

/// Every class, in the order of the contract table.
pub const ERROR_CLASSES: &[ErrorClass] = &[
    ErrorClass {
        name: "vpc_link_internal",
        cause: "API Gateway could not reach the backend through the VPC link (\"There was an internal error while executing your request\").",
        fix: "Check that the link is AVAILABLE, its load balancer exists and listens on the port, the endpoint connection is available, security groups and network ACLs admit the port, PrivateLink inbound-rule enforcement is off, and the backend listens; the link's check alerts name the hop.",
        tls: false,
    },
    ErrorClass {
        name: "tls_hostname_mismatch",
        cause: "The certificate the backend presents does not name the integration's host.",
        fix: "Make the integration's host name (or tlsConfig.serverNameToVerify) one that the certificate of the TLS listener or target covers, or reissue the certificate to cover it.",
        tls: true,
    },
    ErrorClass {
        name: "tls_untrusted_certificate",
        cause: "API Gateway cannot build a path from the backend's certificate to a trusted public CA.",
        fix: "Serve a certificate from a CA that API Gateway trusts, with its intermediate chain; insecureSkipVerification does not skip this check.",
        tls: true,
    },
    ErrorClass {
        name: "tls_certificate_expired",
        cause: "The backend's certificate is out of its validity period (\"PKIX path validation failed ... validity check failed\": expired, or not yet valid).",
        fix: "Renew or replace the certificate on the TLS listener or target; API Gateway checks validity even with insecureSkipVerification.",
        tls: true,
    },
    ErrorClass {
        name: "tls_key_mismatch",
        cause: "The backend's TLS key does not belong to its certificate (\"Cannot verify ECDH ServerKeyExchange signature\").",
        fix: "Install the certificate together with its own private key and chain on the listener or target.",
        tls: true,
    },
    ErrorClass {
        name: "invalid_http_response",
        cause: "The backend answered something that is not HTTP (\"Not a valid protocol version\"), often TLS inside TLS.",
        fix: "Make each hop speak what the next expects, so that nothing is encrypted twice: a TLS listener forwards to a TLS target group (which encrypts again) or to a target that speaks plain HTTP, a TCP listener passes the target's own TLS through, and the integration URI's scheme is https only where the listener or the target speaks TLS; set insecureSkipVerification in the integration's tlsConfig if the target's certificate is not publicly trusted.",
        tls: false,
    },
    ErrorClass {
        name: "config_other",
        cause: "API Gateway reports another configuration error for the integration.",
        fix: "Read the execution log's message and the integration's settings.",
        tls: false,
    },
    ErrorClass {
        name: "target_reset",
        cause: "The target reset the connection at the load balancer (\"Execution failed due to an internal error\").",
        fix: "Set the target's keep-alive or idle timeout above the NLB's 350-second idle timeout.",
        tls: false,
    },
    ErrorClass {
        name: "integration_timeout",
        cause: "The integration took longer than its timeout.",
        fix: "Look at the backend's latency, or raise the integration's timeout; if nothing answers at all, check that the listener's port is open to the VPC link (security groups, network ACLs) and that the targets are healthy.",
        tls: false,
    },
    ErrorClass {
        name: "other",
        cause: "API Gateway reports another execution failure.",
        fix: "Read the execution log's message.",
        tls: false,
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    /// Names are unique, label-safe, and every check reads `vpc_links`,
    /// what it needs, and only collectors that exist.
    #[test]
    fn the_catalogue_holds_together() {
        let label = |s: &str| {
            !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        };
        for names in [
            COLLECTORS.to_vec(),
            CHECKS.iter().map(|c| c.name).collect(),
            ERROR_CLASSES.iter().map(|c| c.name).collect(),
        ] {
            let mut unique = names.clone();
            unique.sort();
            unique.dedup();
            assert_eq!(unique.len(), names.len(), "{names:?}");
            assert!(names.iter().all(|n| label(n)), "{names:?}");
        }
        for c in CHECKS {
            assert!(c.reads.contains(&VPC_LINKS), "{}", c.name);
            assert!(c.needs.iter().all(|n| c.reads.contains(n)), "{}", c.name);
            assert!(c.reads.iter().all(|r| COLLECTORS.contains(r)), "{}", c.name);
            assert!(c.object.iter().all(|l| label(l)), "{}", c.name);
        }
        for class in ERROR_CLASSES {
            assert!(class.cause.ends_with('.') && class.fix.ends_with('.'));
        }
    }
}
