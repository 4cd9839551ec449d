//! From the path the client signed to the path the operation decoder routes on, when the
//! front door is mounted under a base path (`AWS_ENDPOINT_URL=https://host/aws`).
//!
//! The SDKs join a base path differently (research notes §3): botocore sends RPC calls to
//! `/aws` and REST calls to `/aws/<uri>`; the Rust SDK sends RPC calls to `/aws/`; the JS SDK
//! appends a REST URI to an endpoint ending in `/`, giving `/aws//<uri>`. All three must
//! reach the same operation, so after verification (which always uses the full raw path):
//! the base itself and the base plus `/` are `/`, and one extra `/` right after the base is
//! dropped. Nothing else changes: an S3 key's own `//` or `..` stays as the client sent it.

/// The operation path for a raw request path under `base_path` (`""` or `/` for none, else
/// like `/aws` or `/prod/aws`, with or without a trailing `/`), or `None` when the path is
/// not under the base (answer 404). The result is still percent-encoded.
pub fn operation_path<'a>(raw_path: &'a str, base_path: &str) -> Option<&'a str> {
    let base = base_path.trim_end_matches('/');
    let rest = raw_path.strip_prefix(base)?;
    if rest.is_empty() {
        return Some("/");
    }
    if !rest.starts_with('/') {
        // `/awsx` is not under `/aws`; a raw path without a leading `/` is under nothing.
        return None;
    }
    if !base.is_empty() && rest.starts_with("//") {
        return Some(&rest[1..]);
    }
    Some(rest)
}

#[cfg(test)]
mod tests {
    use super::operation_path;

    #[test]
    fn every_sdks_join_reaches_the_same_operation_path() {
        for raw in ["/aws", "/aws/", "/aws//"] {
            assert_eq!(operation_path(raw, "/aws"), Some("/"), "{raw}");
            assert_eq!(operation_path(raw, "/aws/"), Some("/"), "{raw}");
        }
        for raw in ["/aws/bucket/key", "/aws//bucket/key"] {
            assert_eq!(operation_path(raw, "/aws"), Some("/bucket/key"), "{raw}");
        }
        assert_eq!(
            operation_path("/aws/2015-03-31/functions/f%3A1/invocations", "/aws"),
            Some("/2015-03-31/functions/f%3A1/invocations")
        );
    }

    #[test]
    fn keys_keep_their_own_slashes_and_dots() {
        assert_eq!(operation_path("/aws/b//k/../x", "/aws"), Some("/b//k/../x"));
        assert_eq!(operation_path("/aws//b//k", "/aws"), Some("/b//k"));
        assert_eq!(operation_path("/b//k", ""), Some("/b//k"));
        assert_eq!(operation_path("//b", "/"), Some("//b"));
        assert_eq!(operation_path("", ""), Some("/"));
    }

    #[test]
    fn paths_outside_the_base_are_not_routed() {
        assert_eq!(operation_path("/awsx/y", "/aws"), None);
        assert_eq!(operation_path("/other", "/aws"), None);
        assert_eq!(operation_path("/", "/aws"), None);
        assert_eq!(operation_path("/prod/aws/x", "/prod/aws"), Some("/x"));
        assert_eq!(operation_path("/aws/x", "/prod/aws"), None);
    }
}
