//! Login body fields per authenticator (spec §4).

pub mod jwt;

use serde_json::{Map, Value};

use crate::config::{Auth, Config};
use crate::error::Error;

pub use jwt::{jwt_fingerprint, KeyPair};

/// Prepared credentials: a parsed key for key-pair auth (parsed once, at connect).
pub(crate) enum Credentials {
    Password,
    KeyPair(Box<KeyPair>),
    Pat,
    OAuth,
}

impl Credentials {
    pub(crate) fn prepare(config: &Config) -> Result<Self, Error> {
        Ok(match &config.auth {
            Auth::Password(_) => Credentials::Password,
            Auth::KeyPair {
                private_key_pem,
                passphrase,
            } => Credentials::KeyPair(Box::new(KeyPair::from_pem(
                private_key_pem,
                passphrase.as_ref(),
            )?)),
            Auth::ProgrammaticAccessToken(_) => Credentials::Pat,
            Auth::OAuth(_) => Credentials::OAuth,
        })
    }

    /// Adds `LOGIN_NAME`, `AUTHENTICATOR`, `PASSWORD`/`TOKEN` to the login `data`.
    /// Called for every login attempt, so a JWT is always fresh.
    pub(crate) fn fill_login_data(
        &self,
        config: &Config,
        data: &mut Map<String, Value>,
    ) -> Result<(), Error> {
        data.insert("LOGIN_NAME".into(), Value::String(config.user.clone()));
        match (&config.auth, self) {
            (Auth::Password(pw), _) => {
                data.insert("PASSWORD".into(), Value::String(pw.expose().to_string()));
            }
            (Auth::KeyPair { .. }, Credentials::KeyPair(key)) => {
                let now = chrono::Utc::now().timestamp();
                let token = key.token(&config.account, &config.user, now)?;
                data.insert("AUTHENTICATOR".into(), "SNOWFLAKE_JWT".into());
                data.insert("TOKEN".into(), Value::String(token));
            }
            (Auth::ProgrammaticAccessToken(t), _) => {
                data.insert("AUTHENTICATOR".into(), "PROGRAMMATIC_ACCESS_TOKEN".into());
                data.insert("TOKEN".into(), Value::String(t.expose().to_string()));
            }
            (Auth::OAuth(t), _) => {
                data.insert("AUTHENTICATOR".into(), "OAUTH".into());
                data.insert("TOKEN".into(), Value::String(t.expose().to_string()));
            }
            (Auth::KeyPair { .. }, _) => {
                return Err(Error::Config(
                    "key pair credentials were not prepared".into(),
                ))
            }
        }
        Ok(())
    }
}
