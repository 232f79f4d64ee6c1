//! Which accounts are polled, in which regions, under which name: the
//! accounts listed in the configuration merged with those AWS Organizations
//! lists. Pure: `aws::discovery` asks AWS and brings the answers here as
//! plain values, at start and at every `discovery.refresh`.

use std::collections::BTreeMap;

use crate::config::{AccountConfig, AccountEntry, Config, OrganizationsConfig, Regions};

/// Where an account to poll came from: the `source` label of
/// `awsconn_account_info`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Source {
    /// `accounts:` in the configuration.
    Config,
    /// `discovery.organizations`.
    Organizations,
}

impl Source {
    pub fn label(self) -> &'static str {
        match self {
            Source::Config => "config",
            Source::Organizations => "organizations",
        }
    }
}

/// An account as Organizations lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgAccount {
    pub id: String,
    pub name: String,
    /// `State` (or the older `Status`) as AWS spells it: only `ACTIVE`
    /// accounts are polled; `SUSPENDED`, `PENDING_CLOSURE`, `CLOSED` and
    /// any state AWS adds later are not.
    pub state: String,
    /// Its tags named in `tags_as_labels` (read only when some are named).
    pub tags: BTreeMap<String, String>,
}

/// An account to poll: how to sign in, what it is called, and its regions
/// (`R`: as configured, [`Regions`], until AWS tells which are enabled).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account<R> {
    pub account: AccountConfig,
    /// The alias, else the name Organizations gives it.
    pub name: Option<String>,
    pub source: Source,
    pub regions: R,
    /// Its tags named in `tags_as_labels`, as Organizations has them.
    pub tags: BTreeMap<String, String>,
}

impl Account<Regions> {
    /// The account in `regions`, its configured ones resolved.
    pub fn in_regions(self, regions: Vec<String>) -> PolledAccount {
        Account {
            account: self.account,
            name: self.name,
            source: self.source,
            regions,
            tags: self.tags,
        }
    }
}

/// An account to poll, before its `enabled` regions are asked of AWS.
pub type Candidate = Account<Regions>;

/// An account to poll, with its regions.
pub type PolledAccount = Account<Vec<String>>;

/// How the organisation's accounts were sorted by the latest listing:
/// the `awsconn_discovery_accounts{outcome}` series.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Census {
    /// Polled through `role_name`.
    pub polled: usize,
    /// Not `ACTIVE` (suspended, closing, closed).
    pub inactive: usize,
    /// Named in `exclude_accounts`.
    pub excluded: usize,
    /// Listed in `accounts:` too: polled once, as listed.
    pub listed: usize,
    /// The management account, not listed in `accounts:`: not polled.
    pub management: usize,
}

impl Census {
    pub fn outcomes(&self) -> [(&'static str, usize); 5] {
        [
            ("polled", self.polled),
            ("inactive", self.inactive),
            ("excluded", self.excluded),
            ("listed", self.listed),
            ("management", self.management),
        ]
    }
}

/// The AWS partition of a region: what role ARNs in it start with.
pub fn partition_of(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else if region.starts_with("us-iso-") {
        "aws-iso"
    } else if region.starts_with("us-isob-") {
        "aws-iso-b"
    } else {
        "aws"
    }
}

/// The region of Organizations' global endpoint in a partition.
pub fn organizations_region(partition: &str) -> &'static str {
    match partition {
        "aws-cn" => "cn-northwest-1",
        "aws-us-gov" => "us-gov-west-1",
        "aws-iso" => "us-iso-east-1",
        "aws-iso-b" => "us-isob-east-1",
        _ => "us-east-1",
    }
}

/// The accounts to poll: every listed one, then every `ACTIVE` account of
/// the organisation (when it was listed) that is neither excluded nor
/// listed already, through `role_name` in `partition`. `caller` is the
/// account of the ambient credentials, when a listed entry uses them: that
/// account is then not polled a second time through the role. The
/// `management` account is polled only where it is listed.
pub fn candidates(
    config: &Config,
    organization: Option<&[OrgAccount]>,
    caller: Option<&str>,
    management: Option<&str>,
    partition: &str,
) -> (Vec<Candidate>, Census) {
    let listed = config.listed_accounts();
    let default_regions = || Regions::Listed(config.regions.clone());
    // A listed account's id: its role's, or the caller's for ambient credentials.
    let listed_id = |entry: &AccountEntry| match &entry.role_arn {
        Some(arn) => arn.split(':').nth(4).map(str::to_owned),
        None => caller.map(str::to_owned),
    };
    let known: BTreeMap<&str, &OrgAccount> = organization
        .unwrap_or_default()
        .iter()
        .map(|a| (a.id.as_str(), a))
        .collect();
    let mut out: Vec<Candidate> = listed
        .iter()
        .map(|entry| Candidate {
            account: entry.credentials(),
            name: entry.alias.clone().or_else(|| {
                listed_id(entry)
                    .and_then(|id| known.get(id.as_str()).map(|a| a.name.clone()))
                    .filter(|n| !n.is_empty())
            }),
            source: Source::Config,
            regions: entry.regions.clone().unwrap_or_else(default_regions),
            tags: listed_id(entry)
                .and_then(|id| known.get(id.as_str()).map(|a| a.tags.clone()))
                .unwrap_or_default(),
        })
        .collect();
    let mut census = Census::default();
    let (Some(org), Some(accounts)) = (&config.discovery.organizations, organization) else {
        return (out, census);
    };
    let listed_ids: Vec<String> = listed.iter().filter_map(listed_id).collect();
    let mut seen = std::collections::BTreeSet::new();
    let mut sorted: Vec<&OrgAccount> = accounts.iter().collect();
    sorted.sort_by(|a, b| a.id.cmp(&b.id));
    for account in sorted {
        if !seen.insert(account.id.as_str()) {
            continue;
        }
        if account.state != "ACTIVE" {
            census.inactive += 1;
        } else if org.exclude_accounts.contains(&account.id) {
            census.excluded += 1;
        } else if listed_ids.contains(&account.id) {
            census.listed += 1;
        } else if management == Some(account.id.as_str()) {
            census.management += 1;
        } else {
            census.polled += 1;
            out.push(Candidate {
                account: member_role(org, partition, &account.id),
                name: Some(account.name.clone()).filter(|n| !n.is_empty()),
                source: Source::Organizations,
                regions: org.regions.clone().unwrap_or_else(default_regions),
                tags: account.tags.clone(),
            });
        }
    }
    (out, census)
}

/// How the exporter signs in to a member account: `role_name` in it.
pub fn member_role(org: &OrganizationsConfig, partition: &str, account: &str) -> AccountConfig {
    AccountConfig {
        role_arn: Some(format!(
            "arn:{partition}:iam::{account}:role/{}",
            org.role_name
        )),
        external_id: org.external_id.clone(),
        session_name: org.session_name.clone(),
    }
}

/// The (account, region) scopes of `accounts`, in order.
pub fn scopes(accounts: &[PolledAccount]) -> impl Iterator<Item = (&PolledAccount, &str)> {
    accounts
        .iter()
        .flat_map(|a| a.regions.iter().map(move |r| (a, r.as_str())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn org_account(id: &str, name: &str, state: &str) -> OrgAccount {
        OrgAccount {
            id: id.into(),
            name: name.into(),
            state: state.into(),
            tags: BTreeMap::from([("Team".to_owned(), format!("team-of-{name}"))]),
        }
    }

    fn config(text: &str) -> Config {
        Config::parse(text).unwrap()
    }

    const ORG: &str = "discovery: {organizations: {role_name: awsconn-read, external_id: ext-1, exclude_accounts: ['333333333333']}}\n";

    #[test]
    fn only_active_accounts_not_excluded_nor_listed_are_discovered() {
        let config = config(&format!(
            "regions: [us-east-1, eu-west-1]\naccounts:\n  - {{role_arn: 'arn:aws:iam::444444444444:role/own', alias: four, regions: [eu-west-1]}}\n{ORG}"
        ));
        let organization = [
            org_account("222222222222", "payments", "ACTIVE"),
            org_account("111111111111", "search", "ACTIVE"),
            org_account("333333333333", "sandbox", "ACTIVE"),
            org_account("444444444444", "four-in-org", "ACTIVE"),
            org_account("555555555555", "old", "SUSPENDED"),
            org_account("666666666666", "closing", "PENDING_CLOSURE"),
            org_account("777777777777", "future", "SOMETHING_NEW"),
            org_account("111111111111", "search", "ACTIVE"),
        ];
        let (candidates, census) = candidates(
            &config,
            Some(&organization),
            None,
            Some("111111111111"),
            "aws",
        );
        // The management account is not polled unless listed.
        assert_eq!(
            census,
            Census {
                polled: 1,
                inactive: 3,
                excluded: 1,
                listed: 1,
                management: 1,
            }
        );
        let arns: Vec<&str> = candidates
            .iter()
            .map(|c| c.account.role_arn.as_deref().unwrap())
            .collect();
        assert_eq!(
            arns,
            [
                "arn:aws:iam::444444444444:role/own",
                "arn:aws:iam::222222222222:role/awsconn-read",
            ]
        );
        // The alias wins over Organizations' name; discovered accounts
        // carry the role's external id and the top-level regions.
        assert_eq!(candidates[0].name.as_deref(), Some("four"));
        assert_eq!(
            candidates[0].regions,
            Regions::Listed(vec!["eu-west-1".into()])
        );
        assert_eq!(candidates[1].name.as_deref(), Some("payments"));
        assert_eq!(candidates[1].source, Source::Organizations);
        assert_eq!(candidates[1].tags["Team"], "team-of-payments");
        assert_eq!(
            candidates[0].tags["Team"], "team-of-four-in-org",
            "a listed account's too"
        );
        assert_eq!(candidates[1].account.external_id.as_deref(), Some("ext-1"));
        assert_eq!(
            candidates[1].regions,
            Regions::Listed(vec!["us-east-1".into(), "eu-west-1".into()])
        );
    }

    #[test]
    fn a_listed_account_without_alias_takes_its_organizations_name() {
        let config = config(&format!(
            "regions: [us-east-1]\naccounts:\n  - {{}}\n  - {{role_arn: 'arn:aws:iam::222222222222:role/own'}}\n{ORG}"
        ));
        let organization = [
            org_account("111111111111", "management", "ACTIVE"),
            org_account("222222222222", "payments", "ACTIVE"),
        ];
        // The ambient credentials are the management account's: it is
        // polled once, as listed, under its name.
        let (candidates, census) = candidates(
            &config,
            Some(&organization),
            Some("111111111111"),
            Some("111111111111"),
            "aws",
        );
        assert_eq!(census.listed, 2);
        assert_eq!(candidates.len(), 2);
        assert_eq!(candidates[0].name.as_deref(), Some("management"));
        assert_eq!(candidates[1].name.as_deref(), Some("payments"));
    }

    #[test]
    fn without_an_answer_only_the_listed_accounts_remain() {
        let config = config(&format!("regions: [us-east-1]\n{ORG}"));
        let (candidates, census) = candidates(&config, None, None, None, "aws");
        assert!(candidates.is_empty(), "no ambient account beside discovery");
        assert_eq!(census, Census::default());
        let plain = super::candidates(
            &self::config("regions: [us-east-1]\n"),
            None,
            None,
            None,
            "aws",
        );
        assert_eq!(plain.0.len(), 1, "the ambient credentials");
        assert_eq!(plain.0[0].account, AccountConfig::default());
    }

    #[test]
    fn partitions_and_their_organizations_endpoints() {
        assert_eq!(partition_of("eu-west-1"), "aws");
        assert_eq!(partition_of("cn-north-1"), "aws-cn");
        assert_eq!(partition_of("us-gov-east-1"), "aws-us-gov");
        assert_eq!(organizations_region("aws"), "us-east-1");
        assert_eq!(organizations_region("aws-cn"), "cn-northwest-1");
        assert_eq!(organizations_region("aws-us-gov"), "us-gov-west-1");
        let config = config(&format!("regions: [cn-north-1]\n{ORG}"));
        let org = config.discovery.organizations.as_ref().unwrap();
        assert_eq!(
            member_role(org, "aws-cn", "123456789012")
                .role_arn
                .as_deref(),
            Some("arn:aws-cn:iam::123456789012:role/awsconn-read")
        );
    }
}
