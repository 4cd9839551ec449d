//! A minimal XML tree: parsed from responses with quick-xml, and written for request bodies
//! exactly as Python's ElementTree (`tostring`) writes them.

use quick_xml::XmlVersion;
use quick_xml::events::Event;
use quick_xml::reader::Reader;

/// Deeper documents are refused (no AWS response comes close).
const MAX_DEPTH: usize = 200;

/// An element: local name (namespace prefix stripped, as botocore does), attributes (qualified
/// names), text before the first child, children.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Node {
    pub name: String,
    pub attrs: Vec<(String, String)>,
    pub text: String,
    pub children: Vec<Node>,
}

impl Node {
    pub fn child(&self, name: &str) -> Option<&Node> {
        self.children.iter().find(|c| c.name == name)
    }

    /// The first element named `name`, this one or a descendant (depth first).
    pub fn find(&self, name: &str) -> Option<&Node> {
        let mut stack = vec![self];
        while let Some(n) = stack.pop() {
            if n.name == name {
                return Some(n);
            }
            stack.extend(n.children.iter().rev());
        }
        None
    }
}

fn local(qname: &str) -> &str {
    qname.rsplit_once(':').map_or(qname, |(_, l)| l)
}

fn start_node(e: &quick_xml::events::BytesStart<'_>) -> Result<Node, String> {
    let name = local(e.name().as_ref()).to_string();
    let mut attrs = Vec::new();
    for a in e.attributes() {
        let a = a.map_err(|e| e.to_string())?;
        let v = a
            .normalized_value(XmlVersion::Implicit1_0)
            .map_err(|e| e.to_string())?;
        attrs.push((a.key.as_ref().to_string(), v.into_owned()));
    }
    Ok(Node {
        name,
        attrs,
        ..Node::default()
    })
}

fn resolve_entity(name: &str) -> Option<&'static str> {
    Some(match name {
        "lt" => "<",
        "gt" => ">",
        "amp" => "&",
        "apos" => "'",
        "quot" => "\"",
        _ => return None,
    })
}

/// Parses a document into its root element.
pub(crate) fn parse(body: &[u8]) -> Result<Node, String> {
    let text = String::from_utf8_lossy(body);
    let mut reader = Reader::from_str(&text);
    let mut stack: Vec<Node> = Vec::new();
    let mut root: Option<Node> = None;
    loop {
        let ev = reader.read_event().map_err(|e| e.to_string())?;
        match ev {
            Event::Start(e) => {
                if root.is_some() {
                    break;
                }
                if stack.len() >= MAX_DEPTH {
                    return Err("document nested too deeply".into());
                }
                stack.push(start_node(&e)?);
            }
            Event::Empty(e) => {
                let node = start_node(&e)?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(node),
                    None => {
                        root = Some(node);
                        break;
                    }
                }
            }
            Event::End(_) => {
                let Some(node) = stack.pop() else {
                    return Err("unbalanced end tag".into());
                };
                match stack.last_mut() {
                    Some(parent) => parent.children.push(node),
                    None => {
                        root = Some(node);
                        break;
                    }
                }
            }
            Event::Text(t) => push_text(&mut stack, &t.xml10_content()),
            Event::CData(t) => push_text(&mut stack, &t.xml10_content()),
            Event::GeneralRef(r) => {
                let s = match r.resolve_char_ref().map_err(|e| e.to_string())? {
                    Some(c) => c.to_string(),
                    None => match resolve_entity(&r) {
                        Some(s) => s.to_string(),
                        None => format!("&{};", &*r),
                    },
                };
                push_text(&mut stack, &s);
            }
            Event::Eof => break,
            Event::Comment(_) | Event::Decl(_) | Event::PI(_) | Event::DocType(_) => {}
        }
    }
    root.ok_or_else(|| {
        if stack.is_empty() {
            "no root element".to_string()
        } else {
            "truncated document".to_string()
        }
    })
}

fn push_text(stack: &mut [Node], s: &str) {
    if let Some(top) = stack.last_mut()
        && top.children.is_empty()
    {
        top.text.push_str(s);
    }
}

/// An element to write.
#[derive(Debug, Clone, Default)]
pub(crate) struct El {
    pub name: String,
    pub attrs: Vec<(String, String)>,
    pub text: String,
    pub children: Vec<El>,
}

impl El {
    pub fn new(name: &str) -> El {
        El {
            name: name.to_string(),
            ..El::default()
        }
    }

    /// Sets an attribute (replacing an existing one in place, as a Python dict does).
    pub fn set_attr(&mut self, k: String, v: String) {
        match self.attrs.iter_mut().find(|(ek, _)| *ek == k) {
            Some(slot) => slot.1 = v,
            None => self.attrs.push((k, v)),
        }
    }

    /// ElementTree's serialization: `<a x="1">text<b /></a>`, no declaration.
    pub fn write(&self, out: &mut String) {
        out.push('<');
        out.push_str(&self.name);
        for (k, v) in &self.attrs {
            out.push(' ');
            out.push_str(k);
            out.push_str("=\"");
            escape_attr(v, out);
            out.push('"');
        }
        if self.text.is_empty() && self.children.is_empty() {
            out.push_str(" />");
            return;
        }
        out.push('>');
        escape_text(&self.text, out);
        for c in &self.children {
            c.write(out);
        }
        out.push_str("</");
        out.push_str(&self.name);
        out.push('>');
    }
}

fn escape_text(s: &str, out: &mut String) {
    escape(s, out, |b| match b {
        b'&' => Some("&amp;"),
        b'<' => Some("&lt;"),
        b'>' => Some("&gt;"),
        _ => None,
    });
}

fn escape_attr(s: &str, out: &mut String) {
    escape(s, out, |b| match b {
        b'&' => Some("&amp;"),
        b'<' => Some("&lt;"),
        b'>' => Some("&gt;"),
        b'"' => Some("&quot;"),
        b'\r' => Some("&#13;"),
        b'\n' => Some("&#10;"),
        b'\t' => Some("&#09;"),
        _ => None,
    });
}

/// Copies `s` in runs between the bytes `entity` replaces (all ASCII, so runs stay on
/// character boundaries).
fn escape(s: &str, out: &mut String, entity: impl Fn(u8) -> Option<&'static str>) {
    let mut run = 0;
    for (i, b) in s.bytes().enumerate() {
        if let Some(e) = entity(b) {
            out.push_str(&s[run..i]);
            out.push_str(e);
            run = i + 1;
        }
    }
    out.push_str(&s[run..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_entities_namespaces_and_cdata() {
        let n = parse(
            br#"<?xml version="1.0" encoding="UTF-8"?>
<a:Root xmlns:a="urn:x" k="v&amp;w"><B>x &amp; y &#65;&#x42;</B><C/><D><![CDATA[<raw>]]></D></a:Root>"#,
        )
        .unwrap();
        assert_eq!(n.name, "Root");
        assert_eq!(n.attrs[1], ("k".to_string(), "v&w".to_string()));
        assert_eq!(n.child("B").unwrap().text, "x & y AB");
        assert_eq!(n.child("C").unwrap().text, "");
        assert_eq!(n.child("D").unwrap().text, "<raw>");
        assert!(parse(b"").is_err());
        assert!(parse(b"<a><b></a>").is_err());
        assert!(parse(b"<a><b>").is_err());
        assert!(parse("<a>".repeat(500).as_bytes()).is_err());
    }

    #[test]
    fn writes_like_elementtree() {
        let mut root = El::new("R");
        root.set_attr("xmlns".into(), "urn:x".into());
        let mut c = El::new("C");
        c.text = "a<b>&\"".into();
        root.children.push(c);
        root.children.push(El::new("E"));
        let mut s = String::new();
        root.write(&mut s);
        assert_eq!(s, r#"<R xmlns="urn:x"><C>a&lt;b&gt;&amp;"</C><E /></R>"#);
    }
}
