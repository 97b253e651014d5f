//! Base URL derivation (spec §1) and the account forms used in the login body and the JWT.

use std::net::IpAddr;

use crate::config::Config;
use crate::error::Error;

/// `{protocol}://{host}:{port}` for `config`, validated.
///
/// * No host: derived from the account (`xy12345.us-east-2.aws` →
///   `xy12345.us-east-2.aws.snowflakecomputing.com`), or from `region`
///   (`us-west-2` is dropped). A China region (`cn-*`, in the account or in `region`)
///   uses `.snowflakecomputing.cn`, as the official drivers do.
/// * With a host override the account must still be given.
/// * Plain `http` is allowed only to a loopback host unless `allow_insecure_http`.
pub fn endpoint_url(config: &Config) -> Result<String, Error> {
    let account = config.account.trim();
    if account.is_empty() {
        return Err(Error::Config("account is required".into()));
    }
    if account.contains("://") || account.contains('/') || account.contains(char::is_whitespace) {
        return Err(Error::Config(format!(
            "account {account:?} must be an account identifier, not a URL"
        )));
    }
    let protocol = match config.protocol.as_deref().map(str::trim) {
        None | Some("") => "https".to_string(),
        Some(p) => {
            let p = p.to_ascii_lowercase();
            if p != "http" && p != "https" {
                return Err(Error::Config(format!(
                    "protocol must be http or https, not {p:?}"
                )));
            }
            p
        }
    };
    let host = match config.host.as_deref().map(str::trim) {
        Some(h) if !h.is_empty() => {
            if h.contains("://") || h.contains('/') || h.contains(char::is_whitespace) {
                return Err(Error::Config(format!(
                    "host {h:?} must be a bare host name (no scheme or path)"
                )));
            }
            h.to_string()
        }
        _ => derive_host(account, config.region.as_deref())?,
    };
    if protocol == "http" && !config.allow_insecure_http && !is_loopback(&host) {
        return Err(Error::Config(format!(
            "plain http to non-loopback host {host:?} is refused; use https or allow insecure http explicitly"
        )));
    }
    let port = config
        .port
        .unwrap_or(if protocol == "https" { 443 } else { 80 });
    if port == 0 {
        return Err(Error::Config("port must not be 0".into()));
    }
    let host_part = if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]")
    } else {
        host
    };
    Ok(format!("{protocol}://{host_part}:{port}"))
}

fn derive_host(account: &str, region: Option<&str>) -> Result<String, Error> {
    if !account
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return Err(Error::Config(format!(
            "account {account:?} contains characters not allowed in a host name"
        )));
    }
    let account = account.to_ascii_lowercase();
    let region = region.map(str::trim).filter(|r| !r.is_empty());
    match region {
        Some(r) if !account.contains('.') && !r.eq_ignore_ascii_case("us-west-2") => {
            let r = r.to_ascii_lowercase();
            Ok(format!("{account}.{r}.{}", top_level_domain(&r)))
        }
        _ => {
            // The region (or region.cloud, or privatelink) part of the account, if any.
            let domain = match account.split_once('.') {
                Some((_, rest)) => top_level_domain(rest),
                None => DOMAIN_COM,
            };
            Ok(format!("{account}.{domain}"))
        }
    }
}

const DOMAIN_COM: &str = "snowflakecomputing.com";
const DOMAIN_CN: &str = "snowflakecomputing.cn";

/// `snowflakecomputing.cn` for a China region (`cn-north-1`, `cn-northwest-1.aws`, ...),
/// else `snowflakecomputing.com`. The drivers decide it the same way: gosnowflake's
/// `getDomainBasedOnRegion` (region, or the account text after its first `.`, starting
/// with `cn-`) and snowflake-connector-python's `construct_hostname` (`_is_china_region`).
fn top_level_domain(region: &str) -> &'static str {
    if region
        .get(..3)
        .is_some_and(|p| p.eq_ignore_ascii_case("cn-"))
    {
        DOMAIN_CN
    } else {
        DOMAIN_COM
    }
}

/// `127.0.0.0/8`, `::1` and `localhost`.
pub fn is_loopback(host: &str) -> bool {
    let h = host.trim_start_matches('[').trim_end_matches(']');
    if h.eq_ignore_ascii_case("localhost") || h.to_ascii_lowercase().ends_with(".localhost") {
        return true;
    }
    h.parse::<IpAddr>()
        .map(|ip| ip.is_loopback())
        .unwrap_or(false)
}

/// `ACCOUNT_NAME` for the login body: the text before the first `.`; for a `*.global`
/// account also cut from the last `-`. Uppercased.
pub fn login_account_name(account: &str) -> String {
    let account = account.trim();
    let mut labels = account.split('.');
    let first = labels.next().unwrap_or_default();
    let second = labels.next();
    let name = match second {
        Some(s) if s.eq_ignore_ascii_case("global") => match first.rfind('-') {
            Some(i) => &first[..i],
            None => first,
        },
        _ => first,
    };
    name.to_ascii_uppercase()
}

/// The `ACCOUNT` part of the JWT claims (spec §4): uppercased, cut at the first `.`;
/// for a `*.global` account only the text before the first `-`.
pub fn jwt_account_name(account: &str) -> String {
    let account = account.trim();
    let mut labels = account.split('.');
    let first = labels.next().unwrap_or_default();
    let name = match labels.next() {
        Some(s) if s.eq_ignore_ascii_case("global") => first.split('-').next().unwrap_or(first),
        _ => first,
    };
    name.to_ascii_uppercase()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Auth, Secret};

    fn cfg(account: &str) -> Config {
        Config::new(account, "u", Auth::Password(Secret::new("p")))
    }

    #[test]
    fn derives_hosts_from_accounts() {
        assert_eq!(
            endpoint_url(&cfg("xy12345.us-east-2.aws")).unwrap(),
            "https://xy12345.us-east-2.aws.snowflakecomputing.com:443"
        );
        assert_eq!(
            endpoint_url(&cfg("myorg-myaccount")).unwrap(),
            "https://myorg-myaccount.snowflakecomputing.com:443"
        );
        let mut c = cfg("xy12345");
        c.region = Some("us-west-2".into());
        assert_eq!(
            endpoint_url(&c).unwrap(),
            "https://xy12345.snowflakecomputing.com:443"
        );
        c.region = Some("eu-central-1".into());
        assert_eq!(
            endpoint_url(&c).unwrap(),
            "https://xy12345.eu-central-1.snowflakecomputing.com:443"
        );
        c.region = Some("cn-north-1".into());
        assert_eq!(
            endpoint_url(&c).unwrap(),
            "https://xy12345.cn-north-1.snowflakecomputing.cn:443"
        );
    }

    #[test]
    fn china_regions_use_the_cn_domain() {
        for (account, host) in [
            (
                "xy12345.cn-north-1",
                "xy12345.cn-north-1.snowflakecomputing.cn",
            ),
            (
                "xy12345.cn-northwest-1.aws",
                "xy12345.cn-northwest-1.aws.snowflakecomputing.cn",
            ),
            (
                "XY12345.CN-North-1",
                "xy12345.cn-north-1.snowflakecomputing.cn",
            ),
            (
                "xy12345.cn-north-1.privatelink",
                "xy12345.cn-north-1.privatelink.snowflakecomputing.cn",
            ),
            // Not China: everything else stays .com.
            ("xy12345", "xy12345.snowflakecomputing.com"),
            ("cn-org-account", "cn-org-account.snowflakecomputing.com"),
            (
                "xy12345.us-east-2.aws",
                "xy12345.us-east-2.aws.snowflakecomputing.com",
            ),
            ("xy12345.eu-cn-1", "xy12345.eu-cn-1.snowflakecomputing.com"),
            ("xy12345.cn", "xy12345.cn.snowflakecomputing.com"),
            (
                "xy12345.cnorth-1",
                "xy12345.cnorth-1.snowflakecomputing.com",
            ),
        ] {
            assert_eq!(
                endpoint_url(&cfg(account)).unwrap(),
                format!("https://{host}:443"),
                "account {account}"
            );
        }
        // The region parameter: account xy12345 with region cn-north-1 / cn-northwest-1.aws.
        for (region, host) in [
            ("cn-north-1", "xy12345.cn-north-1.snowflakecomputing.cn"),
            (
                "CN-NORTHWEST-1.aws",
                "xy12345.cn-northwest-1.aws.snowflakecomputing.cn",
            ),
            (
                "ap-northeast-1",
                "xy12345.ap-northeast-1.snowflakecomputing.com",
            ),
        ] {
            let mut c = cfg("xy12345");
            c.region = Some(region.into());
            assert_eq!(
                endpoint_url(&c).unwrap(),
                format!("https://{host}:443"),
                "region {region}"
            );
        }
        // A host override is used as given.
        let mut c = cfg("xy12345.cn-north-1");
        c.host = Some("proxy.example.com".into());
        assert_eq!(endpoint_url(&c).unwrap(), "https://proxy.example.com:443");
    }

    #[test]
    fn overrides_and_http_rules() {
        let mut c = cfg("fakesnow");
        c.protocol = Some("http".into());
        c.host = Some("127.0.0.1".into());
        c.port = Some(8080);
        assert_eq!(endpoint_url(&c).unwrap(), "http://127.0.0.1:8080");
        c.host = Some("localhost".into());
        assert_eq!(endpoint_url(&c).unwrap(), "http://localhost:8080");
        c.host = Some("::1".into());
        assert_eq!(endpoint_url(&c).unwrap(), "http://[::1]:8080");
        c.host = Some("db.example.com".into());
        let e = endpoint_url(&c).unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::Config);
        c.allow_insecure_http = true;
        assert_eq!(endpoint_url(&c).unwrap(), "http://db.example.com:8080");
        c.host = Some("https://db.example.com".into());
        assert!(endpoint_url(&c).is_err());
        c.host = Some("127.0.0.1".into());
        c.account = String::new();
        assert!(
            endpoint_url(&c).is_err(),
            "account is required with a host override"
        );
        let mut c = cfg("a");
        c.protocol = Some("ftp".into());
        assert!(endpoint_url(&c).is_err());
        c.protocol = Some("http".into());
        assert!(endpoint_url(&c).is_err(), "http to a derived remote host");
    }

    #[test]
    fn account_names() {
        assert_eq!(login_account_name("xy12345.us-east-2.aws"), "XY12345");
        assert_eq!(login_account_name("myorg-myaccount"), "MYORG-MYACCOUNT");
        assert_eq!(login_account_name("xy12345-abc-def.global"), "XY12345-ABC");
        assert_eq!(jwt_account_name("xy12345.us-east-2.aws"), "XY12345");
        assert_eq!(jwt_account_name("myorg-myaccount"), "MYORG-MYACCOUNT");
        assert_eq!(jwt_account_name("xy12345-abc.global"), "XY12345");
    }
}
