//! CloudWatch metrics: which to ask for (a default set for the resources the
//! inventory found, plus the config's), how to name them, and which
//! datapoint to export. Pure; `src/aws/cloudwatch.rs` does the calls.

use std::collections::{BTreeMap, BTreeSet};

use crate::inventory::{ApiType, Inventory, MetricQuery};
use crate::topology::Topology;

impl MetricQuery {
    fn new(namespace: &str, metric: &str, stat: &str, dimensions: &[(&str, &str)]) -> Self {
        Self {
            namespace: namespace.to_owned(),
            metric: metric.to_owned(),
            stat: stat.to_owned(),
            dimensions: dimensions
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        }
    }

    /// `awsconn_cloudwatch_<namespace>_<metric>_<stat>` in snake case.
    pub fn metric_name(&self) -> String {
        let stat = snake_case(&self.stat);
        // `Sum` and `SampleCount` would end the name in `_sum` and
        // `_count`, which Prometheus keeps for histograms and summaries
        // (promtool check metrics says so): they are the period's.
        let stat = match stat.as_str() {
            "sum" | "sample_count" => format!("{stat}_per_period"),
            _ => stat,
        };
        format!(
            "awsconn_cloudwatch_{}_{}_{stat}",
            snake_case(&self.namespace),
            snake_case(&self.metric),
        )
    }
}

/// `AWS/ApiGateway` -> `aws_api_gateway`, `5XXError` -> `5xx_error`,
/// `UnHealthyHostCount` -> `un_healthy_host_count`, `Service Id` -> `service_id`.
pub fn snake_case(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len() + 4);
    for (i, &c) in chars.iter().enumerate() {
        if c.is_ascii_alphanumeric() {
            if c.is_ascii_uppercase() && i > 0 {
                let prev = chars[i - 1];
                let next_lower = chars.get(i + 1).is_some_and(|n| n.is_ascii_lowercase());
                let boundary =
                    prev.is_ascii_lowercase() || (prev.is_ascii_uppercase() && next_lower);
                if boundary && !out.ends_with('_') {
                    out.push('_');
                }
            }
            out.push(c.to_ascii_lowercase());
        } else if !out.is_empty() && !out.ends_with('_') {
            out.push('_');
        }
    }
    while out.ends_with('_') {
        out.pop();
    }
    out
}

/// `arn:…:loadbalancer/net/name/id` -> `net/name/id` (the `LoadBalancer` dimension);
/// `arn:…:targetgroup/name/id` -> `targetgroup/name/id` (the `TargetGroup` dimension).
pub fn elb_dimension(arn: &str) -> Option<&str> {
    let resource = arn.rsplit_once(':')?.1;
    resource
        .strip_prefix("loadbalancer/")
        .or_else(|| resource.starts_with("targetgroup/").then_some(resource))
}

/// The `Count` queries that tell when requests last went through each V2
/// link: one per API that routes through a V2 link (HTTP APIs by `ApiId`,
/// REST APIs by `ApiName`, every stage together), with the links it uses.
pub fn link_activity_queries(topology: &Topology) -> Vec<(MetricQuery, BTreeSet<String>)> {
    let mut by_query: BTreeMap<MetricQuery, BTreeSet<String>> = BTreeMap::new();
    for (api_id, links) in topology.v2_links_by_api() {
        let Some(api) = topology.api(api_id) else {
            continue;
        };
        let query = match api.api_type {
            ApiType::Http => {
                MetricQuery::new("AWS/ApiGateway", "Count", "Sum", &[("ApiId", &api.id)])
            }
            ApiType::Rest => {
                MetricQuery::new("AWS/ApiGateway", "Count", "Sum", &[("ApiName", &api.name)])
            }
        };
        by_query.entry(query).or_default().extend(links);
    }
    by_query.into_iter().collect()
}

/// Per link, the newest day with requests among its APIs' (`None`: none in
/// the window); `newest` answers the queries in order.
pub fn last_requests(
    queries: &[(MetricQuery, BTreeSet<String>)],
    newest: &[Option<i64>],
) -> BTreeMap<String, Option<i64>> {
    let mut out: BTreeMap<String, Option<i64>> = BTreeMap::new();
    for ((_, links), day) in queries.iter().zip(newest) {
        for link in links {
            let seen = out.entry(link.clone()).or_insert(None);
            *seen = (*seen).max(*day);
        }
    }
    out
}

/// The `AWS/ApplicationELB` errors of the default set, per load balancer
/// (`Sum`): `AwsconnLoadBalancerErrors` watches the 502, 503, 504, target
/// connection and target TLS counts; the 5XX total and rejected
/// connections are for dashboards.
pub const ALB_ERRORS: [&str; 7] = [
    "HTTPCode_ELB_502_Count",
    "HTTPCode_ELB_503_Count",
    "HTTPCode_ELB_504_Count",
    "HTTPCode_ELB_5XX_Count",
    "TargetConnectionErrorCount",
    "TargetTLSNegotiationErrorCount",
    "RejectedConnectionCount",
];

/// The `AWS/NetworkELB` resets of the default set, per load balancer (`Sum`).
const NLB_ERRORS: [&str; 3] = [
    "TCP_Target_Reset_Count",
    "TCP_ELB_Reset_Count",
    "PortAllocationErrorCount",
];

/// A load balancer's `errors` (`Sum`), and the health of each of its target
/// groups (`Minimum`).
fn balancer_queries(
    out: &mut BTreeSet<MetricQuery>,
    lb: &crate::inventory::LoadBalancing,
    balancer: &crate::inventory::LoadBalancer,
    namespace: &str,
    errors: &[&str],
) {
    let Some(dim) = elb_dimension(&balancer.arn) else {
        return;
    };
    for metric in errors {
        out.insert(MetricQuery::new(
            namespace,
            metric,
            "Sum",
            &[("LoadBalancer", dim)],
        ));
    }
    for group in lb
        .target_groups
        .iter()
        .filter(|g| g.load_balancer_arns.contains(&balancer.arn))
    {
        let Some(tg) = elb_dimension(&group.arn) else {
            continue;
        };
        for metric in ["UnHealthyHostCount", "HealthyHostCount"] {
            out.insert(MetricQuery::new(
                namespace,
                metric,
                "Minimum",
                &[("LoadBalancer", dim), ("TargetGroup", tg)],
            ));
        }
    }
}

/// The default metric set for what the inventory found.
pub fn default_queries(inventory: &Inventory) -> Vec<MetricQuery> {
    let mut out = BTreeSet::new();
    for api in inventory.apis.iter().flatten() {
        for stage in &api.stages {
            match api.api_type {
                ApiType::Rest => {
                    let dims = [
                        ("ApiName", api.name.as_str()),
                        ("Stage", stage.name.as_str()),
                    ];
                    for (metric, stat) in [
                        ("5XXError", "Sum"),
                        ("4XXError", "Sum"),
                        ("Count", "Sum"),
                        ("Latency", "Average"),
                        ("IntegrationLatency", "Average"),
                    ] {
                        out.insert(MetricQuery::new("AWS/ApiGateway", metric, stat, &dims));
                    }
                }
                ApiType::Http => {
                    let dims = [("ApiId", api.id.as_str()), ("Stage", stage.name.as_str())];
                    for (metric, stat) in [
                        ("5xx", "Sum"),
                        ("4xx", "Sum"),
                        ("Count", "Sum"),
                        ("IntegrationLatency", "Average"),
                    ] {
                        out.insert(MetricQuery::new("AWS/ApiGateway", metric, stat, &dims));
                    }
                }
            }
        }
    }
    if let Some(lb) = &inventory.load_balancing {
        // ALBs (REST APIs on V2 links and HTTP APIs reach them): the 5XXs
        // the ALB itself answers (502 a target's bad answer or reset, 503
        // no healthy target, 504 a target's timeout), the connections and
        // TLS handshakes to targets that fail. NLBs: the resets.
        for (lb_type, namespace, errors) in [
            ("application", "AWS/ApplicationELB", &ALB_ERRORS[..]),
            ("network", "AWS/NetworkELB", &NLB_ERRORS[..]),
        ] {
            for balancer in lb.load_balancers.iter().filter(|b| b.lb_type == lb_type) {
                balancer_queries(&mut out, lb, balancer, namespace, errors);
            }
        }
    }
    for service in inventory.endpoint_services.iter().flatten() {
        for metric in ["RstPacketsSent", "NewConnections"] {
            out.insert(MetricQuery::new(
                "AWS/PrivateLinkServices",
                metric,
                "Sum",
                &[("Service Id", service.service_id.as_str())],
            ));
        }
    }
    out.into_iter().collect()
}

/// The time range of a GetMetricData call: periods that are complete.
/// `end` is `now - delay` rounded down to the period, so the newest period
/// returned has ended and CloudWatch has had `delay` to aggregate it; the
/// lookback is rounded up to whole periods, so that every datapoint starts
/// on a period boundary and the newest one is the newest period's.
pub fn query_range(now_s: i64, period_s: i64, delay_s: i64, lookback_s: i64) -> (i64, i64) {
    let period = period_s.max(1);
    let end = (now_s - delay_s).div_euclid(period) * period;
    let periods = (lookback_s.max(period) + period - 1) / period;
    (end - periods * period, end)
}

/// What a query's newest datapoint `(at_s, value)` says of the newest
/// complete period (starting at `newest_period_s`). CloudWatch writes no
/// datapoint for a period without events, so a count (`Sum`,
/// `SampleCount`) whose newest datapoint is older went quiet since: 0, not
/// the old burst (which would keep an alert on it firing for the whole
/// lookback). Other statistics (a latency, a host count) keep their newest
/// value: a missing period says nothing of them.
pub fn current_value(query: &MetricQuery, (at_s, value): (i64, f64), newest_period_s: i64) -> f64 {
    let counts = matches!(query.stat.as_str(), "Sum" | "SampleCount");
    if counts && at_s < newest_period_s {
        0.0
    } else {
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::{Api, EndpointService, LoadBalancer, LoadBalancing, Stage, TargetGroup};

    #[test]
    fn a_count_that_went_quiet_is_zero_other_statistics_keep_their_value() {
        let query = |stat: &str| MetricQuery::new("AWS/ApplicationELB", "M", stat, &[]);
        let (now, newest) = (10_000, 9_780);
        assert_eq!(query_range(now, 60, 120, 600).1 - 60, newest);
        // A lookback that is not a whole number of periods starts on one.
        assert_eq!(query_range(10_000, 420, 120, 600), (8_820, 9_660));
        for stat in ["Sum", "SampleCount"] {
            assert_eq!(current_value(&query(stat), (newest, 5.0), newest), 5.0);
            assert_eq!(current_value(&query(stat), (newest - 60, 5.0), newest), 0.0);
        }
        for stat in ["Minimum", "Average", "p99"] {
            assert_eq!(
                current_value(&query(stat), (newest - 540, 2.0), newest),
                2.0
            );
        }
    }

    #[test]
    fn snake_case_names() {
        assert_eq!(snake_case("AWS/ApiGateway"), "aws_api_gateway");
        assert_eq!(snake_case("5XXError"), "5xx_error");
        assert_eq!(snake_case("4xx"), "4xx");
        assert_eq!(snake_case("UnHealthyHostCount"), "un_healthy_host_count");
        assert_eq!(
            snake_case("TCP_Target_Reset_Count"),
            "tcp_target_reset_count"
        );
        assert_eq!(snake_case("Service Id"), "service_id");
        assert_eq!(
            snake_case("AWS/PrivateLinkServices"),
            "aws_private_link_services"
        );
        assert_eq!(snake_case("IntegrationLatency"), "integration_latency");
        assert_eq!(snake_case("p99"), "p99");
    }

    #[test]
    fn metric_names() {
        let q = MetricQuery::new("AWS/ApiGateway", "5XXError", "Sum", &[]);
        assert_eq!(
            q.metric_name(),
            "awsconn_cloudwatch_aws_api_gateway_5xx_error_sum_per_period"
        );
        let q = MetricQuery::new("AWS/NetworkELB", "ActiveFlowCount", "SampleCount", &[]);
        assert_eq!(
            q.metric_name(),
            "awsconn_cloudwatch_aws_network_elb_active_flow_count_sample_count_per_period"
        );
        let q = MetricQuery::new("AWS/ApiGateway", "Latency", "p99", &[]);
        assert_eq!(
            q.metric_name(),
            "awsconn_cloudwatch_aws_api_gateway_latency_p99"
        );
    }

    #[test]
    fn elb_dimensions() {
        assert_eq!(
            elb_dimension("arn:aws:elasticloadbalancing:us-east-1:1:loadbalancer/net/orders/50dc"),
            Some("net/orders/50dc")
        );
        assert_eq!(
            elb_dimension("arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/orders-tg/73e2"),
            Some("targetgroup/orders-tg/73e2")
        );
        assert_eq!(elb_dimension("arn:aws:ec2:x"), None);
    }

    #[test]
    fn ranges_end_on_a_complete_period() {
        assert_eq!(query_range(1_000_130, 60, 120, 600), (999_360, 999_960));
        let (start, end) = query_range(1_000_000, 300, 0, 60);
        assert_eq!(end % 300, 0);
        assert_eq!(end - start, 300, "at least one period");
    }

    #[test]
    fn default_set_covers_apis_load_balancers_and_services() {
        let stage = Stage {
            name: "prod".into(),
            ..Default::default()
        };
        let lb = "arn:aws:elasticloadbalancing:us-east-1:1:loadbalancer/net/orders/1";
        let inventory = Inventory {
            apis: Some(vec![
                Api {
                    id: "r1".into(),
                    name: "orders".into(),
                    api_type: ApiType::Rest,
                    stages: vec![stage.clone()],
                    ..Default::default()
                },
                Api {
                    id: "h1".into(),
                    name: "web".into(),
                    api_type: ApiType::Http,
                    stages: vec![stage],
                    ..Default::default()
                },
            ]),
            load_balancing: Some(LoadBalancing {
                load_balancers: vec![LoadBalancer {
                    name: "orders".into(),
                    ..crate::testkit::load_balancer(lb)
                }],
                target_groups: vec![TargetGroup {
                    health_unread: None,
                    health_left: false,
                    arn: "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/tg/2".into(),
                    name: "tg".into(),
                    protocol: "TCP".into(),
                    port: Some(80),
                    health_check_port: None,
                    target_type: "ip".into(),
                    vpc_id: "v".into(),
                    load_balancer_arns: vec![lb.into()],
                    targets: vec![],
                }],
                ..Default::default()
            }),
            endpoint_services: Some(vec![EndpointService {
                service_id: "vpce-svc-1".into(),
                service_name: "n".into(),
                state: "available".into(),
                load_balancer_arns: vec![lb.into()],
                acceptance_required: true,
                ..Default::default()
            }]),
            ..Default::default()
        };
        let queries = default_queries(&inventory);
        assert_eq!(queries.len(), 5 + 4 + 3 + 2 + 2);
        assert!(queries.iter().any(|q| q.metric == "5XXError"
            && q.dimensions
                == [
                    ("ApiName".to_owned(), "orders".to_owned()),
                    ("Stage".to_owned(), "prod".to_owned())
                ]));
        assert!(
            queries
                .iter()
                .any(|q| q.metric == "5xx"
                    && q.dimensions[0] == ("ApiId".to_owned(), "h1".to_owned()))
        );
        assert!(queries.iter().any(|q| q.metric == "HealthyHostCount"
            && q.dimensions[1] == ("TargetGroup".to_owned(), "targetgroup/tg/2".to_owned())));
        assert!(
            queries
                .iter()
                .any(|q| q.namespace == "AWS/PrivateLinkServices"
                    && q.dimensions[0].0 == "Service Id")
        );
        assert!(queries.iter().all(|q| q.namespace != "AWS/ApplicationELB"));
    }

    /// An ALB a link leads to: its 5XXs, failed connections and TLS
    /// handshakes to targets, and each group's health.
    #[test]
    fn the_default_set_watches_albs() {
        let inventory = crate::testkit::v2_path();
        let alb: Vec<MetricQuery> = default_queries(&inventory)
            .into_iter()
            .filter(|q| q.namespace == "AWS/ApplicationELB")
            .collect();
        assert_eq!(alb.len(), ALB_ERRORS.len() + 2, "{alb:?}");
        for metric in ALB_ERRORS {
            assert!(
                alb.iter().any(|q| q.metric == metric
                    && q.stat == "Sum"
                    && q.dimensions == [("LoadBalancer".to_owned(), "app/web/1".to_owned())]),
                "{metric}"
            );
        }
        let healthy = alb
            .iter()
            .find(|q| q.metric == "UnHealthyHostCount")
            .unwrap();
        assert_eq!(healthy.stat, "Minimum");
        assert_eq!(
            healthy.dimensions[1],
            ("TargetGroup".to_owned(), "targetgroup/web/3".to_owned())
        );
        assert_eq!(
            alb.iter()
                .find(|q| q.metric == "HTTPCode_ELB_502_Count")
                .unwrap()
                .metric_name(),
            "awsconn_cloudwatch_aws_application_elb_http_code_elb_502_count_sum_per_period"
        );
    }

    #[test]
    fn link_activity_asks_once_per_api_of_a_v2_link() {
        use crate::testkit::v2_path;
        let mut inventory = v2_path();
        // A REST API on the same V2 link, and one on a V1 link (not asked about).
        let mut rest = inventory.apis.as_ref().unwrap()[0].clone();
        rest.id = "r1".into();
        rest.name = "orders".into();
        rest.api_type = ApiType::Rest;
        rest.integrations[0].uri = "https://orders.internal/".into();
        rest.integrations[0].integration_target = Some(crate::testkit::ALB.to_owned());
        let mut v1 = rest.clone();
        v1.id = "r2".into();
        v1.name = "legacy".into();
        v1.integrations[0].connection_id = "v1link".into();
        inventory.apis.as_mut().unwrap().extend([rest, v1]);
        let queries = link_activity_queries(&Topology::build(&inventory));
        let asked: Vec<String> = queries
            .iter()
            .map(|(q, links)| {
                assert_eq!((q.metric.as_str(), q.stat.as_str()), ("Count", "Sum"));
                let links: Vec<&str> = links.iter().map(String::as_str).collect();
                format!("{:?} -> {}", q.dimensions, links.join(","))
            })
            .collect();
        assert_eq!(
            asked,
            [
                r#"[("ApiId", "http1")] -> v2link"#,
                r#"[("ApiName", "orders")] -> v2link"#,
            ]
        );
        // The newest day among the link's APIs; none in the window stays None.
        assert_eq!(
            last_requests(&queries, &[Some(86_400), Some(3 * 86_400)]),
            BTreeMap::from([("v2link".to_owned(), Some(3 * 86_400))])
        );
        assert_eq!(
            last_requests(&queries, &[None, None]),
            BTreeMap::from([("v2link".to_owned(), None)])
        );
    }
}
