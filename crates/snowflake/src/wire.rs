//! Response shapes (spec §2, §3, §8). Every field is optional: fakesnow omits most of
//! them and real Snowflake adds new ones.

use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};

/// `{"data", "code", "message", "success"}`.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Envelope {
    #[serde(default)]
    pub data: Option<Value>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub code: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub success: bool,
}

impl Envelope {
    pub fn code(&self) -> &str {
        self.code.as_deref().unwrap_or("")
    }
    /// A string field of `data`.
    pub fn data_str(&self, key: &str) -> Option<String> {
        self.data.as_ref()?.get(key).and_then(value_to_string)
    }
}

fn value_to_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A string or a number, as a string.
pub(crate) fn lenient_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let v = Option::<Value>::deserialize(d)?;
    Ok(v.as_ref().and_then(value_to_string))
}

/// A number or a numeric string, as an i64.
pub(crate) fn lenient_i64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    let v = Option::<Value>::deserialize(d)?;
    Ok(match v {
        Some(Value::Number(n)) => n.as_i64(),
        Some(Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    })
}

/// A number or a numeric string, as a u64.
pub(crate) fn lenient_u64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    Ok(lenient_i64(d)?.and_then(|v| u64::try_from(v).ok()))
}

fn lenient_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    let v = Option::<Value>::deserialize(d)?;
    Ok(match v {
        Some(Value::Bool(b)) => Some(b),
        Some(Value::String(s)) => Some(s.eq_ignore_ascii_case("true")),
        _ => None,
    })
}

/// Login (`data` of a successful login-request).
#[derive(Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct LoginData {
    #[serde(default)]
    pub token: Option<String>,
    #[serde(default)]
    pub master_token: Option<String>,
    #[serde(default, deserialize_with = "lenient_i64")]
    pub session_id: Option<i64>,
    #[serde(default)]
    pub server_version: Option<String>,
}

/// Renewal (`data` of a successful token-request).
#[derive(Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RenewData {
    #[serde(default)]
    pub session_token: Option<String>,
    #[serde(default)]
    pub master_token: Option<String>,
}

/// One `rowtype` entry.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct RowType {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default, rename = "type")]
    pub type_: Option<String>,
    #[serde(default, deserialize_with = "lenient_bool")]
    pub nullable: Option<bool>,
    #[serde(default, deserialize_with = "lenient_i64")]
    pub precision: Option<i64>,
    #[serde(default, deserialize_with = "lenient_i64")]
    pub scale: Option<i64>,
    #[serde(default, deserialize_with = "lenient_i64")]
    pub length: Option<i64>,
    /// A text column's collation specification (`en-ci`, ...); absent or null when the
    /// column has none (Snowflake then compares by UTF-8 bytes).
    #[serde(default)]
    pub collation: Option<String>,
}

/// One entry of `chunks`.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ChunkInfo {
    #[serde(default)]
    pub url: String,
}

/// `data` of a query response (final, or 333333/333334 with only `queryId`/`getResultUrl`).
#[derive(Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct QueryData {
    #[serde(default)]
    pub query_id: Option<String>,
    #[serde(default)]
    pub rowtype: Option<Vec<RowType>>,
    #[serde(default)]
    pub query_result_format: Option<String>,
    #[serde(default, rename = "rowsetBase64")]
    pub rowset_base64: Option<String>,
    #[serde(default)]
    pub rowset: Option<Vec<Vec<Value>>>,
    #[serde(default, deserialize_with = "lenient_u64")]
    pub total: Option<u64>,
    #[serde(default)]
    pub chunks: Option<Vec<ChunkInfo>>,
    #[serde(default)]
    pub qrmk: Option<String>,
    #[serde(default)]
    pub chunk_headers: Option<Map<String, Value>>,
    #[serde(default, deserialize_with = "lenient_i64")]
    pub statement_type_id: Option<i64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tolerant_parsing() {
        let env: Envelope = serde_json::from_str(
            r#"{"data":null,"code":390112,"message":null,"success":false,"extra":1}"#,
        )
        .unwrap();
        assert_eq!(env.code(), "390112");
        let env: Envelope = serde_json::from_str(r#"{"success":true}"#).unwrap();
        assert!(env.success && env.data.is_none() && env.code().is_empty());
        let q: QueryData = serde_json::from_str(
            r#"{"rowtype":[{"name":"A","type":"fixed","precision":"38","scale":0,"nullable":true,"new":{}}],
               "total":"3","chunks":[{"url":"http://x","rowCount":2}],"unknown":[1]}"#,
        )
        .unwrap();
        let rt = &q.rowtype.as_ref().unwrap()[0];
        assert_eq!((rt.precision, rt.scale), (Some(38), Some(0)));
        assert_eq!(q.total, Some(3));
        assert_eq!(q.chunks.unwrap()[0].url, "http://x");
    }
}
