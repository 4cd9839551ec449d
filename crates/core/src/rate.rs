//! Rate counters: what an agent has asked for this hour and today, for policies
//! (`context.recent`). The windows are fixed: the current UTC clock hour and the current UTC
//! day, so a counter is one item per agent and day that one atomic `ADD` updates and reads
//! back. Each request is counted before it is decided, so its own count includes it and
//! concurrent requests see distinct counts (the fifth sees 5, the sixth 6), which is what
//! makes "the first five run at once" exact. Denials are counted once a request is denied.
//!
//! This module names the counter fields and reads them back; the store adds them.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

/// Seconds in a counting day; counter items live two of them past their day's start.
pub const DAY_SECONDS: u64 = 86_400;
const HOUR_SECONDS: u64 = 3_600;

/// One IAM action of a request, as the counters see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CountedAction {
    pub name: String,
    pub service: String,
    pub level: String,
}

/// What one request adds to its agent's counters: one request, and one for each distinct
/// IAM action, service and access level it needs.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Usage {
    pub actions: Vec<CountedAction>,
}

impl Usage {
    fn names(&self) -> BTreeSet<&str> {
        self.actions.iter().map(|a| a.name.as_str()).collect()
    }
    fn services(&self) -> BTreeSet<&str> {
        self.actions.iter().map(|a| a.service.as_str()).collect()
    }
    fn levels(&self) -> BTreeSet<&str> {
        self.actions.iter().map(|a| a.level.as_str()).collect()
    }
}

/// The counts of one window.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Tally {
    #[serde(default)]
    pub requests: u64,
    #[serde(default)]
    pub denials: u64,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub by_action: BTreeMap<String, u64>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub by_service: BTreeMap<String, u64>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub by_level: BTreeMap<String, u64>,
}

impl Tally {
    pub fn action(&self, name: &str) -> u64 {
        self.by_action.get(name).copied().unwrap_or(0)
    }
    pub fn service(&self, name: &str) -> u64 {
        self.by_service.get(name).copied().unwrap_or(0)
    }
    pub fn level(&self, name: &str) -> u64 {
        self.by_level.get(name).copied().unwrap_or(0)
    }
}

/// The agent's counts this UTC hour and this UTC day, the request being decided included.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RecentCounts {
    #[serde(default)]
    pub hour: Tally,
    #[serde(default)]
    pub day: Tally,
}

impl RecentCounts {
    /// Only the counts a policy can see for a request of `usage`: its own IAM actions,
    /// services and levels (`context.recent` shows no others). What a record keeps of the
    /// counters, so it stays a few fields however many actions the agent used.
    pub fn seen_by(&self, usage: &Usage) -> Self {
        let keep = |t: &Tally| {
            let pick = |map: &BTreeMap<String, u64>, keys: BTreeSet<&str>| {
                keys.into_iter()
                    .filter_map(|k| map.get(k).map(|n| (k.to_string(), *n)))
                    .collect()
            };
            Tally {
                requests: t.requests,
                denials: t.denials,
                by_action: pick(&t.by_action, usage.names()),
                by_service: pick(&t.by_service, usage.services()),
                by_level: pick(&t.by_level, usage.levels()),
            }
        };
        RecentCounts {
            hour: keep(&self.hour),
            day: keep(&self.day),
        }
    }

    /// The counts as they would be with one more request of `usage`: what a dry run shows
    /// policies without counting anything.
    pub fn counting(mut self, usage: &Usage) -> Self {
        for t in [&mut self.hour, &mut self.day] {
            t.requests += 1;
            for (map, keys) in [
                (&mut t.by_action, usage.names()),
                (&mut t.by_service, usage.services()),
                (&mut t.by_level, usage.levels()),
            ] {
                for k in keys {
                    *map.entry(k.to_string()).or_default() += 1;
                }
            }
        }
        self
    }
}

/// Where a request made at `now_secs` is counted: the day (the counter item's sort key) and
/// the hour of that day (which fields it adds to), and when the item may leave the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bucket {
    pub day: u64,
    pub hour: u64,
    /// Unix seconds for the table's TTL: a day after the day ends, so a late reader of
    /// yesterday still finds it.
    pub expires: u64,
}

pub fn bucket(now_secs: u64) -> Bucket {
    let day = now_secs / DAY_SECONDS;
    Bucket {
        day,
        hour: (now_secs % DAY_SECONDS) / HOUR_SECONDS,
        expires: (day + 2) * DAY_SECONDS,
    }
}

/// Which window and which count a counter field holds.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Field {
    Requests,
    Denials,
    Action(String),
    Service(String),
    Level(String),
}

fn field_name(window: &str, f: &Field) -> String {
    match f {
        Field::Requests => format!("{window}#n"),
        Field::Denials => format!("{window}#d"),
        Field::Action(a) => format!("{window}#a#{a}"),
        Field::Service(s) => format!("{window}#s#{s}"),
        Field::Level(l) => format!("{window}#l#{l}"),
    }
}

fn windows(b: Bucket) -> [String; 2] {
    [format!("h{:02}", b.hour), "d".to_string()]
}

/// The fields a request adds one to, in both windows. The denial fields are listed with an
/// increment of 0, so the one write that counts the request also reads its denials back.
pub fn increments(usage: &Usage, b: Bucket) -> Vec<(String, u64)> {
    let mut fields = vec![(Field::Requests, 1), (Field::Denials, 0)];
    fields.extend(
        usage
            .names()
            .into_iter()
            .map(|a| (Field::Action(a.into()), 1)),
    );
    fields.extend(
        usage
            .services()
            .into_iter()
            .map(|s| (Field::Service(s.into()), 1)),
    );
    fields.extend(
        usage
            .levels()
            .into_iter()
            .map(|l| (Field::Level(l.into()), 1)),
    );
    windows(b)
        .iter()
        .flat_map(|w| fields.iter().map(move |(f, by)| (field_name(w, f), *by)))
        .collect()
}

/// The fields a denial adds one to.
pub fn denial_increments(b: Bucket) -> Vec<(String, u64)> {
    windows(b)
        .iter()
        .map(|w| (field_name(w, &Field::Denials), 1))
        .collect()
}

/// The counts in the fields of a counter item (any others, such as its keys, are ignored);
/// fields of other hours are not this hour's.
pub fn counts_from<'a>(
    fields: impl IntoIterator<Item = (&'a str, u64)>,
    b: Bucket,
) -> RecentCounts {
    let [hour, day] = windows(b);
    let mut out = RecentCounts::default();
    for (name, value) in fields {
        let Some((window, rest)) = name.split_once('#') else {
            continue;
        };
        let tally = if window == hour {
            &mut out.hour
        } else if window == day {
            &mut out.day
        } else {
            continue;
        };
        match rest.split_once('#') {
            None if rest == "n" => tally.requests = value,
            None if rest == "d" => tally.denials = value,
            Some(("a", a)) => {
                tally.by_action.insert(a.to_string(), value);
            }
            Some(("s", s)) => {
                tally.by_service.insert(s.to_string(), value);
            }
            Some(("l", l)) => {
                tally.by_level.insert(l.to_string(), value);
            }
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delete_object() -> Usage {
        Usage {
            actions: vec![CountedAction {
                name: "s3:DeleteObject".into(),
                service: "s3".into(),
                level: "Write".into(),
            }],
        }
    }

    #[test]
    fn a_request_is_counted_in_its_hour_and_day() {
        // 2026-01-05 14:30 UTC.
        let b = bucket(1_767_623_400);
        assert_eq!((b.day, b.hour), (20_458, 14));
        assert_eq!(b.expires, 20_460 * DAY_SECONDS);
        let fields = increments(&delete_object(), b);
        let names: Vec<&str> = fields.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(
            names,
            [
                "h14#n",
                "h14#d",
                "h14#a#s3:DeleteObject",
                "h14#s#s3",
                "h14#l#Write",
                "d#n",
                "d#d",
                "d#a#s3:DeleteObject",
                "d#s#s3",
                "d#l#Write"
            ]
        );
        assert!(
            fields
                .iter()
                .all(|(f, by)| *by == u64::from(!f.ends_with("#d")))
        );
        assert_eq!(
            denial_increments(b),
            [("h14#d".to_string(), 1), ("d#d".to_string(), 1)]
        );
    }

    #[test]
    fn services_and_levels_count_once_per_request() {
        let mut usage = delete_object();
        usage.actions.push(CountedAction {
            name: "s3:PutObject".into(),
            service: "s3".into(),
            level: "Write".into(),
        });
        let fields = increments(&usage, bucket(0));
        let services = fields.iter().filter(|(f, _)| f == "d#s#s3").count();
        let actions = fields.iter().filter(|(f, _)| f.starts_with("d#a#")).count();
        assert_eq!((services, actions), (1, 2));
    }

    #[test]
    fn counts_read_back_by_window_and_ignore_other_hours() {
        let b = bucket(14 * 3600 + 5);
        let item = [
            ("pk", 0),
            ("h14#n", 6),
            ("h14#d", 1),
            ("h14#a#s3:DeleteObject", 6),
            ("h14#s#s3", 6),
            ("h14#l#Write", 6),
            ("h13#n", 40),
            ("h13#a#s3:DeleteObject", 40),
            ("d#n", 46),
            ("d#d", 3),
            ("d#a#s3:DeleteObject", 46),
            ("d#bogus", 9),
        ];
        let c = counts_from(item, b);
        assert_eq!(
            (
                c.hour.requests,
                c.hour.denials,
                c.hour.action("s3:DeleteObject")
            ),
            (6, 1, 6)
        );
        assert_eq!((c.hour.service("s3"), c.hour.level("Write")), (6, 6));
        assert_eq!(
            (
                c.day.requests,
                c.day.denials,
                c.day.action("s3:DeleteObject")
            ),
            (46, 3, 46)
        );
        assert_eq!(c.day.action("s3:PutObject"), 0);
    }

    #[test]
    fn a_dry_run_counts_as_the_write_would() {
        let b = bucket(0);
        let stored = counts_from([("h00#n", 4), ("h00#a#s3:DeleteObject", 4), ("d#n", 9)], b);
        let after: Vec<(String, u64)> = increments(&delete_object(), b)
            .into_iter()
            .map(|(f, by)| {
                let before = [("h00#n", 4), ("h00#a#s3:DeleteObject", 4), ("d#n", 9)]
                    .iter()
                    .find(|(n, _)| *n == f)
                    .map_or(0, |(_, v)| *v);
                (f, before + by)
            })
            .collect();
        let written = counts_from(after.iter().map(|(f, v)| (f.as_str(), *v)), b);
        assert_eq!(stored.counting(&delete_object()), written);
        assert_eq!(written.hour.action("s3:DeleteObject"), 5);
    }

    #[test]
    fn a_record_keeps_only_the_counts_its_policies_could_see() {
        let b = bucket(0);
        let c = counts_from(
            [
                ("h00#n", 7),
                ("h00#d", 2),
                ("h00#a#s3:DeleteObject", 4),
                ("h00#a#ec2:RunInstances", 3),
                ("h00#s#s3", 4),
                ("h00#s#ec2", 3),
                ("h00#l#Write", 7),
                ("d#n", 9),
            ],
            b,
        );
        let kept = c.seen_by(&delete_object());
        assert_eq!((kept.hour.requests, kept.hour.denials), (7, 2));
        assert_eq!(
            kept.hour.by_action.keys().collect::<Vec<_>>(),
            ["s3:DeleteObject"]
        );
        assert_eq!(kept.hour.by_service.keys().collect::<Vec<_>>(), ["s3"]);
        assert_eq!(kept.hour.level("Write"), 7);
        assert_eq!(kept.day.requests, 9);
        // Stored and read back as it was.
        let json = serde_json::to_value(&kept).unwrap();
        assert_eq!(
            json["day"],
            serde_json::json!({"requests": 9, "denials": 0})
        );
        let back: RecentCounts = serde_json::from_value(json).unwrap();
        assert_eq!(back, kept);
    }

    #[test]
    fn action_names_with_separators_survive_the_round_trip() {
        // Field names split on the first two `#` only, so an odd name reads back whole.
        let b = bucket(0);
        let c = counts_from([("h00#a#svc:Odd#Name", 2)], b);
        assert_eq!(c.hour.action("svc:Odd#Name"), 2);
    }
}
