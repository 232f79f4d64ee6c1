//! An AWS organisation found by itself: 30 member accounts in three OUs
//! (one suspended, one excluded, one whose role cannot be assumed) beside
//! the management account, polled in two regions through three shards.
//! Every healthy account's links are exported exactly once across the
//! shards, under the account's name; the suspended and excluded accounts
//! not at all; the unassumable one is its own failure and nobody else's;
//! an account created while running is polled after the next refresh, and
//! one closed while running disappears. The management account is listed
//! by hand with `regions: enabled`, and polled once, in the regions EC2
//! says are enabled for it.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde_json::json;

use crate::harness::{
    Emulator, Server, actions_granted, actions_seen, config_file, exporter, seed_py, wait_for,
};

const REGIONS: [&str; 2] = ["us-east-1", "eu-west-1"];
const MANAGEMENT: &str = "123456789012";

/// The value of `name` in a series line's labels.
fn label<'a>(line: &'a str, name: &str) -> Option<&'a str> {
    line.split(&format!("{name}=\"")).nth(1)?.split('"').next()
}

/// The lines of `family` (a sample line, not its HELP or TYPE).
fn series<'a>(text: &'a str, family: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    text.lines()
        .filter(move |l| l.starts_with(family) && l[family.len()..].starts_with('{'))
}

/// The name of `account` among the members.
fn names_of<'a>(
    members: &'a [(String, String, BTreeMap<String, String>)],
    account: &str,
) -> &'a str {
    &members.iter().find(|(id, _, _)| id == account).unwrap().1
}

/// Each link series (account, region, link id) of an exposition.
fn links(text: &str) -> Vec<(String, String, String)> {
    series(text, "awsconn_vpc_link_info")
        .map(|l| {
            (
                label(l, "account").unwrap().to_owned(),
                label(l, "region").unwrap().to_owned(),
                label(l, "vpc_link_id").unwrap().to_owned(),
            )
        })
        .collect()
}

/// The (account, region) scopes a shard polls, by `awsconn_collector_success`.
fn scopes(text: &str) -> BTreeMap<(String, String), bool> {
    series(text, "awsconn_collector_success")
        .map(|l| {
            let scope = (
                label(l, "account").unwrap().to_owned(),
                label(l, "region").unwrap().to_owned(),
            );
            (scope, l.ends_with(" 1"))
        })
        .collect()
}

#[test]
fn an_organisation_is_polled_once_across_three_shards() {
    let emulator = Emulator::start("{}");
    let mut args = vec!["--organization", emulator.url.as_str(), "30"];
    args.extend(REGIONS);
    let org = seed_py(&args);
    let root = org["root"].as_str().unwrap().to_owned();
    let members: Vec<(String, String, BTreeMap<String, String>)> = org["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            let links = a["links"]
                .as_object()
                .unwrap()
                .iter()
                .map(|(r, id)| (r.clone(), id.as_str().unwrap().to_owned()))
                .collect();
            (
                a["id"].as_str().unwrap().to_owned(),
                a["name"].as_str().unwrap().to_owned(),
                links,
            )
        })
        .collect();
    let enabled: BTreeSet<String> = org["enabled_regions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap().to_owned())
        .collect();
    let suspended = members[29].0.clone();
    let excluded = members[1].0.clone();
    let unassumable = members[2].0.clone();
    emulator.set_scenario(&json!({"faults": [{
        "service": "sts", "operation": "AssumeRole", "body_contains": unassumable,
        "kind": "error", "status": 403, "code": "AccessDenied",
        "message": format!("User: arn:aws:iam::{MANAGEMENT}:user/exporter is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::{unassumable}:role/awsconn-read"),
    }]}));
    let config_text = |ous: &str| {
        format!(
            "regions: [{}]\ntags_as_labels: [Team]\naccounts: [{{alias: management, regions: enabled}}]\n\
             discovery: {{refresh: 10s, organizations: {{role_name: awsconn-read, exclude_accounts: ['{excluded}']{ous}}}}}\n\
             collectors: {{load_balancers: {{enabled: false}}, endpoints: {{enabled: false}}, network_rules: {{enabled: false}}, \
             execution_logs: {{enabled: false}}, cloudwatch: {{enabled: false}}, interconnect: {{enabled: false}}, certificates: {{enabled: false}}}}\n",
            REGIONS.join(", ")
        )
    };

    // One discovery, as `once` makes it: the whole organisation with
    // ListAccounts, then walked down from the root with ListAccountsForParent
    // and ListChildren (the root and three OUs: four of each). The
    // unassumable account fails `once`.
    let mut calls = BTreeMap::new();
    let mut found = Vec::new();
    for ous in ["", &format!(", include_ous: [{root}]")] {
        let config = config_file(&config_text(ous));
        let before = emulator.requests();
        let out = exporter(&emulator.url)
            .args(["once", "--config"])
            .arg(config.path())
            .output()
            .unwrap();
        assert!(!out.status.success(), "an account failed, so `once` does");
        let after = emulator.requests();
        for (op, n) in after.as_object().unwrap() {
            let n = n.as_u64().unwrap() - before[op].as_u64().unwrap_or(0);
            if n > 0
                && (op.starts_with("organizations:")
                    || op.starts_with("sts:")
                    || op == "ec2:DescribeRegions")
            {
                calls.insert(
                    format!("{}{op}", if ous.is_empty() { "" } else { "walk " }),
                    n,
                );
            }
        }
        let mut text_links = links(&String::from_utf8(out.stdout).unwrap());
        text_links.sort();
        found.push(text_links);
    }
    eprintln!("calls of one discovery and poll: {calls:?}");
    assert_eq!(found[0], found[1], "both listings find the same accounts");
    assert_eq!(
        calls.get("walk organizations:ListAccountsForParent"),
        Some(&4)
    );
    assert_eq!(calls.get("walk organizations:ListChildren"), Some(&4));
    assert!(
        calls
            .get("organizations:ListAccounts")
            .is_some_and(|n| *n >= 1)
    );
    // One AssumeRole per account polled (its regions share the
    // credentials): the 27 members that can be assumed, and the
    // unassumable one once in each of its two regions (a failure is not
    // kept, so each scope asks). One GetCallerIdentity per account that
    // signed in, the management account's included. One DescribeRegions,
    // of the management account.
    assert_eq!(calls.get("sts:AssumeRole"), Some(&29), "{calls:?}");
    assert_eq!(calls.get("sts:GetCallerIdentity"), Some(&28), "{calls:?}");
    assert_eq!(calls.get("ec2:DescribeRegions"), Some(&1), "{calls:?}");

    // Three shards, walking the tree from the root.
    let config = config_file(&config_text(&format!(", include_ous: [{root}]")));
    let shards: Vec<Server> = (0..3)
        .map(|i| {
            Server::start(
                &emulator.url,
                config.path(),
                &["--shard", &i.to_string(), "--total-shards", "3"],
            )
        })
        .collect();
    let texts: Vec<String> = shards
        .iter()
        .map(|s| {
            wait_for("a shard to be ready", Duration::from_secs(90), || {
                (s.get("/ready").0 == 200).then_some(())
            });
            s.metrics()
        })
        .collect();

    // Every healthy account's links, exactly once across the shards.
    let mut all_links: Vec<(String, String, String)> =
        texts.iter().flat_map(|t| links(t)).collect();
    all_links.sort();
    let expected: Vec<(String, String, String)> = {
        let mut e: Vec<_> = members
            .iter()
            .filter(|(id, _, _)| ![&suspended, &excluded, &unassumable].contains(&id))
            .flat_map(|(id, _, links)| {
                links
                    .iter()
                    .map(move |(r, l)| (id.clone(), r.clone(), l.clone()))
            })
            .collect();
        e.sort();
        e
    };
    assert_eq!(all_links.len(), 27 * 2);
    assert_eq!(all_links, expected);
    assert_eq!(
        all_links, found[0],
        "the shards export what one process does"
    );

    // Each link carries its `Team` tag as `team`, and nothing of `Secret`.
    for text in &texts {
        for line in series(text, "awsconn_vpc_link_info") {
            let account = label(line, "account").unwrap();
            let team = format!("{}-owners", names_of(&members, account));
            assert_eq!(label(line, "team"), Some(team.as_str()), "{line}");
        }
        assert!(!text.contains("s3cr3t") && !text.contains("secret="));
    }

    // Each scope in exactly one shard; the suspended and excluded accounts
    // in none; the unassumable one's scopes failing, and only those.
    let mut owner: BTreeMap<(String, String), usize> = BTreeMap::new();
    for (i, text) in texts.iter().enumerate() {
        for (scope, ok) in scopes(text) {
            assert!(
                owner.insert(scope.clone(), i).is_none(),
                "{scope:?} in two shards"
            );
            assert_eq!(ok, scope.0 != unassumable, "{scope:?} in shard {i}");
        }
        for gone in [&suspended, &excluded] {
            assert!(
                !text.contains(&format!("account=\"{gone}\"")),
                "{gone} in shard {i}"
            );
        }
    }
    let polled_accounts: BTreeSet<&str> = owner.keys().map(|(a, _)| a.as_str()).collect();
    assert_eq!(
        polled_accounts.len(),
        29,
        "28 members and the management account"
    );
    assert!(
        owner.values().collect::<BTreeSet<_>>().len() == 3,
        "every shard polls some scope"
    );
    let management_regions: BTreeSet<String> = owner
        .keys()
        .filter(|(a, _)| a == MANAGEMENT)
        .map(|(_, r)| r.clone())
        .collect();
    assert_eq!(
        management_regions, enabled,
        "the regions EC2 says are enabled"
    );
    for (scope, _) in owner.iter().filter(|((a, _), _)| a != MANAGEMENT) {
        assert!(REGIONS.contains(&scope.1.as_str()), "{scope:?}");
    }

    // `iam-policy` grants every action the shards made: Organizations' and
    // AssumeRole on the discovering side, the reads and DescribeRegions on
    // the member role's.
    let seen: BTreeSet<String> = texts.iter().flat_map(|t| actions_seen(t)).collect();
    let granted = actions_granted(config.path());
    assert!(
        seen.is_subset(&granted),
        "not granted: {:?}",
        seen.difference(&granted).collect::<Vec<_>>()
    );
    let policy: serde_json::Value = serde_json::from_slice(
        &exporter(&emulator.url)
            .args(["iam-policy", "--config"])
            .arg(config.path())
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let own = policy["discovering_account"].to_string();
    let member = policy["member_role"].to_string();
    assert!(own.contains("organizations:DescribeOrganization") && own.contains("sts:AssumeRole"));
    assert!(
        own.contains("apigateway:GET"),
        "the listed ambient account reads with them"
    );
    assert!(!member.contains("organizations:") && !member.contains("sts:AssumeRole"));
    for action in [
        "organizations:DescribeOrganization",
        "organizations:ListAccountsForParent",
        "organizations:ListChildren",
        "sts:AssumeRole",
        "ec2:DescribeRegions",
    ] {
        assert!(seen.contains(action), "{action} not seen: {seen:?}");
    }

    // Accounts by name, each shard naming the accounts of its own scopes;
    // the census and the listing's health on every shard.
    let names: BTreeMap<&str, &str> = members
        .iter()
        .map(|(id, name, _)| (id.as_str(), name.as_str()))
        .collect();
    for (i, text) in texts.iter().enumerate() {
        let own: BTreeSet<&str> = scopes(text)
            .into_keys()
            .map(|(a, _)| polled_accounts.iter().copied().find(|p| *p == a).unwrap())
            .collect();
        let mut named = BTreeSet::new();
        for line in series(text, "awsconn_account_info") {
            let account = label(line, "account").unwrap();
            let (name, source) = (label(line, "name").unwrap(), label(line, "source").unwrap());
            if account == MANAGEMENT {
                assert_eq!((name, source), ("management", "config"));
                assert_eq!(label(line, "team"), None, "{line}");
            } else {
                assert_eq!((name, source), (names[account], "organizations"), "{line}");
                // The account's `Team` tag, and not its `Secret` one.
                let team = format!("{}-owners", names[account]);
                assert_eq!(label(line, "team"), Some(team.as_str()), "{line}");
                assert!(!line.contains("s3cr3t"), "{line}");
            }
            named.insert(account);
        }
        assert_eq!(named, own, "shard {i} names the accounts it polls");
        for (outcome, n) in [
            ("polled", 28),
            ("inactive", 1),
            ("excluded", 1),
            ("listed", 1),
            ("management", 0),
        ] {
            let line = format!(
                "awsconn_discovery_accounts{{source=\"organizations\",outcome=\"{outcome}\"}} {n}\n"
            );
            assert!(text.contains(&line), "shard {i}: {line}");
        }
        assert!(text.contains("awsconn_discovery_success{source=\"organizations\"} 1\n"));
    }

    // Organizations failing: every shard says so and keeps polling the last
    // good list; when it answers again, so do they.
    let links_before: usize = shards.iter().map(|s| links(&s.metrics()).len()).sum();
    emulator.set_scenario(&json!({"faults": [
        {"service": "sts", "operation": "AssumeRole", "body_contains": unassumable,
         "kind": "error", "status": 403, "code": "AccessDenied", "message": "not authorized to perform: sts:AssumeRole"},
        {"service": "organizations", "operation": "ListChildren",
         "kind": "error", "status": 500, "code": "ServiceException", "message": "boom"},
    ]}));
    for shard in &shards {
        let text = wait_for("the listing to fail", Duration::from_secs(60), || {
            let text = shard.metrics();
            text.contains("awsconn_discovery_success{source=\"organizations\"} 0\n")
                .then_some(text)
        });
        assert!(text.contains(
            "awsconn_discovery_accounts{source=\"organizations\",outcome=\"polled\"} 28\n"
        ));
    }
    let links_during: usize = shards.iter().map(|s| links(&s.metrics()).len()).sum();
    assert_eq!(
        links_during, links_before,
        "the last good list is still polled"
    );
    emulator.set_scenario(&json!({"faults": [{
        "service": "sts", "operation": "AssumeRole", "body_contains": unassumable,
        "kind": "error", "status": 403, "code": "AccessDenied", "message": "not authorized to perform: sts:AssumeRole",
    }]}));

    // An account created while running is polled from the next refresh;
    // one closed while running is gone after it.
    let ou = org["ous"][0].as_str().unwrap();
    let mut args = vec!["--add-account", emulator.url.as_str(), "team-30", ou];
    args.extend(REGIONS);
    let added = seed_py(&args);
    let added_id = added["id"].as_str().unwrap().to_owned();
    let closed = members[5].0.clone();
    seed_py(&["--close-account", emulator.url.as_str(), &closed]);
    wait_for(
        "the new account polled and the closed one gone",
        Duration::from_secs(60),
        || {
            let texts: Vec<String> = shards.iter().map(Server::metrics).collect();
            let links: Vec<_> = texts.iter().flat_map(|t| links(t)).collect();
            let new = links.iter().filter(|(a, _, _)| *a == added_id).count();
            let old = texts
                .iter()
                .any(|t| t.contains(&format!("account=\"{closed}\"")));
            (new == 2 && !old).then_some(())
        },
    );
    let text: String = shards.iter().map(Server::metrics).collect();
    assert!(
        text.contains(&format!(
            "awsconn_account_info{{account=\"{added_id}\",name=\"team-30\",source=\"organizations\",team=\"team-30-owners\"}} 1\n"
        )),
        "{text}"
    );
}
