//! The `/runbooks` page: docs/runbooks.md, compiled into the binary and
//! rendered to HTML once, so that every alert's `runbook_url` opens where
//! the alert came from (the mixin's default is
//! `<scheme>://<instance>/runbooks#<alert name in lower case>`), whatever
//! the version, with no repository to reach.
//!
//! Headings get the anchors GitHub gives them (lower case, spaces as `-`,
//! punctuation dropped), so the same fragment opens the section here and on
//! a published copy. Links to other files of the repository become plain
//! text (they have no page here); raw HTML in the Markdown is shown as
//! text, never passed through.

use std::collections::HashMap;
use std::sync::LazyLock;

use pulldown_cmark::{CowStr, Event, Options, Parser, Tag, TagEnd};

const SOURCE: &str = include_str!("../../docs/runbooks.md");

static PAGE: LazyLock<String> = LazyLock::new(|| page_of(SOURCE));

/// The page, rendered at its first request.
pub fn page() -> &'static str {
    &PAGE
}

/// `markdown` as a whole HTML page.
pub fn page_of(markdown: &str) -> String {
    let mut body = String::with_capacity(markdown.len() * 3 / 2);
    pulldown_cmark::html::push_html(&mut body, events(markdown).into_iter());
    format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Runbooks · AWS Connectivity Exporter</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 60rem; padding: 0 1rem; line-height: 1.5; color: #1d232a; }}
nav {{ font-size: .9rem; margin-bottom: 1rem; }}
h1 {{ font-size: 1.5rem; }}
h2 {{ font-size: 1.2rem; margin-top: 2.5rem; border-top: 1px solid #dde1e5; padding-top: 1rem; }}
h2:target {{ background: #fff4d6; }}
code {{ background: #f1f3f5; padding: 0 .25rem; border-radius: 3px; }}
pre {{ background: #f1f3f5; padding: .6rem; overflow-x: auto; }}
pre code {{ padding: 0; }}
table {{ border-collapse: collapse; margin: 1rem 0; }}
th, td {{ border: 1px solid #dde1e5; padding: .25rem .5rem; text-align: left; vertical-align: top; }}
</style>
</head>
<body>
<nav><a href="/">AWS Connectivity Exporter</a> {version} · <a href="/links">/links</a> · runbooks</nav>
{body}</body>
</html>
"#,
        version = env!("CARGO_PKG_VERSION"),
    )
}

/// The Markdown's events, with heading anchors, repository links unlinked
/// and raw HTML turned into text.
fn events(markdown: &str) -> Vec<Event<'_>> {
    let parsed: Vec<Event> = Parser::new_ext(markdown, Options::ENABLE_TABLES).collect();
    let mut out = Vec::with_capacity(parsed.len());
    let mut anchors: HashMap<String, usize> = HashMap::new();
    let mut unlinked = false;
    for (i, event) in parsed.iter().enumerate() {
        match event {
            Event::Start(Tag::Heading {
                level,
                id: None,
                classes,
                attrs,
            }) => {
                let text = heading_text(&parsed[i + 1..]);
                out.push(Event::Start(Tag::Heading {
                    level: *level,
                    id: Some(CowStr::from(unique(&mut anchors, anchor(&text)))),
                    classes: classes.clone(),
                    attrs: attrs.clone(),
                }));
            }
            Event::Start(Tag::Link { dest_url, .. }) if leaves_the_page(dest_url) => {
                unlinked = true;
            }
            Event::End(TagEnd::Link) if unlinked => unlinked = false,
            Event::Html(html) | Event::InlineHtml(html) => out.push(Event::Text(html.clone())),
            other => out.push(other.clone()),
        }
    }
    out
}

/// A link to another file of the repository (`../alerts/...`,
/// `operations.md#...`): not a page the exporter serves.
fn leaves_the_page(url: &str) -> bool {
    !(url.starts_with('#') || url.starts_with("https://") || url.starts_with("http://"))
}

/// The text of the heading that starts the events given.
fn heading_text(events: &[Event<'_>]) -> String {
    let mut text = String::new();
    for event in events {
        match event {
            Event::End(TagEnd::Heading(_)) => break,
            Event::Text(t) | Event::Code(t) => text.push_str(t),
            _ => {}
        }
    }
    text
}

/// GitHub's anchor of a heading: lower case, letters, digits, `-` and `_`
/// kept, spaces as `-`, everything else dropped.
pub fn anchor(heading: &str) -> String {
    heading
        .trim()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .flat_map(char::to_lowercase)
        .collect()
}

/// The anchor, or with `-1`, `-2`, ... where an earlier heading has it.
fn unique(seen: &mut HashMap<String, usize>, anchor: String) -> String {
    let count = seen.entry(anchor.clone()).or_insert(0);
    let out = if *count == 0 {
        anchor
    } else {
        format!("{anchor}-{count}")
    };
    *count += 1;
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headings_get_githubs_anchors() {
        assert_eq!(anchor("AwsconnVpcLinkFailed"), "awsconnvpclinkfailed");
        assert_eq!(
            anchor("Where Interconnect is not offered"),
            "where-interconnect-is-not-offered"
        );
        assert_eq!(anchor("`for`, and time to page"), "for-and-time-to-page");
        let html = page_of("# A\n\n## Twice\n\n## Twice\n");
        assert!(html.contains(r#"<h1 id="a">A</h1>"#), "{html}");
        assert!(html.contains(r#"<h2 id="twice">Twice</h2>"#), "{html}");
        assert!(html.contains(r#"<h2 id="twice-1">Twice</h2>"#), "{html}");
    }

    #[test]
    fn repository_links_are_text_and_html_is_not_passed_through() {
        let html = page_of(
            "See [the rules](../alerts/awsconn.rules.yml), [below](#a) and [AWS](https://aws.amazon.com/).\n\n<script>alert(1)</script>\n\nx <b onclick=\"y\">z</b>\n",
        );
        assert!(html.contains("See the rules, "), "{html}");
        assert!(html.contains(r##"<a href="#a">below</a>"##), "{html}");
        assert!(
            html.contains(r#"<a href="https://aws.amazon.com/">AWS</a>"#),
            "{html}"
        );
        assert!(!html.contains("<script>"), "{html}");
        assert!(html.contains("&lt;script&gt;"), "{html}");
        assert!(!html.contains("<b onclick"), "{html}");
    }

    #[test]
    fn every_alert_of_the_rules_has_its_section() {
        let rules = include_str!("../../alerts/awsconn.rules.yml");
        let html = page();
        let names: Vec<&str> = rules
            .lines()
            .filter_map(|l| l.trim().strip_prefix("- alert: "))
            .collect();
        assert!(names.len() > 20, "{names:?}");
        for name in names {
            let id = format!(r#"<h2 id="{}">"#, name.to_ascii_lowercase());
            assert!(html.contains(&id), "no section {id} for {name}");
        }
    }
}
