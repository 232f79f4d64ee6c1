//! The `/links` page: the runbook's latest findings, one section per VPC
//! link, its path hop by hop, each hop green or red with the failing
//! check's cause and fix, and a link from each hop to its AWS console page;
//! filtered (by link, account, region or health) and a page of links at a
//! time, unhealthy links first.
//!
//! Plain server-rendered HTML with a small stylesheet, made from the
//! findings of the latest publish: it never calls AWS. It reloads itself
//! every 30 seconds.

use std::fmt::Write;
use std::time::SystemTime;

use super::landing::escape;
use crate::collect::Findings;
use crate::diagnose::{Check, Hop, HopKind, LinkView};
use crate::inventory::ApiType;

/// Seconds between reloads of the page.
pub const REFRESH_SECONDS: u32 = 30;

const STYLE: &str = r#"
body { font-family: system-ui, sans-serif; margin: 1.5rem auto; max-width: 72rem; padding: 0 1rem; line-height: 1.45; color: #1d232a; background: #fff; }
h1 { font-size: 1.5rem; margin-bottom: .2rem; }
.summary { color: #495057; margin-top: 0; }
.filters, .pager { color: #495057; font-size: .9rem; }
.filters label { margin-right: .6rem; }
section.link { border: 1px solid #dee2e6; border-radius: 6px; margin: 1.2rem 0; padding: .6rem 1rem; }
section.link h2 { font-size: 1.1rem; margin: .2rem 0 .6rem; }
section.link h2 small { color: #495057; font-weight: normal; }
.badge { display: inline-block; border-radius: 3px; padding: 0 .45rem; font-size: .8rem; color: #fff; vertical-align: middle; }
.badge.ok { background: #2b8a3e; }
.badge.bad { background: #e03131; }
.badge.unknown { background: #e8590c; }
ol.path { list-style: none; padding: 0; margin: 0; }
li.hop { border-left: 5px solid #2b8a3e; background: #ebfbee; margin: .25rem 0; padding: .3rem .6rem; border-radius: 0 4px 4px 0; }
li.hop.bad { border-left-color: #e03131; background: #fff0f0; }
li.hop.unknown { border-left-color: #f08c00; background: #fff9db; }
li.hop.depth-1 { margin-left: 1.5rem; }
li.hop.depth-2 { margin-left: 3rem; }
li.hop.depth-3 { margin-left: 4.5rem; }
li.hop.depth-4 { margin-left: 6rem; }
.kind { display: inline-block; min-width: 11.5rem; font-size: .8rem; text-transform: uppercase; letter-spacing: .03em; color: #495057; }
.detail { color: #495057; margin-left: .5rem; }
.finding { margin: .3rem 0 .2rem 11.5rem; }
.finding p { margin: .1rem 0; }
.finding .check { font-family: ui-monospace, monospace; font-size: .85rem; }
.finding .fix { font-weight: 600; }
.passed { color: #2b8a3e; font-size: .8rem; margin-left: .5rem; }
code { background: #f1f3f5; padding: 0 .25rem; border-radius: 3px; }
a { color: #1864ab; }
"#;

/// The console's host for a region's partition.
fn console_host(region: &str) -> String {
    if region.starts_with("cn-") {
        format!("{region}.console.amazonaws.cn")
    } else if region.starts_with("us-gov-") {
        format!("{region}.console.amazonaws-us-gov.com")
    } else {
        format!("{region}.console.aws.amazon.com")
    }
}

/// The console page of a hop, where one exists.
pub fn console_url(kind: HopKind, id: &str, region: &str) -> Option<String> {
    if id.is_empty() {
        return None;
    }
    let host = console_host(region);
    let ec2 = |fragment: String| format!("https://{host}/ec2/home?region={region}#{fragment}");
    let url = match kind {
        HopKind::Api(ApiType::Rest) | HopKind::Integration(ApiType::Rest) => {
            format!("https://{host}/apigateway/main/apis/{id}/resources?api={id}&region={region}")
        }
        HopKind::Api(ApiType::Http) | HopKind::Integration(ApiType::Http) => {
            format!("https://{host}/apigateway/main/develop/integrations?api={id}&region={region}")
        }
        HopKind::VpcLink(_) => {
            format!("https://{host}/apigateway/main/vpc-links/list?region={region}&vpcLink={id}")
        }
        HopKind::EndpointService | HopKind::EndpointConnection => format!(
            "https://{host}/vpcconsole/home?region={region}#EndpointServiceDetails:endpointServiceId={id}"
        ),
        HopKind::LoadBalancer => ec2(format!("LoadBalancer:loadBalancerArn={id}")),
        HopKind::Listener => ec2(format!("ELBListenerV2:listenerArn={id}")),
        HopKind::TargetGroup => ec2(format!("TargetGroup:targetGroupArn={id}")),
        HopKind::Target if id.starts_with("i-") => ec2(format!("InstanceDetails:instanceId={id}")),
        HopKind::Target => return None,
    };
    Some(url)
}

/// The console page of an object a check names (security groups, NACLs).
fn object_url(key: &str, value: &str, region: &str) -> Option<String> {
    let host = console_host(region);
    match key {
        "security_group" => Some(format!(
            "https://{host}/ec2/home?region={region}#SecurityGroup:groupId={value}"
        )),
        "network_acl" => Some(format!(
            "https://{host}/vpcconsole/home?region={region}#NetworkAclDetails:networkAclId={value}"
        )),
        _ => None,
    }
}

fn utc(at: SystemTime) -> String {
    let secs = at
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    humantime::format_rfc3339_seconds(SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(secs))
        .to_string()
}

/// What `/links` shows: filters (all optional) and the page.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(default)]
pub struct LinksQuery {
    /// One link by id.
    pub vpc_link: Option<String>,
    pub account: Option<String>,
    pub region: Option<String>,
    /// `unhealthy`, `unknown` or `healthy`; empty for all (the form's
    /// choice); anything else is a 400.
    #[serde(deserialize_with = "health_or_all")]
    pub health: Option<Health>,
    /// From 1.
    pub page: Option<usize>,
    pub per_page: Option<usize>,
}

/// Links on a page unless `per_page` says otherwise: the page's memory and
/// time are bounded by what it shows, not by how many links there are.
pub const PER_PAGE: usize = 100;
/// The most links one page shows.
pub const MAX_PER_PAGE: usize = 500;

fn health_or_all<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Health>, D::Error> {
    let text = <Option<String> as serde::Deserialize>::deserialize(d)?;
    match text.as_deref().unwrap_or("") {
        "" => Ok(None),
        "unhealthy" => Ok(Some(Health::Unhealthy)),
        "unknown" => Ok(Some(Health::Unknown)),
        "healthy" => Ok(Some(Health::Healthy)),
        _ => Err(serde::de::Error::custom(
            "health must be unhealthy, unknown or healthy",
        )),
    }
}

/// How a link stands, in the order the page lists them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Health {
    /// A check fails.
    Unhealthy,
    /// No check fails, but some could not be made.
    Unknown,
    Healthy,
}

impl Health {
    fn of(view: &LinkView) -> Health {
        let r = &view.report;
        if r.healthy {
            Health::Healthy
        } else if r.checks.iter().all(|c| c.ok || c.unknown.is_some()) {
            Health::Unknown
        } else {
            Health::Unhealthy
        }
    }

    fn label(self) -> &'static str {
        match self {
            Health::Unhealthy => "unhealthy",
            Health::Unknown => "unknown",
            Health::Healthy => "healthy",
        }
    }
}

impl LinksQuery {
    /// The filters alone, each empty value as none.
    fn wants(&self, view: &LinkView) -> bool {
        let r = &view.report;
        let matches = |want: &Option<String>, have: &str| {
            want.as_deref()
                .filter(|w| !w.is_empty())
                .is_none_or(|w| w == have)
        };
        matches(&self.vpc_link, &r.vpc_link_id)
            && matches(&self.account, &r.account)
            && matches(&self.region, &r.region)
            && self.health.is_none_or(|h| h == Health::of(view))
    }

    fn per_page(&self) -> usize {
        self.per_page.unwrap_or(PER_PAGE).clamp(1, MAX_PER_PAGE)
    }

    /// `/links?…` for these filters on `page`.
    fn href(&self, page: usize) -> String {
        let mut query = form_urlencoded::Serializer::new(String::new());
        for (key, value) in [
            ("vpc_link", self.vpc_link.as_deref()),
            ("account", self.account.as_deref()),
            ("region", self.region.as_deref()),
            ("health", self.health.map(Health::label)),
        ] {
            if let Some(v) = value.filter(|v| !v.is_empty()) {
                query.append_pair(key, v);
            }
        }
        if self.per_page.is_some() {
            query.append_pair("per_page", &self.per_page().to_string());
        }
        if page > 1 {
            query.append_pair("page", &page.to_string());
        }
        let query = query.finish();
        if query.is_empty() {
            "/links".to_owned()
        } else {
            format!("/links?{query}")
        }
    }
}

/// The page for the findings: the links the query's filters keep,
/// unhealthy first, then those not known, then healthy ones (each by
/// account, region and id), one page of them.
pub fn page(findings: &Findings, query: &LinksQuery) -> String {
    let mut counts = [0usize; 3];
    let mut links: Vec<(Health, &LinkView)> = Vec::new();
    for view in findings.links() {
        if !query.wants(view) {
            continue;
        }
        let health = Health::of(view);
        counts[health as usize] += 1;
        links.push((health, view));
    }
    links.sort_unstable_by(|(ha, a), (hb, b)| {
        let (a, b) = (&a.report, &b.report);
        (ha, &a.account, &a.region, &a.vpc_link_id).cmp(&(
            hb,
            &b.account,
            &b.region,
            &b.vpc_link_id,
        ))
    });
    let per_page = query.per_page();
    let pages = links.len().div_ceil(per_page).max(1);
    let page = query.page.unwrap_or(1).clamp(1, pages);
    let shown =
        &links[((page - 1) * per_page).min(links.len())..(page * per_page).min(links.len())];
    let mut html = String::with_capacity(8192 + shown.len() * 2048);
    let _ = write!(
        html,
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="refresh" content="{REFRESH_SECONDS}">
<title>VPC links · AWS Connectivity Exporter</title>
<style>{STYLE}</style>
</head>
<body>
<h1>VPC links</h1>
"#
    );
    let when = findings
        .at
        .map(|at| format!(" · checked {}", utc(at)))
        .unwrap_or_default();
    let state = if findings.ready {
        ""
    } else {
        " · waiting for the first complete poll"
    };
    let [unhealthy, unknown, healthy] = counts;
    let _ = writeln!(
        html,
        r#"<p class="summary">{} link{}, <span id="unhealthy-count">{unhealthy}</span> unhealthy, <span id="unknown-count">{unknown}</span> not known, {healthy} healthy{when}{state} · reloads every {REFRESH_SECONDS} s · <a href="/">home</a></p>"#,
        links.len(),
        if links.len() == 1 { "" } else { "s" },
    );
    filters(&mut html, findings, query);
    if links.is_empty() {
        let none = match query.vpc_link.as_deref().filter(|id| !id.is_empty()) {
            Some(id) => format!(
                "No VPC link {} in the configured accounts and regions.",
                escape(id)
            ),
            None if query != &LinksQuery::default() => {
                "No VPC link matches these filters.".to_owned()
            }
            None => "No VPC links found (yet) in the configured accounts and regions.".to_owned(),
        };
        let _ = writeln!(html, "<p>{none}</p>");
    }
    pager(&mut html, query, page, pages, links.len(), per_page);
    for (_, view) in shown {
        link_section(&mut html, view);
    }
    if shown.len() > 10 {
        pager(&mut html, query, page, pages, links.len(), per_page);
    }
    html.push_str("</body>\n</html>\n");
    html
}

/// The filter form: health, account and region (the values the findings hold).
fn filters(html: &mut String, findings: &Findings, query: &LinksQuery) {
    let mut accounts = std::collections::BTreeSet::new();
    let mut regions = std::collections::BTreeSet::new();
    for view in findings.links() {
        accounts.insert(view.report.account.as_str());
        regions.insert(view.report.region.as_str());
    }
    let select = |html: &mut String,
                  name: &str,
                  title: &str,
                  values: &mut dyn Iterator<Item = &str>,
                  chosen: Option<&str>| {
        let _ = write!(
            html,
            r#"<label>{title} <select name="{name}"><option value="">all</option>"#
        );
        for value in values {
            let _ = write!(
                html,
                r#"<option{}>{}</option>"#,
                if chosen == Some(value) {
                    " selected"
                } else {
                    ""
                },
                escape(value)
            );
        }
        html.push_str("</select></label> ");
    };
    html.push_str(r#"<form class="filters" method="get" action="/links">"#);
    select(
        html,
        "health",
        "Health",
        &mut [Health::Unhealthy, Health::Unknown, Health::Healthy]
            .into_iter()
            .map(Health::label),
        query.health.map(Health::label),
    );
    select(
        html,
        "account",
        "Account",
        &mut accounts.into_iter(),
        query.account.as_deref(),
    );
    select(
        html,
        "region",
        "Region",
        &mut regions.into_iter(),
        query.region.as_deref(),
    );
    if let Some(id) = query.vpc_link.as_deref().filter(|id| !id.is_empty()) {
        let _ = write!(
            html,
            r#"<input type="hidden" name="vpc_link" value="{}">"#,
            escape(id)
        );
    }
    html.push_str("<button>Show</button></form>\n");
}

/// "Links a–b of n" with the previous and next pages.
fn pager(
    html: &mut String,
    query: &LinksQuery,
    page: usize,
    pages: usize,
    total: usize,
    per_page: usize,
) {
    if total == 0 {
        return;
    }
    let first = (page - 1) * per_page + 1;
    let last = (page * per_page).min(total);
    let _ = write!(
        html,
        r#"<p class="pager">Links {first}–{last} of {total} · page {page} of {pages}"#
    );
    if page > 1 {
        let _ = write!(
            html,
            r#" · <a rel="prev" href="{}">previous</a>"#,
            escape(&query.href(page - 1))
        );
    }
    if page < pages {
        let _ = write!(
            html,
            r#" · <a rel="next" href="{}">next</a>"#,
            escape(&query.href(page + 1))
        );
    }
    html.push_str("</p>\n");
}

fn link_section(html: &mut String, view: &LinkView) {
    let r = &view.report;
    let (class, badge) = match Health::of(view) {
        Health::Healthy => ("ok", "healthy"),
        Health::Unknown => ("unknown", "not known"),
        Health::Unhealthy => ("bad", "unhealthy"),
    };
    let failed = r.checks.iter().filter(|c| !c.ok).count();
    let _ = writeln!(
        html,
        r#"<section class="link {class}" id="link-{id}" data-vpc-link="{id}">
<h2><span class="badge {class}">{badge}</span> {name} <code>{id}</code> <small>{api} · {account} / {region} · {passed} of {total} checks pass</small></h2>
<ol class="path">"#,
        id = escape(&r.vpc_link_id),
        name = escape(&r.name),
        api = if r.api_type == "rest" {
            "REST API link (V1)"
        } else {
            "VPC link V2"
        },
        account = escape(&r.account),
        region = escape(&r.region),
        passed = r.checks.len() - failed,
        total = r.checks.len(),
    );
    for hop in &view.hops {
        hop_item(html, view, hop);
    }
    html.push_str("</ol>\n");
    for api in &r.unread_apis {
        let _ = writeln!(
            html,
            r#"<p class="unread-api" data-api="{id}">? API {name} <code>{id}</code> could not be read: {error}. Its integrations, and the checks of them, are as last read.</p>"#,
            id = escape(&api.api_id),
            name = escape(&api.name),
            error = escape(&api.error),
        );
    }
    html.push_str("</section>\n");
}

fn hop_item(html: &mut String, view: &LinkView, hop: &Hop) {
    let r = &view.report;
    let ok = hop.ok(r);
    let label = escape(&hop.label);
    let label = match console_url(hop.kind, &hop.id, &r.region) {
        Some(url) => format!(
            r#"<a href="{}" title="Open in the AWS console">{label}</a>"#,
            escape(&url)
        ),
        None => label,
    };
    let passed = hop.checks.iter().filter(|&&i| r.checks[i].ok).count();
    let passed = if passed > 0 && ok {
        format!(
            r#"<span class="passed">✔ {passed} check{}</span>"#,
            if passed == 1 { "" } else { "s" }
        )
    } else {
        String::new()
    };
    let _ = write!(
        html,
        r#"<li class="hop {} depth-{}" data-kind="{}"><span class="kind">{}</span>{label}<span class="detail">{}</span>{passed}"#,
        if ok {
            "ok"
        } else if hop.state_ok
            && hop
                .checks
                .iter()
                .all(|&i| r.checks[i].ok || r.checks[i].unknown.is_some())
        {
            "unknown"
        } else {
            "bad"
        },
        hop.depth.min(4),
        hop.kind.title().to_ascii_lowercase().replace(' ', "-"),
        hop.kind.title(),
        escape(&hop.detail),
    );
    for &i in &hop.checks {
        let check = &r.checks[i];
        if !check.ok {
            finding(html, check, &r.region);
        }
    }
    html.push_str("</li>\n");
}

fn finding(html: &mut String, check: &Check, region: &str) {
    let object: Vec<String> = check
        .object
        .iter()
        .map(|(k, v)| {
            let values: Vec<String> = v
                .split(',')
                .map(|one| match object_url(k, one, region) {
                    Some(url) => format!(r#"<a href="{}">{}</a>"#, escape(&url), escape(one)),
                    None => escape(one),
                })
                .collect();
            format!("{k}={}", values.join(","))
        })
        .collect();
    let _ = write!(
        html,
        r#"<div class="finding" data-check="{check}"><p class="check">{mark} {check} {object}</p>"#,
        mark = if check.unknown.is_some() { "?" } else { "✘" },
        check = check.check,
        object = object.join(" "),
    );
    if let Some(cause) = &check.cause {
        let _ = write!(html, r#"<p class="cause">{}</p>"#, escape(cause));
    }
    if let Some(fix) = &check.fix {
        let _ = write!(html, r#"<p class="fix">Fix: {}</p>"#, escape(fix));
    }
    html.push_str("</div>");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::{scope, scope_in, tcp, v2_path, view_in};

    fn findings(break_target_group: bool, region: &str) -> Findings {
        let mut inventory = v2_path();
        if break_target_group {
            inventory.network_rules.as_mut().unwrap().security_groups[2].ingress =
                vec![tcp(9090, &[], &["sg-lb"])];
        }
        let scope = scope_in(region);
        Findings {
            links_by_scope: vec![vec![view_in(&scope, &inventory)].into()],
            at: Some(SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_790_000_000)),
            ready: true,
        }
    }

    /// A link whose network rules were never read is "not known", with the
    /// collector and its error on the page: never green.
    #[test]
    fn missing_data_shows_not_known_with_the_collector() {
        let mut inventory = v2_path();
        inventory.network_rules = None;
        inventory.unavailable = std::collections::BTreeMap::from([(
            "network_rules",
            "it fails: ec2 DescribeSecurityGroups: UnauthorizedOperation".to_owned(),
        )]);
        let scope = scope();
        let findings = Findings {
            links_by_scope: vec![vec![view_in(&scope, &inventory)].into()],
            at: None,
            ready: true,
        };
        let html = page(&findings, &LinksQuery::default());
        assert!(
            html.contains(r#"<span class="badge unknown">not known</span>"#),
            "{html}"
        );
        assert!(!html.contains(r#"<span class="badge ok">"#), "{html}");
        assert!(html.contains(r#"class="hop unknown"#), "{html}");
        assert!(!html.contains(r#"class="hop bad"#), "{html}");
        assert!(
            html.contains("? security_groups_admit collector=network_rules"),
            "{html}"
        );
        assert!(
            html.contains("DescribeSecurityGroups: UnauthorizedOperation"),
            "{html}"
        );
    }

    /// An API that cannot be read is named on the card of each link it
    /// uses (escaped), and in the report diagnose prints.
    #[test]
    fn an_unread_api_is_named_on_its_links() {
        let mut inventory = v2_path();
        inventory.apis.as_mut().unwrap()[0].read_error =
            Some("apigatewayv2 GetIntegrations failed: <b>AccessDenied</b>".into());
        let view = view_in(&scope(), &inventory);
        assert_eq!(view.report.unread_apis.len(), 1);
        assert_eq!(view.report.unread_apis[0].api_id, "http1");
        let findings = Findings {
            links_by_scope: vec![vec![view].into()],
            at: Some(SystemTime::UNIX_EPOCH),
            ready: true,
        };
        let html = page(&findings, &LinksQuery::default());
        assert!(
            html.contains(r#"<p class="unread-api" data-api="http1">? API web <code>http1</code> could not be read: apigatewayv2 GetIntegrations failed: &lt;b&gt;AccessDenied&lt;/b&gt;."#),
            "{html}"
        );
    }

    #[test]
    fn a_broken_hop_is_red_with_its_cause_and_fix() {
        let html = page(&findings(true, "us-east-1"), &LinksQuery::default());
        assert!(html.starts_with("<!doctype html>"));
        assert!(
            html.contains(r#"<span id="unhealthy-count">1</span> unhealthy"#),
            "{html}"
        );
        assert!(html.contains("checked 2026-09-21T"), "{html}");
        assert!(html.contains(r#"<section class="link bad" id="link-v2link""#));
        let bad: Vec<&str> = html
            .split("<li ")
            .filter(|item| item.starts_with(r#"class="hop bad"#))
            .collect();
        assert_eq!(bad.len(), 1, "{html}");
        let item = bad[0];
        assert!(item.contains(r#"data-kind="target-group""#), "{item}");
        assert!(
            item.contains("admits no TCP 8080 from load balancer web"),
            "{item}"
        );
        assert!(
            item.contains("Fix: Add an inbound rule to sg-target for TCP 8080"),
            "{item}"
        );
        assert!(
            item.contains(r#"href="https://us-east-1.console.aws.amazon.com/ec2/home?region=us-east-1#SecurityGroup:groupId=sg-target""#),
            "{item}"
        );
        assert!(
            item.contains("#TargetGroup:targetGroupArn=arn:aws:elasticloadbalancing"),
            "{item}"
        );
    }

    #[test]
    fn a_healthy_link_is_all_green_and_the_filter_narrows() {
        let f = findings(false, "us-east-1");
        let html = page(&f, &LinksQuery::default());
        assert!(html.contains(r#"<span class="badge ok">healthy</span>"#));
        assert!(!html.contains(r#"class="hop bad"#));
        assert_eq!(html.matches(r#"<li class="hop ok"#).count(), 7);
        let none = page(&f, &only("<other>"));
        assert!(
            none.contains("No VPC link &lt;other&gt; in the configured"),
            "{none}"
        );
        let one = page(&f, &only("v2link"));
        assert!(one.contains(r#"id="link-v2link""#));
        assert!(one.contains("1 link, "), "{one}");
    }

    fn only(id: &str) -> LinksQuery {
        LinksQuery {
            vpc_link: Some(id.to_owned()),
            ..Default::default()
        }
    }

    /// Many links: unhealthy first, a page at a time, filters kept by
    /// the pager; a page's size does not grow with the links.
    #[test]
    fn pages_filters_and_order() {
        let scope = scope();
        let healthy = view_in(&scope, &v2_path());
        let mut broken = v2_path();
        broken.network_rules.as_mut().unwrap().security_groups[2].ingress =
            vec![tcp(9090, &[], &["sg-lb"])];
        let broken = view_in(&scope, &broken);
        let renamed = |view: &LinkView, id: String| {
            let mut view = view.clone();
            view.report.vpc_link_id = id;
            view
        };
        let mut views = Vec::new();
        for i in 0..1_000 {
            let base = if i % 100 == 7 { &broken } else { &healthy };
            views.push(renamed(base, format!("link{i:04}")));
        }
        let findings = Findings {
            links_by_scope: vec![views.into()],
            at: None,
            ready: true,
        };
        let first = page(&findings, &LinksQuery::default());
        assert!(
            first.contains(r#"<span id="unhealthy-count">10</span> unhealthy"#),
            "{}",
            &first[..2000]
        );
        assert!(first.contains("Links 1–100 of 1000 · page 1 of 10"));
        assert_eq!(first.matches("<section class=\"link ").count(), PER_PAGE);
        // The ten broken links come first.
        let order: Vec<&str> = first
            .split("data-vpc-link=\"")
            .skip(1)
            .map(|s| &s[..8])
            .collect();
        assert_eq!(
            &order[..10],
            [
                "link0007", "link0107", "link0207", "link0307", "link0407", "link0507", "link0607",
                "link0707", "link0807", "link0907"
            ]
        );
        assert!(
            first.contains(r#"<a rel="next" href="/links?page=2">next</a>"#),
            "pager"
        );
        let last = page(
            &findings,
            &LinksQuery {
                page: Some(99),
                ..Default::default()
            },
        );
        assert!(
            last.contains("page 10 of 10"),
            "a page past the end is the last"
        );
        let bad = page(
            &findings,
            &LinksQuery {
                health: Some(Health::Unhealthy),
                per_page: Some(4),
                page: Some(2),
                ..Default::default()
            },
        );
        assert_eq!(bad.matches("<section class=\"link bad").count(), 4);
        assert_eq!(bad.matches("<section class=\"link ").count(), 4);
        assert!(
            bad.contains(r#"href="/links?health=unhealthy&amp;per_page=4&amp;page=3">next</a>"#),
            "filters kept: {bad}"
        );
        assert!(
            bad.contains(r#"href="/links?health=unhealthy&amp;per_page=4">previous</a>"#),
            "{bad}"
        );
        let huge = page(
            &findings,
            &LinksQuery {
                per_page: Some(1_000_000),
                ..Default::default()
            },
        );
        assert_eq!(huge.matches("<section class=\"link ").count(), MAX_PER_PAGE);
        // The page's size is that of the links it shows.
        assert!(first.len() < 100 * 4096 + 16_384, "{}", first.len());
        let elsewhere = page(
            &findings,
            &LinksQuery {
                region: Some("eu-west-1".into()),
                ..Default::default()
            },
        );
        assert!(elsewhere.contains("No VPC link matches these filters."));
        assert!(
            elsewhere.contains("<option>us-east-1</option>"),
            "the region choice lists what there is"
        );
    }

    #[test]
    fn before_the_first_poll() {
        let html = page(&Findings::default(), &LinksQuery::default());
        assert!(html.contains("0 links, "), "{html}");
        assert!(html.contains("waiting for the first complete poll"));
        assert!(html.contains("No VPC links found (yet)"));
    }

    #[test]
    fn console_links_follow_the_partition() {
        let lb = "arn:aws-cn:elasticloadbalancing:cn-north-1:1:loadbalancer/net/a/1";
        assert_eq!(
            console_url(HopKind::LoadBalancer, lb, "cn-north-1").unwrap(),
            format!(
                "https://cn-north-1.console.amazonaws.cn/ec2/home?region=cn-north-1#LoadBalancer:loadBalancerArn={lb}"
            )
        );
        assert!(
            console_url(HopKind::Target, "i-0abc", "us-gov-west-1")
                .unwrap()
                .starts_with("https://us-gov-west-1.console.amazonaws-us-gov.com/")
        );
        assert_eq!(console_url(HopKind::Target, "10.0.0.1", "us-east-1"), None);
        assert_eq!(
            console_url(HopKind::Listener, "", "us-east-1"),
            None,
            "a missing listener"
        );
        assert!(
            console_url(HopKind::Api(ApiType::Rest), "abc", "eu-west-1")
                .unwrap()
                .contains("/apigateway/main/apis/abc/resources")
        );
    }
}
