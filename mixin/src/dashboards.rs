//! The Grafana dashboards: an overview, a VPC-link drill-down, Interconnect,
//! and the exporter's own health. Each is a list of panels declared in one
//! place below; the builder adds what Grafana's dashboard linter asks of
//! every panel (the `datasource` variable, units, titles, unique ids) and the
//! data links of VPC-link panels to the exporter's `/links?vpc_link=ID`.

use serde_json::{Value, json};

use crate::config::Config;

pub const OVERVIEW_UID: &str = "awsconn-overview";
pub const VPC_LINK_UID: &str = "awsconn-vpc-link";
pub const INTERCONNECT_UID: &str = "awsconn-interconnect";
pub const EXPORTER_UID: &str = "awsconn-exporter";

/// Grafana 10.4+ reads this schema.
const SCHEMA_VERSION: u64 = 39;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Stat,
    TimeSeries,
    /// Instant query shown as a table, one row per series.
    Table,
    BarGauge,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Stat => "stat",
            Kind::TimeSeries => "timeseries",
            Kind::Table => "table",
            Kind::BarGauge => "bargauge",
        }
    }
}

struct Panel {
    kind: Kind,
    title: &'static str,
    description: &'static str,
    unit: &'static str,
    /// (PromQL, legend)
    queries: Vec<(String, &'static str)>,
    width: u64,
    height: u64,
    /// Its series carry `vpc_link_id` and `instance`: data links to the
    /// exporter's `/links` page and to the drill-down.
    per_link: bool,
    /// 0/1 values shown as fail/pass (checks, health).
    pass_fail: bool,
    /// Values from this one up are red (stat panels).
    red_from: Option<f64>,
}

fn panel(kind: Kind, title: &'static str, unit: &'static str, description: &'static str) -> Panel {
    let (width, height) = match kind {
        Kind::Stat => (4, 4),
        Kind::Table => (24, 8),
        Kind::TimeSeries | Kind::BarGauge => (12, 8),
    };
    Panel {
        kind,
        title,
        description,
        unit,
        queries: Vec::new(),
        width,
        height,
        per_link: false,
        pass_fail: false,
        red_from: None,
    }
}

impl Panel {
    fn query(mut self, expr: impl Into<String>, legend: &'static str) -> Self {
        self.queries.push((expr.into(), legend));
        self
    }
    fn per_link(mut self) -> Self {
        self.per_link = true;
        self
    }
    fn pass_fail(mut self) -> Self {
        self.pass_fail = true;
        self
    }
    fn red_from(mut self, value: f64) -> Self {
        self.red_from = Some(value);
        self
    }
    fn size(mut self, width: u64, height: u64) -> Self {
        self.width = width;
        self.height = height;
        self
    }
}

#[derive(Clone, Copy)]
enum Var {
    Account,
    Region,
    VpcLink,
    Instance,
}

const DATASOURCE: &str = "${datasource}";

fn datasource() -> Value {
    json!({"type": "prometheus", "uid": DATASOURCE})
}

fn variable(config: &Config, var: Var) -> Value {
    let job = config.selector();
    // Accounts are picked by name (`awsconn_account_info`: the alias or the
    // Organizations name, the id where there is none); the value is the id.
    let mut regex = "";
    let (name, label, query) = match var {
        Var::Account => {
            regex = ACCOUNT_NAME_REGEX;
            (
                "account",
                "Account",
                format!(
                    "query_result(max by (account, name) (awsconn_account_info{{{job}, name!=\"\"}}) or label_replace(max by (account, name) (awsconn_account_info{{{job}, name=\"\"}}), \"name\", \"$1\", \"account\", \"(.+)\"))"
                ),
            )
        }
        Var::Region => (
            "region",
            "Region",
            format!(
                "label_values(awsconn_collector_success{{{job}, account=~\"$account\"}}, region)"
            ),
        ),
        Var::VpcLink => (
            "vpc_link_id",
            "VPC link",
            format!(
                "label_values(awsconn_vpc_link_info{{{job}, account=~\"$account\", region=~\"$region\"}}, vpc_link_id)"
            ),
        ),
        Var::Instance => (
            "instance",
            "Exporter",
            format!("label_values(up{{{job}}}, instance)"),
        ),
    };
    json!({
        "name": name,
        "label": label,
        "type": "query",
        "datasource": datasource(),
        "definition": query,
        "query": {"query": query, "refId": "PrometheusVariableQueryEditor-VariableQuery"},
        "refresh": 2,
        // Every variable may be several values or All, which Grafana sends as `.+`.
        "includeAll": true,
        "multi": true,
        "allValue": ".+",
        "current": {"selected": true, "text": ["All"], "value": ["$__all"]},
        "sort": 1,
        "regex": regex,
        "hide": 0,
    })
}

/// Grafana's regex over a `query_result` line of the account variable:
/// the id is the value, the name the text people pick.
pub const ACCOUNT_NAME_REGEX: &str = r#"/account="(?<value>[^"]+)".*name="(?<text>[^"]*)"/"#;

fn datasource_variable() -> Value {
    json!({
        "name": "datasource",
        "label": "Data source",
        "type": "datasource",
        "query": "prometheus",
        "current": {},
        "hide": 0,
        "refresh": 1,
        "regex": "",
    })
}

fn data_links(config: &Config, kind: Kind) -> Value {
    // The row's own labels: a table's fields, a time series' labels.
    let field = |label: &str| {
        if kind == Kind::Table {
            format!("${{__data.fields.{label}}}")
        } else {
            format!("${{__field.labels.{label}}}")
        }
    };
    let (instance, link) = (field("instance"), field("vpc_link_id"));
    let (account, region) = (field("account"), field("region"));
    json!([
        {
            "title": "Runbook page of this VPC link (exporter /links)",
            "url": format!("{}://{instance}/links?vpc_link={link}", config.dashboards.exporter_scheme),
            "targetBlank": true,
        },
        {
            "title": "VPC link drill-down",
            "url": format!("/d/{VPC_LINK_UID}?var-datasource=${{datasource}}&var-account={account}&var-region={region}&var-vpc_link_id={link}&${{__url_time_range}}"),
            "targetBlank": false,
        },
    ])
}

fn render_panel(config: &Config, id: u64, x: u64, y: u64, p: &Panel) -> Value {
    let targets: Vec<Value> = p
        .queries
        .iter()
        .enumerate()
        .map(|(i, (expr, legend))| {
            let mut t = json!({
                "refId": ((b'A' + i as u8) as char).to_string(),
                "datasource": datasource(),
                "expr": expr,
                "legendFormat": legend,
            });
            if p.kind == Kind::Table {
                t["instant"] = json!(true);
                t["range"] = json!(false);
                t["format"] = json!("table");
            } else {
                t["range"] = json!(true);
            }
            t
        })
        .collect();
    let mut defaults = json!({"unit": p.unit});
    let steps = match p.red_from {
        Some(limit) => json!([
            {"color": "green", "value": null},
            {"color": "red", "value": limit},
        ]),
        None => json!([{"color": "green", "value": null}]),
    };
    defaults["thresholds"] = json!({"mode": "absolute", "steps": steps});
    if p.pass_fail {
        defaults["mappings"] = json!([{"type": "value", "options": {
            "0": {"text": "fail", "color": "red", "index": 0},
            "1": {"text": "pass", "color": "green", "index": 1},
        }}]);
    }
    if p.per_link {
        defaults["links"] = data_links(config, p.kind);
    }
    let mut out = json!({
        "id": id,
        "type": p.kind.as_str(),
        "title": p.title,
        "description": p.description,
        "datasource": datasource(),
        "gridPos": {"h": p.height, "w": p.width, "x": x, "y": y},
        "fieldConfig": {"defaults": defaults, "overrides": []},
        "targets": targets,
    });
    match p.kind {
        Kind::Table => {
            out["options"] = json!({"showHeader": true, "cellHeight": "sm", "frameIndex": 0});
            out["fieldConfig"]["defaults"]["custom"] = json!({
                "cellOptions": {"type": if p.pass_fail { "color-text" } else { "auto" }},
                "align": "auto",
                "inspect": false,
            });
            out["transformations"] = json!([{"id": "organize", "options": {
                "excludeByName": {"Time": true, "__name__": true, "job": true},
            }}]);
        }
        Kind::Stat => {
            out["options"] = json!({
                "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": false},
                "colorMode": "background",
                "graphMode": "none",
                "textMode": "auto",
                // Grafana's defaults, written out as Grafana writes them on save.
                "justifyMode": "auto",
                "orientation": "auto",
                "wideLayout": true,
                "showPercentChange": false,
                "percentChangeColorMode": "standard",
            });
        }
        Kind::BarGauge => {
            out["options"] = json!({
                "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": false},
                "orientation": "horizontal",
                "displayMode": "basic",
                // Grafana's defaults, written out as Grafana writes them on save.
                "valueMode": "color",
                "namePlacement": "auto",
                "showUnfilled": true,
                "sizing": "auto",
                "minVizWidth": 8,
                "minVizHeight": 16,
                "maxVizHeight": 300,
                "legend": {"displayMode": "list", "placement": "bottom", "showLegend": false, "calcs": []},
            });
        }
        Kind::TimeSeries => {
            out["options"] = json!({
                "legend": {"displayMode": "table", "placement": "bottom", "showLegend": true, "calcs": []},
                "tooltip": {"mode": "multi", "sort": "desc"},
            });
        }
    }
    out
}

fn dashboard(
    config: &Config,
    uid: &str,
    title: &str,
    description: &str,
    vars: &[Var],
    panels: &[Panel],
) -> Value {
    let mut rendered = Vec::new();
    let (mut x, mut y, mut row_height) = (0, 0, 0);
    for (i, p) in panels.iter().enumerate() {
        if x + p.width > 24 {
            x = 0;
            y += row_height;
            row_height = 0;
        }
        rendered.push(render_panel(config, i as u64 + 1, x, y, p));
        x += p.width;
        row_height = row_height.max(p.height);
    }
    let mut variables = vec![datasource_variable()];
    variables.extend(vars.iter().map(|v| variable(config, *v)));
    json!({
        "uid": uid,
        "title": title,
        "description": description,
        "tags": config.dashboards.tags,
        "timezone": "browser",
        "editable": true,
        "graphTooltip": 1,
        "refresh": config.dashboards.refresh.to_string(),
        "schemaVersion": SCHEMA_VERSION,
        "time": {"from": format!("now-{}", config.dashboards.time_range), "to": "now"},
        "links": [{
            "type": "dashboards",
            "title": "awsconn dashboards",
            "tags": [config.dashboards.tags[0]],
            "asDropdown": true,
            "includeVars": true,
            "keepTime": true,
            "icon": "external link",
            "tooltip": "",
            "targetBlank": false,
        }],
        "templating": {"list": variables},
        "annotations": {"list": []},
        "panels": rendered,
    })
}

/// Selector of the resource metrics: job, account and region variables.
fn scope(config: &Config) -> String {
    format!(
        "{}, account=~\"$account\", region=~\"$region\"",
        config.selector()
    )
}

fn overview(config: &Config) -> Value {
    let s = scope(config);
    let j = config.selector();
    let panels = [
        panel(Kind::Stat, "VPC links", "none", "VPC links found, REST (V1) and HTTP (V2).")
            .query(format!("count(awsconn_vpc_link_info{{{s}}})"), ""),
        panel(Kind::Stat, "Unhealthy VPC links", "none", "VPC links with at least one failing runbook check.")
            .query(format!("count(awsconn_vpc_link_healthy{{{s}}} == 0) or vector(0)"), "")
            .red_from(1.0),
        panel(Kind::Stat, "Failing checks", "none", "Runbook checks that fail, over every link.")
            .query(format!("count(awsconn_vpc_link_check{{{s}}} == 0) or vector(0)"), "")
            .red_from(1.0),
        panel(Kind::Stat, "Interconnect connections down", "none", "AWS Interconnect connections in state down.")
            .query(format!("sum(awsconn_interconnect_connection_state{{{s}, state=\"down\"}}) or vector(0)"), "")
            .red_from(1.0),
        panel(Kind::Stat, "Collectors failing", "none", "Collector polls (per account and region) whose latest attempt failed: their data is getting old.")
            .query(format!("count(awsconn_collector_success{{{s}}} == 0) or vector(0)"), "")
            .red_from(1.0),
        panel(Kind::Stat, "Exporters up", "none", "Exporter instances Prometheus scrapes successfully.")
            .query(format!("sum(up{{{j}}})"), ""),
        panel(Kind::BarGauge, "VPC links by status", "none", "VPC links per status; failed and inactive links break every integration through them.")
            .query(format!("sum by (status) (awsconn_vpc_link_status{{{s}}})"), "{{status}}"),
        panel(Kind::BarGauge, "Interconnect connections by state", "none", "AWS Interconnect multicloud connections per state.")
            .query(format!("sum by (state) (awsconn_interconnect_connection_state{{{s}}})"), "{{state}}"),
        panel(Kind::Table, "Failing checks", "none", "Every failing runbook check with the object it judged. The data links open the exporter's runbook page of the link, with the cause and the fix.")
            .query(format!("awsconn_vpc_link_check{{{s}}} == 0"), "")
            .per_link()
            .pass_fail(),
        panel(Kind::Table, "VPC links", "none", "Each VPC link and whether every check passes.")
            .query(
                format!("awsconn_vpc_link_healthy{{{s}}}\n* on (job, instance, account, region, vpc_link_id) group_left (name, api_type, version)\nawsconn_vpc_link_info{{{s}}}"),
                "",
            )
            .per_link()
            .pass_fail(),
        panel(Kind::TimeSeries, "Execution errors by class", "reqps", "Integration failures in the REST execution logs and HTTP API access logs, by class (the runbook's messages).")
            .query(format!("sum by (class) (rate(awsconn_execution_errors_total{{{s}}}[$__rate_interval]))"), "{{class}}"),
        panel(Kind::TimeSeries, "Execution errors by API", "reqps", "Integration failures per API and stage.")
            .query(format!("sum by (api_id, stage) (rate(awsconn_execution_errors_total{{{s}}}[$__rate_interval]))"), "{{api_id}} {{stage}}"),
        panel(Kind::TimeSeries, "5XX by API (CloudWatch)", "short", "5XX answers per API stage in the newest CloudWatch period: REST APIs by name, HTTP APIs by id.")
            .query(format!("sum by (api_name, stage) (awsconn_cloudwatch_aws_api_gateway_5xx_error_sum_per_period{{{s}}})"), "{{api_name}} {{stage}}")
            .query(format!("sum by (api_id, stage) (awsconn_cloudwatch_aws_api_gateway_5xx_sum_per_period{{{s}}})"), "{{api_id}} {{stage}}"),
        panel(Kind::Table, "Exporter health", "none", "Each collector's latest poll per account and region.")
            .query(format!("awsconn_collector_success{{{s}}}"), "")
            .pass_fail(),
    ];
    dashboard(
        config,
        OVERVIEW_UID,
        "AWS connectivity / Overview",
        "API Gateway VPC links, PrivateLink and AWS Interconnect at a glance: what is broken, and where to look.",
        &[Var::Account, Var::Region],
        &panels,
    )
}

fn vpc_link(config: &Config) -> Value {
    let s = scope(config);
    let l = format!("{s}, vpc_link_id=~\"$vpc_link_id\"");
    // The chosen links' load balancers, as the load_balancer_active check names them.
    let lbs = format!("awsconn_vpc_link_check{{{l}, check=\"load_balancer_active\"}}");
    let on_lb = "on (job, instance, account, region, load_balancer)";
    // The same load balancers named as CloudWatch's `LoadBalancer` dimension (`net/NAME/ID`).
    let lb_dimensions = format!(
        "label_replace({lbs}, \"load_balancer\", \"$1\", \"load_balancer\", \"arn:[^:]*:elasticloadbalancing:[^:]*:[^:]*:loadbalancer/(.+)\")"
    );
    let panels = [
        panel(Kind::Table, "Checks", "none", "Every runbook check of the chosen links with the object it judged (load balancer, port, target group, security group, network ACL, API stage).")
            .query(format!("awsconn_vpc_link_check{{{l}}}"), "")
            .per_link()
            .pass_fail(),
        panel(Kind::TimeSeries, "Healthy", "none", "1 while every check of the link passes.")
            .query(format!("awsconn_vpc_link_healthy{{{l}}}"), "{{vpc_link_id}}")
            .per_link(),
        panel(Kind::TimeSeries, "Status", "none", "The link's status (1 = current).")
            .query(format!("awsconn_vpc_link_status{{{l}}} == 1"), "{{vpc_link_id}} {{status}}")
            .per_link(),
        panel(Kind::TimeSeries, "Target health", "none", "Targets per health state in the target groups of the links' load balancers.")
            .query(
                format!("sum by (target_group, state) (awsconn_target_group_targets{{{s}}} and {on_lb} {lbs})"),
                "{{target_group}} {{state}}",
            ),
        panel(Kind::Table, "Integrations (ports called)", "none", "Integrations through the links per stage, stage variables resolved: the target and the port each calls.")
            .query(format!("awsconn_integration_info{{{l}}}"), "")
            .per_link(),
        panel(Kind::Table, "Listeners", "none", "Listeners of the links' load balancers: every port an integration calls needs one.")
            .query(format!("awsconn_load_balancer_listener_info{{{s}}} and {on_lb} {lbs}"), ""),
        panel(Kind::Table, "Listener certificates: days left", "d", "Certificates of the TLS listeners of the links' load balancers: days until ACM's NotAfter (negative: expired). AwsconnCertificateExpiring warns at 14 days and pages at 3.")
            .query(
                format!("(awsconn_listener_certificate_expiry_timestamp_seconds{{{s}}} - time()) / 86400\n  and {on_lb} {lbs}"),
                "",
            ),
        panel(Kind::Table, "TLS probe", "none", "Each call the links' integrations make over TLS, as the TLS probe made it (collectors.tls_probe, off by default: empty while it is off): 1 passed every check API Gateway makes, 0 failed, with the execution-log class API Gateway would log. Through a TCP listener this is the only judge of the targets' certificate.")
            .query(
                format!("awsconn_tls_probe_success{{{l}}}\n  * on (job, instance, account, region, vpc_link_id, load_balancer, target, port) group_left (class) awsconn_tls_probe_failure{{{l}}}\nor on (job, instance, account, region, vpc_link_id, load_balancer, target, port) awsconn_tls_probe_success{{{l}}}"),
                "",
            )
            .per_link()
            .pass_fail(),
        panel(Kind::TimeSeries, "Execution errors by class", "reqps", "Integration failures of the APIs that use the links, by class.")
            .query(
                format!("sum by (api_id, stage, class) (rate(awsconn_execution_errors_total{{{s}}}[$__rate_interval])\n  and on (job, instance, account, region, api_id, stage) awsconn_integration_info{{{l}}})"),
                "{{api_id}} {{stage}} {{class}}",
            ),
        panel(Kind::TimeSeries, "NLB resets", "short", "TCP resets at the links' Network Load Balancers (CloudWatch, per period): from targets (keep-alive shorter than the NLB's 350 s idle timeout) and from the load balancer.")
            .query(
                format!("awsconn_cloudwatch_aws_network_elb_tcp_target_reset_count_sum_per_period{{{s}}}\n  and {on_lb} {lb_dimensions}"),
                "target resets {{load_balancer}}",
            )
            .query(
                format!("awsconn_cloudwatch_aws_network_elb_tcp_elb_reset_count_sum_per_period{{{s}}}\n  and {on_lb} {lb_dimensions}"),
                "load balancer resets {{load_balancer}}",
            ),
        panel(Kind::TimeSeries, "ALB errors", "short", "The links' Application Load Balancers (CloudWatch, per period): 502 (a target's reset or unreadable answer), 503 (no healthy target), 504 (a target's timeout), and connections or TLS handshakes to targets that failed. AwsconnLoadBalancerErrors warns on them.")
            .query(
                format!("awsconn_cloudwatch_aws_application_elb_http_code_elb_502_count_sum_per_period{{{s}}}\n  and {on_lb} {lb_dimensions}"),
                "502 {{load_balancer}}",
            )
            .query(
                format!("awsconn_cloudwatch_aws_application_elb_http_code_elb_503_count_sum_per_period{{{s}}}\n  and {on_lb} {lb_dimensions}"),
                "503 {{load_balancer}}",
            )
            .query(
                format!("awsconn_cloudwatch_aws_application_elb_http_code_elb_504_count_sum_per_period{{{s}}}\n  and {on_lb} {lb_dimensions}"),
                "504 {{load_balancer}}",
            )
            .query(
                format!("awsconn_cloudwatch_aws_application_elb_target_connection_error_count_sum_per_period{{{s}}}\n  and {on_lb} {lb_dimensions}"),
                "target connection errors {{load_balancer}}",
            )
            .query(
                format!("awsconn_cloudwatch_aws_application_elb_target_tls_negotiation_error_count_sum_per_period{{{s}}}\n  and {on_lb} {lb_dimensions}"),
                "target TLS errors {{load_balancer}}",
            ),
        panel(Kind::TimeSeries, "PrivateLink resets", "short", "RST packets the links' endpoint services sent (CloudWatch, per period; REST V1 links).")
            .query(
                format!("awsconn_cloudwatch_aws_private_link_services_rst_packets_sent_sum_per_period{{{s}}}\n  and on (job, instance, account, region, service_id) awsconn_vpc_link_check{{{l}, check=\"endpoint_service_available\"}}"),
                "{{service_id}}",
            ),
        panel(Kind::TimeSeries, "Idle time", "s", "V2 links: time since the last day with requests through the APIs that use the link. AWS makes an HTTP API's link inactive after 60 days.")
            .query(format!("awsconn_vpc_link_idle_seconds{{{l}}}"), "{{vpc_link_id}}")
            .per_link(),
    ];
    dashboard(
        config,
        VPC_LINK_UID,
        "AWS connectivity / VPC link",
        "One VPC link hop by hop: every runbook check, its load balancer's targets and listeners, the errors of the APIs that use it, resets and idle time.",
        &[Var::Account, Var::Region, Var::VpcLink],
        &panels,
    )
}

fn interconnect(config: &Config) -> Value {
    let s = scope(config);
    let panels = [
        panel(Kind::Stat, "Connections", "none", "AWS Interconnect multicloud connections.")
            .query(format!("count(awsconn_interconnect_connection_info{{{s}}})"), ""),
        panel(Kind::Stat, "Down", "none", "Connections in state down.")
            .query(format!("sum(awsconn_interconnect_connection_state{{{s}, state=\"down\"}}) or vector(0)"), "")
            .red_from(1.0),
        panel(Kind::Stat, "Environments not available", "none", "Environments in state limited or unavailable.")
            .query(format!("sum(awsconn_interconnect_environment_state{{{s}, state!=\"available\"}}) or vector(0)"), "")
            .red_from(1.0),
        panel(Kind::Table, "Connections", "none", "Each connection: provider and its kind (multicloud or last mile), location, environment, attach point, product type, and the shared id the partner cloud shows for it.")
            .query(format!("awsconn_interconnect_connection_info{{{s}}}"), ""),
        panel(Kind::Table, "Billing tier", "none", "Each connection's billing tier (0 to 8): the hourly price follows it; adding a Cloud WAN edge re-rates it.")
            .query(format!("awsconn_interconnect_connection_billing_tier{{{s}}}"), ""),
        panel(Kind::TimeSeries, "Connection state", "none", "Each connection's state (1 = current).")
            .query(format!("awsconn_interconnect_connection_state{{{s}}} == 1"), "{{connection_id}} {{state}}"),
        panel(Kind::TimeSeries, "Provisioned bandwidth", "Bps", "Each connection's provisioned bandwidth.")
            .query(format!("awsconn_interconnect_connection_bandwidth_bytes_per_second{{{s}}}"), "{{connection_id}}"),
        panel(Kind::Table, "Attach points", "none", "Each connection's attach point (a Direct Connect gateway) and its name: 1 while its environment still lists it (ListAttachPoints), 0 once it does not (the gateway was deleted: AwsconnInterconnectAttachPointMissing).")
            .query(format!("awsconn_interconnect_connection_check{{{s}, check=\"attach_point_present\"}}"), ""),
        panel(Kind::Table, "Environments", "none", "Each environment's current state, its provider's kind (multicloud or last mile) and the bandwidths a connection can still be ordered with there.")
            .query(format!("(awsconn_interconnect_environment_state{{{s}}} == 1)\n* on (job, instance, account, region, environment_id) group_left (provider_kind, available_bandwidths)\nawsconn_interconnect_environment_info{{{s}}}"), ""),
        panel(Kind::Table, "Regions without Interconnect", "none", "Accounts and regions where Interconnect has nothing to watch (no environment, or not offered there): asked again only every absent_interval.")
            .query(format!("awsconn_interconnect_availability{{{s}, availability!=\"offered\"}} == 1"), ""),
        panel(Kind::Table, "Bandwidths an environment can give", "none", "Per environment, each bandwidth it supports and whether a connection can be ordered with it now (available): what is left while the environment is limited.")
            .query(format!("awsconn_interconnect_environment_bandwidth_info{{{s}}}"), ""),
    ];
    dashboard(
        config,
        INTERCONNECT_UID,
        "AWS connectivity / Interconnect",
        "AWS Interconnect – multicloud connections and environments.",
        &[Var::Account, Var::Region],
        &panels,
    )
}

fn exporter(config: &Config) -> Value {
    let s = scope(config);
    let i = format!("{}, instance=~\"$instance\"", config.selector());
    let panels = [
        panel(Kind::Stat, "Up", "none", "1 while Prometheus scrapes the exporter.")
            .query(format!("min(up{{{i}}})"), ""),
        panel(Kind::Stat, "Configuration", "none", "1 while the latest configuration reload worked; 0 while a refused file waits to be fixed (the previous configuration runs).")
            .query(format!("min(awsconn_config_last_reload_successful{{{i}}})"), "")
            .pass_fail(),
        panel(Kind::Stat, "Collectors failing", "none", "Collector polls whose latest attempt failed.")
            .query(format!("count(awsconn_collector_success{{{s}, instance=~\"$instance\"}} == 0) or vector(0)"), "")
            .red_from(1.0),
        panel(Kind::Table, "Collectors", "none", "Each collector's latest poll per account and region.")
            .query(format!("awsconn_collector_success{{{s}, instance=~\"$instance\"}}"), "")
            .pass_fail()
            .size(16, 8),
        panel(Kind::TimeSeries, "Poll duration", "s", "How long each collector's latest poll took.")
            .query(format!("awsconn_collector_duration_seconds{{{s}, instance=~\"$instance\"}}"), "{{collector}} {{account}} {{region}}"),
        panel(Kind::TimeSeries, "Data age", "s", "Time since each collector last succeeded; AwsconnDataStale fires past its threshold.")
            .query(format!("time() - awsconn_collector_last_success_timestamp_seconds{{{s}, instance=~\"$instance\"}}"), "{{collector}} {{account}} {{region}}"),
        panel(Kind::TimeSeries, "Poll timeouts", "short", "Polls cut off by their collector's timeout.")
            .query(format!("sum by (collector) (increase(awsconn_collector_timeouts_total{{{s}, instance=~\"$instance\"}}[$__rate_interval]))"), "{{collector}}"),
        panel(Kind::TimeSeries, "AWS requests", "reqps", "Every attempt to AWS, retries included, by service, operation and outcome (ok, throttled, denied, error).")
            .query(format!("sum by (service, operation, outcome) (rate(awsconn_aws_api_requests_total{{{i}}}[$__rate_interval]))"), "{{service}} {{operation}} {{outcome}}")
            .size(24, 9),
        panel(Kind::TimeSeries, "Throttled share", "percentunit", "Share of each service's requests AWS throttled; AwsconnAwsApiThrottled fires past its threshold.")
            .query(
                format!("sum by (service) (rate(awsconn_aws_api_requests_total{{{i}, outcome=\"throttled\"}}[$__rate_interval]))\n  / sum by (service) (rate(awsconn_aws_api_requests_total{{{i}}}[$__rate_interval]))\nor sum by (service) (0 * rate(awsconn_aws_api_requests_total{{{i}}}[$__rate_interval]))"),
                "{{service}}",
            ),
        panel(Kind::TimeSeries, "AWS request latency (p99)", "s", "99th percentile of the attempts' duration per service.")
            .query(format!("histogram_quantile(0.99, sum by (service, le) (rate(awsconn_aws_api_request_duration_seconds_bucket{{{i}}}[$__rate_interval])))"), "{{service}}"),
        panel(Kind::TimeSeries, "Memory", "bytes", "Resident memory of each exporter process.")
            .query(format!("process_resident_memory_bytes{{{i}}}"), "{{instance}}"),
        panel(Kind::TimeSeries, "CPU", "percentunit", "CPU time of each exporter process per second.")
            .query(format!("rate(process_cpu_seconds_total{{{i}}}[$__rate_interval])"), "{{instance}}"),
        panel(Kind::TimeSeries, "CloudWatch metrics requested", "short", "Metrics requested from GetMetricData per second: what CloudWatch bills.")
            .query(format!("sum(rate(awsconn_cloudwatch_metrics_requested_total{{{i}}}[$__rate_interval]))"), "metrics/s"),
        panel(Kind::TimeSeries, "Publish duration", "s", "How long one publish of the exposition and /links took: the snapshot, then topology, diagnosis and render of the scopes whose data changed since the publish before (the others keep their part).")
            .query(format!("awsconn_exposition_publish_duration_seconds{{{i}}}"), "{{instance}}"),
        panel(Kind::TimeSeries, "Publishes and scope renders", "ops", "Publishes per second, and account×region scopes they rendered per second: a scope is rendered again when a poll changed its data, and at least once a minute. Renders near publishes × scopes mean the data changes on every poll.")
            .query(format!("sum(rate(awsconn_exposition_publishes_total{{{i}}}[$__rate_interval]))"), "publishes")
            .query(format!("sum(rate(awsconn_exposition_scope_renders_total{{{i}}}[$__rate_interval]))"), "scope renders"),
        panel(Kind::TimeSeries, "Incomplete AWS answers", "short", "Items AWS returned without a field the exporter needs (left out, or read in the way that admits least), and items whose own read failed (kept as last read).")
            .query(format!("sum(increase(awsconn_aws_incomplete_items_total{{{i}}}[$__rate_interval])) or vector(0)"), "items"),
        panel(Kind::TimeSeries, "AWS quota: waiting and left for later", "short", "Seconds per second AWS calls waited for the exporter's share of each account and region's quota (near 1: the quota sets the pace of that scope's polls), and calls left for a later poll because no slot came in time; AwsconnAwsQuotaSpent fires when that lasts.")
            .query(format!("sum by (account, region, service) (rate(awsconn_aws_quota_wait_seconds_total{{{i}}}[$__rate_interval])) or vector(0)"), "waiting {{account}} {{region}} {{service}}")
            .query(format!("sum by (account, region, service) (increase(awsconn_aws_quota_exhausted_total{{{i}}}[$__rate_interval])) or vector(0)"), "left {{account}} {{region}} {{service}}"),
    ];
    dashboard(
        config,
        EXPORTER_UID,
        "AWS connectivity / Exporter",
        "The exporter's own health: collectors, AWS calls and throttling, CloudWatch cost.",
        &[Var::Instance, Var::Account, Var::Region],
        &panels,
    )
}

/// A query with the dashboard variables set to "All" (`.+`), and
/// `$__rate_interval` to `rate_interval`, as Grafana sends it.
pub fn substitute_all(expr: &str, rate_interval: &str) -> String {
    expr.replace("$__rate_interval", rate_interval)
        .replace("$account", ".+")
        .replace("$region", ".+")
        .replace("$vpc_link_id", ".+")
        .replace("$instance", ".+")
}

/// `label_values(SELECTOR, LABEL)` -> (SELECTOR, LABEL).
/// The expression of a `query_result(EXPR)` variable.
pub fn query_result_query(definition: &str) -> Option<&str> {
    definition.strip_prefix("query_result(")?.strip_suffix(')')
}

pub fn label_values_query(definition: &str) -> Option<(&str, &str)> {
    let inner = definition
        .strip_prefix("label_values(")?
        .strip_suffix(')')?;
    let (selector, label) = inner.rsplit_once(',')?;
    Some((selector.trim(), label.trim()))
}

/// Every dashboard as (file name, JSON).
pub fn dashboards(config: &Config) -> Vec<(String, Value)> {
    [
        overview(config),
        vpc_link(config),
        interconnect(config),
        exporter(config),
    ]
    .into_iter()
    .map(|d| (format!("{}.json", d["uid"].as_str().unwrap_or_default()), d))
    .collect()
}
