//! The least-privilege IAM policy: the AWS operations the enabled collectors
//! call (each collector declares its own, `collect::Descriptor::operations`),
//! as IAM actions. The policy is checked against the operations the
//! self-metrics layer records during a full poll (tests/integration).

use std::collections::BTreeSet;

use serde_json::json;

/// Operations every poll makes whatever the collectors: the account id.
pub const ALWAYS: &[(&str, &str)] = &[("sts", "GetCallerIdentity")];

/// Whether an operation reads tags: the collectors make it (and the
/// policy grants it) only when `tags_as_labels` names some.
pub fn reads_tags(operation: &str) -> bool {
    matches!(operation, "DescribeTags" | "ListTagsForResource")
}

/// The IAM action for an operation. API Gateway authorizes by HTTP verb:
/// every read above is `apigateway:GET`.
pub fn action(service: &str, operation: &str) -> String {
    match service {
        "apigateway" | "apigatewayv2" => "apigateway:GET".to_owned(),
        "elasticloadbalancingv2" => format!("elasticloadbalancing:{operation}"),
        "cloudwatchlogs" => format!("logs:{operation}"),
        other => format!("{other}:{operation}"),
    }
}

/// The policy document for these operations (service label, operation) of
/// the enabled collectors, and the roles to assume.
pub fn policy<'a>(
    operations: impl IntoIterator<Item = &'a (&'static str, &'static str)>,
    roles: &[String],
) -> serde_json::Value {
    let mut actions: BTreeSet<String> = ALWAYS.iter().map(|(s, o)| action(s, o)).collect();
    let mut api_gateway = false;
    for (service, operation) in operations {
        if service.starts_with("apigateway") {
            api_gateway = true;
        } else {
            actions.insert(action(service, operation));
        }
    }
    let mut statements = vec![json!({
        "Sid": "ReadConnectivityState",
        "Effect": "Allow",
        "Action": actions,
        "Resource": "*",
    })];
    if api_gateway {
        statements.push(json!({
            "Sid": "ReadApiGateway",
            "Effect": "Allow",
            "Action": ["apigateway:GET"],
            "Resource": [
                "arn:aws:apigateway:*::/vpclinks",
                "arn:aws:apigateway:*::/vpclinks/*",
                "arn:aws:apigateway:*::/restapis",
                "arn:aws:apigateway:*::/restapis/*",
                "arn:aws:apigateway:*::/apis",
                "arn:aws:apigateway:*::/apis/*",
            ],
        }));
    }
    if !roles.is_empty() {
        statements.push(json!({
            "Sid": "AssumeReadRoles",
            "Effect": "Allow",
            "Action": ["sts:AssumeRole"],
            "Resource": roles,
        }));
    }
    json!({"Version": "2012-10-17", "Statement": statements})
}

/// What the principal that lists the organisation needs: its accounts
/// (`ListAccounts`, or `ListAccountsForParent` and `ListChildren` to walk
/// down named OUs), the organisation's management account, and the
/// accounts' tags when `tags_as_labels` names some.
pub fn listing_statement(walks_ous: bool, reads_tags: bool) -> serde_json::Value {
    let mut listing: Vec<&str> = vec!["organizations:DescribeOrganization"];
    if walks_ous {
        listing.extend([
            "organizations:ListAccountsForParent",
            "organizations:ListChildren",
        ]);
    } else {
        listing.push("organizations:ListAccounts");
    }
    if reads_tags {
        listing.push("organizations:ListTagsForResource");
    }
    json!({
        "Sid": "ListOrganizationAccounts",
        "Effect": "Allow",
        "Action": listing,
        "Resource": "*",
    })
}

/// The roles the exporter assumes: the member role in every account, a
/// listed account's, the listing role.
pub fn assume_statement(roles: &[String]) -> serde_json::Value {
    json!({
        "Sid": "AssumeReadRoles",
        "Effect": "Allow",
        "Action": ["sts:AssumeRole"],
        "Resource": roles,
    })
}

/// A policy document of these statements.
pub fn document(statements: Vec<serde_json::Value>) -> serde_json::Value {
    json!({"Version": "2012-10-17", "Statement": statements})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_per_service() {
        assert_eq!(action("apigatewayv2", "GetApis"), "apigateway:GET");
        assert_eq!(
            action("elasticloadbalancingv2", "DescribeTargetHealth"),
            "elasticloadbalancing:DescribeTargetHealth"
        );
        assert_eq!(
            action("ec2", "DescribeNetworkAcls"),
            "ec2:DescribeNetworkAcls"
        );
    }

    #[test]
    fn only_the_operations_asked_for_are_granted() {
        let p = policy(
            &[
                ("interconnect", "ListConnections"),
                ("interconnect", "ListEnvironments"),
            ],
            &[],
        );
        let actions = p["Statement"][0]["Action"].as_array().unwrap();
        let actions: Vec<&str> = actions.iter().map(|a| a.as_str().unwrap()).collect();
        assert_eq!(
            actions,
            [
                "interconnect:ListConnections",
                "interconnect:ListEnvironments",
                "sts:GetCallerIdentity"
            ]
        );
        assert_eq!(p["Statement"].as_array().unwrap().len(), 1);
    }

    #[test]
    fn roles_get_an_assume_statement() {
        let p = policy(
            &[("apigateway", "GetVpcLinks")],
            &["arn:aws:iam::111122223333:role/r".to_owned()],
        );
        let statements = p["Statement"].as_array().unwrap();
        assert_eq!(statements.len(), 3);
        assert_eq!(statements[1]["Action"][0], "apigateway:GET");
        assert_eq!(
            statements[2]["Resource"][0],
            "arn:aws:iam::111122223333:role/r"
        );
    }

    #[test]
    fn discovery_lists_accounts_and_assumes_the_member_role() {
        let flat = listing_statement(false, false);
        assert_eq!(flat["Action"][1], "organizations:ListAccounts");
        let walk = listing_statement(true, true);
        let actions = walk["Action"].as_array().unwrap();
        assert_eq!(actions.len(), 4);
        assert_eq!(actions[3], "organizations:ListTagsForResource");
        let assume = assume_statement(&["arn:aws:iam::*:role/awsconn-read".to_owned()]);
        assert_eq!(assume["Resource"][0], "arn:aws:iam::*:role/awsconn-read");
    }
}
