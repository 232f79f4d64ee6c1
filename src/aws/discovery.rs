//! Which accounts and regions to poll, asked of AWS: the organisation's
//! accounts (Organizations) and each account's `enabled` regions (EC2), at
//! start and every `discovery.refresh`. `crate::accounts` decides what the
//! answers mean; this asks, and keeps the last good answer when AWS fails.

use std::collections::BTreeMap;
use std::time::SystemTime;

use super::Aws;
use crate::accounts::{self, Census, OrgAccount, PolledAccount};
use crate::config::{AccountConfig, Config, Regions};

/// What one discovery found: the accounts to poll and how the listing went.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Roster {
    pub accounts: Vec<PolledAccount>,
    /// `None` when `discovery.organizations` is not configured.
    pub organizations: Option<OrgListing>,
    /// Accounts whose `enabled` regions could not be read this time (their
    /// last good regions, or the top-level ones, are polled).
    pub regions_failed: Vec<AccountConfig>,
    /// The account of the ambient credentials, once STS told it (asked
    /// only when a listed entry uses them beside discovery).
    caller: Option<String>,
}

/// The longest one discovery may take: one that takes longer keeps the
/// last good list, as a failed one does, so that a hung call never holds
/// the exporter's start or its reloads for good.
pub const DISCOVERY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(120);

/// How the latest listing of the organisation went.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OrgListing {
    /// Whether the latest listing worked.
    pub successful: bool,
    /// The organisation's management account (DescribeOrganization).
    management: Option<String>,
    /// When a listing last worked.
    pub last_success: Option<SystemTime>,
    /// How the last good listing's accounts were sorted.
    pub census: Census,
    /// The last good listing: a failed one polls these.
    accounts: Option<Vec<OrgAccount>>,
}

impl Roster {
    /// The accounts to poll when nothing has been asked of AWS: the listed
    /// ones, each in its listed regions (`enabled` falls back to the
    /// top-level regions). What `iam-policy` and `check-config` count.
    pub fn listed(config: &Config) -> Roster {
        let (candidates, _) = accounts::candidates(config, None, None, None, "aws");
        Roster {
            accounts: candidates
                .into_iter()
                .map(|c| {
                    let regions = match &c.regions {
                        Regions::Listed(r) => r.clone(),
                        Regions::Enabled => config.regions.clone(),
                    };
                    c.in_regions(regions)
                })
                .collect(),
            ..Roster::default()
        }
    }
}

impl Aws {
    /// The accounts to poll under `config`, asking AWS what it must;
    /// `last` is the previous discovery, whose answers stand in for those
    /// that fail now, or for all of them past [`DISCOVERY_TIMEOUT`].
    pub async fn discover(&self, config: &Config, last: Option<&Roster>) -> Roster {
        match tokio::time::timeout(DISCOVERY_TIMEOUT, self.discover_now(config, last)).await {
            Ok(roster) => roster,
            Err(_) => {
                tracing::warn!(
                    timeout_s = DISCOVERY_TIMEOUT.as_secs(),
                    "discovery did not finish in time; polling the last good list"
                );
                let mut kept = last.cloned().unwrap_or_else(|| Roster::listed(config));
                if config.discovery.organizations.is_some() {
                    let listing = kept.organizations.get_or_insert_with(OrgListing::default);
                    listing.successful = false;
                }
                kept
            }
        }
    }

    async fn discover_now(&self, config: &Config, last: Option<&Roster>) -> Roster {
        let home = config.regions[0].as_str();
        let partition = accounts::partition_of(home);
        // The ambient credentials' account, when a listed entry uses them
        // beside discovery: that account is not polled twice. Asked once;
        // while it cannot be told, the listing counts as failed (the last
        // good list stays), or the same account could be polled twice.
        let needs_caller = config.discovery.organizations.is_some()
            && config.accounts.iter().any(|a| a.role_arn.is_none());
        let caller = match last.and_then(|r| r.caller.clone()) {
            Some(known) => Some(known),
            None if needs_caller => self
                .scope(&AccountConfig::default(), home)
                .await
                .account_id()
                .await
                .ok(),
            None => None,
        };
        let organizations = match &config.discovery.organizations {
            None => None,
            Some(org) => {
                let lister = AccountConfig {
                    role_arn: org.role_arn.clone(),
                    ..AccountConfig::default()
                };
                let region = accounts::organizations_region(partition);
                let previous = last
                    .and_then(|r| r.organizations.clone())
                    .unwrap_or_default();
                let listing = if needs_caller && caller.is_none() {
                    Err("the ambient credentials' account cannot be told (STS GetCallerIdentity failed)".to_owned())
                } else {
                    self.organization_accounts(
                        &lister,
                        region,
                        &org.include_ous,
                        &config.tags_as_labels,
                    )
                    .await
                    .map_err(|e| e.to_string())
                };
                Some(match listing {
                    Ok((found, management)) => OrgListing {
                        successful: true,
                        management,
                        last_success: Some(SystemTime::now()),
                        census: Census::default(),
                        accounts: Some(found),
                    },
                    Err(error) => {
                        tracing::warn!(%error, kept = previous.accounts.as_ref().map_or(0, Vec::len),
                            "cannot list the organisation's accounts; polling the last good list");
                        OrgListing {
                            successful: false,
                            ..previous
                        }
                    }
                })
            }
        };
        let (candidates, census) = accounts::candidates(
            config,
            organizations.as_ref().and_then(|o| o.accounts.as_deref()),
            caller.as_deref(),
            organizations.as_ref().and_then(|o| o.management.as_deref()),
            partition,
        );
        let organizations = organizations.map(|o| OrgListing {
            census: if o.accounts.is_some() {
                census
            } else {
                o.census
            },
            ..o
        });
        let last_regions: BTreeMap<&AccountConfig, &Vec<String>> = last
            .map(|r| {
                r.accounts
                    .iter()
                    .map(|a| (&a.account, &a.regions))
                    .collect()
            })
            .unwrap_or_default();
        let mut asks = tokio::task::JoinSet::new();
        for (i, c) in candidates.iter().enumerate() {
            if c.regions == Regions::Enabled {
                let scope = self.scope(&c.account, home).await;
                asks.spawn(async move { (i, scope.enabled_regions().await) });
            }
        }
        let mut enabled = BTreeMap::new();
        while let Some(asked) = asks.join_next().await {
            match asked {
                Ok((i, answer)) => {
                    enabled.insert(i, answer);
                }
                Err(e) => tracing::error!(error = %e, "a region lookup ended abnormally"),
            }
        }
        let mut regions_failed = Vec::new();
        let accounts = candidates
            .into_iter()
            .enumerate()
            .map(|(i, c)| {
                let regions = match (&c.regions, enabled.remove(&i)) {
                    (Regions::Listed(r), _) => r.clone(),
                    (Regions::Enabled, Some(Ok(r))) if !r.is_empty() => r,
                    (Regions::Enabled, answer) => {
                        let kept = last_regions
                            .get(&c.account)
                            .map_or_else(|| config.regions.clone(), |r| (*r).clone());
                        tracing::warn!(
                            role_arn = c.account.role_arn.as_deref().unwrap_or("(ambient)"),
                            error = %answer.and_then(Result::err).map(|e| e.to_string()).unwrap_or_else(|| "no region".into()),
                            regions = %kept.join(","),
                            "cannot read the account's enabled regions; polling the last known ones"
                        );
                        regions_failed.push(c.account.clone());
                        kept
                    }
                };
                c.in_regions(regions)
            })
            .collect();
        Roster {
            accounts,
            organizations,
            regions_failed,
            caller,
        }
    }
}
