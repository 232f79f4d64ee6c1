//! The network-path inventory end to end: integrations and stages, load
//! balancers, listeners, target health, endpoint services and connections,
//! security groups and NACLs — against moto, with the front answering what
//! moto lacks (endpoint connections, unhealthy targets, the PrivateLink
//! enforcement field, REST integrations' connectionId).

use std::collections::BTreeMap;

use serde_json::json;

use crate::harness::{Emulator, config_file, once, promtool_check_metrics, sample, sample_sum};

const US: &str = "us-east-1";
const EU: &str = "eu-west-1";

fn labels(region: &str) -> String {
    format!("account=\"123456789012\",region=\"{region}\"")
}

/// Seeds whole paths in two regions and sets the scenario that breaks some of them in us-east-1.
fn seeded() -> (Emulator, serde_json::Value) {
    let emulator = Emulator::start("{}");
    let seeded = emulator.seed_paths(&[US, EU]);
    emulator.set_scenario(&scenario(&seeded[US]));
    (emulator, seeded)
}

/// The scenario that breaks some of the paths of `us` (what the seed made
/// in us-east-1).
fn scenario(us: &serde_json::Value) -> serde_json::Value {
    let instances: Vec<&str> = us["instances"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let service = us["endpoint_service_id"].as_str().unwrap();
    json!({
        "load_balancers": {
            "us-east-1/orders-nlb": {"privatelink_inbound_rules": "on"},
            "eu-west-1/orders-nlb": {"privatelink_inbound_rules": "off"},
            "us-east-1/web-alb": {"state": "active_impaired", "reason": "one AZ impaired"}
        },
        "target_health": {
            "orders-tg": {instances[0]: {"state": "unhealthy", "reason": "Target.FailedHealthChecks", "description": "Health checks failed"}}
        },
        "endpoint_connections": {
            service: [
                {"vpc_endpoint_id": "vpce-0apigw000000001", "owner": "392220576650", "state": "available"},
                {"vpc_endpoint_id": "vpce-0rejected00002", "owner": "111122223333", "state": "rejected"},
                {"vpc_endpoint_id": "vpce-0pending000003", "owner": "444455556666", "state": "pendingAcceptance"}
            ]
        }
    })
}

#[test]
fn every_family_of_the_path_inventory() {
    let (emulator, seeded) = seeded();
    let config = config_file(
        "regions: [us-east-1, eu-west-1]\ncollectors: {interconnect: {enabled: false}}\n",
    );
    let (ok, text, stderr) = once(&emulator.url, config.path());
    assert!(ok, "{stderr}\n{text}");
    let us = &seeded[US];
    let nlb = us["nlb_arn"].as_str().unwrap();
    let alb = us["alb_arn"].as_str().unwrap();
    let l = labels(US);

    // Integrations per stage, stage variables resolved; the HTTP integration's
    // port comes from the ALB listener it names.
    let rest = format!(
        "awsconn_integration_info{{{l},api_id=\"{}\",api_type=\"rest\",stage=\"prod\",vpc_link_id=\"{}\",target=\"orders.internal.example.com\",port=\"443\",protocol=\"https\"}}",
        us["rest_api"].as_str().unwrap(),
        us["vpc_links"]["orders-rest-link"].as_str().unwrap()
    );
    assert_eq!(sample(&text, &rest), Some(1.0), "{rest}\n{text}");
    let http = format!(
        "awsconn_integration_info{{{l},api_id=\"{}\",api_type=\"http\",stage=\"$default\",vpc_link_id=\"{}\",target=\"{}\",port=\"80\",protocol=\"http\"}}",
        us["http_api"].as_str().unwrap(),
        us["vpc_links"]["web-http-link"].as_str().unwrap(),
        us["web_listener"].as_str().unwrap()
    );
    assert_eq!(sample(&text, &http), Some(1.0), "{http}\n{text}");
    // The dev stage lacks a variable the URI needs: a finding, not a failure.
    let unresolved = format!(
        "awsconn_integration_unresolved{{{l},api_id=\"{}\",api_type=\"rest\",stage=\"dev\",integration=\"GET /orders\",reason=\"stage variable ordersHost is not defined in stage dev\"}}",
        us["rest_api"].as_str().unwrap()
    );
    assert_eq!(sample(&text, &unresolved), Some(1.0), "{text}");

    // Load balancer states, the deleted one included.
    let state = |region: &str, arn: &str, kind: &str, s: &str| {
        format!(
            "awsconn_load_balancer_state{{{},load_balancer=\"{arn}\",type=\"{kind}\",state=\"{s}\"}}",
            labels(region)
        )
    };
    assert_eq!(
        sample(&text, &state(US, nlb, "network", "active")),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, &state(US, alb, "application", "active_impaired")),
        Some(1.0)
    );
    assert_eq!(
        sample(&text, &state(US, alb, "application", "active")),
        Some(0.0)
    );
    let gone = us["gone_nlb_arn"].as_str().unwrap();
    assert_eq!(
        sample(&text, &state(US, gone, "", "not_found")),
        Some(1.0),
        "{text}"
    );

    let listener = |arn: &str, port: u16, protocol: &str| {
        format!(
            "awsconn_load_balancer_listener_info{{{l},load_balancer=\"{arn}\",port=\"{port}\",protocol=\"{protocol}\"}}"
        )
    };
    assert_eq!(sample(&text, &listener(nlb, 443, "tcp")), Some(1.0));
    assert_eq!(sample(&text, &listener(alb, 80, "http")), Some(1.0));

    let enforced = |region: &str, arn: &str| {
        format!(
            "awsconn_load_balancer_privatelink_inbound_rules_enforced{{{},load_balancer=\"{arn}\"}}",
            labels(region)
        )
    };
    assert_eq!(sample(&text, &enforced(US, nlb)), Some(1.0));
    assert_eq!(
        sample(
            &text,
            &enforced(EU, seeded[EU]["nlb_arn"].as_str().unwrap())
        ),
        Some(0.0)
    );

    // Target health: one unhealthy (the scenario), one unused (a stopped instance), one healthy.
    let tg = us["orders_tg"].as_str().unwrap();
    let targets = |region: &str, lb: &str, tg: &str, s: &str| {
        format!(
            "awsconn_target_group_targets{{{},load_balancer=\"{lb}\",target_group=\"{tg}\",state=\"{s}\"}}",
            labels(region)
        )
    };
    assert_eq!(
        sample(&text, &targets(US, nlb, tg, "healthy")),
        Some(1.0),
        "{text}"
    );
    assert_eq!(sample(&text, &targets(US, nlb, tg, "unhealthy")), Some(1.0));
    assert_eq!(sample(&text, &targets(US, nlb, tg, "unused")), Some(1.0));
    assert_eq!(sample(&text, &targets(US, nlb, tg, "draining")), Some(0.0));
    let reasons = format!(
        "awsconn_target_group_unhealthy_reasons{{{l},load_balancer=\"{nlb}\",target_group=\"{tg}\",reason=\"Target.FailedHealthChecks\"}}"
    );
    assert_eq!(sample(&text, &reasons), Some(1.0), "{text}");
    // The other region is healthy.
    let eu = &seeded[EU];
    let eu_nlb = eu["nlb_arn"].as_str().unwrap();
    let eu_tg = eu["orders_tg"].as_str().unwrap();
    assert_eq!(
        sample(&text, &targets(EU, eu_nlb, eu_tg, "healthy")),
        Some(2.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, &targets(EU, eu_nlb, eu_tg, "unhealthy")),
        Some(0.0)
    );
    // Per-target series are opt-in.
    assert!(!text.contains("awsconn_target_health{"));

    // PrivateLink: the service and API Gateway's connections, camelCase states lower-cased.
    let service = us["endpoint_service_id"].as_str().unwrap();
    let svc = format!(
        "awsconn_endpoint_service_state{{{l},service_id=\"{service}\",load_balancer=\"{nlb}\",state=\"available\"}}"
    );
    assert_eq!(sample(&text, &svc), Some(1.0), "{text}");
    let connection = |endpoint: &str, owner: &str, s: &str| {
        format!(
            "awsconn_endpoint_connection_state{{{l},service_id=\"{service}\",vpc_endpoint_id=\"{endpoint}\",endpoint_owner=\"{owner}\",state=\"{s}\"}}"
        )
    };
    assert_eq!(
        sample(
            &text,
            &connection("vpce-0apigw000000001", "392220576650", "available")
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &text,
            &connection("vpce-0rejected00002", "111122223333", "rejected")
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &text,
            &connection("vpce-0pending000003", "444455556666", "pendingacceptance")
        ),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            &connection("vpce-0pending000003", "444455556666", "available")
        ),
        Some(0.0)
    );

    for collector in ["vpc_links", "load_balancers", "endpoints", "network_rules"] {
        for region in [US, EU] {
            let s = format!(
                "awsconn_collector_success{{collector=\"{collector}\",{}}}",
                labels(region)
            );
            assert_eq!(sample(&text, &s), Some(1.0), "{s}");
        }
    }
    promtool_check_metrics(&text).unwrap_or_else(|e| panic!("promtool: {e}"));
}

#[test]
fn per_target_health_when_enabled() {
    let (emulator, seeded) = seeded();
    let config = config_file(
        "regions: [us-east-1]\ncollectors:\n  interconnect: {enabled: false}\n  load_balancers: {per_target_health: true}\n",
    );
    let (ok, text, stderr) = once(&emulator.url, config.path());
    assert!(ok, "{stderr}");
    let us = &seeded[US];
    let tg = us["orders_tg"].as_str().unwrap();
    let first = us["instances"][0].as_str().unwrap();
    let series = format!(
        "awsconn_target_health{{{},target_group=\"{tg}\",target=\"{first}\",port=\"8080\",state=\"unhealthy\"}}",
        labels(US)
    );
    assert_eq!(sample_sum(&text, &series), Some(1.0), "{text}");
}

/// The calls one poll makes for a fixed inventory: the minimum the APIs allow.
#[test]
fn a_poll_makes_exactly_the_calls_it_needs() {
    let (emulator, seeded) = seeded();
    let config = config_file("regions: [us-east-1]\n");
    let (made, _) = calls_of_one_poll(&emulator, &config);
    let expected: BTreeMap<String, u64> = [
        ("sts:GetCallerIdentity", 1),
        // API Gateway: one page of each list, then per API (1 REST, 1 HTTP) its resources or integrations and stages.
        ("apigateway:GetVpcLinks", 1),
        ("apigateway:GetRestApis", 1),
        ("apigateway:GetResources", 1),
        ("apigateway:GetStages", 1),
        ("apigatewayv2:GetVpcLinks", 1),
        ("apigatewayv2:GetApis", 1),
        ("apigatewayv2:GetIntegrations", 1),
        ("apigatewayv2:GetStages", 1),
        // ELBv2: one page of load balancers and of target groups; per kept load balancer its
        // listeners (orders-nlb, web-alb; gone-nlb is gone), per kept target group its health.
        ("elasticloadbalancing:DescribeLoadBalancers", 1),
        ("elasticloadbalancing:DescribeListeners", 2),
        ("elasticloadbalancing:DescribeTargetGroups", 1),
        ("elasticloadbalancing:DescribeTargetHealth", 2),
        // EC2: batched by filters.
        ("ec2:DescribeVpcEndpointServiceConfigurations", 1),
        ("ec2:DescribeVpcEndpointConnections", 1),
        ("ec2:DescribeNetworkInterfaces", 2),
        ("ec2:DescribeSecurityGroups", 1),
        ("ec2:DescribeNetworkAcls", 1),
        ("ec2:DescribeSubnets", 1),
        // The REST prod stage logs at INFO, the HTTP prod stage has a JSON
        // access log: one page of each group.
        ("logs:FilterLogEvents", 2),
        // CloudWatch: the whole default metric set in one GetMetricData call,
        // and one for the daily request counts of the V2 link's API.
        ("monitoring:GetMetricData", 2),
        ("interconnect:ListConnections", 1),
        ("interconnect:ListEnvironments", 1),
    ]
    .into_iter()
    .map(|(k, n)| (k.to_owned(), n))
    .collect();
    assert_eq!(made, expected);

    // Tags and filters, in the same world. Named tags reach the info
    // series at the cost the docs give (inline, 20 load balancers a
    // DescribeTags, a ListTagsForResource per connection); what the
    // filters leave out is listed and never read further.
    let us = &seeded[US];
    let mut world = scenario(us);
    world["interconnect"] = json!({"connections": [
        {"id": "mcc-gcpprod1", "description": "prod to gcp", "bandwidth": "1Gbps",
         "attachPoint": {"directConnectGateway": "5f0c1d2e-3a4b-4c5d-8e6f-7a8b9c0d1e2f"}, "environmentId": "gcp-use4",
         "provider": {"cloudServiceProvider": "google"}, "location": "us-east4", "state": "available",
         "tags": {"Team": "network", "Secret": "s3cr3t"}}
    ]});
    emulator.set_scenario(&world);
    let config = config_file(
        "regions: [us-east-1]\ntags_as_labels: [Team]\nwatch:\n  vpc_links: {exclude_tags: {Team: gone}}\n  apis: {names: ['orders-.*']}\n",
    );
    let (made, text) = calls_of_one_poll(&emulator, &config);
    for (call, n) in [
        ("apigateway:GetVpcLinks", 1),
        ("apigateway:GetRestApis", 1),
        ("apigateway:GetResources", 1),
        ("apigateway:GetStages", 1),
        ("apigatewayv2:GetVpcLinks", 1),
        ("apigatewayv2:GetApis", 1),
        // web-api is left out: neither its integrations nor its stages.
        ("apigatewayv2:GetIntegrations", 0),
        ("apigatewayv2:GetStages", 0),
        // Only orders-nlb is linked now (web-alb through web-api, gone-nlb
        // through the link left out): its listeners, its tags, its group.
        ("elasticloadbalancing:DescribeLoadBalancers", 1),
        ("elasticloadbalancing:DescribeListeners", 1),
        ("elasticloadbalancing:DescribeTags", 1),
        ("elasticloadbalancing:DescribeTargetHealth", 1),
        ("ec2:DescribeVpcEndpointServiceConfigurations", 1),
        ("interconnect:ListConnections", 1),
        ("interconnect:ListTagsForResource", 1),
        ("logs:FilterLogEvents", 1),
    ] {
        assert_eq!(made.get(call).copied().unwrap_or(0), n, "{call}: {made:?}");
    }
    let l = labels(US);
    let links = &us["vpc_links"];
    let nlb = us["nlb_arn"].as_str().unwrap();
    let service = us["endpoint_service_id"].as_str().unwrap();
    for series in [
        format!(
            "awsconn_vpc_link_info{{{l},vpc_link_id=\"{}\",name=\"orders-rest-link\",api_type=\"rest\",version=\"v1\",team=\"orders\"}}",
            links["orders-rest-link"].as_str().unwrap()
        ),
        format!(
            "awsconn_vpc_link_info{{{l},vpc_link_id=\"{}\",name=\"web-http-link\",api_type=\"http\",version=\"v2\",team=\"web\"}}",
            links["web-http-link"].as_str().unwrap()
        ),
        format!(
            "awsconn_api_info{{{l},api_id=\"{}\",name=\"orders-api\",api_type=\"rest\",team=\"orders\"}}",
            us["rest_api"].as_str().unwrap()
        ),
        format!(
            "awsconn_load_balancer_info{{{l},load_balancer=\"{nlb}\",name=\"orders-nlb\",type=\"network\",scheme=\"internal\",team=\"orders\"}}"
        ),
        format!(
            "awsconn_endpoint_service_info{{{l},service_id=\"{service}\",service_name=\"com.amazonaws.vpce.us-east-1.{service}\",team=\"orders\"}}"
        ),
        format!("awsconn_unwatched_resources{{{l},resource=\"vpc_link\"}}"),
        format!("awsconn_unwatched_resources{{{l},resource=\"api\"}}"),
    ] {
        assert_eq!(sample(&text, &series), Some(1.0), "{series}\n{text}");
    }
    let connection = text
        .lines()
        .find(|l| l.starts_with("awsconn_interconnect_connection_info{"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(connection.ends_with(",team=\"network\"} 1"), "{connection}");
    // Nothing of what was left out, and no tag that was not named.
    let gone = links["gone-rest-link"].as_str().unwrap();
    assert!(!text.contains(gone), "{text}");
    assert!(!text.contains(us["http_api"].as_str().unwrap()), "{text}");
    assert!(
        !text.contains("s3cr3t") && !text.contains("secret="),
        "{text}"
    );
    assert_eq!(text.matches("team=").count(), 6, "{text}");
    // The policy grants the tag reads now, and everything the poll made.
    let granted = crate::harness::actions_granted(config.path());
    let seen = crate::harness::actions_seen(&text);
    assert!(seen.is_subset(&granted), "{seen:?} {granted:?}");
    for action in [
        "elasticloadbalancing:DescribeTags",
        "interconnect:ListTagsForResource",
    ] {
        assert!(seen.contains(action), "{action} {seen:?}");
    }
}

/// The calls one `once` makes, by `service:Operation`, and its exposition.
fn calls_of_one_poll(
    emulator: &Emulator,
    config: &tempfile::NamedTempFile,
) -> (BTreeMap<String, u64>, String) {
    let before = emulator.requests();
    let (ok, text, stderr) = once(&emulator.url, config.path());
    assert!(ok, "{stderr}\n{text}");
    let after = emulator.requests();
    let count = |key: &str| after[key].as_u64().unwrap_or(0) - before[key].as_u64().unwrap_or(0);
    let made = after
        .as_object()
        .unwrap()
        .keys()
        .map(|k| (k.clone(), count(k)))
        .filter(|(_, n)| *n > 0)
        .collect();
    (made, text)
}

/// `iam-policy` grants exactly the operations a full poll performs.
#[test]
fn iam_policy_matches_the_operations_of_a_full_poll() {
    let (emulator, _) = seeded();
    let config = config_file("regions: [us-east-1]\n");
    let (ok, text, stderr) = once(&emulator.url, config.path());
    assert!(ok, "{stderr}");
    let seen = crate::harness::actions_seen(&text);
    let granted = crate::harness::actions_granted(config.path());
    // GetManagedPrefixListEntries is only called when a rule references a
    // prefix list; the certificate calls only for TLS listeners, which this
    // world has not (the runbook world checks those); ListAttachPoints only
    // for an Interconnect environment with connections (interconnect.rs).
    let mut expected = seen.clone();
    expected.extend(
        [
            "ec2:GetManagedPrefixListEntries",
            "elasticloadbalancing:DescribeListenerCertificates",
            "acm:DescribeCertificate",
            "interconnect:ListAttachPoints",
        ]
        .map(str::to_owned),
    );
    assert_eq!(granted, expected);
}

/// One account denied does not touch another: each account's collectors
/// report on their own. An account's regions share its id and its role's
/// credentials, and AssumeRole is counted and its failure logged once.
#[test]
fn a_denied_account_fails_alone() {
    let emulator = Emulator::start(
        r#"{"faults": [
            {"service": "sts", "operation": "AssumeRole", "kind": "error", "status": 403, "code": "AccessDenied", "message": "not allowed to assume", "times": 1},
            {"access_key_prefix": "ASIA", "kind": "error", "status": 403, "code": "AccessDenied", "message": "User is not authorized"}]}"#,
    );
    emulator.seed(&[US]);
    let config = config_file(
        "accounts:\n  - {}\n  - role_arn: arn:aws:iam::111111111111:role/awsconn-read\n    external_id: example\nregions: [us-east-1, eu-west-1]\ncollectors: {interconnect: {enabled: false}}\naws: {max_attempts: 1}\n",
    );
    let (ok, text, stderr) = once(&emulator.url, config.path());
    assert!(!ok, "one account fails");
    let sts = |operation: &str, outcome: &str| {
        sample_sum(
            &text,
            &format!("awsconn_aws_api_requests_total{{service=\"sts\",operation=\"{operation}\",outcome=\"{outcome}\"}}"),
        )
        .unwrap_or(0.0)
    };
    assert_eq!(
        sts("GetCallerIdentity", "ok"),
        1.0,
        "one account, two regions, one question\n{text}"
    );
    assert!(sts("AssumeRole", "denied") >= 1.0, "{text}");
    // A GetCallerIdentity whose credentials could not be had never reached
    // the network: neither counted nor timed.
    assert_eq!(sts("GetCallerIdentity", "error"), 0.0, "{text}");
    // Labelled with the role's account, in the region STS is called in.
    assert!(
        sample(
            &text,
            "awsconn_aws_api_requests_total{service=\"sts\",operation=\"AssumeRole\",outcome=\"denied\",account=\"111111111111\",region=\"us-east-1\"}"
        )
        .is_some_and(|n| n >= 1.0),
        "{text}"
    );
    assert_eq!(
        stderr.matches("AssumeRole failed").count(),
        1,
        "logged once\n{stderr}"
    );
    assert!(
        !stderr.contains("STS refused to grant assume role"),
        "{stderr}"
    );
    for collector in ["vpc_links", "load_balancers", "endpoints", "network_rules"] {
        let ambient = format!(
            "awsconn_collector_success{{collector=\"{collector}\",{}}}",
            labels(US)
        );
        assert_eq!(
            sample(&text, &ambient),
            Some(1.0),
            "{ambient}\n{text}\n{stderr}"
        );
        // The denied account is named by its role's account until STS answers.
        let denied = format!(
            "awsconn_collector_success{{collector=\"{collector}\",account=\"111111111111\",region=\"us-east-1\"}}"
        );
        assert_eq!(sample(&text, &denied), Some(0.0), "{denied}\n{text}");
    }
    assert!(text.contains("awsconn_vpc_link_info{account=\"123456789012\""));
    assert!(!text.contains("awsconn_vpc_link_info{account=\"111111111111\""));
}

/// A poll that runs past its timeout is cancelled, counted, and keeps no half data.
#[test]
fn a_poll_past_its_timeout_is_cancelled_and_counted() {
    let emulator = Emulator::start(
        r#"{"faults": [{"service": "elasticloadbalancing", "operation": "DescribeLoadBalancers", "kind": "delay", "seconds": 5}]}"#,
    );
    emulator.seed(&[US]);
    let config = config_file(
        "regions: [us-east-1]\ncollectors:\n  interconnect: {enabled: false}\n  load_balancers: {interval: 60s, timeout: 1s}\n",
    );
    let started = std::time::Instant::now();
    let (ok, text, stderr) = once(&emulator.url, config.path());
    assert!(!ok);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "cancelled at its timeout"
    );
    let l = labels(US);
    assert_eq!(
        sample(
            &text,
            &format!("awsconn_collector_success{{collector=\"load_balancers\",{l}}}")
        ),
        Some(0.0)
    );
    assert_eq!(
        sample(
            &text,
            &format!("awsconn_collector_timeouts_total{{collector=\"load_balancers\",{l}}}")
        ),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            &format!("awsconn_collector_timeouts_total{{collector=\"vpc_links\",{l}}}")
        ),
        Some(0.0)
    );
    // The attempt it cut off reached AWS: counted, with its own outcome.
    assert_eq!(
        sample_sum(
            &text,
            "awsconn_aws_api_requests_total{service=\"elasticloadbalancingv2\",operation=\"DescribeLoadBalancers\",outcome=\"timeout\"}"
        ),
        Some(1.0),
        "{text}"
    );
    assert!(stderr.contains("timed out"), "{stderr}");
}

/// Sustained throttling in the default adaptive retry mode: the retries and
/// their waits fit inside the collector's timeout, so the poll ends as
/// throttled (AWS's error, counted), not as a timeout that says nothing.
#[test]
fn sustained_throttling_reads_as_throttling_not_as_a_timeout() {
    let emulator = Emulator::start(
        r#"{"faults": [{"service": "elasticloadbalancing", "operation": "DescribeLoadBalancers", "kind": "throttle"}]}"#,
    );
    emulator.seed(&[US]);
    let config = config_file(
        "regions: [us-east-1]\ncollectors:\n  interconnect: {enabled: false}\n  load_balancers: {interval: 60s, timeout: 4s}\naws: {retry_mode: adaptive, max_attempts: 10}\n",
    );
    let (ok, text, stderr) = once(&emulator.url, config.path());
    assert!(!ok);
    let l = labels(US);
    let series = |name: &str| format!("{name}{{collector=\"load_balancers\",{l}}}");
    assert_eq!(
        sample_sum(&text, &series("awsconn_collector_success")),
        Some(0.0)
    );
    assert_eq!(
        sample_sum(&text, &series("awsconn_collector_timeouts_total")),
        Some(0.0),
        "the retries ran past the timeout\n{stderr}"
    );
    let throttled = sample_sum(
        &text,
        "awsconn_aws_api_requests_total{service=\"elasticloadbalancingv2\",operation=\"DescribeLoadBalancers\",outcome=\"throttled\"}",
    )
    .unwrap_or(0.0);
    assert!(throttled >= 2.0, "it did retry: {throttled}\n{text}");
    assert!(stderr.contains("Throttling"), "{stderr}");
}

/// `diagnose` runs the runbook on the same inventory: each broken hop is
/// named with its object, cause and fix; exit 1 when any check fails.
#[test]
fn diagnose_names_each_broken_hop() {
    let (emulator, seeded) = seeded();
    let config = config_file(
        "regions: [us-east-1, eu-west-1]\ncollectors: {interconnect: {enabled: false}}\n",
    );
    let out = crate::harness::exporter(&emulator.url)
        .args(["diagnose", "--output", "json", "--config"])
        .arg(config.path())
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let links = report["vpc_links"].as_array().unwrap();
    let find = |region: &str, name: &str| {
        let id = seeded[region]["vpc_links"][name].as_str().unwrap();
        links
            .iter()
            .find(|l| l["vpc_link_id"] == id && l["region"] == region)
            .unwrap_or_else(|| panic!("{name} in {region} missing: {report}"))
    };
    let check = |link: &serde_json::Value, name: &str| -> Vec<serde_json::Value> {
        link["checks"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["check"] == name)
            .cloned()
            .collect()
    };

    // us-east-1 orders: enforcement on with a security group that admits only 10.0.0.0/8.
    let orders = find(US, "orders-rest-link");
    assert_eq!(orders["healthy"], false);
    assert_eq!(orders["api_type"], "rest");
    assert_eq!(orders["account"], "123456789012");
    let enforcement = &check(orders, "privatelink_inbound_rules")[0];
    assert_eq!(enforcement["ok"], false);
    assert_eq!(
        enforcement["object"]["load_balancer"],
        seeded[US]["nlb_arn"]
    );
    assert!(
        enforcement["fix"]
            .as_str()
            .unwrap()
            .contains("Turn the enforcement off")
    );
    for ok in [
        "link_available",
        "load_balancer_active",
        "listener_port",
        "endpoint_service_available",
        "endpoint_connection_available",
        "targets_healthy",
    ] {
        assert!(
            check(orders, ok).iter().all(|c| c["ok"] == true),
            "{ok}: {orders}"
        );
    }
    assert_eq!(check(orders, "listener_port")[0]["object"]["port"], "443");

    // The link whose NLB was deleted.
    let gone = find(US, "gone-rest-link");
    let lb = &check(gone, "load_balancer_active")[0];
    assert_eq!(lb["ok"], false);
    assert!(
        lb["cause"].as_str().unwrap().contains("no longer exists"),
        "{lb}"
    );

    // The HTTP link: its ALB is impaired in us-east-1 (the scenario), healthy in eu-west-1.
    let web = find(US, "web-http-link");
    assert_eq!(check(web, "load_balancer_active")[0]["ok"], false);
    assert!(
        check(web, "endpoint_connection_available").is_empty(),
        "V2 links have no PrivateLink checks"
    );
    assert_eq!(find(EU, "web-http-link")["healthy"], true, "{report}");

    // eu-west-1 orders: nobody connected to its endpoint service.
    let eu_orders = find(EU, "orders-rest-link");
    let connection = &check(eu_orders, "endpoint_connection_available")[0];
    assert_eq!(connection["ok"], false);
    assert!(
        connection["cause"]
            .as_str()
            .unwrap()
            .contains("no endpoint connection"),
        "{connection}"
    );
    assert_eq!(
        check(eu_orders, "privatelink_inbound_rules")[0]["ok"],
        true,
        "enforcement off"
    );

    // --vpc-link narrows the report; text output names the failures.
    let web_id = seeded[EU]["vpc_links"]["web-http-link"].as_str().unwrap();
    let out = crate::harness::exporter(&emulator.url)
        .args(["diagnose", "--vpc-link", web_id, "--config"])
        .arg(config.path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains("web-http-link")
            && text.contains("healthy")
            && !text.contains("orders-rest-link"),
        "{text}"
    );
    assert!(!text.contains('\x1b'), "no colour when not a terminal");
}

/// AWS adds states before the exporter knows them. Every enum it reads, set
/// to a value nobody knows yet: exported as it comes (the state sets gain
/// the value, with 1), never called healthy, and everything stays valid.
#[test]
fn unknown_enum_values_are_exported_as_they_come_and_never_healthy() {
    let emulator = Emulator::start("{}");
    let seeded = emulator.seed_paths(&[US]);
    let us = &seeded[US];
    let instance = us["instances"][0].as_str().unwrap();
    let service = us["endpoint_service_id"].as_str().unwrap();
    emulator.set_scenario(&json!({
        "vpc_links": {"orders-rest-link": {"status": "REBOOTING", "status_message": "new in 2027"}},
        "load_balancers": {"orders-nlb": {"state": "hibernating"}},
        "target_health": {"orders-tg": {instance: {"state": "zombie"}}},
        "endpoint_connections": {service: [{"vpc_endpoint_id": "vpce-0123456789abcdef0", "owner": "123456789012", "state": "quantumEntangled"}]},
    }));
    let config =
        config_file("regions: [us-east-1]\ncollectors: {interconnect: {enabled: false}}\n");
    let (ok, text, stderr) = once(&emulator.url, config.path());
    assert!(ok, "{stderr}");
    promtool_check_metrics(&text).unwrap_or_else(|e| panic!("{e}"));
    let link = us["vpc_links"]["orders-rest-link"].as_str().unwrap();
    let l = labels(US);
    for (family, value) in [
        ("awsconn_vpc_link_status", "status=\"rebooting\""),
        ("awsconn_load_balancer_state", "state=\"hibernating\""),
        ("awsconn_target_group_targets", "state=\"zombie\""),
        (
            "awsconn_endpoint_connection_state",
            "state=\"quantumentangled\"",
        ),
    ] {
        let found = text
            .lines()
            .find(|line| line.starts_with(family) && line.contains(value))
            .unwrap_or_else(|| panic!("{family} lacks {value}\n{text}"));
        assert!(found.ends_with(" 1"), "{found}");
    }
    let healthy = format!("awsconn_vpc_link_healthy{{{l},vpc_link_id=\"{link}\"}}");
    assert_eq!(sample(&text, &healthy), Some(0.0), "{text}");
    // A state nobody knows is not a state that passes.
    for check in ["link_available", "load_balancer_active"] {
        let judged = text
            .lines()
            .find(|line| {
                line.starts_with("awsconn_vpc_link_check{")
                    && line.contains(&format!("vpc_link_id=\"{link}\""))
                    && line.contains(&format!("check=\"{check}\""))
            })
            .unwrap_or_else(|| panic!("no {check} for {link}\n{text}"));
        assert!(judged.ends_with(" 0"), "{judged}");
    }
}

/// Answers with optional fields missing, one field per family: states read
/// as `unknown`, network rules read in the way that admits least, items the
/// exporter cannot place left out and counted. No check passes on a field
/// that is missing, every collector still succeeds, and the exposition
/// stays valid.
#[test]
fn answers_missing_optional_fields_never_pass_and_are_counted() {
    let emulator = Emulator::start("{}");
    let seeded = emulator.seed_paths(&[US]);
    let config =
        config_file("regions: [us-east-1]\ncollectors: {interconnect: {enabled: false}}\n");
    let strip = |fields: &[(&str, &str, &str)]| {
        let strip: Vec<_> = fields
            .iter()
            .map(|(service, operation, field)| {
                json!({"service": service, "operation": operation, "field": field})
            })
            .collect();
        let service = seeded[US]["endpoint_service_id"].as_str().unwrap();
        emulator.set_scenario(&json!({
            "strip": strip,
            "endpoint_connections": {service: [
                {"vpc_endpoint_id": "vpce-0apigw000000001", "owner": "392220576650", "state": "available"}
            ]},
        }));
        let (ok, text, stderr) = once(&emulator.url, config.path());
        assert!(ok, "{stderr}\n{text}");
        promtool_check_metrics(&text).unwrap_or_else(|e| panic!("{e}"));
        for line in text
            .lines()
            .filter(|l| l.starts_with("awsconn_collector_success{"))
        {
            assert!(
                line.ends_with(" 1"),
                "a missing optional field fails no collector: {line}"
            );
        }
        text
    };
    let values = |text: &str, family: &str, part: &str| -> Vec<f64> {
        text.lines()
            .filter(|l| l.starts_with(&format!("{family}{{")) && l.contains(part))
            .map(|l| l.rsplit(' ').next().unwrap().parse().unwrap())
            .collect()
    };
    let incomplete = |text: &str, service: &str, operation: &str, reason: &str| {
        let l = format!("service=\"{service}\",operation=\"{operation}\",reason=\"{reason}\"");
        sample(text, &format!("awsconn_aws_incomplete_items_total{{{l}}}")).unwrap_or(0.0)
    };

    let text = strip(&[
        ("apigateway", "GetVpcLinks", "status"),
        ("apigatewayv2", "GetVpcLinks", "vpcLinkStatus"),
        ("elasticloadbalancing", "DescribeLoadBalancers", "State"),
        (
            "elasticloadbalancing",
            "DescribeTargetHealth",
            "TargetHealth",
        ),
        (
            "ec2",
            "DescribeVpcEndpointServiceConfigurations",
            "serviceState",
        ),
        ("ec2", "DescribeVpcEndpointConnections", "vpcEndpointState"),
        ("ec2", "DescribeSecurityGroups", "ipProtocol"),
        ("ec2", "DescribeNetworkAcls", "ruleAction"),
    ]);
    for (family, state) in [
        ("awsconn_vpc_link_status", "status=\"unknown\""),
        ("awsconn_load_balancer_state", "state=\"unknown\""),
        ("awsconn_endpoint_service_state", "state=\"unknown\""),
        ("awsconn_endpoint_connection_state", "state=\"unknown\""),
    ] {
        let found = values(&text, family, state);
        assert!(
            !found.is_empty() && found.iter().all(|v| *v == 1.0),
            "{family} {state}: {found:?}\n{text}"
        );
    }
    assert!(
        values(&text, "awsconn_target_group_targets", "state=\"unknown\"")
            .iter()
            .any(|v| *v >= 1.0),
        "targets without a health state are counted as unknown\n{text}"
    );
    for check in [
        "link_available",
        "load_balancer_active",
        "targets_healthy",
        "endpoint_service_available",
        "endpoint_connection_available",
        "security_groups_admit",
        "network_acls_admit",
    ] {
        let judged = values(
            &text,
            "awsconn_vpc_link_check",
            &format!("check=\"{check}\""),
        );
        assert!(!judged.is_empty(), "{check} is judged\n{text}");
        assert!(
            judged.iter().all(|v| *v == 0.0),
            "{check} passes on a missing field: {judged:?}"
        );
    }
    let healthy = values(&text, "awsconn_vpc_link_healthy", "vpc_link_id=");
    assert!(
        !healthy.is_empty() && healthy.iter().all(|v| *v == 0.0),
        "{healthy:?}"
    );
    for (operation, reason) in [
        ("DescribeSecurityGroups", "rule without ipProtocol"),
        ("DescribeNetworkAcls", "entry without ruleAction"),
    ] {
        assert!(
            incomplete(&text, "ec2", operation, reason) >= 1.0,
            "{reason}\n{text}"
        );
    }

    // Fields without which an item cannot be placed: the item is left out
    // and counted, and the check that needed it does not pass.
    // (service, service label, operation, field, reason, the check that
    // must not pass, whether it is unknown rather than failed)
    for (service, label, operation, field, reason, check, unknown) in [
        (
            "elasticloadbalancing",
            "elasticloadbalancingv2",
            "DescribeListeners",
            "Port",
            "missing Port",
            "listener_port",
            false,
        ),
        (
            "elasticloadbalancing",
            "elasticloadbalancingv2",
            "DescribeTargetHealth",
            "Id",
            "missing Target.Id",
            "targets_healthy",
            false,
        ),
        (
            "ec2",
            "ec2",
            "DescribeSecurityGroups",
            "groupId",
            "missing groupId",
            "security_groups_admit",
            true,
        ),
    ] {
        let text = strip(&[(service, operation, field)]);
        let counted = incomplete(&text, label, operation, reason);
        assert!(counted >= 1.0, "{reason}\n{text}");
        let family = if unknown {
            "awsconn_vpc_link_check_unknown"
        } else {
            "awsconn_vpc_link_check"
        };
        let judged = values(&text, family, &format!("check=\"{check}\""));
        assert!(
            !judged.is_empty() && judged.iter().all(|v| *v == if unknown { 1.0 } else { 0.0 }),
            "{check} without {field}: {judged:?}\n{text}"
        );
        if unknown {
            let passed = values(
                &text,
                "awsconn_vpc_link_check",
                &format!("check=\"{check}\""),
            );
            assert!(
                passed.iter().all(|v| *v == 0.0),
                "{check} passes without {field}"
            );
        }
        let healthy = values(&text, "awsconn_vpc_link_healthy", "vpc_link_id=");
        assert!(
            !healthy.is_empty() && healthy.iter().all(|v| *v == 0.0),
            "{field}: {healthy:?}"
        );
    }
}
