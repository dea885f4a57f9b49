//! The parts of an HTTP request the gate looks at (adapters build it from their own request type).

/// The parts of an HTTP request the gate looks at.
#[derive(Clone, Copy, Debug)]
pub struct Request<'r> {
    /// Method, upper case.
    pub method: &'r str,
    /// Path as sent (percent-encoded, without query).
    pub path: &'r str,
    /// The query as sent, without `?` (empty when there is none). Credentials travel here too.
    pub query: &'r str,
    /// Headers as `(name, value)`; names are compared case-insensitively.
    pub headers: &'r [(&'r str, &'r str)],
}

impl<'r> Request<'r> {
    /// All values of a header.
    pub fn headers_named(&self, name: &str) -> Vec<&'r str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| *v)
            .collect()
    }

    pub(crate) fn has_header(&self, name: &str) -> bool {
        self.headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case(name))
    }
}
