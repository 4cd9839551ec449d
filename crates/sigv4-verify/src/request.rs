//! The request as the client sent it.

/// One HTTP request, raw. Take every field from the wire (API Gateway REST API or Function
/// URL event fields, the local server's request line), never from a parsed URI: SigV4 signs
/// the bytes the client sent.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// The method, as sent (`GET`, `PUT`, ...).
    pub method: &'a str,
    /// The path, still percent-encoded, including any base-path prefix the client signed
    /// (see [`crate::operation_path`] to strip it for routing afterwards).
    pub path: &'a str,
    /// The query string without the `?`, still encoded (`+` is a literal `+`).
    pub query: &'a str,
    /// Every header, names in any case; a name may repeat (values are joined with `,`, as
    /// API Gateway does).
    pub headers: &'a [(&'a str, &'a [u8])],
    /// The body bytes as received (aws-chunked framing included).
    pub body: &'a [u8],
}

impl<'a> Request<'a> {
    /// Every value of a header, in order, matching the name case-insensitively.
    pub fn header_values<'s>(&'s self, name: &'s str) -> impl Iterator<Item = &'a [u8]> + 's {
        self.headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| *v)
    }

    /// The header's one value; `Err(())` when it is repeated.
    pub(crate) fn single_header(&self, name: &str) -> Result<Option<&'a [u8]>, ()> {
        let mut values = self.header_values(name);
        let first = values.next();
        if values.next().is_some() {
            return Err(());
        }
        Ok(first)
    }
}
