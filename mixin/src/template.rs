//! Renders the small subset of Prometheus' Go templates the annotations use,
//! to write the annotations each promtool case expects. promtool renders the
//! same annotations with Go's engine, so a template that does not say what
//! the generator thinks it says fails the tests. A label the series do not
//! carry is an error here, which catches a misspelt `$labels.x`.

use std::collections::BTreeMap;

/// A template the renderer does not understand, or a label the alert lacks.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct TemplateError(String);

/// `{{ $labels.x }}`, `{{ $value | humanize... }}`, `{{ printf "..." $value }}`
/// and `{{ if $labels.x }}…{{ else }}…{{ end }}` (not nested).
pub fn render(
    template: &str,
    labels: &BTreeMap<String, String>,
    value_text: Option<&str>,
) -> Result<String, TemplateError> {
    render_text(template, labels, value_text).map_err(TemplateError)
}

fn render_text(
    template: &str,
    labels: &BTreeMap<String, String>,
    value_text: Option<&str>,
) -> Result<String, String> {
    let mut out = String::new();
    // (condition, in the else branch)
    let mut branch: Option<(bool, bool)> = None;
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        let text = &rest[..start];
        let end = rest[start..]
            .find("}}")
            .ok_or_else(|| format!("unclosed action in {template:?}"))?
            + start;
        let action = rest[start + 2..end].trim();
        rest = &rest[end + 2..];
        let emitting = match branch {
            None => true,
            Some((cond, in_else)) => cond != in_else,
        };
        if emitting {
            out.push_str(text);
        }
        if let Some(cond) = action.strip_prefix("if ") {
            if branch.is_some() {
                return Err(format!("nested if in {template:?}"));
            }
            // A label the alert lacks is empty, as in Go, so `if` can test for it.
            let name = cond
                .trim()
                .strip_prefix("$labels.")
                .ok_or_else(|| format!("unsupported condition {cond:?}"))?;
            let value = labels.get(name).map_or("", String::as_str);
            branch = Some((!value.is_empty(), false));
        } else if action == "else" {
            let (cond, _) = branch.ok_or_else(|| format!("else without if in {template:?}"))?;
            branch = Some((cond, true));
        } else if action == "end" {
            branch
                .take()
                .ok_or_else(|| format!("end without if in {template:?}"))?;
        } else if emitting {
            out.push_str(&expression(action, labels, value_text)?);
        }
    }
    if branch.is_some() {
        return Err(format!("if without end in {template:?}"));
    }
    out.push_str(rest);
    Ok(out)
}

fn label<'a>(reference: &str, labels: &'a BTreeMap<String, String>) -> Result<&'a str, String> {
    let name = reference
        .strip_prefix("$labels.")
        .ok_or_else(|| format!("unsupported reference {reference:?}"))?;
    labels
        .get(name)
        .map(String::as_str)
        .ok_or_else(|| format!("label {name:?} is not on the alert"))
}

fn expression(
    action: &str,
    labels: &BTreeMap<String, String>,
    value_text: Option<&str>,
) -> Result<String, String> {
    if action.starts_with("$labels.") {
        return label(action, labels).map(str::to_owned);
    }
    let uses_value = matches!(
        action,
        "$value | humanizePercentage" | "$value | humanizeDuration" | "$value | humanize"
    ) || (action.starts_with("printf ") && action.ends_with(" $value"));
    if uses_value {
        return value_text
            .map(str::to_owned)
            .ok_or_else(|| format!("{action:?} needs the case's value text"));
    }
    Err(format!("unsupported action {{{{ {action} }}}}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels() -> BTreeMap<String, String> {
        [
            ("vpc_link_id", "abc"),
            ("target_group", "tg"),
            ("load_balancer", ""),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
    }

    #[test]
    fn labels_values_and_branches() {
        let text = render(
            "link {{ $labels.vpc_link_id }}: {{ $value | humanizePercentage }}{{ if $labels.target_group }} tg {{ $labels.target_group }}{{ else }} lb{{ end }}.",
            &labels(),
            Some("20%"),
        )
        .unwrap();
        assert_eq!(text, "link abc: 20% tg tg.");
        let other = render(
            "{{ if $labels.load_balancer }}lb{{ else }}no lb{{ end }}",
            &labels(),
            None,
        )
        .unwrap();
        assert_eq!(other, "no lb");
    }

    #[test]
    fn misspelt_labels_and_unknown_actions_are_errors() {
        assert!(render("{{ $labels.vpc_link }}", &labels(), None).is_err());
        assert!(render("{{ .Labels.x }}", &labels(), None).is_err());
        assert!(render("{{ $value | humanize }}", &labels(), None).is_err());
        assert!(render("{{ if $labels.vpc_link_id }}x", &labels(), None).is_err());
        assert!(render("{{ $labels.vpc_link_id", &labels(), None).is_err());
    }
}
