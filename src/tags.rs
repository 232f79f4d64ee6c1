//! AWS tags as Prometheus labels (`tags_as_labels`): which tags of a
//! resource reach its `_info` series, and under which label name. A tag
//! key becomes a label the way people would write it: `Team` is `team`,
//! `CostCenter` and `cost-center` are `cost_center`, `aws:cloudformation:stack-name`
//! is `aws_cloudformation_stack_name`.

use crate::lock::LockOrRecover;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Mutex, OnceLock};

/// Labels the `_info` series already carry: a tag may not take their name.
pub const RESERVED: &[&str] = &[
    "account",
    "region",
    "name",
    "source",
    "vpc_link_id",
    "api_type",
    "version",
    "api_id",
    "load_balancer",
    "type",
    "scheme",
    "service_id",
    "service_name",
    "connection_id",
    "description",
    "provider",
    "provider_kind",
    "location",
    "environment_id",
    "attach_point",
    "shared_id",
    "instance",
    "job",
    "le",
    "quantile",
];

/// The label name of a tag key: lower snake case, only `[a-z0-9_]`, not
/// starting with a digit or `__`.
pub fn label_of(key: &str) -> String {
    let mut out = String::with_capacity(key.len() + 4);
    let mut previous_lower = false;
    for c in key.chars() {
        if c.is_ascii_uppercase() {
            if previous_lower {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
            previous_lower = false;
        } else if c.is_ascii_lowercase() || c.is_ascii_digit() {
            out.push(c);
            previous_lower = true;
        } else {
            if !out.ends_with('_') {
                out.push('_');
            }
            previous_lower = false;
        }
    }
    let trimmed = out.trim_matches('_');
    match trimmed.chars().next() {
        None => "tag".to_owned(),
        Some(c) if c.is_ascii_digit() => format!("tag_{trimmed}"),
        Some(_) => trimmed.to_owned(),
    }
}

/// Why a `tags_as_labels` list cannot be used: an empty key, two keys
/// with one label, or a label an `_info` series already has.
pub fn check(keys: &[String]) -> Result<(), String> {
    let mut labels: BTreeMap<String, &str> = BTreeMap::new();
    for key in keys {
        if key.is_empty() || key.chars().count() > 128 {
            return Err(format!("{key:?} is not a tag key (1 to 128 characters)"));
        }
        let label = label_of(key);
        if RESERVED.contains(&label.as_str()) {
            return Err(format!(
                "tag {key:?} would be the label {label:?}, which the series already carry"
            ));
        }
        if let Some(other) = labels.insert(label.clone(), key) {
            return Err(format!(
                "tags {other:?} and {key:?} would both be the label {label:?}"
            ));
        }
    }
    Ok(())
}

/// The tags of `all` named in `wanted`, as the inventory keeps them.
pub fn keep(all: BTreeMap<String, String>, wanted: &[String]) -> BTreeMap<String, String> {
    if wanted.is_empty() {
        return BTreeMap::new();
    }
    all.into_iter()
        .filter(|(k, _)| wanted.contains(k))
        .collect()
}

/// A tag's label name as the renderer takes it: each distinct name is made
/// once for the life of the process (there are as many as the
/// configurations ever named, a handful).
pub fn interned_label(key: &str) -> &'static str {
    static NAMES: OnceLock<Mutex<BTreeSet<&'static str>>> = OnceLock::new();
    let label = label_of(key);
    let mut names = NAMES.get_or_init(Mutex::default).lock_or_recover();
    if let Some(known) = names.get(label.as_str()) {
        return known;
    }
    let leaked: &'static str = Box::leak(label.into_boxed_str());
    names.insert(leaked);
    leaked
}

/// `labels` with a label for each tag, in the order of the tags' labels.
pub fn with_tags(
    mut labels: Vec<(&'static str, String)>,
    tags: &BTreeMap<String, String>,
) -> Vec<(&'static str, String)> {
    let mut tagged: Vec<(&'static str, String)> = tags
        .iter()
        .map(|(k, v)| (interned_label(k), v.clone()))
        .collect();
    tagged.sort();
    labels.extend(tagged);
    labels
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_keys_become_label_names_as_people_write_them() {
        for (key, label) in [
            ("Team", "team"),
            ("team", "team"),
            ("CostCenter", "cost_center"),
            ("cost-center", "cost_center"),
            ("Owner Email", "owner_email"),
            (
                "aws:cloudformation:stack-name",
                "aws_cloudformation_stack_name",
            ),
            ("2fa", "tag_2fa"),
            ("__", "tag"),
            ("Ümlaut", "mlaut"),
        ] {
            assert_eq!(label_of(key), label, "{key}");
        }
    }

    #[test]
    fn colliding_or_reserved_tags_are_refused() {
        assert!(check(&["Team".into(), "Owner".into()]).is_ok());
        let err = check(&["Team".into(), "team".into()]).unwrap_err();
        assert!(err.contains("\"team\""), "{err}");
        assert!(
            check(&["Name".into()])
                .unwrap_err()
                .contains("already carry")
        );
        assert!(check(&["Region".into()]).is_err());
        assert!(check(&[String::new()]).is_err());
    }

    #[test]
    fn only_the_named_tags_are_kept_and_labelled_in_order() {
        let all = BTreeMap::from([
            ("Team".to_owned(), "payments".to_owned()),
            ("Secret".to_owned(), "x".to_owned()),
            ("CostCenter".to_owned(), "42".to_owned()),
        ]);
        let kept = keep(all.clone(), &["Team".into(), "CostCenter".into()]);
        assert_eq!(kept.len(), 2);
        assert!(keep(all, &[]).is_empty());
        let labels = with_tags(vec![("account", "1".into())], &kept);
        assert_eq!(
            labels,
            [
                ("account", "1".to_owned()),
                ("cost_center", "42".to_owned()),
                ("team", "payments".to_owned()),
            ]
        );
        assert!(std::ptr::eq(interned_label("Team"), interned_label("team")));
    }
}
