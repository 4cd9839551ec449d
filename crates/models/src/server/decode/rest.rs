//! The `rest-json` and `rest-xml` protocols: the operation from the method and URI template,
//! then the members bound to the URI, the query string and headers, and the body (a payload
//! member, or the remaining members as JSON or XML). The inverse of `request::rest`.

use serde_json::{Map, Value};

use super::json::{body_struct, json_value, map_value, member, parse_body};
use super::route::{Matched, Routes};
use super::{
    Headers, Params, invalid, is_presign_param, malformed, member_path, operation, query_pairs,
    scalar, shorten,
};
use crate::encode::{b64_decode, b64_encode};
use crate::model::{Location, Protocol, Ref, ServiceModel, Shape, ShapeType};
use crate::server::{DecodeError, DecodeErrorKind, WireRequest};

pub(super) fn decode<'m>(
    model: &'m ServiceModel,
    req: &WireRequest<'_>,
    headers: &Headers<'_>,
) -> Result<(&'m str, Params), DecodeError> {
    let query = query_pairs(req.query)?;
    let routes = model.routes.get_or_init(|| Routes::build(model));
    let candidates = routes.find(model.service_name(), req.method, req.path, &query, headers)?;
    let mut first_error = None;
    for matched in &candidates {
        match decode_as(model, matched, &query, headers, req.body) {
            Ok(found) => return Ok(found),
            // A twin sharing the template may take this input (S3's PutBucketNotification
            // and PutBucketNotificationConfiguration): the first error is the one to report.
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    Err(first_error.unwrap_or_else(|| invalid("", "no operation matches")))
}

fn decode_as<'m>(
    model: &'m ServiceModel,
    matched: &Matched<'_>,
    query: &[(String, String)],
    headers: &Headers<'_>,
    body: &[u8],
) -> Result<(&'m str, Params), DecodeError> {
    let op = operation(model, matched.operation)?;
    let params = match op.def.input.as_deref() {
        Some(input) => {
            let shape = model.shape(input).map_err(|e| invalid("params", e.0))?;
            Reader {
                model,
                xml: model.protocol() == Protocol::RestXml,
                headers,
            }
            .input(shape, matched, query, body)?
        }
        None => Map::new(),
    };
    Ok((op.name(), params))
}

struct Reader<'a, 'm> {
    model: &'m ServiceModel,
    xml: bool,
    headers: &'a Headers<'a>,
}

impl Reader<'_, '_> {
    fn input(
        &self,
        shape: &Shape,
        matched: &Matched<'_>,
        query: &[(String, String)],
        body: &[u8],
    ) -> Result<Params, DecodeError> {
        let mut out = Map::new();
        let mut map_member = None;
        for (name, mref) in &shape.members {
            let Some(location) = mref.location else {
                continue;
            };
            // Top-level bound members carry their wire name on the reference. Most members of
            // an input are absent: look first, resolve and name the path only when present.
            let key = mref.location_name.as_deref().unwrap_or(name);
            let present = match location {
                Location::Uri => matched.labels.iter().any(|(k, _)| *k == key),
                Location::QueryString => true,
                Location::Header => self.headers.has(key),
                Location::Headers => !self.headers.with_prefix(key).is_empty(),
                _ => false,
            };
            if !present {
                continue;
            }
            let r = self
                .model
                .resolve(mref)
                .map_err(|e| invalid("params", e.0))?;
            if location == Location::QueryString && r.ty() == ShapeType::Map {
                map_member = Some((name, r));
                continue;
            }
            if location == Location::QueryString && !query.iter().any(|(k, _)| k == key) {
                continue;
            }
            let path = member_path("params", name);
            let value = match location {
                Location::Uri => match matched.labels.iter().find(|(k, _)| *k == key) {
                    Some((_, v)) => Some(scalar(r, v, &path)?),
                    None => None,
                },
                Location::QueryString => self.query_value(r, key, query, &path)?,
                Location::Header => self.header_value(r, key, &path)?,
                Location::Headers => self.prefix_headers(r, key, &path)?,
                _ => None,
            };
            if let Some(v) = value {
                out.insert(name.clone(), v);
            }
        }
        if let Some((name, r)) = map_member {
            let bound = |k: &str| {
                matched.literal_query.iter().any(|(lk, _)| lk == k)
                    || shape.members.iter().any(|(n, m)| {
                        m.location == Some(Location::QueryString)
                            && m.location_name.as_deref().unwrap_or(n) == k
                    })
            };
            let free: Vec<&(String, String)> = query
                .iter()
                .filter(|(k, _)| !bound(k) && !is_presign_param(k))
                .collect();
            if let Some(v) = self.query_map(r, &free, &member_path("params", name))? {
                out.insert(name.clone(), v);
            }
        }
        self.body(shape, body, &mut out)?;
        Ok(out)
    }

    fn query_value(
        &self,
        r: Ref<'_>,
        key: &str,
        query: &[(String, String)],
        path: &str,
    ) -> Result<Option<Value>, DecodeError> {
        let mut values = query.iter().filter(|(k, _)| k == key).map(|(_, v)| v);
        if r.ty() == ShapeType::List {
            let mr = member(self.model, r, path)?;
            let items = values
                .enumerate()
                .map(|(i, v)| scalar(mr, v, &format!("{path}[{i}]")))
                .collect::<Result<Vec<_>, _>>()?;
            return Ok((!items.is_empty()).then_some(Value::Array(items)));
        }
        let Some(first) = values.next() else {
            return Ok(None);
        };
        if values.next().is_some() {
            return Err(invalid(
                path,
                format!("query parameter `{}` is given more than once", shorten(key)),
            ));
        }
        scalar(r, first, path).map(Some)
    }

    /// A map bound to the whole query string: every parameter no other member takes.
    fn query_map(
        &self,
        r: Ref<'_>,
        free: &[&(String, String)],
        path: &str,
    ) -> Result<Option<Value>, DecodeError> {
        let vr = map_value(self.model, r, path)?;
        let mut out: Map<String, Value> = Map::new();
        for (k, v) in free {
            let p = member_path(path, k);
            if vr.ty() == ShapeType::List {
                let mr = member(self.model, vr, &p)?;
                let item = scalar(mr, v, &p)?;
                match out
                    .entry(k.clone())
                    .or_insert_with(|| Value::Array(Vec::new()))
                {
                    Value::Array(items) => items.push(item),
                    _ => unreachable!("list entries are arrays"),
                }
            } else if out.insert(k.clone(), scalar(vr, v, &p)?).is_some() {
                return Err(invalid(
                    &p,
                    format!("query parameter `{}` is given more than once", shorten(k)),
                ));
            }
        }
        Ok((!out.is_empty()).then_some(Value::Object(out)))
    }

    fn header_value(
        &self,
        r: Ref<'_>,
        name: &str,
        path: &str,
    ) -> Result<Option<Value>, DecodeError> {
        if name.eq_ignore_ascii_case("Content-Length") {
            // The HTTP layer's, not the caller's: the builder leaves it out too.
            return Ok(None);
        }
        let Some(raw) = self.headers.get(name) else {
            return Ok(None);
        };
        let mut text = raw.into_owned();
        if name.eq_ignore_ascii_case("Content-Encoding") {
            // The chunked framing is the transport's (already removed from the body).
            text = text
                .split(',')
                .map(str::trim)
                .filter(|c| !c.eq_ignore_ascii_case("aws-chunked") && !c.is_empty())
                .collect::<Vec<_>>()
                .join(",");
            if text.is_empty() {
                return Ok(None);
            }
        }
        if r.is_json_value_header() {
            let doc = b64_decode(&text)
                .and_then(|b| serde_json::from_slice(&b).ok())
                .ok_or_else(|| {
                    invalid(path, format!("header `{name}` is not base64-encoded JSON"))
                })?;
            return Ok(Some(doc));
        }
        match r.ty() {
            ShapeType::List => {
                let mr = member(self.model, r, path)?;
                let items = split_header_list(&text)
                    .ok_or_else(|| invalid(path, format!("header `{name}`: unbalanced quotes")))?
                    .iter()
                    .enumerate()
                    .map(|(i, s)| scalar(mr, s, &format!("{path}[{i}]")))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(Some(Value::Array(items)))
            }
            ShapeType::Structure | ShapeType::Map => {
                Err(invalid(path, "model error: a structure bound to a header"))
            }
            _ => scalar(r, &text, path).map(Some),
        }
    }

    fn prefix_headers(
        &self,
        r: Ref<'_>,
        prefix: &str,
        path: &str,
    ) -> Result<Option<Value>, DecodeError> {
        let vr = map_value(self.model, r, path)?;
        let mut out = Map::new();
        for (k, v) in self.headers.with_prefix(prefix) {
            let value = match out.remove(k) {
                // Repeated: joined, as HTTP joins them.
                Some(Value::String(first)) => format!("{first},{v}"),
                _ => v.to_string(),
            };
            let p = member_path(path, k);
            out.insert(k.to_string(), scalar(vr, &value, &p)?);
        }
        Ok((!out.is_empty()).then_some(Value::Object(out)))
    }

    fn body(&self, shape: &Shape, body: &[u8], out: &mut Params) -> Result<(), DecodeError> {
        if let Some(payload) = shape.payload.as_deref() {
            let mref = shape
                .members
                .get(payload)
                .ok_or_else(|| invalid("params", "model error: payload member is missing"))?;
            let r = self
                .model
                .resolve(mref)
                .map_err(|e| invalid("params", e.0))?;
            let path = member_path("params", payload);
            let value = match r.ty() {
                _ if body.is_empty() => None,
                ShapeType::Blob => Some(Value::String(b64_encode(body))),
                ShapeType::String => Some(Value::String(
                    String::from_utf8(body.to_vec())
                        .map_err(|_| malformed(&path, "the body is not UTF-8 text"))?,
                )),
                _ if body.trim_ascii().is_empty() => None,
                ShapeType::Structure if self.xml && r.shape.document => {
                    return Err(DecodeError::new(
                        DecodeErrorKind::Unsupported,
                        &path,
                        "document values in XML bodies",
                    ));
                }
                _ if self.xml => {
                    let root = super::xml::parse_root(body)?;
                    Some(super::xml::value(self.model, r, &[&root], &path, 0)?)
                }
                _ => {
                    let v = json_value(self.model, r, &parse_body(body)?, &path, 0)?;
                    // botocore sends `{}` for an absent structure payload.
                    let absent = v.as_object().is_some_and(Map::is_empty)
                        && !shape.required.iter().any(|m| m == payload);
                    (!absent).then_some(v)
                }
            };
            if let Some(v) = value {
                out.insert(payload.to_string(), v);
            }
            return Ok(());
        }
        if body.trim_ascii().is_empty() || !shape.members.values().any(|m| m.location.is_none()) {
            // Nothing is read from the body: an operation without body members ignores one.
            return Ok(());
        }
        let members = if self.xml {
            let root = super::xml::parse_root(body)?;
            super::xml::structure(self.model, shape, &root, true, "params", 0)?
        } else {
            body_struct(self.model, shape, &parse_body(body)?, true, "params")?
        };
        out.extend(members);
        Ok(())
    }
}

/// `a, "b,c", "say \"hi\""` into its items: the inverse of the builder's header lists (items
/// with `,` or `"` quoted, `"` escaped as `\"`). None for an unterminated quote.
fn split_header_list(s: &str) -> Option<Vec<String>> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| *c == ' ' || *c == '\t') {
            chars.next();
        }
        if chars.peek() == Some(&'"') {
            chars.next();
            let mut item = String::new();
            loop {
                match chars.next()? {
                    '\\' if chars.peek() == Some(&'"') => {
                        chars.next();
                        item.push('"');
                    }
                    '"' => break,
                    c => item.push(c),
                }
            }
            out.push(item);
            while chars.peek().is_some_and(|c| *c == ' ' || *c == '\t') {
                chars.next();
            }
            match chars.next() {
                None => return Some(out),
                Some(',') => continue,
                Some(_) => return None,
            }
        }
        let mut item = String::new();
        loop {
            match chars.next() {
                None => {
                    out.push(item.trim().to_string());
                    return Some(out);
                }
                Some(',') => break,
                Some(c) => item.push(c),
            }
        }
        out.push(item.trim().to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::split_header_list;

    #[test]
    fn header_lists() {
        assert_eq!(split_header_list("a,b").unwrap(), ["a", "b"]);
        assert_eq!(split_header_list(" a , b ").unwrap(), ["a", "b"]);
        assert_eq!(
            split_header_list(r#"a, "b,c", "say \"hi\"""#).unwrap(),
            ["a", "b,c", r#"say "hi""#]
        );
        assert_eq!(split_header_list("").unwrap(), [""]);
        assert!(split_header_list(r#""open"#).is_none());
        assert!(split_header_list(r#""a"b"#).is_none());
    }
}
