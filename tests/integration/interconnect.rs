//! AWS Interconnect – multicloud: the real SDK client against the front's
//! double of the service, which speaks Smithy RPC v2 CBOR (moto has none).

use crate::harness::{
    Emulator, Server, config_file, http_request, once, promtool_check_metrics, sample, sample_sum,
};

/// What the model allows (the double refuses anything else), but for two
/// connections that say why they break it: what AWS may send one day.
const SCENARIO: &str = r#"{
  "page_size": {"interconnect:ListConnections": 2},
  "interconnect": {
    "connections": [
      {"id": "mcc-gcpprod1", "description": "prod to gcp", "bandwidth": "1Gbps",
       "attachPoint": {"directConnectGateway": "5f0c1d2e-3a4b-4c5d-8e6f-7a8b9c0d1e2f"}, "environmentId": "gcp-use4",
       "provider": {"cloudServiceProvider": "google"}, "location": "us-east4", "state": "available",
       "type": "dedicated", "sharedId": "0e4f8a52-7c3e-4d7b-9f6a-1b2c3d4e5f60", "billingTier": 3},
      {"id": "mcc-azuredr1", "description": "dr to azure", "bandwidth": "500Mbps",
       "attachPoint": {"arn": "arn:aws:interconnect:us-east-1:123456789012:connection/mcc-gcpprod1"}, "environmentId": "az-eus",
       "provider": {"cloudServiceProvider": "azure"}, "location": "eastus", "state": "down"},
      {"id": "lmcc-lumennyc", "description": "last mile", "bandwidth": "lots",
       "attachPoint": {"directConnectGateway": "5f0c1d2e-3a4b-4c5d-8e6f-7a8b9c0d1e2f"}, "environmentId": "lm-nyc",
       "provider": {"lastMileProvider": "lumen"}, "location": "nyc", "state": "pending",
       "_beyond_model": "a bandwidth the exporter cannot read"},
      {"id": "mcc-newstate", "description": "new state", "bandwidth": "10Gbps",
       "attachPoint": {"directConnectGateway": "5f0c1d2e-3a4b-4c5d-8e6f-7a8b9c0d1e2f"}, "environmentId": "gcp-use4",
       "provider": {"cloudServiceProvider": "google"}, "location": "us-east4", "state": "Provisioning",
       "_beyond_model": "a state the model does not have yet"},
      {"id": "mcc-removing", "description": "being removed", "bandwidth": "1Gbps",
       "attachPoint": {"directConnectGateway": "5f0c1d2e-3a4b-4c5d-8e6f-7a8b9c0d1e2f"}, "environmentId": "gcp-use4",
       "provider": {"cloudServiceProvider": "google"}, "location": "us-east4", "state": "deleting"}
    ],
    "environments": [
      {"environmentId": "gcp-use4", "provider": {"cloudServiceProvider": "google"}, "location": "us-east4", "state": "available"},
      {"environmentId": "az-eus", "provider": {"cloudServiceProvider": "azure"}, "location": "eastus", "state": "limited",
       "type": "dedicated", "remoteIdentifierType": "account",
       "bandwidths": {"supported": ["500Mbps", "1Gbps", "10Gbps"], "available": ["500Mbps"]}},
      {"environmentId": "lm-nyc", "provider": {"lastMileProvider": "lumen"}, "location": "nyc", "state": "unavailable"}
    ],
    "attach_points": {
      "gcp-use4": [{"type": "DirectConnectGateway", "identifier": "5f0c1d2e-3a4b-4c5d-8e6f-7a8b9c0d1e2f", "name": "prod <gateway>"}],
      "lm-nyc": [{"type": "DirectConnectGateway", "identifier": "7b1d2e3f-4a5b-4c6d-8e7f-8a9b0c1d2e3f", "name": "other"}]
    }
  }
}"#;

const US: &str = "account=\"123456789012\",region=\"us-east-1\"";

fn state(id: &str, state: &str) -> String {
    format!(
        "awsconn_interconnect_connection_state{{{US},connection_id=\"{id}\",state=\"{state}\"}}"
    )
}

#[test]
fn connections_environments_and_bandwidth() {
    let emulator = Emulator::start(SCENARIO);
    let config = config_file("regions: [us-east-1]\ncollectors: {vpc_links: {enabled: false}}\n");
    let (ok, text, stderr) = once(&emulator.url, config.path());
    assert!(ok, "{stderr}\n{text}");

    let info = format!(
        "awsconn_interconnect_connection_info{{{US},connection_id=\"mcc-gcpprod1\",description=\"prod to gcp\",provider=\"google\",provider_kind=\"multicloud\",location=\"us-east4\",environment_id=\"gcp-use4\",attach_point=\"5f0c1d2e-3a4b-4c5d-8e6f-7a8b9c0d1e2f\",type=\"dedicated\",shared_id=\"0e4f8a52-7c3e-4d7b-9f6a-1b2c3d4e5f60\"}}"
    );
    assert_eq!(sample(&text, &info), Some(1.0), "{text}");
    let arn_attach = format!(
        "awsconn_interconnect_connection_info{{{US},connection_id=\"mcc-azuredr1\",description=\"dr to azure\",provider=\"azure\",provider_kind=\"multicloud\",location=\"eastus\",environment_id=\"az-eus\",attach_point=\"arn:aws:interconnect:us-east-1:123456789012:connection/mcc-gcpprod1\",type=\"dedicated\",shared_id=\"00000000-0000-4000-8000-000000000000\"}}"
    );
    assert_eq!(sample(&text, &arn_attach), Some(1.0), "{text}");
    let last_mile = format!(
        "awsconn_interconnect_connection_info{{{US},connection_id=\"lmcc-lumennyc\",description=\"last mile\",provider=\"lumen\",provider_kind=\"last_mile\",location=\"nyc\",environment_id=\"lm-nyc\",attach_point=\"5f0c1d2e-3a4b-4c5d-8e6f-7a8b9c0d1e2f\",type=\"dedicated\",shared_id=\"00000000-0000-4000-8000-000000000000\"}}"
    );
    assert_eq!(sample(&text, &last_mile), Some(1.0), "{text}");

    // State sets, `down` included; every known state is there.
    for s in [
        "requested",
        "pending",
        "available",
        "updating",
        "down",
        "deleting",
        "deleted",
        "failed",
    ] {
        let want = if s == "available" { 1.0 } else { 0.0 };
        assert_eq!(
            sample(&text, &state("mcc-gcpprod1", s)),
            Some(want),
            "mcc-gcpprod1 {s}"
        );
    }
    assert_eq!(sample(&text, &state("mcc-azuredr1", "down")), Some(1.0));
    assert_eq!(sample(&text, &state("lmcc-lumennyc", "pending")), Some(1.0));
    assert_eq!(sample(&text, &state("mcc-removing", "deleting")), Some(1.0));
    // A state the exporter does not know is exported lower-cased, not dropped.
    assert_eq!(
        sample(&text, &state("mcc-newstate", "provisioning")),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, &state("mcc-newstate", "available")),
        Some(0.0)
    );

    let bandwidth = |id: &str| {
        format!(
            "awsconn_interconnect_connection_bandwidth_bytes_per_second{{{US},connection_id=\"{id}\"}}"
        )
    };
    // Bits per second as AWS writes them, bytes per second as Prometheus counts.
    assert_eq!(sample(&text, &bandwidth("mcc-gcpprod1")), Some(1e9 / 8.0));
    assert_eq!(sample(&text, &bandwidth("mcc-azuredr1")), Some(5e8 / 8.0));
    assert_eq!(sample(&text, &bandwidth("mcc-newstate")), Some(1e10 / 8.0));
    // "lots" is not a bandwidth: no series, and a warning that says so.
    assert_eq!(sample(&text, &bandwidth("lmcc-lumennyc")), None);
    assert!(
        stderr.contains("cannot read the bandwidth") && stderr.contains("lmcc-lumennyc"),
        "{stderr}"
    );

    let env = |id: &str, provider: &str, location: &str, s: &str| {
        format!(
            "awsconn_interconnect_environment_state{{{US},environment_id=\"{id}\",provider=\"{provider}\",location=\"{location}\",state=\"{s}\"}}"
        )
    };
    assert_eq!(
        sample(&text, &env("gcp-use4", "google", "us-east4", "available")),
        Some(1.0)
    );
    assert_eq!(
        sample(&text, &env("az-eus", "azure", "eastus", "limited")),
        Some(1.0)
    );
    assert_eq!(
        sample(&text, &env("lm-nyc", "lumen", "nyc", "unavailable")),
        Some(1.0)
    );
    assert_eq!(
        sample(&text, &env("lm-nyc", "lumen", "nyc", "available")),
        Some(0.0)
    );

    // The billing tier AWS gave, and none where it gave none.
    let tier = |id: &str| {
        format!("awsconn_interconnect_connection_billing_tier{{{US},connection_id=\"{id}\"}}")
    };
    assert_eq!(sample(&text, &tier("mcc-gcpprod1")), Some(3.0), "{text}");
    assert_eq!(sample(&text, &tier("mcc-azuredr1")), None);
    // What the limited environment can still give: 500Mbps, not 1 or 10Gbps.
    for (bandwidth, available) in [("500Mbps", "true"), ("1Gbps", "false"), ("10Gbps", "false")] {
        let series = format!(
            "awsconn_interconnect_environment_bandwidth_info{{{US},environment_id=\"az-eus\",bandwidth=\"{bandwidth}\",available=\"{available}\"}}"
        );
        assert_eq!(sample(&text, &series), Some(1.0), "{series}\n{text}");
    }
    let env_info = format!(
        "awsconn_interconnect_environment_info{{{US},environment_id=\"az-eus\",provider=\"azure\",location=\"eastus\",provider_kind=\"multicloud\",type=\"dedicated\",remote_identifier_type=\"account\",available_bandwidths=\"500Mbps\"}}"
    );
    assert_eq!(sample(&text, &env_info), Some(1.0), "{text}");

    let requests = emulator.requests();
    // Attach points: one ListAttachPoints per environment with connections.
    let check = |id: &str| {
        format!(
            "awsconn_interconnect_connection_check{{{US},connection_id=\"{id}\",check=\"attach_point_present\",attach_point=\""
        )
    };
    let gateway = "5f0c1d2e-3a4b-4c5d-8e6f-7a8b9c0d1e2f";
    assert_eq!(
        sample(
            &text,
            &format!(
                "{}{gateway}\",attach_point_name=\"prod <gateway>\"}}",
                check("mcc-gcpprod1")
            )
        ),
        Some(1.0),
        "{text}"
    );
    // lm-nyc lists another gateway: the connection's is gone.
    assert_eq!(
        sample(&text, &format!("{}{gateway}\"}}", check("lmcc-lumennyc"))),
        Some(0.0),
        "{text}"
    );
    // An `arn` attach point is not a kind the list holds: not judged.
    assert!(!text.contains(&check("mcc-azuredr1")), "{text}");
    assert!(
        !text.contains("awsconn_interconnect_connection_check_unknown"),
        "{text}"
    );
    assert_eq!(requests["interconnect:ListAttachPoints"], 3, "{requests}");
    assert_eq!(
        sample(
            &text,
            &format!("awsconn_interconnect_availability{{{US},availability=\"offered\"}}")
        ),
        Some(1.0)
    );
    assert!(
        !text.contains("awsconn_interconnect_next_check_timestamp_seconds{"),
        "{text}"
    );

    // Five connections in pages of two: three calls, every one counted.
    assert_eq!(requests["interconnect:ListConnections"], 3, "{requests}");
    assert_eq!(
        sample_sum(
            &text,
            "awsconn_aws_api_requests_total{service=\"interconnect\",operation=\"ListConnections\",outcome=\"ok\"}"
        ),
        Some(3.0)
    );
    let success = format!("awsconn_collector_success{{collector=\"interconnect\",{US}}}");
    assert_eq!(sample(&text, &success), Some(1.0));
    promtool_check_metrics(&text).unwrap_or_else(|e| panic!("promtool: {e}"));
}

#[test]
fn throttling_exception_is_counted_as_throttled() {
    let scenario = SCENARIO.replacen(
        "\"page_size\"",
        "\"faults\": [{\"service\": \"interconnect\", \"operation\": \"ListEnvironments\", \"kind\": \"throttle\", \"times\": 1}],\n  \"page_size\"",
        1,
    );
    let emulator = Emulator::start(&scenario);
    let config = config_file(
        "regions: [us-east-1]\ncollectors: {vpc_links: {enabled: false}}\naws: {retry_mode: standard, max_attempts: 3}\n",
    );
    let (ok, text, stderr) = once(&emulator.url, config.path());
    assert!(ok, "the retry should succeed: {stderr}");
    let series = |outcome: &str| {
        format!(
            "awsconn_aws_api_requests_total{{service=\"interconnect\",operation=\"ListEnvironments\",outcome=\"{outcome}\"}}"
        )
    };
    assert_eq!(sample_sum(&text, &series("throttled")), Some(1.0), "{text}");
    assert_eq!(sample_sum(&text, &series("ok")), Some(1.0), "{text}");
}

/// Four regions: us-east-1 has Interconnect; IAM denies it in eu-west-1;
/// the service refuses ap-southeast-2 itself; sa-east-1 has nothing. Only
/// the IAM denial fails the collector, counts as `denied` and pages; the
/// two scopes with nothing to watch are asked once, not every poll.
#[test]
fn an_iam_denial_is_told_apart_from_a_region_without_interconnect() {
    let iam = "User: arn:aws:sts::123456789012:assumed-role/awsconn/exporter is not authorized to perform: interconnect:ListEnvironments on resource: * because no identity-based policy allows the interconnect:ListEnvironments action";
    let faults = serde_json::json!([
        {"service": "interconnect", "region": "eu-west-1", "kind": "error", "status": 403,
         "code": "AccessDeniedException", "message": iam},
        {"service": "interconnect", "region": "ap-southeast-2", "kind": "error", "status": 403,
         "code": "AccessDeniedException", "message": "AWS Interconnect is not available to this account in this Region"},
    ]);
    let scenario = SCENARIO
        .replacen(
            "\"page_size\"",
            &format!("\"faults\": {faults},\n  \"page_size\""),
            1,
        )
        .replacen(
            "\"interconnect\": {",
            "\"interconnect\": {\n    \"regions\": {\"sa-east-1\": {\"connections\": [], \"environments\": []}},",
            1,
        );
    let emulator = Emulator::start(&scenario);
    emulator.seed(&["us-east-1", "eu-west-1"]);
    let config = config_file(
        "regions: [us-east-1, eu-west-1, ap-southeast-2, sa-east-1]\ncollectors:\n  vpc_links: {interval: 1s, timeout: 1s}\n  interconnect: {interval: 1s, timeout: 1s}\n",
    );
    let log = tempfile::NamedTempFile::new().unwrap();
    let mut server =
        Server::start_with_log(&emulator.url, config.path(), &[], log.reopen().unwrap());
    let started = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    // Several polls of every scope.
    let text = server.wait_polls("interconnect", 4, 4);
    let scope = |region: &str| format!("account=\"123456789012\",region=\"{region}\"");
    let success = |region: &str| {
        sample(
            &text,
            &format!(
                "awsconn_collector_success{{collector=\"interconnect\",{}}}",
                scope(region)
            ),
        )
    };
    assert_eq!(success("eu-west-1"), Some(0.0), "{text}");
    for region in ["us-east-1", "ap-southeast-2", "sa-east-1"] {
        assert_eq!(success(region), Some(1.0), "{region}\n{text}");
    }
    // The other collector in the denied region is untouched.
    assert_eq!(
        sample(
            &text,
            &format!(
                "awsconn_collector_success{{collector=\"vpc_links\",{}}}",
                scope("eu-west-1")
            )
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(&text, &state("mcc-gcpprod1", "available")),
        Some(1.0)
    );
    assert!(
        !text.contains("region=\"eu-west-1\",connection_id="),
        "{text}"
    );
    let availability = |region: &str, value: &str| {
        sample(
            &text,
            &format!(
                "awsconn_interconnect_availability{{{},availability=\"{value}\"}}",
                scope(region)
            ),
        )
    };
    assert_eq!(availability("us-east-1", "offered"), Some(1.0));
    assert_eq!(
        availability("ap-southeast-2", "not_offered"),
        Some(1.0),
        "{text}"
    );
    assert_eq!(availability("ap-southeast-2", "offered"), Some(0.0));
    assert_eq!(
        availability("sa-east-1", "no_environments"),
        Some(1.0),
        "{text}"
    );
    // No availability where nothing was ever read.
    assert_eq!(availability("eu-west-1", "offered"), None);
    // Asked again in an hour (the default absent_interval), not each second.
    for region in ["ap-southeast-2", "sa-east-1"] {
        let next = sample(
            &text,
            &format!(
                "awsconn_interconnect_next_check_timestamp_seconds{{{}}}",
                scope(region)
            ),
        )
        .unwrap_or_else(|| panic!("{region}: no next check\n{text}"));
        assert!(
            (started + 3_590.0..started + 3_700.0).contains(&next),
            "{region}: {next} vs {started}"
        );
    }
    let requests = |region: &str, op: &str, outcome: &str| {
        sample(
            &text,
            &format!("awsconn_aws_api_requests_total{{service=\"interconnect\",operation=\"{op}\",outcome=\"{outcome}\",{}}}", scope(region)),
        )
        .unwrap_or(0.0)
    };
    // Either list call may be the one that fails first in a poll.
    let denied = |region: &str| {
        requests(region, "ListConnections", "denied")
            + requests(region, "ListEnvironments", "denied")
    };
    assert!(denied("eu-west-1") >= 4.0, "every poll failed: {text}");
    assert_eq!(denied("ap-southeast-2"), 0.0, "{text}");
    let not_offered = requests("ap-southeast-2", "ListConnections", "not_offered")
        + requests("ap-southeast-2", "ListEnvironments", "not_offered");
    assert!(
        (1.0..=2.0).contains(&not_offered),
        "asked in the first poll only: {not_offered}\n{text}"
    );
    assert_eq!(
        requests("sa-east-1", "ListEnvironments", "ok"),
        1.0,
        "{text}"
    );
    assert_eq!(
        requests("sa-east-1", "ListConnections", "ok"),
        1.0,
        "{text}"
    );
    assert!(
        requests("us-east-1", "ListEnvironments", "ok") >= 4.0,
        "{text}"
    );
    server.terminate();

    let log = std::fs::read_to_string(log.path()).unwrap();
    let warnings = log
        .lines()
        .filter(|l| l.contains("level=warn") && l.contains("AccessDeniedException"))
        .count();
    assert_eq!(
        warnings, 1,
        "one warning for a persistent failure, not one per poll, none for the region without the service:\n{log}"
    );
    assert!(
        log.contains("region=eu-west-1") || log.contains("/eu-west-1"),
        "{log}"
    );
    assert!(
        log.lines()
            .any(|l| l.contains("not offered") && l.contains("ap-southeast-2")),
        "{log}"
    );
}

#[test]
fn the_double_refuses_requests_that_break_the_protocol() {
    let emulator = Emulator::start("{}");
    let auth = "AWS4-HMAC-SHA256 Credential=testing/20261125/us-east-1/interconnect/aws4_request, SignedHeaders=host, Signature=0";
    let path = "/service/Interconnect/operation/ListConnections";
    // JSON instead of CBOR.
    let (status, headers, body) = http_request(
        "POST",
        &emulator.url,
        path,
        &[
            ("Authorization", auth),
            ("Content-Type", "application/json"),
            ("smithy-protocol", "rpc-v2-cbor"),
        ],
        b"{}",
    )
    .unwrap();
    assert_eq!(status, 415);
    assert!(
        headers
            .iter()
            .any(|(k, v)| k == "smithy-protocol" && v == "rpc-v2-cbor")
    );
    assert!(String::from_utf8_lossy(&body).contains("InterconnectValidationException"));
    // CBOR without the protocol header.
    let (status, _, _) = http_request(
        "POST",
        &emulator.url,
        path,
        &[
            ("Authorization", auth),
            ("Content-Type", "application/cbor"),
        ],
        &[0xa0],
    )
    .unwrap();
    assert_eq!(status, 400);
    // A body that is not CBOR.
    let (status, _, body) = http_request(
        "POST",
        &emulator.url,
        path,
        &[
            ("Authorization", auth),
            ("Content-Type", "application/cbor"),
            ("smithy-protocol", "rpc-v2-cbor"),
        ],
        &[0xff, 0x00],
    )
    .unwrap();
    assert_eq!(status, 400, "{}", String::from_utf8_lossy(&body));
    // A well-formed request is answered.
    let (status, _, _) = http_request(
        "POST",
        &emulator.url,
        path,
        &[
            ("Authorization", auth),
            ("Content-Type", "application/cbor"),
            ("smithy-protocol", "rpc-v2-cbor"),
        ],
        &[0xa0],
    )
    .unwrap();
    assert_eq!(status, 200);
}

/// The double refuses what the service's model does not allow, naming the
/// place, the value and the rule; the scenario in force stays.
#[test]
fn the_double_refuses_what_the_model_does_not_allow() {
    let emulator = Emulator::start(SCENARIO);
    // The first connection of SCENARIO, with one member broken at a time.
    let valid: serde_json::Value = serde_json::from_str(SCENARIO).unwrap();
    let valid = &valid["interconnect"]["connections"][0];
    for (member, value, place, rule) in [
        (
            "id",
            serde_json::json!("mcc-1"),
            "interconnect.connections[0].id: 'mcc-1'",
            "(mcc|lmcc)-[a-z0-9]{8} (ConnectionId)",
        ),
        (
            "billingTier",
            serde_json::json!(9),
            "interconnect.connections[0].billingTier: 9",
            "0 to 8 (BillingTier)",
        ),
        (
            "attachPoint",
            serde_json::json!({"directConnectGateway": "dxgw-1"}),
            "interconnect.connections[0].attachPoint.directConnectGateway: 'dxgw-1'",
            "(DirectConnectGatewayAttachPoint)",
        ),
        (
            "state",
            serde_json::json!("up"),
            "interconnect.connections[0].state: 'up'",
            "(ConnectionState)",
        ),
    ] {
        let mut broken = valid.clone();
        broken[member] = value;
        let scenario = serde_json::json!({"interconnect": {"connections": [broken]}}).to_string();
        let (status, _, body) = http_request(
            "PUT",
            &emulator.url,
            "/_front/scenario",
            &[],
            scenario.as_bytes(),
        )
        .unwrap();
        let said = String::from_utf8_lossy(&body);
        assert_eq!(status, 400, "{member}: {said}");
        assert!(
            said.contains(place) && said.contains(rule),
            "{member}: {said}"
        );
    }
    // The scenario in force is the one it started with.
    let (_, _, body) = http_request("GET", &emulator.url, "/_front/scenario", &[], b"").unwrap();
    assert!(String::from_utf8_lossy(&body).contains("mcc-gcpprod1"));
}
