//! Which VPC links and APIs are watched (`watch:` in the configuration): by
//! name and by tag. The list calls (GetVpcLinks, GetRestApis, GetApis)
//! return both, so what is left out costs its share of a list page and
//! nothing more: an API's integrations, stages and execution log are never
//! asked for, nor what only a left-out link leads to (its load balancers,
//! their endpoint services and network rules; `load_balancers.scope: all`
//! still reads every load balancer), and it has no series but a count
//! (`awsconn_unwatched_resources`). Pure.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Deserializer};

/// A regular expression that must match the whole value, as PromQL's `=~`
/// and the `regex` of a relabel rule do: `prod-.*` matches `prod-orders`,
/// not `preprod-orders`. The syntax is RE2's without Unicode classes
/// (`regex-lite`: `\w` and `\d` are ASCII), which names and tag values
/// rarely need.
#[derive(Clone)]
pub struct Pattern {
    text: String,
    anchored: regex_lite::Regex,
}

impl Pattern {
    pub fn new(text: &str) -> Result<Pattern, regex_lite::Error> {
        // Alone first: `a)|(.*` is no pattern, though wrapped in the
        // anchors it would compile, and match everything.
        regex_lite::Regex::new(text)?;
        Ok(Pattern {
            anchored: regex_lite::Regex::new(&format!("^(?:{text})$"))?,
            text: text.to_owned(),
        })
    }

    pub fn is_match(&self, value: &str) -> bool {
        self.anchored.is_match(value)
    }
}

impl fmt::Debug for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.text)
    }
}

impl PartialEq for Pattern {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl<'de> Deserialize<'de> for Pattern {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Pattern::new(&text).map_err(|e| {
            serde::de::Error::custom(format!("{text:?} is not a regular expression: {e}"))
        })
    }
}

/// One kind of resource's filter. Everything is watched by default; a
/// resource is watched when its name matches one of `names` (if any are
/// given) and none of `exclude_names`, it has every tag of `include_tags`
/// with a value that matches, and no tag of `exclude_tags` with a value
/// that matches.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Filter {
    pub names: Vec<Pattern>,
    pub exclude_names: Vec<Pattern>,
    /// Tag key to a pattern of its value (`Team: payments|search`).
    pub include_tags: BTreeMap<String, Pattern>,
    pub exclude_tags: BTreeMap<String, Pattern>,
}

impl Filter {
    pub fn watches(&self, name: &str, tags: &BTreeMap<String, String>) -> bool {
        let tagged = |(key, pattern): (&String, &Pattern)| {
            tags.get(key).is_some_and(|value| pattern.is_match(value))
        };
        (self.names.is_empty() || self.names.iter().any(|p| p.is_match(name)))
            && !self.exclude_names.iter().any(|p| p.is_match(name))
            && self.include_tags.iter().all(tagged)
            && !self.exclude_tags.iter().any(tagged)
    }

    /// Whether it lets everything through.
    pub fn is_everything(&self) -> bool {
        *self == Filter::default()
    }
}

/// `watch:`: the filters of VPC links and of APIs.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WatchConfig {
    pub vpc_links: Filter,
    pub apis: Filter,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn filter(yaml: &str) -> Filter {
        serde_saphyr::from_str(yaml).unwrap()
    }

    #[test]
    fn everything_is_watched_by_default() {
        let f = Filter::default();
        assert!(f.is_everything());
        assert!(f.watches("", &BTreeMap::new()));
    }

    #[test]
    fn names_match_whole_as_in_promql() {
        let f = filter("names: ['prod-.*']\nexclude_names: ['.*-canary']");
        assert!(f.watches("prod-orders", &BTreeMap::new()));
        assert!(!f.watches("preprod-orders", &BTreeMap::new()));
        assert!(!f.watches("prod-orders-canary", &BTreeMap::new()));
        assert!(!f.is_everything());
    }

    #[test]
    fn every_included_tag_is_needed_and_any_excluded_one_leaves_out() {
        let f = filter(
            "include_tags: {Team: 'payments|search', Env: prod}\nexclude_tags: {Monitoring: 'off'}",
        );
        let both = tags(&[("Team", "payments"), ("Env", "prod")]);
        assert!(f.watches("x", &both));
        assert!(!f.watches("x", &tags(&[("Team", "payments")])));
        assert!(!f.watches("x", &tags(&[("Team", "pay"), ("Env", "prod")])));
        let mut off = both.clone();
        off.insert("Monitoring".into(), "off".into());
        assert!(!f.watches("x", &off));
        off.insert("Monitoring".into(), "offline".into());
        assert!(f.watches("x", &off));
    }

    #[test]
    fn a_pattern_that_does_not_compile_is_refused_with_its_text() {
        let err = serde_saphyr::from_str::<Filter>("names: ['prod-(']")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("\"prod-(\" is not a regular expression"),
            "{err}"
        );
        // Balanced only inside the anchors: refused, not "match everything".
        assert!(Pattern::new("prod)|(.*").is_err());
        let err = serde_saphyr::from_str::<Filter>("nmes: []")
            .unwrap_err()
            .to_string();
        assert!(err.contains("nmes"), "{err}");
    }
}
