//! The landing page at `/`: what this is and where to go next.

/// Text (from AWS, or a query) as HTML text or an attribute value: markup
/// escaped, and characters that act on the screen written as `\u{..}`
/// ([`crate::visible`]), so a name cannot reorder or hide the page around it.
pub fn escape(text: &str) -> String {
    let text = crate::visible::visible(text);
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

pub fn page(telemetry_path: &str, ready: bool) -> String {
    let path = escape(telemetry_path);
    let status = if ready {
        "first poll complete"
    } else {
        "waiting for the first poll"
    };
    format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>AWS Connectivity Exporter</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 46rem; line-height: 1.5; color: #1d232a; }}
h1 {{ font-size: 1.4rem; }}
code {{ background: #f1f3f5; padding: 0 .25rem; border-radius: 3px; }}
li {{ margin: .3rem 0; }}
</style>
</head>
<body>
<h1>AWS Connectivity Exporter</h1>
<p>Watches API Gateway VPC links, PrivateLink and AWS Interconnect paths and exports their state for Prometheus.</p>
<p>Status: {status}.</p>
<ul>
<li><a href="{path}">{path}</a> — metrics for Prometheus</li>
<li><a href="/links">/links</a> — every VPC link's path, hop by hop, with the runbook's findings</li>
<li><a href="/runbooks">/runbooks</a> — what each alert means, how to confirm it, how to fix it</li>
<li><a href="/ready">/ready</a> — 200 once every collector has finished its first poll</li>
<li><a href="/healthz">/healthz</a> — 200 while the process is up</li>
</ul>
<p>Version {version}.</p>
</body>
</html>
"#,
        version = env!("CARGO_PKG_VERSION"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(
            escape("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }

    #[test]
    fn page_links_the_telemetry_path() {
        let html = page("/custom<metrics>", false);
        assert!(html.contains("href=\"/custom&lt;metrics&gt;\""));
        assert!(html.contains("waiting for the first poll"));
    }
}
