//! Key-pair login support: throwaway RSA keys and RS256 JWT verification (spec §4).

use anyhow::{bail, Context, Result};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use rsa::pkcs1v15::{Signature, VerifyingKey};
use rsa::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};
use rsa::sha2::{Digest, Sha256};
use rsa::signature::Verifier;
use rsa::{PrivateKey, PublicKey};
use serde_json::Value;

/// A freshly generated RSA key pair; never written to disk.
pub struct TestKey {
    pub private: PrivateKey,
    pub public: PublicKey,
}

impl TestKey {
    /// Generates a key of `bits` bits (2048 is what Snowflake requires).
    pub fn generate(bits: usize) -> TestKey {
        let private = PrivateKey::new(&mut getrandom::SysRng, bits).expect("RSA key generation");
        let public = private.to_public_key();
        TestKey { private, public }
    }

    /// The private key as unencrypted PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`).
    /// Test keys come from [`TestKey::generate`] at test time; no key is stored in the
    /// repository.
    pub fn pkcs8_pem(&self) -> String {
        self.private
            .to_pkcs8_pem(LineEnding::LF)
            .expect("PKCS#8 PEM")
            .to_string()
    }

    /// The private key as encrypted PKCS#8 PEM (`-----BEGIN ENCRYPTED PRIVATE KEY-----`).
    pub fn encrypted_pkcs8_pem(&self, passphrase: &str) -> String {
        self.private
            .to_pkcs8_encrypted_pem(passphrase, LineEnding::LF)
            .expect("encrypted PKCS#8 PEM")
            .to_string()
    }

    /// `SHA256:` + base64(sha256(SPKI DER)), as in `DESCRIBE USER`.
    pub fn fingerprint(&self) -> String {
        fingerprint(&self.public)
    }
}

/// `SHA256:` + standard padded base64 of the SHA-256 of the SubjectPublicKeyInfo DER.
pub fn fingerprint(public: &PublicKey) -> String {
    let der = public.to_public_key_der().expect("SPKI DER");
    format!("SHA256:{}", STANDARD.encode(Sha256::digest(der.as_bytes())))
}

/// Checks an RS256 JWT's header and signature against `public`; returns its claims.
/// Does not check `exp`: the test asserts on the claims itself.
pub fn verify_rs256(token: &str, public: &PublicKey) -> Result<Value> {
    let parts: Vec<&str> = token.split('.').collect();
    let [header, claims, sig] = parts.as_slice() else {
        bail!(
            "a JWT has three dot-separated parts, this one has {}",
            parts.len()
        );
    };
    let header: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).context("header base64url")?)
            .context("header JSON")?;
    if header["alg"] != "RS256" {
        bail!("alg is {}, expected RS256", header["alg"]);
    }
    let sig = Signature::try_from(
        URL_SAFE_NO_PAD
            .decode(sig)
            .context("signature base64url")?
            .as_slice(),
    )
    .context("signature bytes")?;
    VerifyingKey::<Sha256>::new(public.clone())
        .verify(format!("{}.{}", parts[0], parts[1]).as_bytes(), &sig)
        .context("RS256 signature does not verify")?;
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(claims).context("claims base64url")?)
        .context("claims JSON")
}

#[cfg(test)]
mod tests {
    use super::*;
    use rsa::pkcs1v15::SigningKey;
    use rsa::signature::{SignatureEncoding, Signer};

    fn sign(key: &TestKey, claims: &str) -> String {
        let h = URL_SAFE_NO_PAD.encode(r#"{"alg":"RS256","typ":"JWT"}"#);
        let c = URL_SAFE_NO_PAD.encode(claims);
        let input = format!("{h}.{c}");
        let sig = SigningKey::<Sha256>::new(key.private.clone()).sign(input.as_bytes());
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig.to_bytes()))
    }

    #[test]
    fn verifies_good_and_rejects_tampered_tokens() {
        let key = TestKey::generate(1024);
        let token = sign(&key, r#"{"iss":"A.U.SHA256:x","sub":"A.U"}"#);
        assert_eq!(verify_rs256(&token, &key.public).unwrap()["sub"], "A.U");
        let other = TestKey::generate(1024);
        assert!(verify_rs256(&token, &other.public).is_err());
        let mut parts: Vec<&str> = token.split('.').collect();
        let forged = URL_SAFE_NO_PAD.encode(r#"{"sub":"B.U"}"#);
        parts[1] = &forged;
        assert!(verify_rs256(&parts.join("."), &key.public).is_err());
        assert!(key.fingerprint().starts_with("SHA256:"));
        // The header of the key generated above; no key is stored in this file.
        assert!(key.pkcs8_pem().starts_with("-----BEGIN PRIVATE KEY-----"));
    }
}
