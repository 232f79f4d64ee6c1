//! What AWS said, as plain structs: nothing derived, nothing from the SDK
//! (and, per scope, which collectors have not answered yet).
//!
//! `src/aws/` fills these; diagnosis and rendering read them. Enum-like
//! values (statuses, states) are kept as lower-cased strings so that a value
//! AWS adds tomorrow is carried through and exported instead of dropped.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// One account in one region: the unit a collector polls.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Scope {
    /// The 12-digit account id (from STS), or the best name known before STS answered.
    pub account: String,
    pub region: String,
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.account, self.region)
    }
}

/// Which API family a VPC link belongs to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ApiType {
    /// API Gateway REST APIs (`apigateway`), VPC link V1 to an NLB. The
    /// default only of values built with `..Default::default()` (tests):
    /// the collectors always say which.
    #[default]
    Rest,
    /// API Gateway HTTP APIs (`apigatewayv2`), VPC link V2 (ENIs in subnets).
    Http,
}

impl ApiType {
    pub fn as_str(self) -> &'static str {
        match self {
            ApiType::Rest => "rest",
            ApiType::Http => "http",
        }
    }

    /// The link generation that this API family's `GetVpcLinks` lists.
    pub fn link_version(self) -> &'static str {
        match self {
            ApiType::Rest => "v1",
            ApiType::Http => "v2",
        }
    }

    /// Statuses the API documents; others are exported as they come.
    pub fn known_link_statuses(self) -> &'static [&'static str] {
        match self {
            ApiType::Rest => &["pending", "available", "deleting", "failed"],
            ApiType::Http => &["pending", "available", "deleting", "failed", "inactive"],
        }
    }
}

/// A VPC link as `GetVpcLinks` describes it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct VpcLink {
    pub id: String,
    pub name: String,
    pub api_type: ApiType,
    /// Lower-cased status (`available`, `failed`, ... or whatever AWS sent);
    /// `unknown` when AWS sent none.
    pub status: String,
    pub status_message: Option<String>,
    /// V1: the NLB ARNs the link targets. V2 links have no targets of their
    /// own; their integrations name them.
    pub target_arns: Vec<String>,
    /// V2: the subnets and security groups of the link's ENIs.
    pub subnet_ids: Vec<String>,
    pub security_group_ids: Vec<String>,
    /// The link's tags named in `tags_as_labels` (no other is kept).
    pub tags: BTreeMap<String, String>,
}

/// An AWS Interconnect – multicloud connection (ListConnections).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct InterconnectConnection {
    pub id: String,
    pub arn: String,
    pub description: String,
    /// The other cloud or last-mile partner: the value of the `provider` union.
    pub provider: String,
    pub location: String,
    pub environment_id: String,
    /// The Direct Connect gateway id or the ARN of the `attachPoint` union.
    pub attach_point: String,
    /// Lower-cased state (`available`, `down`, ... or whatever AWS sent).
    pub state: String,
    /// As AWS wrote it (`1Gbps`).
    pub bandwidth: String,
    /// `bandwidth` in bits per second; `None` when it could not be read.
    pub bandwidth_bps: Option<f64>,
    /// The product variant (`type`: a free string in the model).
    pub product_type: String,
    /// The id AWS and the partner both show (`sharedId`): the key to the
    /// connection in the other cloud's console and monitoring.
    pub shared_id: String,
    /// Which member of the `provider` union: `multicloud` (a cloud service
    /// provider) or `last_mile`.
    pub provider_kind: String,
    /// `billingTier` (0 to 8): the hourly price follows it.
    pub billing_tier: Option<i32>,
    /// Its tags named in `tags_as_labels` (ListTagsForResource, asked only
    /// when tags are named).
    pub tags: BTreeMap<String, String>,
    /// The tags could not be read this poll: the collector keeps those last
    /// read, so that an owner label does not come and go.
    pub tags_unread: bool,
}

impl InterconnectConnection {
    pub const KNOWN_STATES: &'static [&'static str] = &[
        "requested",
        "pending",
        "available",
        "updating",
        "down",
        "deleting",
        "deleted",
        "failed",
    ];
}

/// An environment (a provider's location) that connections can be made in.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct InterconnectEnvironment {
    pub id: String,
    pub provider: String,
    /// As on the connection: `multicloud` or `last_mile`.
    pub provider_kind: String,
    pub location: String,
    pub state: String,
    /// The product variant (`type`).
    pub product_type: String,
    /// Bandwidths the environment supports (`bandwidths.supported`), and
    /// those a connection can be ordered with now (`bandwidths.available`):
    /// what is left when the environment turns `limited`.
    pub bandwidths_supported: Vec<String>,
    pub bandwidths_available: Vec<String>,
    /// How the partner's account is named when a connection is made
    /// (`remoteIdentifierType`: `account`, `email`).
    pub remote_identifier_type: String,
}

impl InterconnectEnvironment {
    pub const KNOWN_STATES: &'static [&'static str] = &["available", "limited", "unavailable"];
}

/// What a union member the SDK does not know yet (`provider`,
/// `attachPoint`) is exported as.
pub const UNKNOWN_UNION_MEMBER: &str = "unknown";

/// An attach point an environment offers (ListAttachPoints): what a
/// connection there may attach to.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct InterconnectAttachPoint {
    /// `DirectConnectGateway`, `ARN`, or what AWS sent.
    pub kind: String,
    /// The gateway id or the ARN: what a connection's `attachPoint` holds.
    pub identifier: String,
    /// Its descriptive name (the gateway's name), as AWS gives it.
    pub name: String,
}

/// Whether a scope has Interconnect to watch, which sets how often it is
/// asked: every interval where it has, every `absent_interval` where not.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum InterconnectAvailability {
    /// Environments (or connections) are listed: polled every interval.
    #[default]
    Offered,
    /// The service answered with no environment and no connection.
    NoEnvironments,
    /// The service is not offered to this account or in this region: AWS's
    /// answer, as it said it (see `crate::aws::error::not_offered`).
    NotOffered(String),
}

impl InterconnectAvailability {
    pub const VALUES: &'static [&'static str] = &["offered", "no_environments", "not_offered"];

    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Offered => "offered",
            Self::NoEnvironments => "no_environments",
            Self::NotOffered(_) => "not_offered",
        }
    }
}

/// What became of one connection's attach point check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttachPointFinding<'a> {
    /// The environment still offers it (with its name).
    Present(&'a InterconnectAttachPoint),
    /// The environment's list does not hold it: the gateway was deleted, or
    /// the connection points at one the environment no longer offers.
    Missing,
    /// Not known: the list could not be read (the error is logged and
    /// counted), or the attach point is a union member the exporter does
    /// not know.
    Unknown,
    /// Not checked: an `arn` attach point that the list does not hold. The
    /// model's ListAttachPoints lists Direct Connect gateways only
    /// (`AttachPointType`), so its absence says nothing.
    NotListable,
    /// Not checked: the connection is deleted or being deleted, and its
    /// gateway may go with it (its state already says so).
    Retired,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Interconnect {
    pub connections: Vec<InterconnectConnection>,
    pub environments: Vec<InterconnectEnvironment>,
    /// The attach points of every environment that has connections, by
    /// environment id; `None` where ListAttachPoints failed.
    pub attach_points: std::collections::BTreeMap<String, Option<Vec<InterconnectAttachPoint>>>,
    pub availability: InterconnectAvailability,
    /// When AWS was last asked (epoch seconds), where there is nothing to
    /// watch; 0 where it is offered, so that an unchanged answer is an
    /// unchanged inventory.
    pub checked_at: i64,
    /// When to ask again, where there is nothing to watch (every
    /// `absent_interval`); `None` where it is offered (every interval).
    pub next_check_at: Option<i64>,
}

impl Interconnect {
    /// Whether the connection's attach point is one its environment offers.
    pub fn attach_point_finding(&self, c: &InterconnectConnection) -> AttachPointFinding<'_> {
        // A union member the exporter does not know cannot be compared.
        if c.attach_point.is_empty() || c.attach_point == UNKNOWN_UNION_MEMBER {
            return AttachPointFinding::Unknown;
        }
        if matches!(c.state.as_str(), "deleting" | "deleted") {
            return AttachPointFinding::Retired;
        }
        match self.attach_points.get(&c.environment_id) {
            // The gateway id's pattern allows either case.
            Some(Some(points)) => match points
                .iter()
                .find(|p| p.identifier.eq_ignore_ascii_case(&c.attach_point))
            {
                Some(point) => AttachPointFinding::Present(point),
                None if c.attach_point.starts_with("arn:") => AttachPointFinding::NotListable,
                None => AttachPointFinding::Missing,
            },
            _ => AttachPointFinding::Unknown,
        }
    }

    /// The environment ids whose attach points are asked for: those that
    /// have a connection, once each, in order.
    pub fn environments_with_connections(connections: &[InterconnectConnection]) -> Vec<String> {
        let ids: std::collections::BTreeSet<&str> = connections
            .iter()
            .map(|c| c.environment_id.as_str())
            .filter(|id| !id.is_empty())
            .collect();
        ids.into_iter().map(str::to_owned).collect()
    }
}

/// An API (REST or HTTP) with the integrations that use a VPC link and its stages.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Api {
    pub id: String,
    pub name: String,
    pub api_type: ApiType,
    pub integrations: Vec<Integration>,
    pub stages: Vec<Stage>,
    /// Why the latest read of it failed: its integrations and stages are
    /// then as last read (none if it was never read).
    pub read_error: Option<String>,
    /// Its tags named in `tags_as_labels`.
    pub tags: BTreeMap<String, String>,
}

/// An API as its list names it, before its stages and integrations are read.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct ApiRef {
    pub id: String,
    pub name: String,
    pub api_type: ApiType,
    /// Its tags, inline in the list (GetRestApis, GetApis): every tag as
    /// listed, for the `watch` filters; the collector keeps the named ones.
    pub tags: BTreeMap<String, String>,
}

impl ApiRef {
    /// The API with what was read of it.
    pub fn read(
        &self,
        integrations: Vec<Integration>,
        stages: Vec<Stage>,
        read_error: Option<String>,
    ) -> Api {
        Api {
            id: self.id.clone(),
            name: self.name.clone(),
            api_type: self.api_type,
            integrations,
            stages,
            read_error,
            tags: self.tags.clone(),
        }
    }
}

/// An integration whose connection type is `VPC_LINK`, as written in the API
/// (stage variables unresolved).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Integration {
    /// REST: `METHOD /resource/path`; HTTP: the integration id.
    pub name: String,
    /// The VPC link id, or a `${stageVariables.x}` reference to one.
    pub connection_id: String,
    /// REST: the endpoint URI; HTTP: the listener ARN or Cloud Map service ARN.
    pub uri: String,
    /// REST APIs on VPC link V2: the ALB/NLB or listener ARN.
    pub integration_target: Option<String>,
    /// The host name that TLS must verify (HTTP APIs' `tlsConfig.serverNameToVerify`).
    pub tls_server_name: Option<String>,
    /// An HTTP API integration with a `tlsConfig`: API Gateway then speaks
    /// HTTPS to the backend, whatever the listener's protocol (through a
    /// `TCP` listener, the targets terminate TLS).
    pub tls_config: bool,
    pub insecure_skip_verification: bool,
}

/// A stage: its variables and logging settings.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Stage {
    pub name: String,
    /// The deployment the stage runs: what changes when the API is
    /// deployed, so an unchanged one means unchanged integrations.
    pub deployment_id: Option<String>,
    pub variables: std::collections::BTreeMap<String, String>,
    /// REST: `loggingLevel` of `*/*` method settings (`info`, `error`, `off`).
    pub logging_level: Option<String>,
    /// Access-log destination ARN and format, where configured.
    pub access_log_arn: Option<String>,
    pub access_log_format: Option<String>,
}

/// An ALB or NLB (DescribeLoadBalancers), with its listeners.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LoadBalancer {
    pub arn: String,
    pub name: String,
    /// Where it answers (`DNSName`): what the TLS probe connects to.
    pub dns_name: String,
    /// `network`, `application`, `gateway`.
    pub lb_type: String,
    /// Lower-cased state code (`active`, `provisioning`, `active_impaired`, `failed`).
    pub state: String,
    pub state_reason: Option<String>,
    pub scheme: String,
    pub vpc_id: String,
    pub subnet_ids: Vec<String>,
    pub security_group_ids: Vec<String>,
    /// `EnforceSecurityGroupInboundRulesOnPrivateLinkTraffic`: `on`, `off`, or
    /// `None` where the load balancer has no security groups (the field is absent).
    pub privatelink_inbound_rules: Option<String>,
    pub listeners: Vec<Listener>,
    /// Why its listeners could not be read (`DescribeListeners` failed):
    /// then `listeners` is empty and the checks of its listeners are
    /// unknown, not "no listener"; the other load balancers still refresh.
    pub listeners_unread: Option<String>,
    /// Its tags named in `tags_as_labels` (DescribeTags, 20 load balancers a
    /// call, asked only when tags are named).
    pub tags: BTreeMap<String, String>,
    /// The tags could not be read this poll: the collector keeps those last
    /// read, so that an owner label does not come and go.
    pub tags_unread: bool,
}

impl LoadBalancer {
    pub const KNOWN_STATES: &'static [&'static str] =
        &["active", "provisioning", "active_impaired", "failed"];
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Listener {
    pub arn: String,
    pub port: u16,
    pub protocol: String,
    pub certificate_arns: Vec<String>,
    /// Target groups of the default action, forward configs with several groups included.
    pub target_group_arns: Vec<String>,
}

impl Listener {
    /// Whether it terminates TLS, so that its certificates are what a caller
    /// sees (a TCP listener passes TLS through to the targets).
    pub fn terminates_tls(&self) -> bool {
        self.protocol.eq_ignore_ascii_case("tls") || self.protocol.eq_ignore_ascii_case("https")
    }
}

/// A target group with the health of each registered target.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TargetGroup {
    pub arn: String,
    pub name: String,
    pub protocol: String,
    pub port: Option<u16>,
    /// The port health checks go to when it is not the traffic port
    /// (`HealthCheckPort` other than `traffic-port`).
    pub health_check_port: Option<u16>,
    /// `instance`, `ip`, `lambda`, `alb`.
    pub target_type: String,
    pub vpc_id: String,
    pub load_balancer_arns: Vec<String>,
    pub targets: Vec<TargetHealth>,
    /// Why the targets' health could not be read (DescribeTargetHealth
    /// failed for this group): the rest of the collector's data is still
    /// fresh, and the health is unknown rather than "no targets".
    pub health_unread: Option<String>,
    /// Its health was left for a later poll because the quota had no slot
    /// left: `targets` are as last read (the collector keeps them), and
    /// the next poll starts its health reads with this group.
    pub health_left: bool,
}

/// Where a turn over target groups sorted by ARN starts: at the first one
/// after `after` (the last whose health was read before the quota ran
/// out), wrapping around to the first.
pub fn turn_start<'a>(
    sorted_arns: impl IntoIterator<Item = &'a str>,
    after: Option<&str>,
) -> usize {
    after.map_or(0, |after| {
        sorted_arns
            .into_iter()
            .position(|arn| arn > after)
            .unwrap_or(0)
    })
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TargetHealth {
    /// Instance id, IP address, Lambda or ALB ARN.
    pub id: String,
    pub port: Option<u16>,
    /// Lower-cased: `healthy`, `unhealthy`, `unused`, `draining`, `initial`,
    /// `unavailable`, `unhealthy.draining`.
    pub state: String,
    /// `Target.FailedHealthChecks`, ...
    pub reason: Option<String>,
    pub description: Option<String>,
}

impl TargetHealth {
    pub const KNOWN_STATES: &'static [&'static str] = &[
        "healthy",
        "unhealthy",
        "unused",
        "draining",
        "initial",
        "unavailable",
        "unhealthy.draining",
    ];
}

/// What the load-balancer collector found in a scope.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadBalancing {
    pub load_balancers: Vec<LoadBalancer>,
    pub target_groups: Vec<TargetGroup>,
    /// ARNs asked for (the links' targets) that AWS no longer knows: deleted.
    pub missing_load_balancers: Vec<String>,
    /// Load balancers AWS listed without their ARN: while there are any, a
    /// load balancer not found may be one of them, so none is called deleted.
    pub unreadable_load_balancers: usize,
}

/// A PrivateLink endpoint service (DescribeVpcEndpointServiceConfigurations).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EndpointService {
    pub service_id: String,
    pub service_name: String,
    /// Lower-cased: `pending`, `available`, `deleting`, `deleted`, `failed`.
    pub state: String,
    pub load_balancer_arns: Vec<String>,
    pub acceptance_required: bool,
    pub connections: Vec<EndpointConnection>,
    /// Why the connections could not be read (DescribeVpcEndpointConnections
    /// failed): the service's own state is still fresh.
    pub connections_unread: Option<String>,
    /// Its tags named in `tags_as_labels` (inline in the list).
    pub tags: BTreeMap<String, String>,
}

impl EndpointService {
    pub const KNOWN_STATES: &'static [&'static str] =
        &["pending", "available", "deleting", "deleted", "failed"];
}

/// A VPC endpoint connected to an endpoint service (DescribeVpcEndpointConnections).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EndpointConnection {
    pub vpc_endpoint_id: String,
    pub owner: String,
    /// Lower-cased: EC2 sends camelCase (`pendingAcceptance` -> `pendingacceptance`).
    pub state: String,
}

impl EndpointConnection {
    pub const KNOWN_STATES: &'static [&'static str] = &[
        "pendingacceptance",
        "pending",
        "available",
        "deleting",
        "deleted",
        "rejected",
        "failed",
        "expired",
        "partial",
    ];
}

/// A security group with its rules, both directions.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SecurityGroup {
    pub id: String,
    pub vpc_id: String,
    pub ingress: Vec<SecurityGroupRule>,
    pub egress: Vec<SecurityGroupRule>,
}

/// One permission of a security group: a protocol and port range from sources.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SecurityGroupRule {
    /// `tcp`, `udp`, `icmp`, `-1` (all), or a protocol number.
    pub protocol: String,
    /// Inclusive port range; `None` for all ports.
    pub ports: Option<(u16, u16)>,
    pub ipv4_cidrs: Vec<String>,
    pub ipv6_cidrs: Vec<String>,
    pub security_group_ids: Vec<String>,
    pub prefix_list_ids: Vec<String>,
}

/// A network ACL and the subnets it applies to.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NetworkAcl {
    pub id: String,
    pub vpc_id: String,
    pub subnet_ids: Vec<String>,
    pub entries: Vec<NetworkAclEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NetworkAclEntry {
    pub rule_number: i32,
    pub egress: bool,
    /// `-1` (all), `6` (tcp), `17` (udp), ...
    pub protocol: String,
    pub allow: bool,
    pub ipv4_cidr: Option<String>,
    pub ipv6_cidr: Option<String>,
    pub ports: Option<(u16, u16)>,
    /// Set when AWS sent the entry without a field it needs (why): it is
    /// then read as a deny of everything, and said so.
    pub unreadable: Option<&'static str>,
}

/// A network interface: where a target or a V2 link lives, and its security groups.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NetworkInterface {
    pub id: String,
    pub subnet_id: String,
    pub vpc_id: String,
    pub private_ips: Vec<String>,
    pub security_group_ids: Vec<String>,
    pub instance_id: Option<String>,
}

/// A subnet: where load balancer nodes, link ENIs and targets take their addresses from.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Subnet {
    pub id: String,
    pub vpc_id: String,
    pub availability_zone: String,
    /// The IPv4 CIDR block, and the IPv6 ones where the subnet has any.
    pub cidrs: Vec<String>,
}

/// Security groups, NACLs, prefix lists, subnets and interfaces of the paths.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NetworkRules {
    pub security_groups: Vec<SecurityGroup>,
    pub network_acls: Vec<NetworkAcl>,
    /// The subnets of the load balancers, V2 links and targets, with their CIDRs.
    pub subnets: Vec<Subnet>,
    /// Managed prefix list id -> its CIDRs.
    pub prefix_lists: std::collections::BTreeMap<String, Vec<String>>,
    pub interfaces: Vec<NetworkInterface>,
}

/// What the execution-log collector has counted, cumulative since start.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExecutionLogs {
    /// Per log group: where reading stands.
    pub cursors: std::collections::BTreeMap<String, crate::logs::LogCursor>,
    /// Per (api id, stage): the counts.
    pub counts: std::collections::BTreeMap<(String, String), crate::classify::Tally>,
    /// Per log group: the stage it belongs to and whether its latest read worked.
    pub groups: std::collections::BTreeMap<String, LogGroupStatus>,
    /// Per (api id, stage): the newest event time of each error class.
    pub newest_errors: std::collections::BTreeMap<(String, String), crate::logs::NewestErrors>,
    /// Saved cursors refused because they could not be true (in the future,
    /// or before the epoch): their groups were read from the lookback instead.
    pub rejected_cursors: u64,
    /// Groups the latest poll left for the next: the quota had no slot for
    /// them before its deadline.
    pub deferred: u64,
    /// Problems with the state file, by kind (`unreadable`, `corrupt`,
    /// `foreign`, `bad_entry`, `write_failed`).
    pub state_file_errors: std::collections::BTreeMap<&'static str, u64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogGroupStatus {
    pub api_id: String,
    pub stage: String,
    /// What its latest read came to.
    pub read: LogRead,
}

/// What the latest read of a log group came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogRead {
    /// Read up to the poll.
    Ok,
    /// The read failed: what it saw of it is unknown.
    Failed {
        /// AWS's error code, or `error` (a bounded label value).
        code: String,
        /// The whole error, for a person.
        message: String,
    },
    /// Not read yet: the quota left it for the next poll.
    Pending,
    /// A REST execution-log group that does not exist: API Gateway creates
    /// it with the stage's first logged line, so it holds no event (a
    /// group deleted by hand is created again the same way).
    Absent,
}

impl LogGroupStatus {
    /// Whether its latest read succeeded.
    pub fn ok(&self) -> bool {
        self.read == LogRead::Ok
    }

    /// Whether it may hold events the exporter has not seen.
    pub fn unread(&self) -> bool {
        matches!(self.read, LogRead::Failed { .. } | LogRead::Pending)
    }
}

/// What can be wrong with the execution-log state file (the keys of
/// `ExecutionLogs::state_file_errors`, the `error` label of
/// `awsconn_execution_log_state_file_errors_total`).
pub const STATE_FILE_ERRORS: &[&str] = &[
    "unreadable",
    "corrupt",
    "foreign",
    "bad_entry",
    "write_failed",
];

/// One day: the resolution of link activity (CloudWatch `Count` per day).
pub const DAY_S: i64 = 86_400;

/// One CloudWatch metric and statistic to fetch (built by [`crate::cloudwatch`]).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct MetricQuery {
    pub namespace: String,
    pub metric: String,
    pub stat: String,
    /// Dimension name and value pairs, in a stable order.
    pub dimensions: Vec<(String, String)>,
}

/// When requests last went through the APIs that use each V2 link: HTTP-side
/// links go INACTIVE after 60 days without traffic. From CloudWatch `Count`,
/// one day at a time.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LinkActivity {
    /// When CloudWatch was asked (epoch seconds): the answer is reused until it is stale.
    pub checked_at: i64,
    /// How far back it looked, in seconds.
    pub window_s: i64,
    /// Per V2 link id that some API uses: the start (epoch seconds) of the
    /// newest day with requests, `None` when there were none in the window.
    pub last_request: std::collections::BTreeMap<String, Option<i64>>,
}

/// Everything known about one scope, one field per collector. `None` means
/// that collector has not produced data for this scope yet.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Inventory {
    pub vpc_links: Option<Vec<VpcLink>>,
    /// From the `vpc_links` collector too: the APIs whose integrations use VPC links.
    pub apis: Option<Vec<Api>>,
    pub load_balancing: Option<LoadBalancing>,
    pub endpoint_services: Option<Vec<EndpointService>>,
    pub network_rules: Option<NetworkRules>,
    pub execution_logs: Option<ExecutionLogs>,
    /// CloudWatch metrics and their newest complete value.
    pub cloudwatch: Option<Vec<(MetricQuery, f64)>>,
    /// From the `cloudwatch` collector too: V2 links' last requests.
    pub link_activity: Option<LinkActivity>,
    /// From the `vpc_links` collector too: what the `watch` filters left out.
    pub unwatched: Unwatched,
    pub interconnect: Option<Interconnect>,
    pub certificates: Option<Certificates>,
    pub tls_probes: Option<TlsProbes>,
    /// What is not known: each enabled collector that has not succeeded for
    /// this scope yet, and why (its latest failure, or that its first poll
    /// has not finished). Filled by the store, not by AWS, so that a check
    /// without data is reported unknown, never passed.
    pub unavailable: BTreeMap<&'static str, String>,
}

/// The VPC links and APIs of a scope that the `watch` filters leave out:
/// listed, never read further, never exported but as a count.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Unwatched {
    /// The ids of the links left out: a watched API's integrations through
    /// them are left out of the topology too.
    pub vpc_links: BTreeSet<String>,
    pub apis: usize,
}

/// The certificates of the TLS and HTTPS listeners the links use
/// (DescribeListenerCertificates), with what ACM says of each.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Certificates {
    /// By listener ARN: the certificates it serves, the default first.
    pub listeners: BTreeMap<String, Vec<ListenerCertificate>>,
    /// By certificate ARN: what ACM says of it (ACM certificates only; an
    /// IAM server certificate has no entry).
    pub details: BTreeMap<String, CertificateDetail>,
    /// ACM certificates that could not be described, and why.
    pub unread: BTreeMap<String, String>,
}

/// One certificate of a listener.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ListenerCertificate {
    pub arn: String,
    /// The listener's default certificate: served when no other matches the
    /// name the client sends (SNI).
    pub is_default: bool,
}

/// What ACM's DescribeCertificate says of a certificate.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CertificateDetail {
    pub domain: String,
    /// Its subject alternative names (ACM lists the domain among them).
    pub names: Vec<String>,
    pub not_before_s: Option<i64>,
    pub not_after_s: Option<i64>,
    /// ACM's status lower-cased: `issued`, `expired`, `revoked`,
    /// `pending_validation`, `inactive`, `validation_timed_out`, `failed`.
    pub status: String,
    /// How many AWS resources ACM says use it.
    pub in_use_by: usize,
}

impl CertificateDetail {
    /// Whether the certificate covers `host`, as a TLS client checks it
    /// (RFC 6125): its subject alternative names, or its domain only when it
    /// has none; names compare without case, and a `*` as the whole leftmost
    /// label stands for exactly one label.
    pub fn covers(&self, host: &str) -> bool {
        self.checked_names().any(|name| name_matches(name, host))
    }

    /// The names a client checks the host name against.
    pub fn checked_names(&self) -> impl Iterator<Item = &str> {
        let domain = self.names.is_empty().then_some(self.domain.as_str());
        self.names.iter().map(String::as_str).chain(domain)
    }
}

/// `name` (a certificate's) matches `host` (RFC 6125, 6.4.3).
pub fn name_matches(name: &str, host: &str) -> bool {
    let name = name.trim_end_matches('.');
    let host = host.trim_end_matches('.');
    if name.is_empty() || host.is_empty() {
        return false;
    }
    match name.strip_prefix("*.") {
        Some(parent) => host
            .split_once('.')
            .is_some_and(|(label, rest)| !label.is_empty() && rest.eq_ignore_ascii_case(parent)),
        None => name.eq_ignore_ascii_case(host),
    }
}

/// What the TLS probe found, by the call it stands for: (load balancer
/// ARN, port, host name).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TlsProbes {
    pub outcomes: BTreeMap<(String, u16, String), ProbeOutcome>,
    /// Calls left out on purpose (`only_addresses`, and their load balancer
    /// has no address): judged by nothing, and said so.
    pub unaddressed: BTreeSet<(String, u16, String)>,
}

/// Where to connect and as whom.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ProbeTarget {
    /// `host:port` to connect to: the load balancer's DNS name, or an
    /// address the configuration gives for it.
    pub address: String,
    /// The host name sent as SNI and checked against the certificate.
    pub host: String,
    /// REST's `insecureSkipVerification`: a certificate no trusted CA signed
    /// is accepted, its dates and name still checked.
    pub insecure_skip_verification: bool,
}

/// The certificate the server presented.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PresentedCertificate {
    pub subject: String,
    pub issuer: String,
    pub not_after_s: i64,
}

/// What one probe found.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ProbeOutcome {
    /// Where it connected.
    pub address: String,
    /// `None` when every check passed.
    pub failure: Option<ProbeFailure>,
    /// The leaf certificate, when one was presented.
    pub certificate: Option<PresentedCertificate>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeFailure {
    /// The execution-log class API Gateway would log.
    pub class: crate::classify::ErrorClass,
    /// What happened, for the check's cause.
    pub detail: String,
}

/// Reads an Interconnect bandwidth such as `1Gbps`, `500Mbps` or `1.5 Gbps`
/// as bits per second. `None` for anything else: a wrong number on a
/// dashboard is worse than none.
pub fn parse_bandwidth(text: &str) -> Option<f64> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number.parse().ok()?;
    let scale = match unit.trim().to_ascii_lowercase().as_str() {
        "bps" => 1.0,
        "kbps" => 1e3,
        "mbps" => 1e6,
        "gbps" => 1e9,
        "tbps" => 1e12,
        _ => return None,
    };
    (value.is_finite() && value >= 0.0).then_some(value * scale)
}

/// A lower-cased copy of an API enum value, the form every label uses.
pub fn normalize_state(raw: &str) -> String {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        "unknown".to_owned()
    } else {
        trimmed.to_ascii_lowercase()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attach_point_findings() {
        use crate::testkit::interconnect_connection as connection;
        let gateway = InterconnectAttachPoint {
            kind: "DirectConnectGateway".into(),
            identifier: "gw-1".into(),
            name: "prod".into(),
        };
        let connections = vec![
            connection("a", "env-1", "gw-1"),
            connection("b", "env-1", "gw-2"),
            connection("c", "env-2", "gw-1"),
            connection("d", "env-1", UNKNOWN_UNION_MEMBER),
            connection("e", "env-3", "gw-1"),
            connection(
                "f",
                "env-1",
                "arn:aws:interconnect:us-east-1:1:connection/mcc-abcdefgh",
            ),
            connection("g", "env-1", "GW-1"),
            InterconnectConnection {
                state: "deleted".into(),
                ..connection("h", "env-1", "gw-2")
            },
        ];
        assert_eq!(
            Interconnect::environments_with_connections(&connections),
            ["env-1", "env-2", "env-3"]
        );
        let interconnect = Interconnect {
            attach_points: [
                ("env-1".to_owned(), Some(vec![gateway.clone()])),
                ("env-2".to_owned(), None),
            ]
            .into(),
            connections,
            ..Interconnect::default()
        };
        let found: Vec<AttachPointFinding> = interconnect
            .connections
            .iter()
            .map(|c| interconnect.attach_point_finding(c))
            .collect();
        assert_eq!(
            found,
            [
                AttachPointFinding::Present(&gateway),
                AttachPointFinding::Missing,
                AttachPointFinding::Unknown,
                AttachPointFinding::Unknown,
                AttachPointFinding::Unknown,
                AttachPointFinding::NotListable,
                AttachPointFinding::Present(&gateway),
                AttachPointFinding::Retired,
            ]
        );
    }

    /// RFC 6125: a wildcard is one whole leftmost label, names compare
    /// without case, a trailing dot changes nothing.
    #[test]
    fn certificate_names_match_as_tls_clients_match_them() {
        assert!(name_matches("api.example.com", "API.example.com."));
        assert!(name_matches("*.example.com", "api.example.com"));
        assert!(!name_matches("*.example.com", "example.com"));
        assert!(!name_matches("*.example.com", "a.b.example.com"));
        assert!(!name_matches("*.example.com", ".example.com"));
        assert!(!name_matches("api.example.com", "www.example.com"));
        assert!(!name_matches("", "example.com"));
        assert!(!name_matches("a*.example.com", "ab.example.com"));
        // The domain counts only when there is no alternative name.
        let detail = CertificateDetail {
            domain: "example.com".into(),
            names: vec!["*.example.com".into()],
            ..Default::default()
        };
        assert!(!detail.covers("example.com") && detail.covers("www.example.com"));
        let bare = CertificateDetail {
            domain: "example.com".into(),
            ..Default::default()
        };
        assert!(bare.covers("example.com"));
    }

    #[test]
    fn states_are_lower_cased_and_never_empty() {
        assert_eq!(normalize_state("AVAILABLE"), "available");
        assert_eq!(normalize_state("pendingAcceptance"), "pendingacceptance");
        assert_eq!(normalize_state(" "), "unknown");
    }

    #[test]
    fn bandwidths() {
        assert_eq!(parse_bandwidth("1Gbps"), Some(1e9));
        assert_eq!(parse_bandwidth("500Mbps"), Some(5e8));
        assert_eq!(parse_bandwidth("1.5 Gbps"), Some(1.5e9));
        assert_eq!(parse_bandwidth("10GBPS"), Some(1e10));
        assert_eq!(parse_bandwidth("50Kbps"), Some(5e4));
        for bad in ["", "Gbps", "1", "1 Gbit", "fast", "1.2.3Gbps", "-1Gbps"] {
            assert_eq!(parse_bandwidth(bad), None, "{bad}");
        }
    }

    #[test]
    fn http_links_know_inactive() {
        assert!(ApiType::Http.known_link_statuses().contains(&"inactive"));
        assert!(!ApiType::Rest.known_link_statuses().contains(&"inactive"));
    }
}
