//! From an integration as written to what it calls, per stage: stage
//! variables substituted, the VPC link, the target and the port. Pure.

use std::collections::{BTreeMap, BTreeSet};

use crate::inventory::{Api, ApiType, Integration, Stage};

/// What an integration calls in one stage.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ResolvedIntegration {
    pub api_id: String,
    pub api_type: ApiType,
    pub stage: String,
    pub integration: String,
    pub vpc_link_id: String,
    /// The host name (REST), or the listener / load balancer / Cloud Map ARN.
    pub target: String,
    /// The port called, when the URI says it (explicitly or by scheme) and
    /// no listener ARN decides it.
    pub port: Option<u16>,
    /// `http`, `https`, or empty where the URI is an ARN.
    pub protocol: String,
    /// The host name TLS is checked against: `tlsConfig.serverNameToVerify`
    /// where set, else the URI's host; `None` for an ARN URI without one.
    pub tls_host: Option<String>,
    /// REST's `tlsConfig.insecureSkipVerification`: API Gateway accepts a
    /// certificate no trusted CA signed (it still checks its dates and name).
    pub insecure_skip_verification: bool,
    /// An HTTP API's `tlsConfig`: API Gateway speaks HTTPS to the backend
    /// whatever the listener's protocol.
    pub tls_config: bool,
}

/// An integration that cannot be resolved in a stage: a finding, not an error.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Unresolved {
    pub api_id: String,
    pub api_type: ApiType,
    pub stage: String,
    pub integration: String,
    pub reason: String,
}

/// Replaces every `${stageVariables.name}` in `text`; `Err(name)` for the first
/// variable the stage does not define.
pub fn substitute(text: &str, variables: &BTreeMap<String, String>) -> Result<String, String> {
    const OPEN: &str = "${stageVariables.";
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find(OPEN) {
        out.push_str(&rest[..start]);
        let after = &rest[start + OPEN.len()..];
        let Some(end) = after.find('}') else {
            return Err(after.to_owned());
        };
        let name = &after[..end];
        match variables.get(name) {
            Some(value) => out.push_str(value),
            None => return Err(name.to_owned()),
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Scheme, host and port of an `http(s)://host[:port]/...` URI; the port
/// defaults to 80 or 443 by scheme.
pub fn parse_http_uri(uri: &str) -> Option<(String, String, u16)> {
    let (scheme, rest) = uri.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "http" => 80,
        "https" => 443,
        _ => return None,
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let authority = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (host, after) = v6.split_once(']')?;
        let port = match after.strip_prefix(':') {
            Some(p) => p.parse().ok()?,
            None => default_port,
        };
        (host.to_owned(), port)
    } else {
        match authority.rsplit_once(':') {
            Some((host, p)) => (host.to_owned(), p.parse().ok()?),
            None => (authority.to_owned(), default_port),
        }
    };
    (!host.is_empty()).then_some((scheme, host, port))
}

/// The load balancer ARN of a load balancer or listener ARN:
/// `…:listener/net/name/lbid/lid` -> `…:loadbalancer/net/name/lbid`.
pub fn load_balancer_arn(arn: &str) -> Option<String> {
    let (prefix, resource) = arn.rsplit_once(':')?;
    if !prefix.contains(":elasticloadbalancing:") {
        return None;
    }
    if resource.starts_with("loadbalancer/") {
        return Some(arn.to_owned());
    }
    let rest = resource.strip_prefix("listener/")?;
    let parts: Vec<&str> = rest.split('/').collect();
    (parts.len() == 4).then(|| {
        format!(
            "{prefix}:loadbalancer/{}/{}/{}",
            parts[0], parts[1], parts[2]
        )
    })
}

/// Whether an ARN is a load balancer's listener's.
pub fn is_listener_arn(arn: &str) -> bool {
    load_balancer_arn(arn).is_some_and(|lb| lb != arn)
}

/// Every integration of every API in every stage.
pub fn resolve_all(apis: &[Api]) -> (Vec<ResolvedIntegration>, Vec<Unresolved>) {
    let mut resolved = BTreeSet::new();
    let mut unresolved = BTreeSet::new();
    for api in apis {
        for stage in &api.stages {
            for integration in &api.integrations {
                match resolve(api, stage, integration) {
                    Ok(r) => {
                        resolved.insert(r);
                    }
                    Err(reason) => {
                        unresolved.insert(Unresolved {
                            api_id: api.id.clone(),
                            api_type: api.api_type,
                            stage: stage.name.clone(),
                            integration: integration.name.clone(),
                            reason,
                        });
                    }
                }
            }
        }
    }
    (
        resolved.into_iter().collect(),
        unresolved.into_iter().collect(),
    )
}

/// One integration in one stage.
pub fn resolve(
    api: &Api,
    stage: &Stage,
    integration: &Integration,
) -> Result<ResolvedIntegration, String> {
    let missing = |name: String| {
        format!(
            "stage variable {name} is not defined in stage {}",
            stage.name
        )
    };
    let vpc_link_id = substitute(&integration.connection_id, &stage.variables).map_err(missing)?;
    if vpc_link_id.is_empty() {
        return Err("the integration names no VPC link".to_owned());
    }
    let uri = substitute(&integration.uri, &stage.variables).map_err(missing)?;
    let integration_target = integration
        .integration_target
        .as_deref()
        .map(|t| substitute(t, &stage.variables).map_err(missing))
        .transpose()?;
    // A server name naming an undefined stage variable leaves no host name
    // to check (the certificate checks and the probe say nothing), rather
    // than making the whole integration unresolved; the URI's host is not
    // what API Gateway verifies then either.
    let server_name = integration
        .tls_server_name
        .as_deref()
        .filter(|n| !n.is_empty())
        .map(|n| substitute(n, &stage.variables).ok());
    let (target, port, protocol, uri_host) = match parse_http_uri(&uri) {
        Some((scheme, host, port)) => {
            // A REST integration on a V2 link names its load balancer or
            // one of its listeners (AWS documents the one and shows the
            // other): a listener decides the port, the URI's host stays
            // the Host header and the name TLS checks.
            let port = match integration_target.as_deref() {
                Some(t) if is_listener_arn(t) => None,
                _ => Some(port),
            };
            (
                integration_target.unwrap_or_else(|| host.clone()),
                port,
                scheme,
                Some(host),
            )
        }
        None if uri.starts_with("arn:") => (uri, None, String::new(), None),
        None => return Err(format!("cannot read the integration URI {uri:?}")),
    };
    Ok(ResolvedIntegration {
        api_id: api.id.clone(),
        api_type: api.api_type,
        stage: stage.name.clone(),
        integration: integration.name.clone(),
        vpc_link_id,
        target,
        port,
        protocol,
        tls_host: match server_name {
            Some(named) => named,
            None => uri_host,
        },
        insecure_skip_verification: integration.insecure_skip_verification,
        // A server name to verify is only ever part of a tlsConfig.
        tls_config: integration.tls_config || integration.tls_server_name.is_some(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn stage_variables_are_substituted() {
        let v = vars(&[("link", "abc123"), ("host", "orders.internal")]);
        assert_eq!(substitute("${stageVariables.link}", &v).unwrap(), "abc123");
        assert_eq!(
            substitute(
                "http://${stageVariables.host}:8080/${stageVariables.link}/x",
                &v
            )
            .unwrap(),
            "http://orders.internal:8080/abc123/x"
        );
        assert_eq!(substitute("plain", &v).unwrap(), "plain");
        assert_eq!(
            substitute("${stageVariables.nope}", &v).unwrap_err(),
            "nope"
        );
        assert!(substitute("${stageVariables.open", &v).is_err());
    }

    #[test]
    fn uris_and_default_ports() {
        assert_eq!(
            parse_http_uri("http://nlb.example.com/orders"),
            Some(("http".into(), "nlb.example.com".into(), 80))
        );
        assert_eq!(
            parse_http_uri("https://nlb.example.com"),
            Some(("https".into(), "nlb.example.com".into(), 443))
        );
        assert_eq!(
            parse_http_uri("HTTPS://h:8443/x?y"),
            Some(("https".into(), "h".into(), 8443))
        );
        assert_eq!(
            parse_http_uri("http://user@h:81/"),
            Some(("http".into(), "h".into(), 81))
        );
        assert_eq!(
            parse_http_uri("http://[fd00::1]:8080/"),
            Some(("http".into(), "fd00::1".into(), 8080))
        );
        assert_eq!(parse_http_uri("http://h:notaport/"), None);
        assert_eq!(parse_http_uri("ftp://h/"), None);
        assert_eq!(parse_http_uri("arn:aws:elasticloadbalancing:x"), None);
    }

    #[test]
    fn listener_arns_lead_to_their_load_balancer() {
        let lb = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/web/50dc6c495c0c9188";
        let listener = "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/web/50dc6c495c0c9188/f2f7dc8efc522ab2";
        assert_eq!(load_balancer_arn(listener).as_deref(), Some(lb));
        assert_eq!(load_balancer_arn(lb).as_deref(), Some(lb));
        assert_eq!(
            load_balancer_arn("arn:aws:servicediscovery:us-east-1:1:service/srv-1"),
            None
        );
    }

    fn api(api_type: ApiType, integration: Integration, stages: Vec<Stage>) -> Api {
        Api {
            id: "api1".into(),
            name: "orders".into(),
            api_type,
            integrations: vec![integration],
            stages,
            read_error: None,
            tags: Default::default(),
        }
    }

    fn stage(name: &str, v: &[(&str, &str)]) -> Stage {
        Stage {
            name: name.into(),
            variables: vars(v),
            ..Default::default()
        }
    }

    #[test]
    fn rest_integration_per_stage() {
        let integration = Integration {
            name: "GET /orders".into(),
            connection_id: "${stageVariables.vpcLinkId}".into(),
            uri: "http://${stageVariables.host}/orders".into(),
            ..Default::default()
        };
        let a = api(
            ApiType::Rest,
            integration,
            vec![
                stage(
                    "prod",
                    &[("vpcLinkId", "link1"), ("host", "nlb.internal:8443")],
                ),
                stage("dev", &[("vpcLinkId", "link2")]),
            ],
        );
        let (resolved, unresolved) = resolve_all(&[a]);
        assert_eq!(resolved.len(), 1);
        assert_eq!(resolved[0].vpc_link_id, "link1");
        assert_eq!(resolved[0].target, "nlb.internal");
        assert_eq!(resolved[0].port, Some(8443));
        assert_eq!(resolved[0].protocol, "http");
        assert_eq!(unresolved.len(), 1);
        assert_eq!(unresolved[0].stage, "dev");
        assert!(
            unresolved[0].reason.contains("host"),
            "{}",
            unresolved[0].reason
        );
    }

    /// The host name TLS checks: serverNameToVerify (stage variables
    /// resolved) over the URI's host; none when it names an undefined
    /// variable, which leaves the integration itself resolved.
    #[test]
    fn the_tls_host_is_the_server_name_to_verify_else_the_uri_host() {
        let integration = |server_name: Option<&str>| Integration {
            name: "GET /".into(),
            connection_id: "link1".into(),
            uri: "https://nlb.internal/".into(),
            tls_server_name: server_name.map(str::to_owned),
            insecure_skip_verification: true,
            ..Default::default()
        };
        let host = |server_name: Option<&str>| {
            let a = api(
                ApiType::Rest,
                integration(server_name),
                vec![stage("prod", &[("name", "api.example.com")])],
            );
            let (resolved, unresolved) = resolve_all(&[a]);
            assert!(unresolved.is_empty(), "{unresolved:?}");
            assert!(resolved[0].insecure_skip_verification);
            resolved[0].tls_host.clone()
        };
        assert_eq!(host(None).as_deref(), Some("nlb.internal"));
        assert_eq!(
            host(Some("${stageVariables.name}")).as_deref(),
            Some("api.example.com")
        );
        assert_eq!(host(Some("${stageVariables.undefined}")), None);
    }

    #[test]
    fn http_integration_names_a_listener() {
        let listener = "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/web/1/2";
        let integration = Integration {
            name: "int1".into(),
            connection_id: "v2link".into(),
            uri: listener.into(),
            ..Default::default()
        };
        let a = api(ApiType::Http, integration, vec![stage("$default", &[])]);
        let (resolved, unresolved) = resolve_all(&[a]);
        assert!(unresolved.is_empty(), "{unresolved:?}");
        assert_eq!(resolved[0].target, listener);
        assert_eq!(
            resolved
                .iter()
                .filter_map(|r| load_balancer_arn(&r.target))
                .collect::<BTreeSet<_>>(),
            BTreeSet::from([
                "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/web/1"
                    .to_owned()
            ])
        );
    }

    #[test]
    fn rest_on_v2_uses_the_integration_target() {
        let target = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/web/1";
        let integration = Integration {
            name: "ANY /{proxy+}".into(),
            connection_id: "v2link".into(),
            uri: "https://api.internal/".into(),
            integration_target: Some(target.into()),
            ..Default::default()
        };
        let a = api(ApiType::Rest, integration, vec![stage("prod", &[])]);
        let (resolved, _) = resolve_all(&[a]);
        assert_eq!(resolved[0].target, target);
        assert_eq!(resolved[0].port, Some(443));
    }
}
