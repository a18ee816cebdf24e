//! AWS's paging of list operations: `Marker` / `MaxItems` in, `IsTruncated` / `Marker`
//! out. The `iam` CLI lists everything; the page is cut here.

use crate::query::QueryRequest;
use crate::service::ApiError;
use pam_iam::cli::api::{ArgValue, Operation};
use serde_json::{Value, json};

/// Default and largest page of list operations, as AWS.
const DEFAULT_MAX_ITEMS: usize = 100;
const LARGEST_MAX_ITEMS: usize = 1000;

/// `Marker` / `MaxItems` of a list operation.
pub struct Paging {
    marker: Option<usize>,
    max_items: usize,
}

impl Paging {
    /// Take the paging members out of `q` (the CLI lists everything; pages are cut here).
    pub fn take(op: &Operation, q: &mut QueryRequest) -> Result<Paging, ApiError> {
        let mut p = Paging {
            marker: None,
            max_items: DEFAULT_MAX_ITEMS,
        };
        if op.param("MaxItems").is_none() {
            if let Some(v) = q.take("MaxItems") {
                let ArgValue::Scalar(v) = v else {
                    return Err(ApiError::new(
                        "ValidationError",
                        "MaxItems must be a number",
                    ));
                };
                p.max_items = v
                    .parse()
                    .ok()
                    .filter(|n| (1..=LARGEST_MAX_ITEMS).contains(n))
                    .ok_or_else(|| {
                        ApiError::new(
                            "ValidationError",
                            format!("1 validation error detected: Value '{v}' at 'maxItems' failed to satisfy constraint: Member must have value between 1 and {LARGEST_MAX_ITEMS}"),
                        )
                    })?;
            }
        }
        if op.param("Marker").is_none() {
            if let Some(v) = q.take("Marker") {
                let ArgValue::Scalar(v) = v else {
                    return Err(ApiError::new("ValidationError", "Marker must be a string"));
                };
                p.marker = Some(
                    v.strip_prefix("m")
                        .and_then(|n| n.parse().ok())
                        .ok_or_else(|| ApiError::new("ValidationError", "Invalid Marker"))?,
                );
            }
        }
        Ok(p)
    }

    /// Cut the page out of a list result: its first list member, as AWS pages it.
    pub fn apply(&self, action: &str, mut v: Value) -> Result<Value, ApiError> {
        let pages = action.starts_with("List") || action == "GetGroup";
        let Some(obj) = v.as_object_mut().filter(|_| pages) else {
            return Ok(v);
        };
        let Some(key) = obj
            .iter()
            .find(|(_, x)| x.is_array())
            .map(|(k, _)| k.clone())
        else {
            return Ok(v);
        };
        let Some(Value::Array(items)) = obj.get_mut(&key) else {
            return Ok(v);
        };
        let start = self.marker.unwrap_or(0);
        if start > items.len() {
            return Err(ApiError::new("ValidationError", "Invalid Marker"));
        }
        let end = (start + self.max_items).min(items.len());
        let truncated = end < items.len();
        *items = items.drain(start..end).collect();
        if matches!(action, "ListUsers" | "ListRoles" | "ListGroups") {
            // AWS's list shape leaves these out (Get* has them).
            for i in items.iter_mut().filter_map(Value::as_object_mut) {
                i.remove("Tags");
                i.remove("PermissionsBoundary");
            }
        }
        obj.insert("IsTruncated".into(), json!(truncated));
        obj.remove("Marker");
        if truncated {
            obj.insert("Marker".into(), json!(format!("m{end}")));
        }
        Ok(v)
    }
}
