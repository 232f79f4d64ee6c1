//! CloudWatch metrics through the real SDK (Smithy RPC v2 CBOR), translated
//! by the AWS front to moto's JSON protocol: data put with boto3 comes back.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use crate::harness::{Emulator, config_file, once, promtool_check_metrics, sample};

const US: &str = "us-east-1";

fn now_s() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

#[test]
fn default_metrics_for_what_the_inventory_found() {
    let emulator = Emulator::start("{}");
    let seeded = emulator.seed_paths(&[US]);
    let service = seeded[US]["endpoint_service_id"].as_str().unwrap();
    // The web ALB as CloudWatch's `LoadBalancer` dimension (`app/NAME/ID`).
    let alb = seeded[US]["alb_arn"].as_str().unwrap();
    let alb = alb.split_once(":loadbalancer/").unwrap().1;
    let tg = seeded[US]["web_tg"].as_str().unwrap();
    let tg = &tg[tg.find("targetgroup/").unwrap()..];
    // One point a minute from ten minutes ago to two minutes ahead, so that
    // the newest complete period has one whenever the poll runs; older
    // points (3.0) lose to newer ones (7.0).
    let now = now_s();
    let steady = |namespace: &str, metric: &str, dimensions: Value, value: f64| -> Vec<Value> {
        (-10..=2)
            .map(|minute| json!({"namespace": namespace, "metric": metric, "dimensions": dimensions.clone(), "timestamp": now + minute * 60, "value": value}))
            .collect()
    };
    let api = json!({"ApiName": "orders-api", "Stage": "prod"});
    let mut points = vec![
        json!({"namespace": "AWS/ApiGateway", "metric": "5XXError", "dimensions": api, "timestamp": now - 840, "value": 3.0}),
        // Sparse: one burst eight minutes ago and none since. A count that
        // went quiet is 0 (not the old burst, which would keep
        // AwsconnLoadBalancerErrors firing for the lookback); a host count
        // keeps its newest value.
        json!({"namespace": "AWS/ApplicationELB", "metric": "HTTPCode_ELB_503_Count", "dimensions": {"LoadBalancer": alb}, "timestamp": now - 480, "value": 25.0}),
        json!({"namespace": "AWS/ApplicationELB", "metric": "UnHealthyHostCount", "dimensions": {"LoadBalancer": alb, "TargetGroup": tg}, "timestamp": now - 480, "value": 2.0}),
    ];
    points.extend(steady("AWS/ApiGateway", "5XXError", api, 7.0));
    points.extend(steady(
        "AWS/PrivateLinkServices",
        "RstPacketsSent",
        json!({"Service Id": service}),
        42.0,
    ));
    points.extend(steady(
        "AWS/ApplicationELB",
        "HTTPCode_ELB_502_Count",
        json!({"LoadBalancer": alb}),
        17.0,
    ));
    points.extend(steady(
        "AWS/ApplicationELB",
        "TargetTLSNegotiationErrorCount",
        json!({"LoadBalancer": alb}),
        4.0,
    ));
    emulator.put_metric_data(US, &Value::Array(points));
    let config = config_file(
        "regions: [us-east-1]\ncollectors:\n  interconnect: {enabled: false}\n  cloudwatch: {period: 60s, delay: 60s, lookback: 15m}\n",
    );
    let (ok, text, stderr) = once(&emulator.url, config.path());
    assert!(ok, "{stderr}\n{text}");
    let l = "account=\"123456789012\",region=\"us-east-1\"";
    assert_eq!(
        sample(
            &text,
            &format!(
                "awsconn_cloudwatch_aws_api_gateway_5xx_error_sum_per_period{{{l},api_name=\"orders-api\",stage=\"prod\"}}"
            )
        ),
        Some(7.0),
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            &format!(
                "awsconn_cloudwatch_aws_private_link_services_rst_packets_sent_sum_per_period{{{l},service_id=\"{service}\"}}"
            )
        ),
        Some(42.0),
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            &format!("awsconn_collector_success{{collector=\"cloudwatch\",{l}}}")
        ),
        Some(1.0)
    );
    // The web ALB's errors, in the same batch; the 503s went quiet.
    for (metric, value) in [
        ("http_code_elb_502_count", 17.0),
        ("target_tls_negotiation_error_count", 4.0),
        ("http_code_elb_503_count", 0.0),
    ] {
        assert_eq!(
            sample(
                &text,
                &format!(
                    "awsconn_cloudwatch_aws_application_elb_{metric}_sum_per_period{{{l},load_balancer=\"{alb}\"}}"
                )
            ),
            Some(value),
            "{text}"
        );
    }
    assert_eq!(
        sample(
            &text,
            &format!(
                "awsconn_cloudwatch_aws_application_elb_un_healthy_host_count_minimum{{{l},load_balancer=\"{alb}\",target_group=\"{tg}\"}}"
            )
        ),
        Some(2.0),
        "{text}"
    );
    // One call for the whole default set (ceil(queries / 500): the ALB's
    // nine queries add none), and one for the daily request counts of the
    // API behind web-http-link (its idle time); billed per metric requested.
    let requests = emulator.requests();
    assert_eq!(requests["monitoring:GetMetricData"], 2, "{requests}");
    let requested = sample(&text, "awsconn_cloudwatch_metrics_requested_total").unwrap();
    assert!(
        (12.0..500.0).contains(&requested),
        "{requested} metrics requested\n{text}"
    );
    eprintln!(
        "CloudWatch for the paths world with an ALB: {requested} metrics requested in 2 GetMetricData calls"
    );
    promtool_check_metrics(&text).unwrap_or_else(|e| panic!("promtool: {e}"));
}

/// Queries go 500 to a call, and each statistic of a metric is a query of
/// its own: CloudWatch bills (and `awsconn_cloudwatch_metrics_requested_total`
/// counts) one metric requested per statistic per call.
#[test]
fn five_hundred_and_one_queries_take_two_calls() {
    let emulator = Emulator::start("{}");
    let mut config = String::from(
        "regions: [us-east-1]\ncollectors:\n  interconnect: {enabled: false}\n  cloudwatch:\n    default_metrics: false\n    metrics:\n",
    );
    for i in 0..500 {
        config.push_str(&format!(
            "      - {{namespace: Custom/Probe, metric: Latency, stat: Average, dimensions: {{Probe: p{i}}}}}\n"
        ));
    }
    // The same metric again, with a second statistic: the 501st query.
    config.push_str(
        "      - {namespace: Custom/Probe, metric: Latency, stat: Maximum, dimensions: {Probe: p0}}\n",
    );
    let t = now_s() - 300;
    emulator.put_metric_data(
        US,
        &json!([{"namespace": "Custom/Probe", "metric": "Latency", "dimensions": {"Probe": "p0"}, "timestamp": t, "value": 12.5}]),
    );
    let config = config_file(&config);
    let (ok, text, stderr) = once(&emulator.url, config.path());
    assert!(ok, "{stderr}");
    assert_eq!(emulator.requests()["monitoring:GetMetricData"], 2);
    assert_eq!(
        sample(&text, "awsconn_cloudwatch_metrics_requested_total"),
        Some(501.0),
        "{text}"
    );
    // Both statistics of p0, the second answered by the second call.
    for stat in ["average", "maximum"] {
        assert_eq!(
            sample(
                &text,
                &format!(
                    "awsconn_cloudwatch_custom_probe_latency_{stat}{{account=\"123456789012\",region=\"us-east-1\",probe=\"p0\"}}"
                )
            ),
            Some(12.5),
            "{text}"
        );
    }
}

/// The daily request counts behind `awsconn_vpc_link_idle_seconds` are asked
/// for once per `link_activity_refresh`, not on every poll.
#[test]
fn link_activity_is_reused_until_it_is_stale() {
    let emulator = Emulator::start("{}");
    emulator.seed_paths(&[US]); // web-http-link: a V2 link that web-api routes through
    let calls = |refresh: &str| {
        let config = config_file(&format!(
            "regions: [us-east-1]\ncollectors:\n  interconnect: {{enabled: false}}\n  cloudwatch: {{interval: 1s, timeout: 1s, default_metrics: false, link_activity_refresh: {refresh}}}\n"
        ));
        let before = emulator.requests()["monitoring:GetMetricData"]
            .as_u64()
            .unwrap_or(0);
        let server = crate::harness::Server::start(&emulator.url, config.path(), &[]);
        // Three more polls of the collector after the first.
        let metrics = server.wait_polls("cloudwatch", 1, 4);
        assert!(
            metrics.contains("awsconn_vpc_link_idle_seconds{account=\"123456789012\",region=\"us-east-1\",vpc_link_id="),
            "{metrics}"
        );
        drop(server);
        emulator.requests()["monitoring:GetMetricData"]
            .as_u64()
            .unwrap_or(0)
            - before
    };
    assert_eq!(calls("1h"), 1, "asked once, then reused");
    assert!(calls("0s") >= 3, "asked on every poll when told to");
}
