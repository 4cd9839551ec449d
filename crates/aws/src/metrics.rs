//! CloudWatch metrics as Embedded Metric Format: one JSON object per line on stdout, which
//! CloudWatch Logs turns into metrics without any API call from the function.
//! <https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html>

use std::sync::{Arc, Mutex};

use serde_json::{Map, Value, json};

pub const NAMESPACE: &str = "Tollgate";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Count,
    Milliseconds,
}

impl Unit {
    fn as_str(self) -> &'static str {
        match self {
            Unit::Count => "Count",
            Unit::Milliseconds => "Milliseconds",
        }
    }
}

/// Where metric lines go.
#[derive(Clone, Debug, Default)]
pub enum Metrics {
    /// Lambda: stdout, read by CloudWatch Logs.
    #[default]
    Stdout,
    /// The local stack and tests: kept in memory.
    Memory(Arc<Mutex<Vec<String>>>),
    Off,
}

impl Metrics {
    pub fn memory() -> Self {
        Metrics::Memory(Arc::new(Mutex::new(Vec::new())))
    }

    /// Lines kept by a `Memory` sink.
    pub fn lines(&self) -> Vec<String> {
        match self {
            Metrics::Memory(m) => m.lock().map(|l| l.clone()).unwrap_or_default(),
            _ => vec![],
        }
    }

    /// Emits one metric with its dimensions.
    pub fn put(&self, name: &str, unit: Unit, value: f64, dimensions: &[(&str, &str)]) {
        self.put_to(&mut std::io::stdout().lock(), name, unit, value, dimensions);
    }

    /// `put`, with `stdout` standing for the process's standard output (so tests can see
    /// what each sink writes there).
    fn put_to(
        &self,
        stdout: &mut impl std::io::Write,
        name: &str,
        unit: Unit,
        value: f64,
        dimensions: &[(&str, &str)],
    ) {
        if matches!(self, Metrics::Off) {
            return;
        }
        let line = emf_line(name, unit, value, dimensions, crate::now_ms());
        match self {
            // A metric lost to a closed stdout is not worth failing a request for.
            Metrics::Stdout => {
                let _ = writeln!(stdout, "{line}");
            }
            Metrics::Memory(m) => {
                if let Ok(mut l) = m.lock() {
                    l.push(line);
                }
            }
            Metrics::Off => {}
        }
    }
}

/// One EMF document. Dimension values are cut to 1 KiB and stripped of control characters,
/// as CloudWatch requires.
pub fn emf_line(
    name: &str,
    unit: Unit,
    value: f64,
    dimensions: &[(&str, &str)],
    timestamp_ms: u64,
) -> String {
    let mut root = Map::new();
    let dims: Vec<&str> = dimensions.iter().map(|(k, _)| *k).collect();
    root.insert(
        "_aws".into(),
        json!({
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [dims],
                "Metrics": [{"Name": name, "Unit": unit.as_str()}],
            }],
        }),
    );
    for (k, v) in dimensions {
        let clean: String = v.chars().filter(|c| !c.is_control()).take(1024).collect();
        root.insert(
            (*k).to_string(),
            Value::String(if clean.is_empty() {
                "none".into()
            } else {
                clean
            }),
        );
    }
    root.insert(name.to_string(), json!(value));
    Value::Object(root).to_string()
}

/// Checks a line against the EMF specification's rules; returns what is wrong.
pub fn validate_emf(line: &str) -> Result<(), String> {
    let v: Value = serde_json::from_str(line).map_err(|e| format!("not JSON: {e}"))?;
    let aws = v.get("_aws").ok_or("no _aws member")?;
    aws.get("Timestamp")
        .and_then(Value::as_u64)
        .ok_or("_aws.Timestamp must be a number (ms)")?;
    let directives = aws
        .get("CloudWatchMetrics")
        .and_then(Value::as_array)
        .ok_or("_aws.CloudWatchMetrics must be an array")?;
    if directives.is_empty() {
        return Err("no metric directives".into());
    }
    for d in directives {
        let ns = d
            .get("Namespace")
            .and_then(Value::as_str)
            .ok_or("Namespace missing")?;
        if ns.is_empty() || ns.len() > 1024 {
            return Err("Namespace must be 1 to 1024 characters".into());
        }
        let dim_sets = d
            .get("Dimensions")
            .and_then(Value::as_array)
            .ok_or("Dimensions must be an array")?;
        for set in dim_sets {
            let set = set
                .as_array()
                .ok_or("each dimension set must be an array")?;
            if set.len() > 30 {
                return Err("at most 30 dimensions per set".into());
            }
            for dim in set {
                let key = dim.as_str().ok_or("dimension names must be strings")?;
                let val = v
                    .get(key)
                    .and_then(Value::as_str)
                    .ok_or(format!("dimension `{key}` has no string value"))?;
                if val.is_empty() || val.len() > 1024 {
                    return Err(format!(
                        "dimension `{key}` value must be 1 to 1024 characters"
                    ));
                }
            }
        }
        let metrics = d
            .get("Metrics")
            .and_then(Value::as_array)
            .ok_or("Metrics must be an array")?;
        if metrics.is_empty() || metrics.len() > 100 {
            return Err("1 to 100 metrics per directive".into());
        }
        for m in metrics {
            let name = m
                .get("Name")
                .and_then(Value::as_str)
                .ok_or("metric Name missing")?;
            if !v.get(name).is_some_and(|x| x.is_number()) {
                return Err(format!("metric `{name}` has no numeric value"));
            }
            if let Some(u) = m.get("Unit") {
                let u = u.as_str().ok_or("Unit must be a string")?;
                const UNITS: [&str; 5] = ["Count", "Milliseconds", "Seconds", "Bytes", "None"];
                if !UNITS.contains(&u) {
                    return Err(format!("unknown unit `{u}`"));
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_valid_emf() {
        let l = emf_line(
            "Requests",
            Unit::Count,
            1.0,
            &[("Decision", "allow")],
            1_790_000_000_000,
        );
        validate_emf(&l).unwrap();
        let v: Value = serde_json::from_str(&l).unwrap();
        assert_eq!(v["Decision"], "allow");
        assert_eq!(v["Requests"], 1.0);
        assert_eq!(
            v["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([["Decision"]])
        );
        let weird = emf_line("Denials", Unit::Count, 1.0, &[("PolicyId", "")], 1);
        validate_emf(&weird).unwrap();
        validate_emf(&emf_line("Latency", Unit::Milliseconds, 12.5, &[], 1)).unwrap();
    }

    #[test]
    fn invalid_lines_are_caught() {
        assert!(validate_emf("{}").is_err());
        assert!(validate_emf(r#"{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"T","Dimensions":[["D"]],"Metrics":[{"Name":"M"}]}]},"M":1}"#).is_err());
        assert!(validate_emf(r#"{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"T","Dimensions":[],"Metrics":[{"Name":"M","Unit":"Parsecs"}]}]},"M":1}"#).is_err());
    }

    #[test]
    fn each_sink_writes_where_it_says() {
        let put = |m: &Metrics| {
            let mut out = Vec::new();
            m.put_to(
                &mut out,
                "Requests",
                Unit::Count,
                1.0,
                &[("Decision", "deny")],
            );
            String::from_utf8(out).unwrap()
        };
        let m = Metrics::memory();
        assert_eq!(put(&m), "", "memory keeps lines off stdout");
        assert_eq!(m.lines().len(), 1);
        validate_emf(&m.lines()[0]).unwrap();

        let out = put(&Metrics::Stdout);
        assert_eq!(out.lines().count(), 1, "{out}");
        validate_emf(out.trim_end()).unwrap();

        assert_eq!(put(&Metrics::Off), "", "off writes nothing");
        assert!(Metrics::Off.lines().is_empty());
    }
}
