//! Rendering of results: AWS-style JSON (4-space indent), text (tab-separated lines with
//! upper-case section names) and table (boxed key/value sections).

use super::args::Output;
use serde_json::Value;
use std::fmt::Write as _;

use crate::time::days_from_civil;
/// IAM dates as the AWS CLI prints them (`2026-11-28T06:11:05+00:00`).
pub use crate::time::iso8601_offset as iso8601;

/// Parse `--since`/`--until`: unix seconds, `YYYY-MM-DD[THH:MM[:SS]][Z|+00:00]`, or an
/// age before `now` like `90s`, `30m`, `2h`, `7d`.
pub fn parse_time(s: &str, now: i64) -> Option<i64> {
    let s = s.trim();
    if let Ok(n) = s.parse::<i64>() {
        return Some(n);
    }
    if let Some(unit) = s.chars().last().filter(|c| "smhdw".contains(*c)) {
        let n: i64 = s[..s.len() - 1].parse().ok()?;
        let mult = match unit {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            _ => 604_800,
        };
        return Some(now - n.checked_mul(mult)?);
    }
    let s = s.trim_end_matches('Z').trim_end_matches("+00:00");
    let (date, time) = s.split_once(['T', ' ']).unwrap_or((s, "00:00:00"));
    let mut dp = date.split('-').map(|x| x.parse::<i64>());
    let (y, m, d) = (dp.next()?.ok()?, dp.next()?.ok()?, dp.next()?.ok()?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    let mut tp = time.split(':').map(|x| x.parse::<i64>());
    let h = tp.next().and_then(Result::ok).unwrap_or(0);
    let mi = tp.next().and_then(Result::ok).unwrap_or(0);
    let sec = tp.next().and_then(Result::ok).unwrap_or(0);
    Some(days_from_civil(y, m, d) * 86_400 + h * 3600 + mi * 60 + sec)
}

/// Render `v` in the chosen format.
pub fn render(v: &Value, fmt: Output, title: &str) -> String {
    match fmt {
        Output::Json => json(v),
        Output::Text => {
            let mut out = String::new();
            text(v, None, &mut out);
            out
        }
        Output::Table => {
            let mut out = String::new();
            let _ = writeln!(out, "== {title} ==");
            table(v, "", &mut out);
            out
        }
    }
}

/// Pretty JSON with the AWS CLI's 4-space indent and a final newline.
pub fn json(v: &Value) -> String {
    use serde::Serialize;
    let mut buf = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, fmt);
    if v.serialize(&mut ser).is_err() {
        return "null\n".into();
    }
    let mut s = String::from_utf8_lossy(&buf).into_owned();
    s.push('\n');
    s
}

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(if *b { "True".into() } else { "False".into() }),
        Value::Number(n) => Some(n.to_string()),
        Value::Null => Some("None".into()),
        _ => None,
    }
}

/// AWS text output: each object becomes a line `KEY\tscalar\tscalar…`, nested objects and
/// lists follow on their own lines.
fn text(v: &Value, key: Option<&str>, out: &mut String) {
    match v {
        Value::Object(map) => {
            let scalars: Vec<String> = map.values().filter_map(scalar).collect();
            if !scalars.is_empty() {
                if let Some(k) = key {
                    out.push_str(&k.to_uppercase());
                    out.push('\t');
                }
                out.push_str(&scalars.join("\t"));
                out.push('\n');
            }
            for (k, child) in map {
                if scalar(child).is_none() {
                    text(child, Some(k), out);
                }
            }
        }
        Value::Array(items) => {
            let scalars: Vec<String> = items.iter().filter_map(scalar).collect();
            if !scalars.is_empty() {
                if let Some(k) = key {
                    out.push_str(&k.to_uppercase());
                    out.push('\t');
                }
                out.push_str(&scalars.join("\t"));
                out.push('\n');
            }
            for item in items.iter().filter(|i| scalar(i).is_none()) {
                text(item, key, out);
            }
        }
        other => {
            if let Some(s) = scalar(other) {
                out.push_str(&s);
                out.push('\n');
            }
        }
    }
}

/// Boxed key/value sections, one per object.
fn table(v: &Value, path: &str, out: &mut String) {
    match v {
        Value::Object(map) => {
            let rows: Vec<(String, String)> = map
                .iter()
                .filter_map(|(k, x)| scalar(x).map(|s| (k.clone(), s)))
                .collect();
            if !rows.is_empty() {
                let kw = rows.iter().map(|r| r.0.chars().count()).max().unwrap_or(0);
                let vw = rows.iter().map(|r| r.1.chars().count()).max().unwrap_or(0);
                let line = format!("+{}+{}+\n", "-".repeat(kw + 2), "-".repeat(vw + 2));
                if !path.is_empty() {
                    let _ = writeln!(out, "{path}");
                }
                out.push_str(&line);
                for (k, s) in &rows {
                    let _ = writeln!(out, "| {k:<kw$} | {s:<vw$} |");
                }
                out.push_str(&line);
            }
            for (k, x) in map {
                if scalar(x).is_none() {
                    let p = if path.is_empty() {
                        k.clone()
                    } else {
                        format!("{path}.{k}")
                    };
                    table(x, &p, out);
                }
            }
        }
        Value::Array(items) if !items.is_empty() && items.iter().all(Value::is_object) => {
            // A list of objects is one table: a column per scalar field, a row per item;
            // nested values follow as their own sections.
            let mut cols: Vec<String> = Vec::new();
            for item in items {
                if let Value::Object(m) = item {
                    for (k, x) in m {
                        if scalar(x).is_some() && !cols.contains(k) {
                            cols.push(k.clone());
                        }
                    }
                }
            }
            let cell = |item: &Value, c: &str| item.get(c).and_then(scalar).unwrap_or_default();
            let widths: Vec<usize> = cols
                .iter()
                .map(|c| {
                    items
                        .iter()
                        .map(|i| cell(i, c).chars().count())
                        .chain([c.chars().count()])
                        .max()
                        .unwrap_or(0)
                })
                .collect();
            let line = format!(
                "+{}+\n",
                widths
                    .iter()
                    .map(|w| "-".repeat(w + 2))
                    .collect::<Vec<_>>()
                    .join("+")
            );
            let row = |vals: Vec<String>| {
                let cells: Vec<String> = vals
                    .iter()
                    .zip(&widths)
                    .map(|(v, w)| format!(" {v:<w$} "))
                    .collect();
                format!("|{}|\n", cells.join("|"))
            };
            if !cols.is_empty() {
                if !path.is_empty() {
                    let _ = writeln!(out, "{path}");
                }
                out.push_str(&line);
                out.push_str(&row(cols.clone()));
                out.push_str(&line);
                for item in items {
                    out.push_str(&row(cols.iter().map(|c| cell(item, c)).collect()));
                }
                out.push_str(&line);
            }
            for (i, item) in items.iter().enumerate() {
                if let Value::Object(m) = item {
                    for (k, x) in m {
                        if scalar(x).is_none() {
                            table(x, &format!("{path}[{i}].{k}"), out);
                        }
                    }
                }
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                match scalar(item) {
                    Some(s) => {
                        let _ = writeln!(out, "{path}[{i}]  {s}");
                    }
                    None => table(item, &format!("{path}[{i}]"), out),
                }
            }
        }
        other => {
            if let Some(s) = scalar(other) {
                let _ = writeln!(out, "{s}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn dates_roundtrip() {
        assert_eq!(parse_time("2026-11-18T11:06:40Z", 0), Some(1_795_000_000));
        assert_eq!(parse_time("2026-11-18", 0), Some(1_794_960_000));
        assert_eq!(parse_time("2h", 10_000), Some(2_800));
        assert_eq!(parse_time("1700000000", 0), Some(1_700_000_000));
        assert_eq!(parse_time("yesterday", 0), None);
    }

    #[test]
    fn text_and_table() {
        let v = json!({"User": {"UserName": "alice", "Tags": [{"Key": "a", "Value": "b"}]}});
        assert_eq!(
            render(&v, Output::Text, "GetUser"),
            "USER\talice\nTAGS\ta\tb\n"
        );
        let t = render(&v, Output::Table, "GetUser");
        assert!(t.contains("| UserName | alice |"), "{t}");
        assert!(render(&v, Output::Json, "x").contains("    \"User\""));
        let l = json!({"Users": [{"UserName": "alice", "Path": "/"}, {"UserName": "bob", "Path": "/eng/"}]});
        let t = render(&l, Output::Table, "ListUsers");
        assert!(
            t.contains("| UserName | Path  |") && t.contains("| bob      | /eng/ |"),
            "{t}"
        );
    }
}
