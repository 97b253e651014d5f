//! The media buy key: whatever type the media tool gave `media_buys.id`.
//!
//! The streaming comparison needs Snowflake and PostgreSQL to order keys the same way.
//! The order both sides use, per [`KeyType`]:
//!
//! * [`KeyType::Int`] (`bigint`, `integer`, `smallint`): numeric order. A VARCHAR
//!   source is converted in Snowflake (`TRY_TO_NUMBER`), so it is ordered as numbers.
//! * [`KeyType::Text`] (`text`, `varchar`): by UTF-8 bytes. Rust orders `String`s so,
//!   PostgreSQL does under `COLLATE "C"`, and Snowflake does for a VARCHAR without a
//!   collation (a column with one is ordered by `COLLATE(col, 'utf8')`). A NUMBER source
//!   is converted with `TO_VARCHAR`, and ordered as text: `'10' < '9'` on both sides.
//! * [`KeyType::Uuid`]: PostgreSQL orders uuids by their 16 bytes, which is the order of
//!   their canonical lower-case text. The source is ordered by `LOWER(col)` and each
//!   value lower-cased as it is read; one that is not then a canonical uuid is set
//!   aside (its order would differ).

use std::fmt;

/// One media buy id, as compared and written. Within one sync every id has the same
/// variant (the [`KeyType`] of `media_buys.id`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum BuyId {
    Int(i64),
    /// Text, or a uuid in its canonical lower-case form.
    Text(String),
}

impl fmt::Display for BuyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BuyId::Int(v) => write!(f, "{v}"),
            BuyId::Text(t) => write!(f, "'{t}'"),
        }
    }
}

impl BuyId {
    /// The id as text (no quotes), as PostgreSQL's `id::text` shows it.
    pub fn to_text(&self) -> String {
        match self {
            BuyId::Int(v) => v.to_string(),
            BuyId::Text(t) => t.clone(),
        }
    }
}

/// How `media_buys.id` (and so every metric table's `media_buy_id`) is typed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum KeyType {
    #[default]
    Int,
    Text,
    Uuid,
}

impl KeyType {
    /// The key type of a PostgreSQL type, by its `pg_type.typname` (of the column's
    /// type, or of a domain's base type); `None` for a type that cannot be a key here.
    pub fn from_pg_typname(typname: &str) -> Option<KeyType> {
        match typname {
            "int2" | "int4" | "int8" => Some(KeyType::Int),
            "text" | "varchar" => Some(KeyType::Text),
            "uuid" => Some(KeyType::Uuid),
            _ => None,
        }
    }

    /// The PostgreSQL types accepted, for messages.
    pub const SUPPORTED: &'static str = "bigint, integer, smallint, text, varchar or uuid";

    /// The target column `col` in the ORDER BY of the target's window.
    pub fn target_order_expr(self, col: &str) -> String {
        match self {
            KeyType::Text => format!("{col} COLLATE \"C\""),
            KeyType::Int | KeyType::Uuid => col.to_string(),
        }
    }

    /// The target column `col` as selected for comparison: an `int8` for integer keys,
    /// text otherwise (a uuid's canonical lower-case text).
    pub fn target_select_expr(self, col: &str) -> String {
        match self {
            KeyType::Int => format!("{col}::int8"),
            KeyType::Text | KeyType::Uuid => format!("{col}::text"),
        }
    }

    /// Checks a text key read from the source; `Err` says why it cannot be a key.
    pub fn check_text(self, text: &str) -> Result<(), String> {
        if text.contains('\0') {
            return Err("contains a NUL character, which PostgreSQL text cannot hold".into());
        }
        if self == KeyType::Uuid && !is_canonical_uuid(text) {
            return Err("is not a uuid (8-4-4-4-12 hexadecimal digits)".into());
        }
        Ok(())
    }
}

/// `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`, lower-case hexadecimal.
pub fn is_canonical_uuid(text: &str) -> bool {
    let b = text.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_digit() || (b'a'..=b'f').contains(c),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_ids_order_by_utf8_bytes() {
        let mut ids: Vec<BuyId> = ["b", "B", "a", "é", "e\u{301}", "10", "9", "Z", "ü", "日本"]
            .iter()
            .map(|s| BuyId::Text(s.to_string()))
            .collect();
        ids.sort();
        let got: Vec<String> = ids.iter().map(BuyId::to_text).collect();
        let mut bytes: Vec<Vec<u8>> = got.iter().map(|s| s.as_bytes().to_vec()).collect();
        let sorted = bytes.clone();
        bytes.sort();
        assert_eq!(bytes, sorted);
        assert_eq!(got[..5], ["10", "9", "B", "Z", "a"]);
    }

    #[test]
    fn uuids_are_checked_in_canonical_form() {
        assert!(is_canonical_uuid("0f8fad5b-d9cb-469f-a165-70867728950e"));
        assert!(!is_canonical_uuid("0F8FAD5B-D9CB-469F-A165-70867728950E"));
        assert!(!is_canonical_uuid("0f8fad5bd9cb469fa16570867728950e"));
        assert!(!is_canonical_uuid("{0f8fad5b-d9cb-469f-a165-70867728950e}"));
        assert!(KeyType::Uuid.check_text("nope").is_err());
        assert!(KeyType::Text.check_text("nope").is_ok());
        assert!(KeyType::Text.check_text("a\0b").is_err());
    }

    #[test]
    fn pg_types_map_to_key_types() {
        assert_eq!(KeyType::from_pg_typname("int8"), Some(KeyType::Int));
        assert_eq!(KeyType::from_pg_typname("int4"), Some(KeyType::Int));
        assert_eq!(KeyType::from_pg_typname("varchar"), Some(KeyType::Text));
        assert_eq!(KeyType::from_pg_typname("uuid"), Some(KeyType::Uuid));
        assert_eq!(KeyType::from_pg_typname("bpchar"), None);
        assert_eq!(KeyType::from_pg_typname("numeric"), None);
    }
}
