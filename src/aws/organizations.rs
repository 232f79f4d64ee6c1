//! AWS Organizations: the organisation's accounts, from its management
//! account or a delegated administrator. With no OU named, `ListAccounts`
//! pages through them all; with OUs, `ListAccountsForParent` reads each
//! one's accounts and `ListChildren` walks down to the OUs beneath it.

use std::collections::{BTreeSet, VecDeque};

use aws_sdk_organizations::types::ChildType;

use super::error::AwsError;
use super::listing::Listing;
use super::telemetry::ApiTelemetry;
use crate::accounts::OrgAccount;

const SERVICE: &str = "organizations";

/// Every account of the organisation, or of the OUs in `include_ous` and
/// below them, with its tags named in `tags` (one `ListTagsForResource`
/// per active account, only when some are named). An account without an
/// id is skipped and counted.
pub(super) async fn accounts(
    client: &aws_sdk_organizations::Client,
    include_ous: &[String],
    tags: &[String],
    telemetry: &ApiTelemetry,
) -> Result<Vec<OrgAccount>, AwsError> {
    let mut found = listed(client, include_ous, telemetry).await?;
    if !tags.is_empty() {
        for account in found.iter_mut().filter(|a| a.state == "ACTIVE") {
            account.tags =
                crate::tags::keep(account_tags(client, &account.id, telemetry).await?, tags);
        }
    }
    Ok(found)
}

/// The organisation's management account (DescribeOrganization): it is
/// polled only where `accounts:` lists it, since the member role is rarely
/// deployed there (StackSets never deploy to it).
pub(super) async fn management_account(
    client: &aws_sdk_organizations::Client,
) -> Result<Option<String>, AwsError> {
    let out = client
        .describe_organization()
        .send()
        .await
        .map_err(|e| AwsError::from_sdk(SERVICE, "DescribeOrganization", e))?;
    Ok(out
        .organization()
        .and_then(|o| o.master_account_id())
        .filter(|id| !id.is_empty())
        .map(str::to_owned))
}

/// The tags of one account, all pages.
async fn account_tags(
    client: &aws_sdk_organizations::Client,
    id: &str,
    telemetry: &ApiTelemetry,
) -> Result<std::collections::BTreeMap<String, String>, AwsError> {
    let mut pages = client
        .list_tags_for_resource()
        .resource_id(id)
        .into_paginator()
        .send();
    let mut tags = std::collections::BTreeMap::new();
    let call = Listing::new(telemetry, SERVICE, "ListTagsForResource");
    while let Some(page) = call.page(pages.next().await)? {
        for tag in page.tags() {
            tags.insert(tag.key().to_owned(), tag.value().to_owned());
        }
    }
    Ok(tags)
}

async fn listed(
    client: &aws_sdk_organizations::Client,
    include_ous: &[String],
    telemetry: &ApiTelemetry,
) -> Result<Vec<OrgAccount>, AwsError> {
    let mut found = Vec::new();
    if include_ous.is_empty() {
        let mut pages = client.list_accounts().into_paginator().send();
        let call = Listing::new(telemetry, SERVICE, "ListAccounts");
        while let Some(page) = call.page(pages.next().await)? {
            found.extend(read(page.accounts(), "ListAccounts", telemetry));
        }
        return Ok(found);
    }
    let mut parents: VecDeque<String> = include_ous.iter().cloned().collect();
    let mut visited = BTreeSet::new();
    while let Some(parent) = parents.pop_front() {
        if !visited.insert(parent.clone()) {
            continue;
        }
        let mut pages = client
            .list_accounts_for_parent()
            .parent_id(&parent)
            .into_paginator()
            .send();
        let call = Listing::new(telemetry, SERVICE, "ListAccountsForParent");
        while let Some(page) = call.page(pages.next().await)? {
            found.extend(read(page.accounts(), "ListAccountsForParent", telemetry));
        }
        let mut children = client
            .list_children()
            .parent_id(&parent)
            .child_type(ChildType::OrganizationalUnit)
            .into_paginator()
            .send();
        let call = Listing::new(telemetry, SERVICE, "ListChildren");
        while let Some(page) = call.page(children.next().await)? {
            for child in page.children() {
                match child.id().filter(|id| !id.is_empty()) {
                    Some(id) => parents.push_back(id.to_owned()),
                    None => call.skipped("missing Id"),
                }
            }
        }
    }
    Ok(found)
}

/// The accounts of one page. `State` is read before the older `Status`;
/// an account with neither is taken as not active (never polled blind).
fn read(
    accounts: &[aws_sdk_organizations::types::Account],
    operation: &str,
    telemetry: &ApiTelemetry,
) -> Vec<OrgAccount> {
    let mut out = Vec::new();
    for account in accounts {
        let Some(id) = account.id().filter(|id| !id.is_empty()) else {
            telemetry.skipped_item(SERVICE, operation, "missing Id");
            continue;
        };
        let state = account
            .state()
            .map(|s| s.as_str().to_owned())
            .or_else(|| account.status().map(|s| s.as_str().to_owned()))
            .unwrap_or_else(|| "UNKNOWN".to_owned());
        out.push(OrgAccount {
            id: id.to_owned(),
            name: account.name().unwrap_or_default().to_owned(),
            state,
            tags: Default::default(),
        });
    }
    out
}
