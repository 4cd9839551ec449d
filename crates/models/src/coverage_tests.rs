//! Whole-data checks: for every operation of every embedded service, minimal valid parameters
//! are synthesized from the input shape; they must validate and build (or be refused as
//! unsupported), and canned responses must parse or fail as values.

use serde_json::{Map, Value, json};

use crate::model::{Ref, ServiceModel, Shape, ShapeType, load, services};
use crate::{BuildError, build_request, parse_response, validate};

fn string_for(shape: &Shape) -> Value {
    if let Some(values) = &shape.enum_values
        && let Some(first) = values.first()
    {
        return Value::String(first.clone());
    }
    let len = shape.min.unwrap_or(1.0).max(1.0) as usize;
    Value::String("a".repeat(len.min(4096)))
}

fn number_for(shape: &Shape) -> f64 {
    let mut n = shape.min.unwrap_or(1.0).max(1.0);
    if let Some(max) = shape.max
        && n > max
    {
        n = max;
    }
    n
}

fn synth(model: &ServiceModel, r: Ref<'_>, depth: usize) -> Value {
    let shape = r.shape;
    match shape.ty {
        ShapeType::Structure if shape.document => json!({}),
        ShapeType::Structure => {
            let mut obj = Map::new();
            if depth > 12 {
                return Value::Object(obj);
            }
            if shape.union {
                if let Some((name, m)) = shape.members.iter().next()
                    && let Ok(mr) = model.resolve(m)
                {
                    obj.insert(name.clone(), synth(model, mr, depth + 1));
                }
                return Value::Object(obj);
            }
            for req in &shape.required {
                if let Some(m) = shape.members.get(req)
                    && let Ok(mr) = model.resolve(m)
                {
                    obj.insert(req.clone(), synth(model, mr, depth + 1));
                }
            }
            Value::Object(obj)
        }
        ShapeType::List => {
            let n = shape.min.unwrap_or(0.0) as usize;
            let item = shape
                .member
                .as_ref()
                .and_then(|m| model.resolve(m).ok())
                .map(|mr| synth(model, mr, depth + 1))
                .unwrap_or(Value::Null);
            Value::Array(vec![item; n.min(3)])
        }
        ShapeType::Map => {
            let mut obj = Map::new();
            if shape.min.unwrap_or(0.0) >= 1.0
                && let (Some(k), Some(v)) = (shape.key.as_ref(), shape.value.as_ref())
                && let (Ok(kr), Ok(vr)) = (model.resolve(k), model.resolve(v))
                && let Value::String(key) = string_for(kr.shape)
            {
                obj.insert(key, synth(model, vr, depth + 1));
            }
            Value::Object(obj)
        }
        ShapeType::String => string_for(shape),
        ShapeType::Integer | ShapeType::Long => json!(number_for(shape) as i64),
        ShapeType::Float | ShapeType::Double => json!(number_for(shape)),
        ShapeType::Boolean => json!(false),
        ShapeType::Timestamp => json!("2024-01-01T00:00:00Z"),
        ShapeType::Blob => json!("aGk="),
        ShapeType::Other => Value::Null,
    }
}

#[test]
fn every_operation_validates_and_builds_synthesized_params() {
    let mut built = 0;
    let mut refused = Vec::new();
    for service in services() {
        let model = load(service).unwrap_or_else(|e| panic!("{e}"));
        model.check().unwrap_or_else(|e| panic!("{e}"));
        for name in model.operation_names() {
            let op = model.operation(name).unwrap();
            let params = match op.input_shape() {
                Some(input) => {
                    let shape = model.shape(input).unwrap();
                    match synth(model.as_ref(), Ref { r: None, shape }, 0) {
                        Value::Object(m) => m,
                        _ => Map::new(),
                    }
                }
                None => Map::new(),
            };
            if let Err(e) = validate(&model, name, &params) {
                panic!("{service}.{name}: synthesized params rejected: {e}\n{params:?}");
            }
            for endpoint in [None, Some("http://127.0.0.1:5000")] {
                match build_request(&model, name, &params, "us-east-1", endpoint) {
                    Ok(req) => {
                        assert!(req.url.starts_with("http"), "{service}.{name}: {}", req.url);
                        built += 1;
                    }
                    Err(BuildError::Unsupported(m) | BuildError::Endpoint(m)) => {
                        refused.push(format!("{service}.{name}: {m}"));
                    }
                    Err(e) => panic!("{service}.{name}: {e}\n{params:?}"),
                }
            }
            // Canned responses never panic.
            let headers = vec![("content-type".to_string(), "text/plain".to_string())];
            for (status, body) in [
                (200, &b""[..]),
                (200, b"{}"),
                (200, b"<a><b>1</b></a>"),
                (200, b"garbage <"),
                (400, b"{\"__type\":\"x#Y\"}"),
                (404, b"<Error><Code>C</Code></Error>"),
                (500, b""),
            ] {
                let _ = parse_response(&model, name, status, &headers, body);
            }
        }
    }
    // Event streams, endpoint discovery and services without a static endpoint.
    assert!(
        refused.len() < 150,
        "{} refused:\n{}",
        refused.len(),
        refused.join("\n")
    );
    assert!(built > 39_000, "{built}");
}
