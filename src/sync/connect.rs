//! Turns the `bravo_metrics.snowflake_*` settings and the secret files into a plain
//! client configuration (no PostgreSQL types cross into the network code).

use std::time::Duration;

use bravo_snowflake::{Auth, Config};

use crate::error::BravoError;
use crate::secrets::read_secret_file;
use crate::settings::{self, get_str, Authenticator};

pub fn config() -> Result<Config, BravoError> {
    let missing = |name: &str| {
        BravoError::config(format!("bravo_metrics.{name} is not set")).hint(format!(
            "ALTER SYSTEM SET bravo_metrics.{name} = '...'; SELECT pg_reload_conf();"
        ))
    };
    let account =
        get_str(&settings::SNOWFLAKE_ACCOUNT).ok_or_else(|| missing("snowflake_account"))?;
    let user = get_str(&settings::SNOWFLAKE_USER).ok_or_else(|| missing("snowflake_user"))?;
    let secret_path = get_str(&settings::SNOWFLAKE_SECRET_FILE)
        .ok_or_else(|| missing("snowflake_secret_file"))?;
    let secret = read_secret_file("bravo_metrics.snowflake_secret_file", &secret_path)?;
    let auth = match settings::authenticator() {
        Authenticator::Password => Auth::Password(secret),
        Authenticator::ProgrammaticAccessToken | Authenticator::ProgrammaticAccessTokenAlias => {
            Auth::ProgrammaticAccessToken(secret)
        }
        Authenticator::Oauth => Auth::OAuth(secret),
        Authenticator::KeyPair | Authenticator::KeyPairAlias => {
            let passphrase = match get_str(&settings::SNOWFLAKE_PASSPHRASE_FILE) {
                Some(p) => Some(read_secret_file(
                    "bravo_metrics.snowflake_private_key_passphrase_file",
                    &p,
                )?),
                None => None,
            };
            Auth::KeyPair {
                private_key_pem: secret,
                passphrase,
            }
        }
    };
    let mut cfg = Config::new(account, user, auth);
    cfg.warehouse = get_str(&settings::SNOWFLAKE_WAREHOUSE);
    cfg.role = get_str(&settings::SNOWFLAKE_ROLE);
    cfg.database = get_str(&settings::SNOWFLAKE_DATABASE);
    cfg.schema = get_str(&settings::SNOWFLAKE_SCHEMA);
    cfg.region = get_str(&settings::SNOWFLAKE_REGION);
    cfg.protocol = get_str(&settings::SNOWFLAKE_PROTOCOL);
    cfg.host = get_str(&settings::SNOWFLAKE_HOST);
    let port = settings::SNOWFLAKE_PORT.get();
    cfg.port = (port > 0).then_some(port as u16);
    cfg.allow_insecure_http = settings::SNOWFLAKE_ALLOW_INSECURE_HTTP.get();
    cfg.retry.max_retries = settings::SNOWFLAKE_MAX_RETRIES.get().max(0) as u32;
    cfg.timeouts.login = Duration::from_secs(settings::SNOWFLAKE_LOGIN_TIMEOUT.get().max(1) as u64);
    cfg.timeouts.request =
        Duration::from_secs(settings::SNOWFLAKE_REQUEST_TIMEOUT.get().max(1) as u64);
    cfg.timeouts.connect =
        Duration::from_secs(settings::SNOWFLAKE_CONNECT_TIMEOUT.get().max(1) as u64);
    cfg.retry.budget = Duration::from_secs(settings::SNOWFLAKE_RETRY_BUDGET.get().max(0) as u64);
    if let Some(id) = get_str(&settings::SNOWFLAKE_CLIENT_APP_ID) {
        cfg.client_app_id = id;
    }
    if let Some(v) = get_str(&settings::SNOWFLAKE_CLIENT_APP_VERSION) {
        cfg.client_app_version = v;
    }
    cfg.application = concat!("bravo_metrics/", env!("CARGO_PKG_VERSION")).into();
    cfg.chunk_prefetch = settings::SNOWFLAKE_CHUNK_PREFETCH.get().max(1) as usize;
    Ok(cfg)
}
