//! Queries, bindings and decoded results.

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use uuid::Uuid;

/// A bind value (spec §6). Values travel as strings; these variants say which type.
#[derive(Clone, Debug, PartialEq)]
pub enum Binding {
    /// `{"type":"ANY","value":null}`.
    Null,
    /// FIXED from an integer.
    Int(i64),
    /// FIXED from decimal text, e.g. `"-12.35"`; passed through unchanged.
    Decimal(String),
    Real(f64),
    Text(String),
    Bool(bool),
    Date(NaiveDate),
    Time(NaiveTime),
    TimestampNtz(NaiveDateTime),
    TimestampLtz(DateTime<Utc>),
    TimestampTz(DateTime<FixedOffset>),
    Binary(Vec<u8>),
}

/// One statement to run.
#[derive(Clone, Debug)]
pub struct Query {
    /// The logical request id; stays the same across retries. Pass it to
    /// [`crate::Client::abort`] to cancel this query on the server.
    pub request_id: Uuid,
    pub sql: String,
    /// Positional bindings `?` → `"1"`, `"2"`, ...
    pub bindings: Vec<Binding>,
    /// Sent as the statement parameter `QUERY_TAG`.
    pub query_tag: Option<String>,
    /// Other statement-level parameters.
    pub parameters: serde_json::Map<String, serde_json::Value>,
    /// Submit with `asyncExec:true` and poll for the result (spec §7).
    pub async_exec: bool,
    /// `describeOnly:true`: only `rowtype`, no rows.
    pub describe_only: bool,
}

impl Query {
    pub fn new(sql: impl Into<String>) -> Self {
        Query {
            request_id: Uuid::new_v4(),
            sql: sql.into(),
            bindings: Vec::new(),
            query_tag: None,
            parameters: serde_json::Map::new(),
            async_exec: false,
            describe_only: false,
        }
    }
    pub fn bind(mut self, value: Binding) -> Self {
        self.bindings.push(value);
        self
    }
    pub fn tag(mut self, tag: impl Into<String>) -> Self {
        self.query_tag = Some(tag.into());
        self
    }
}

/// One result column as described by `rowtype`.
#[derive(Clone, Debug, PartialEq)]
pub struct ColumnMeta {
    pub name: String,
    /// Lowercase Snowflake type: `fixed`, `real`, `text`, `date`, `timestamp_ntz`, ...
    /// Unknown types are kept as they come.
    pub sf_type: String,
    pub nullable: bool,
    pub precision: Option<i64>,
    pub scale: Option<i64>,
    pub length: Option<i64>,
    /// A text column's collation specification (`en-ci`, `utf8`, ...), when it has one;
    /// `None` means Snowflake compares its values by their UTF-8 bytes.
    pub collation: Option<String>,
}

/// A decoded column of one batch. Every variant holds exactly `Batch::num_rows` values.
#[derive(Clone, Debug, PartialEq)]
pub enum Column {
    /// FIXED: value = unscaled / 10^scale. Exact; never goes through a float.
    Fixed {
        scale: u32,
        values: Vec<Option<i128>>,
    },
    Real(Vec<Option<f64>>),
    /// TEXT, and VARIANT / OBJECT / ARRAY as JSON text.
    Text(Vec<Option<String>>),
    Boolean(Vec<Option<bool>>),
    Date(Vec<Option<NaiveDate>>),
    Time(Vec<Option<NaiveTime>>),
    /// Wall-clock value (PostgreSQL `timestamp`).
    TimestampNtz(Vec<Option<NaiveDateTime>>),
    /// An instant (PostgreSQL `timestamptz`).
    TimestampLtz(Vec<Option<DateTime<Utc>>>),
    /// An instant with its own offset.
    TimestampTz(Vec<Option<DateTime<FixedOffset>>>),
    Binary(Vec<Option<Vec<u8>>>),
}

impl Column {
    pub fn len(&self) -> usize {
        match self {
            Column::Fixed { values, .. } => values.len(),
            Column::Real(v) => v.len(),
            Column::Text(v) => v.len(),
            Column::Boolean(v) => v.len(),
            Column::Date(v) => v.len(),
            Column::Time(v) => v.len(),
            Column::TimestampNtz(v) => v.len(),
            Column::TimestampLtz(v) => v.len(),
            Column::TimestampTz(v) => v.len(),
            Column::Binary(v) => v.len(),
        }
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A batch of decoded rows, in result order.
#[derive(Clone, Debug, PartialEq)]
pub struct Batch {
    pub num_rows: usize,
    /// One per [`ColumnMeta`], same order.
    pub columns: Vec<Column>,
}
