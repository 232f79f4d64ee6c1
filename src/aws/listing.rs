//! One list call read page by page, the same way for every service: a
//! failed page is the call's error, named by service and operation, and an
//! item AWS sends without the field that names it (an id, an ARN) is left
//! out and counted in `awsconn_aws_incomplete_items_total`, never exported
//! under an empty name. And the tags a list call returns inline.

use super::error::AwsError;
use super::telemetry::ApiTelemetry;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

/// A list call: its service and operation, and where skipped items count.
#[derive(Clone, Copy)]
pub(super) struct Listing<'t> {
    telemetry: &'t ApiTelemetry,
    pub service: &'static str,
    pub operation: &'static str,
}

impl<'t> Listing<'t> {
    pub fn new(
        telemetry: &'t ApiTelemetry,
        service: &'static str,
        operation: &'static str,
    ) -> Self {
        Listing {
            telemetry,
            service,
            operation,
        }
    }

    /// What a paginator's `next()` gave: the page, `None` after the last,
    /// or the call's error.
    pub fn page<O, E>(&self, next: Option<Result<O, E>>) -> Result<Option<O>, AwsError>
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        next.transpose()
            .map_err(|e| AwsError::from_sdk(self.service, self.operation, e))
    }

    /// An item's naming field (`field` says which, for the count), or
    /// `None` when AWS left it out or empty: the item is then skipped and
    /// counted.
    pub fn named<'a>(&self, value: Option<&'a str>, field: &str) -> Option<&'a str> {
        let value = value.filter(|v| !v.is_empty());
        if value.is_none() {
            self.skipped(&format!("missing {field}"));
        }
        value
    }

    /// Counts an item left out for `reason`.
    pub fn skipped(&self, reason: &str) {
        self.telemetry
            .skipped_item(self.service, self.operation, reason);
    }
}

/// A resource's tags as a list call returns them inline (API Gateway's
/// maps), every one: the collectors filter on them, then keep the named.
pub(super) fn tag_map(
    tags: Option<&std::collections::HashMap<String, String>>,
) -> std::collections::BTreeMap<String, String> {
    tags.map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_smithy_types::error::ErrorMetadata;

    fn exposition(telemetry: &ApiTelemetry) -> String {
        let mut registry = prometheus_client::registry::Registry::default();
        telemetry.register(&mut registry);
        crate::exposition::encode_text(&registry)
    }

    #[test]
    fn a_failed_page_is_the_calls_error_and_the_end_is_none() {
        let telemetry = ApiTelemetry::default();
        let call = Listing::new(&telemetry, "ec2", "DescribeSubnets");
        let failed: Option<Result<u8, ErrorMetadata>> =
            Some(Err(ErrorMetadata::builder().code("Throttling").build()));
        let err = call.page(failed).unwrap_err();
        assert_eq!((err.service, err.operation), ("ec2", "DescribeSubnets"));
        assert_eq!(err.code.as_deref(), Some("Throttling"));
        assert_eq!(
            call.page(Some(Ok::<u8, ErrorMetadata>(7))).unwrap(),
            Some(7)
        );
        assert_eq!(call.page(None::<Result<u8, ErrorMetadata>>).unwrap(), None);
    }

    /// An item without its id, or with an empty one, is left out and
    /// counted under its call and reason.
    #[test]
    fn an_item_without_its_name_is_skipped_and_counted() {
        let telemetry = ApiTelemetry::default();
        let call = Listing::new(&telemetry, "ec2", "DescribeSubnets");
        assert_eq!(call.named(Some("subnet-1"), "subnetId"), Some("subnet-1"));
        assert_eq!(call.named(Some(""), "subnetId"), None);
        assert_eq!(call.named(None, "subnetId"), None);
        let text = exposition(&telemetry);
        let line = text
            .lines()
            .find(|l| l.starts_with("awsconn_aws_incomplete_items_total{"))
            .unwrap_or_else(|| panic!("{text}"));
        assert!(line.contains("operation=\"DescribeSubnets\""), "{line}");
        assert!(line.contains("reason=\"missing subnetId\""), "{line}");
        assert!(line.ends_with(" 2"), "{line}");
    }
}
