//! ARN templates (`arn:${Partition}:dynamodb:${Region}:${Account}:table/${TableName}`): their
//! parts, and whether an ARN is an instance of one.

/// One part of a template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part<'a> {
    Text(&'a str),
    Partition,
    Region,
    Account,
    /// A placeholder the call's parameters must supply (`TableName`).
    Name(&'a str),
}

/// The parts of `template`, or `None` when a `${` is not closed.
pub fn parts(template: &str) -> Option<Vec<Part<'_>>> {
    let mut out = Vec::new();
    let mut rest = template;
    while let Some(start) = rest.find("${") {
        if start > 0 {
            out.push(Part::Text(&rest[..start]));
        }
        let end = rest[start..].find('}')? + start;
        out.push(match &rest[start + 2..end] {
            "Partition" => Part::Partition,
            "Region" => Part::Region,
            "Account" => Part::Account,
            name => Part::Name(name),
        });
        rest = &rest[end + 1..];
    }
    if !rest.is_empty() {
        out.push(Part::Text(rest));
    }
    Some(out)
}

/// The service field of a template (`dynamodb`), which an ARN must share to stand for it.
pub fn service(template: &str) -> &str {
    template.split(':').nth(2).unwrap_or("")
}

/// Whether `arn` is an instance of the template `parts`: literal text matches exactly,
/// `${Partition}`, `${Region}` and `${Account}` match one ARN field (no `:`), and a
/// placeholder matches one or more characters.
pub fn matches(parts: &[Part<'_>], arn: &str) -> bool {
    match parts.split_first() {
        None => arn.is_empty(),
        Some((Part::Text(t), rest)) => arn.strip_prefix(t).is_some_and(|a| matches(rest, a)),
        Some((Part::Partition | Part::Region | Part::Account, rest)) => {
            let field = arn.find(':').unwrap_or(arn.len());
            (0..=field).any(|i| matches(rest, &arn[i..]))
        }
        Some((Part::Name(_), rest)) => (1..=arn.len())
            .filter(|i| arn.is_char_boundary(*i))
            .any(|i| matches(rest, &arn[i..])),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instances_of_a_template() {
        let t = parts("arn:${Partition}:dynamodb:${Region}:${Account}:table/${TableName}").unwrap();
        assert!(matches(
            &t,
            "arn:aws:dynamodb:us-east-1:123456789012:table/orders"
        ));
        assert!(!matches(
            &t,
            "arn:aws:dynamodb:us-east-1:123456789012:table/"
        ));
        assert!(!matches(
            &t,
            "arn:aws:dynamodb:us-east-1:123456789012:global-table/x"
        ));
        let s3 = parts("arn:${Partition}:s3:::${BucketName}/${ObjectName}").unwrap();
        assert!(matches(&s3, "arn:aws:s3:::b/a/b/c"));
        assert!(!matches(&s3, "arn:aws:s3:::b"));
        assert_eq!(service("arn:${Partition}:s3:::${BucketName}"), "s3");
        assert!(parts("arn:${Partition").is_none());
    }
}
