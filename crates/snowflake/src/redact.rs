//! Masking of secrets in text that may end up in an error, a log line or `Debug` output.
//!
//! Server-provided text (error bodies, messages) goes through [`redact`] before it is put
//! into an [`crate::Error`]. It masks the values of JSON keys and `key=value` pairs whose
//! names denote credentials, and the `Snowflake Token="..."` authorization form.

/// Key names (compared case-insensitively) whose values are always masked.
const SECRET_KEYS: &[&str] = &[
    "token",
    "sessiontoken",
    "mastertoken",
    "oldsessiontoken",
    "idtoken",
    "mfatoken",
    "password",
    "passcode",
    "qrmk",
    "private_key",
    "privatekey",
    "private_key_pem",
    "passphrase",
    "authorization",
    "x-amz-server-side-encryption-customer-key",
    "x-goog-encryption-key",
    "sig",
    "signature",
    "x-amz-signature",
    "x-amz-security-token",
];

/// The longest server text kept in an error message (in characters).
pub const MAX_SERVER_TEXT: usize = 1000;

const MASK: &str = "***";

/// Masks secrets in `text` and truncates it to [`MAX_SERVER_TEXT`] characters.
pub fn redact(text: &str) -> String {
    let masked = mask_pem_blocks(text);
    let masked = mask_token_headers(&masked);
    let masked = mask_key_values(&masked);
    truncate(&masked, MAX_SERVER_TEXT)
}

fn truncate(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((idx, _)) => format!("{}…", &text[..idx]),
        None => text.to_string(),
    }
}

/// `-----BEGIN ... PRIVATE KEY----- ... -----END ...-----` → `***`.
/// (The markers are the pattern searched for; no key is in this file.)
fn mask_pem_blocks(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("-----BEGIN") {
        out.push_str(&rest[..start]);
        let after = &rest[start..];
        match after.find("-----END") {
            Some(end) => {
                let tail = &after[end + "-----END".len()..];
                let close = tail.find("-----").map(|i| i + 5).unwrap_or(tail.len());
                out.push_str(MASK);
                rest = &tail[close..];
            }
            None => {
                out.push_str(MASK);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// `Token="abc"` (the Authorization header form) → `Token="***"`.
fn mask_token_headers(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    let needle = "token=\"";
    loop {
        let lower = rest.to_ascii_lowercase();
        match lower.find(needle) {
            Some(i) => {
                let value_start = i + needle.len();
                out.push_str(&rest[..value_start]);
                let tail = &rest[value_start..];
                let end = tail.find('"').unwrap_or(tail.len());
                out.push_str(MASK);
                rest = &tail[end..];
            }
            None => {
                out.push_str(rest);
                return out;
            }
        }
    }
}

fn is_key_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-'
}

/// Masks the value following a secret key name in JSON (`"key": "v"`, `"key": 12`),
/// URL/form (`key=v`) or header (`key: v`) syntax.
fn mask_key_values(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        // Start of a key name?
        if is_key_char(chars[i]) && (i == 0 || !is_key_char(chars[i - 1])) {
            let mut j = i;
            while j < chars.len() && is_key_char(chars[j]) {
                j += 1;
            }
            let word: String = chars[i..j].iter().collect();
            out.push_str(&word);
            i = j;
            if !SECRET_KEYS.contains(&word.to_ascii_lowercase().as_str()) {
                continue;
            }
            // Optional closing quote of a JSON key, spaces, then ':' or '='.
            let mut k = i;
            if k < chars.len() && (chars[k] == '"' || chars[k] == '\'') {
                k += 1;
            }
            while k < chars.len() && chars[k] == ' ' {
                k += 1;
            }
            if k >= chars.len() || (chars[k] != ':' && chars[k] != '=') {
                continue;
            }
            k += 1;
            while k < chars.len() && chars[k] == ' ' {
                k += 1;
            }
            out.extend(&chars[i..k]);
            i = k;
            if i >= chars.len() {
                break;
            }
            if chars[i] == '"' || chars[i] == '\'' {
                let quote = chars[i];
                out.push(quote);
                i += 1;
                while i < chars.len() && chars[i] != quote {
                    if chars[i] == '\\' {
                        i += 1;
                    }
                    i += 1;
                }
                out.push_str(MASK);
                if i < chars.len() {
                    out.push(quote);
                    i += 1;
                }
            } else if text_starts_with(&chars[i..], "null") {
                // Keep explicit nulls: they reveal nothing.
            } else {
                while i < chars.len()
                    && !matches!(chars[i], ',' | '}' | '&' | ' ' | '\n' | ';' | ']')
                {
                    i += 1;
                }
                out.push_str(MASK);
            }
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    out
}

fn text_starts_with(chars: &[char], word: &str) -> bool {
    let mut it = chars.iter();
    word.chars().all(|c| it.next() == Some(&c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_json_token_values() {
        let body = r#"{"data":{"token":"ver:1-hint:123-SECRETSESSION","masterToken":"MASTERSECRET","validityInSeconds":3600},"qrmk":"QRMKSECRET","success":true}"#;
        let r = redact(body);
        for secret in ["SECRETSESSION", "MASTERSECRET", "QRMKSECRET"] {
            assert!(!r.contains(secret), "{r}");
        }
        assert!(r.contains("\"validityInSeconds\":3600"), "{r}");
        assert!(r.contains("\"token\":\"***\""), "{r}");
    }

    #[test]
    fn masks_login_body_fields_and_headers() {
        let text = r#"PASSWORD: "hunter2", "TOKEN" : "eyJhbGciOi.xyz.sig", Authorization: Snowflake Token="abcdef" x-amz-server-side-encryption-customer-key: KEYVALUE"#;
        let r = redact(text);
        for secret in ["hunter2", "eyJhbGciOi", "abcdef", "KEYVALUE"] {
            assert!(!r.contains(secret), "{secret} leaked in {r}");
        }
    }

    #[test]
    fn masks_query_strings_and_pem() {
        // Not a key: a PEM header around the placeholder "MIIEv", to check masking.
        let text = "GET https://x/chunk?X-Amz-Signature=deadbeef&x=1 -----BEGIN PRIVATE KEY-----\nMIIEv\n-----END PRIVATE KEY----- tail";
        let r = redact(text);
        assert!(!r.contains("deadbeef"), "{r}");
        assert!(!r.contains("MIIEv"), "{r}");
        assert!(r.ends_with(" tail"), "{r}");
        assert!(r.contains("x=1"), "{r}");
    }

    #[test]
    fn keeps_ordinary_text_and_truncates() {
        let msg = "002003 (42S02): Catalog Error: Table with name missing does not exist!";
        assert_eq!(redact(msg), msg);
        let long = "a".repeat(5000);
        assert_eq!(redact(&long).chars().count(), MAX_SERVER_TEXT + 1);
        // Words that merely contain a key name are not touched.
        assert_eq!(redact("tokenizer=on"), "tokenizer=on");
    }
}
