//! Key-pair authentication: PKCS#8 PEM keys, the public-key fingerprint and RS256 JWTs.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use rsa::pkcs8::{DecodePrivateKey, EncodePublicKey};
use rsa::signature::{SignatureEncoding, Signer};
use sha2::{Digest, Sha256};

use crate::config::Secret;
use crate::endpoint::jwt_account_name;
use crate::error::Error;

/// JWT lifetime in seconds (both drivers' default; Snowflake caps it at one hour).
pub const JWT_LIFETIME_SECS: i64 = 60;

/// A parsed RSA private key and its fingerprint. `Debug` shows only the fingerprint.
pub struct KeyPair {
    signing_key: rsa::pkcs1v15::SigningKey<Sha256>,
    fingerprint: String,
}

impl std::fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyPair")
            .field("fingerprint", &self.fingerprint)
            .finish_non_exhaustive()
    }
}

impl KeyPair {
    /// Reads a PKCS#8 PEM key (`BEGIN PRIVATE KEY`, or `BEGIN ENCRYPTED PRIVATE KEY`
    /// with a passphrase). Also accepts a PKCS#1 `BEGIN RSA PRIVATE KEY`.
    /// (These are PEM header names used to recognise the format; no key is in this file.)
    pub fn from_pem(pem: &Secret, passphrase: Option<&Secret>) -> Result<Self, Error> {
        let text = pem.expose().trim();
        let key = if text.contains("BEGIN ENCRYPTED PRIVATE KEY") {
            let pass = passphrase.ok_or_else(|| {
                Error::Config("the private key is encrypted but no passphrase was given".into())
            })?;
            rsa::PrivateKey::from_pkcs8_encrypted_pem(text, pass.expose().as_bytes()).map_err(
                |e| {
                    Error::Config(format!(
                        "cannot decrypt the PKCS#8 private key (wrong passphrase or unsupported cipher): {e}"
                    ))
                },
            )?
        } else if text.contains("BEGIN RSA PRIVATE KEY") {
            use rsa::pkcs1::DecodeRsaPrivateKey;
            rsa::PrivateKey::from_pkcs1_pem(text).map_err(|e| {
                Error::Config(format!("cannot read the PKCS#1 RSA private key: {e}"))
            })?
        } else if text.contains("BEGIN PRIVATE KEY") {
            rsa::PrivateKey::from_pkcs8_pem(text).map_err(|e| {
                Error::Config(format!("cannot read the PKCS#8 RSA private key: {e}"))
            })?
        } else {
            return Err(Error::Config(
                // Header names in an error message, not key material.
                "the private key must be a PEM block (BEGIN PRIVATE KEY or BEGIN ENCRYPTED PRIVATE KEY)"
                    .into(),
            ));
        };
        let spki = key
            .to_public_key()
            .to_public_key_der()
            .map_err(|e| Error::Config(format!("cannot encode the public key: {e}")))?;
        let fingerprint = format!(
            "SHA256:{}",
            STANDARD.encode(Sha256::digest(spki.as_bytes()))
        );
        Ok(KeyPair {
            signing_key: rsa::pkcs1v15::SigningKey::<Sha256>::new(key),
            fingerprint,
        })
    }

    /// `SHA256:<base64 of sha256(SPKI DER)>`, as `RSA_PUBLIC_KEY_FP` in `DESCRIBE USER`.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// The claims for `account`/`user` issued at `iat` (seconds).
    pub fn claims(&self, account: &str, user: &str, iat: i64) -> serde_json::Value {
        let subject = format!(
            "{}.{}",
            jwt_account_name(account),
            user.trim().to_ascii_uppercase()
        );
        serde_json::json!({
            "iss": format!("{subject}.{}", self.fingerprint),
            "sub": subject,
            "iat": iat,
            "exp": iat + JWT_LIFETIME_SECS,
        })
    }

    /// A signed RS256 JWT. Never log what this returns.
    pub fn token(&self, account: &str, user: &str, iat: i64) -> Result<String, Error> {
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256","typ":"JWT"}"#);
        let claims = serde_json::to_vec(&self.claims(account, user, iat))
            .map_err(|e| Error::Config(format!("cannot encode JWT claims: {e}")))?;
        let signing_input = format!("{header}.{}", URL_SAFE_NO_PAD.encode(claims));
        let signature = self
            .signing_key
            .try_sign(signing_input.as_bytes())
            .map_err(|_| Error::Config("cannot sign the JWT with the private key".into()))?;
        Ok(format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(signature.to_bytes())
        ))
    }
}

/// The public-key fingerprint (`SHA256:...`) of a PKCS#8 PEM private key.
pub fn jwt_fingerprint(
    private_key_pem: &Secret,
    passphrase: Option<&Secret>,
) -> Result<String, Error> {
    Ok(KeyPair::from_pem(private_key_pem, passphrase)?
        .fingerprint
        .clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rsa::pkcs8::{EncodePrivateKey, LineEnding};
    use rsa::signature::Verifier;
    use std::sync::OnceLock;

    /// One test key per test binary, generated at run time (no key file is committed).
    pub(crate) fn test_key() -> &'static rsa::PrivateKey {
        static KEY: OnceLock<rsa::PrivateKey> = OnceLock::new();
        KEY.get_or_init(|| {
            let mut rng = getrandom::SysRng;
            rsa::PrivateKey::new(&mut rng, 2048).expect("generate RSA key")
        })
    }

    fn pem() -> Secret {
        Secret::new(
            test_key()
                .to_pkcs8_pem(LineEnding::LF)
                .expect("pem")
                .to_string(),
        )
    }

    #[test]
    fn fingerprint_is_sha256_of_spki() {
        let spki = test_key().to_public_key().to_public_key_der().unwrap();
        let expected = format!(
            "SHA256:{}",
            STANDARD.encode(Sha256::digest(spki.as_bytes()))
        );
        assert_eq!(jwt_fingerprint(&pem(), None).unwrap(), expected);
        assert_eq!(expected.len(), "SHA256:".len() + 44);
    }

    #[test]
    fn encrypted_key_needs_the_passphrase() {
        let enc = test_key()
            .to_pkcs8_encrypted_pem(b"s3cret", LineEnding::LF)
            .unwrap();
        let enc = Secret::new(enc.to_string());
        let fp = jwt_fingerprint(&enc, Some(&Secret::new("s3cret"))).unwrap();
        assert_eq!(fp, jwt_fingerprint(&pem(), None).unwrap());
        let wrong = jwt_fingerprint(&enc, Some(&Secret::new("nope"))).unwrap_err();
        assert_eq!(wrong.kind(), crate::ErrorKind::Config);
        assert!(!wrong.to_string().contains("nope"));
        assert!(jwt_fingerprint(&enc, None).is_err());
        assert!(jwt_fingerprint(&Secret::new("not a key"), None).is_err());
    }

    #[test]
    fn jwt_claims_and_signature() {
        let kp = KeyPair::from_pem(&pem(), None).unwrap();
        let fp = kp.fingerprint().to_string();
        for (account, acc) in [
            ("xy12345.us-east-2.aws", "XY12345"),
            ("myorg-myaccount", "MYORG-MYACCOUNT"),
            ("xy12345-abc.global", "XY12345"),
        ] {
            let token = kp.token(account, "alice", 1_700_000_000).unwrap();
            let parts: Vec<&str> = token.split('.').collect();
            assert_eq!(parts.len(), 3);
            let header: serde_json::Value =
                serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
            assert_eq!(header["alg"], "RS256");
            assert_eq!(header["typ"], "JWT");
            let claims: serde_json::Value =
                serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
            assert_eq!(claims["sub"], format!("{acc}.ALICE"));
            assert_eq!(claims["iss"], format!("{acc}.ALICE.{fp}"));
            assert_eq!(claims["iat"], 1_700_000_000);
            assert_eq!(claims["exp"], 1_700_000_060);
            let verifier = rsa::pkcs1v15::VerifyingKey::<Sha256>::new(test_key().to_public_key());
            let sig = rsa::pkcs1v15::Signature::try_from(
                URL_SAFE_NO_PAD.decode(parts[2]).unwrap().as_slice(),
            )
            .unwrap();
            verifier
                .verify(format!("{}.{}", parts[0], parts[1]).as_bytes(), &sig)
                .expect("signature verifies with the public key");
        }
        assert!(!format!("{kp:?}").contains("PRIVATE"));
    }
}
