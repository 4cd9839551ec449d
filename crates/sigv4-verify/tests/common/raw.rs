//! An owned HTTP request for the verifier's tests and the fuzz targets (which include this
//! file and `rust_signer.rs` by path, so both use the same signed inputs).

use tollgate_sigv4::Request;

/// An owned request, editable by the negative tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Raw {
    pub method: String,
    pub path: String,
    pub query: String,
    pub headers: Vec<(String, Vec<u8>)>,
    pub body: Vec<u8>,
}

impl Raw {
    pub fn with<R>(&self, f: impl FnOnce(&Request<'_>) -> R) -> R {
        let headers: Vec<(&str, &[u8])> = self
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_slice()))
            .collect();
        f(&Request {
            method: &self.method,
            path: &self.path,
            query: &self.query,
            headers: &headers,
            body: &self.body,
        })
    }

    /// The target as `path?query` split at the first `?`.
    pub fn set_target(&mut self, target: &str) {
        let (p, q) = target.split_once('?').unwrap_or((target, ""));
        self.path = p.to_string();
        self.query = q.to_string();
    }

    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_slice())
    }

    pub fn set_header(&mut self, name: &str, value: &[u8]) {
        match self
            .headers
            .iter_mut()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
        {
            Some(h) => h.1 = value.to_vec(),
            None => self.headers.push((name.to_string(), value.to_vec())),
        }
    }

    pub fn remove_header(&mut self, name: &str) {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
    }

    /// Parses a raw HTTP/1.1 request as the AWS signing test suite writes it: request line
    /// (the target may hold spaces; the version is optional), headers with obs-fold
    /// continuation lines (folded into one space, as RFC 9112 says a recipient does), an
    /// empty line, the body.
    pub fn parse_http(text: &str) -> Raw {
        let (head, body) = match text.split_once("\n\n") {
            Some((h, b)) => (h, b),
            None => (text.trim_end_matches('\n'), ""),
        };
        let mut lines = head.lines();
        let request_line = lines.next().expect("request line");
        let (method, target) = request_line.split_once(' ').expect("method");
        let target = target.strip_suffix(" HTTP/1.1").unwrap_or(target);
        let mut headers: Vec<(String, Vec<u8>)> = Vec::new();
        for line in lines {
            if line.starts_with([' ', '\t']) {
                let last = headers.last_mut().expect("continuation after a header");
                last.1.push(b' ');
                last.1.extend_from_slice(line.trim().as_bytes());
                continue;
            }
            let (n, v) = line.split_once(':').expect("header line");
            headers.push((
                n.to_string(),
                v.trim_matches([' ', '\t']).as_bytes().to_vec(),
            ));
        }
        let mut raw = Raw {
            method: method.to_string(),
            path: String::new(),
            query: String::new(),
            headers,
            body: body.as_bytes().to_vec(),
        };
        raw.set_target(target);
        raw
    }
}
