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
    /// Reads a PEM private key:
    ///
    /// * PKCS#8 (`BEGIN PRIVATE KEY`);
    /// * encrypted PKCS#8 v2 / PBES2 (`BEGIN ENCRYPTED PRIVATE KEY`, as made by
    ///   `openssl pkcs8 -topk8 -v2 ...`: AES or 3DES, PBKDF2 with HMAC-SHA256 or
    ///   HMAC-SHA1, or scrypt), with the passphrase;
    /// * unencrypted PKCS#1 (`BEGIN RSA PRIVATE KEY` without `Proc-Type`).
    ///
    /// Refused with an [`Error::Config`] that names the format and gives the `openssl`
    /// command converting it: legacy encrypted PKCS#1 (`Proc-Type: 4,ENCRYPTED` /
    /// `DEK-Info:` headers) and PKCS#8 v1 keys (a PKCS#5 v1 or PKCS#12 PBE algorithm,
    /// e.g. `openssl pkcs8 -topk8 -v1 PBE-SHA1-3DES`). No error text contains key
    /// material or the passphrase.
    /// (These are PEM header names used to recognise the format; no key is in this file.)
    pub fn from_pem(pem: &Secret, passphrase: Option<&Secret>) -> Result<Self, Error> {
        let text = pem.expose().trim();
        let key = match pem_format(text) {
            PemFormat::EncryptedPkcs8 => {
                if let Some(scheme) = unsupported_pkcs8_scheme(text) {
                    return Err(Error::Config(scheme.message()));
                }
                let pass = passphrase.ok_or_else(|| {
                    Error::Config("the private key is encrypted but no passphrase was given".into())
                })?;
                rsa::PrivateKey::from_pkcs8_encrypted_pem(text, pass.expose().as_bytes()).map_err(
                    |e| {
                        Error::Config(format!(
                            "cannot decrypt the encrypted PKCS#8 private key: {e}. Check the passphrase; \
                             if it is right, the key uses a cipher or key derivation this client \
                             does not support: re-encrypt it with: {CONVERT_PKCS8}"
                        ))
                    },
                )?
            }
            PemFormat::EncryptedPkcs1 => return Err(Error::Config(ENCRYPTED_PKCS1_MESSAGE.into())),
            PemFormat::Pkcs1 => {
                use rsa::pkcs1::DecodeRsaPrivateKey;
                rsa::PrivateKey::from_pkcs1_pem(text).map_err(|e| {
                    Error::Config(format!("cannot read the PKCS#1 RSA private key: {e}"))
                })?
            }
            PemFormat::Pkcs8 => rsa::PrivateKey::from_pkcs8_pem(text).map_err(|e| {
                Error::Config(format!("cannot read the PKCS#8 RSA private key: {e}"))
            })?,
            PemFormat::Unknown => {
                return Err(Error::Config(
                    // Header names in an error message, not key material.
                    "the private key must be a PEM block (BEGIN PRIVATE KEY, BEGIN ENCRYPTED PRIVATE KEY or BEGIN RSA PRIVATE KEY)"
                        .into(),
                ));
            }
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

/// Converts a legacy encrypted PKCS#1 key (it asks for the old passphrase, then a new one).
pub const CONVERT_PKCS1: &str =
    "openssl pkcs8 -topk8 -v2 aes-256-cbc -in rsa_key.pem -out rsa_key.p8";
/// Re-encrypts a PKCS#8 key as PKCS#8 v2 (PBES2, AES-256-CBC, PBKDF2 with HMAC-SHA256).
pub const CONVERT_PKCS8: &str =
    "openssl pkcs8 -topk8 -v2 aes-256-cbc -in rsa_key.p8 -out rsa_key_v2.p8";

// Header names and the conversion command; no key material.
const ENCRYPTED_PKCS1_MESSAGE: &str = "the private key is a legacy encrypted PKCS#1 key \
     (BEGIN RSA PRIVATE KEY with Proc-Type: 4,ENCRYPTED and DEK-Info headers, OpenSSL's \
     traditional format), which is not supported. Convert it to encrypted PKCS#8 v2 \
     (openssl asks for the current passphrase, then for the new one): \
     openssl pkcs8 -topk8 -v2 aes-256-cbc -in rsa_key.pem -out rsa_key.p8";

/// The PEM block kinds told apart by [`KeyPair::from_pem`]. The strings matched are PEM
/// header names; no key is in this file.
#[derive(Debug, PartialEq, Eq)]
enum PemFormat {
    Pkcs8,
    EncryptedPkcs8,
    Pkcs1,
    EncryptedPkcs1,
    Unknown,
}

fn pem_format(text: &str) -> PemFormat {
    if text.contains("-----BEGIN ENCRYPTED PRIVATE KEY-----") {
        PemFormat::EncryptedPkcs8
    } else if text.contains("-----BEGIN RSA PRIVATE KEY-----") {
        // RFC 1421 encapsulated headers: only the legacy encrypted form has them.
        let headers = text.lines().map(str::trim).any(|l| {
            let upper = l.to_ascii_uppercase();
            (upper.starts_with("PROC-TYPE:") && upper.contains("ENCRYPTED"))
                || upper.starts_with("DEK-INFO:")
        });
        if headers {
            PemFormat::EncryptedPkcs1
        } else {
            PemFormat::Pkcs1
        }
    } else if text.contains("-----BEGIN PRIVATE KEY-----") {
        PemFormat::Pkcs8
    } else {
        PemFormat::Unknown
    }
}

/// An encryption algorithm of an `ENCRYPTED PRIVATE KEY` that is not PBES2.
#[derive(Debug)]
struct UnsupportedScheme {
    oid: String,
    name: Option<&'static str>,
    /// PKCS#5 v1 or PKCS#12 password-based encryption (PKCS#8 v1 keys).
    v1_pbe: bool,
}

impl UnsupportedScheme {
    fn message(&self) -> String {
        let algorithm = match self.name {
            Some(name) => format!("{name}, OID {}", self.oid),
            None => format!("OID {}", self.oid),
        };
        if self.v1_pbe {
            format!(
                "the private key is an encrypted PKCS#8 v1 key (password-based encryption \
                 {algorithm}, as written by openssl pkcs8 -topk8 -v1 ...), which is not \
                 supported; only PKCS#8 v2 (PBES2) encryption is. Convert it to encrypted \
                 PKCS#8 v2 (openssl asks for the current passphrase, then for the new one): \
                 {CONVERT_PKCS8}"
            )
        } else {
            format!(
                "the encrypted PKCS#8 private key uses an unsupported encryption algorithm \
                 ({algorithm}); only PKCS#8 v2 (PBES2) encryption is supported. Convert it \
                 (openssl asks for the current passphrase, then for the new one): {CONVERT_PKCS8}"
            )
        }
    }
}

/// `1.2.840.113549.1.5.13`, PBES2.
const OID_PBES2: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x05, 0x0d];
/// `1.2.840.113549.1.5.` (PKCS#5).
const OID_PKCS5: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x05];
/// `1.2.840.113549.1.12.1.` (PKCS#12 PBE ids).
const OID_PKCS12_PBE: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x0c, 0x01];

/// Reads the algorithm of an `ENCRYPTED PRIVATE KEY` (`EncryptedPrivateKeyInfo ::=
/// SEQUENCE { SEQUENCE { OID, params }, OCTET STRING }`); `Some` if it is not PBES2.
/// `None` also when the block cannot be parsed: the decoder then reports that.
fn unsupported_pkcs8_scheme(text: &str) -> Option<UnsupportedScheme> {
    let der = pem_body(text, "ENCRYPTED PRIVATE KEY")?;
    let (0x30, info, _) = der_tlv(&der)? else {
        return None;
    };
    let (0x30, algorithm, _) = der_tlv(info)? else {
        return None;
    };
    let (0x06, oid, _) = der_tlv(algorithm)? else {
        return None;
    };
    if oid == OID_PBES2 {
        return None;
    }
    let last = oid.last().copied();
    let (name, v1_pbe) = if oid.len() == OID_PKCS5.len() + 1 && oid.starts_with(OID_PKCS5) {
        let name = match last {
            Some(1) => Some("pbeWithMD2AndDES-CBC"),
            Some(3) => Some("pbeWithMD5AndDES-CBC"),
            Some(4) => Some("pbeWithMD2AndRC2-CBC"),
            Some(6) => Some("pbeWithMD5AndRC2-CBC"),
            Some(10) => Some("pbeWithSHA1AndDES-CBC"),
            Some(11) => Some("pbeWithSHA1AndRC2-CBC"),
            _ => None,
        };
        (name, name.is_some())
    } else if oid.len() == OID_PKCS12_PBE.len() + 1 && oid.starts_with(OID_PKCS12_PBE) {
        let name = match last {
            Some(1) => Some("pbeWithSHAAnd128BitRC4"),
            Some(2) => Some("pbeWithSHAAnd40BitRC4"),
            Some(3) => Some("pbeWithSHAAnd3-KeyTripleDES-CBC"),
            Some(4) => Some("pbeWithSHAAnd2-KeyTripleDES-CBC"),
            Some(5) => Some("pbeWithSHAAnd128BitRC2-CBC"),
            Some(6) => Some("pbeWithSHAAnd40BitRC2-CBC"),
            _ => None,
        };
        (name, name.is_some())
    } else {
        (None, false)
    };
    Some(UnsupportedScheme {
        oid: oid_to_string(oid),
        name,
        v1_pbe,
    })
}

/// The base64 body of the PEM block `label`, decoded (header lines skipped).
fn pem_body(text: &str, label: &str) -> Option<Vec<u8>> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = text.find(&begin)? + begin.len();
    let stop = start + text[start..].find(&end)?;
    let b64: String = text[start..stop]
        .lines()
        .map(str::trim)
        .filter(|l| !l.contains(':'))
        .collect();
    STANDARD.decode(b64).ok()
}

/// One DER TLV: (tag, content, rest).
fn der_tlv(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        (len, &rest[n..])
    };
    if rest.len() < len {
        return None;
    }
    Some((tag, &rest[..len], &rest[len..]))
}

/// Dotted form of a DER-encoded OID.
fn oid_to_string(oid: &[u8]) -> String {
    let mut arcs: Vec<u64> = Vec::new();
    let mut value: u64 = 0;
    for &b in oid {
        value = (value << 7) | u64::from(b & 0x7f);
        if b & 0x80 == 0 {
            if arcs.is_empty() {
                let first = (value / 40).min(2);
                arcs.push(first);
                arcs.push(value - first * 40);
            } else {
                arcs.push(value);
            }
            value = 0;
        }
    }
    arcs.iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(".")
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

    /// Runs the `openssl` CLI with `input` on stdin and returns stdout. `openssl` is a
    /// hard requirement of these tests (it makes the legacy formats from the key
    /// generated at test time; nothing is written to disk).
    fn openssl(args: &[&str], input: &str) -> String {
        use std::io::Write as _;
        use std::process::{Command, Stdio};
        let mut child = Command::new("openssl")
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("these tests need the openssl CLI on PATH");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "openssl {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// The error text names neither the passphrase nor any line of the key body.
    fn assert_no_key_material(message: &str, pem: &str, passphrase: &str) {
        assert!(!message.contains(passphrase), "passphrase in {message}");
        for line in pem
            .lines()
            .filter(|l| !l.starts_with("-----") && !l.contains(':'))
        {
            let line = line.trim();
            if line.len() >= 16 {
                assert!(!message.contains(line), "key material in {message}");
            }
        }
    }

    /// Runs the conversion command from an error message (file names replaced by stdin
    /// and stdout) and checks that its output loads as the same key.
    fn convert_as_told(command: &str, legacy: &str, old_pass: &str) {
        let args: Vec<&str> = command
            .strip_prefix("openssl ")
            .unwrap()
            .split(' ')
            .collect();
        let mut argv = Vec::new();
        let mut i = 0;
        while i < args.len() {
            if args[i] == "-in" || args[i] == "-out" {
                i += 2; // stdin / stdout instead of files
                continue;
            }
            argv.push(args[i]);
            i += 1;
        }
        let old = format!("pass:{old_pass}");
        argv.extend(["-passin", &old, "-passout", "pass:new-pass-v2"]);
        let converted = openssl(&argv, legacy);
        assert_eq!(pem_format(&converted), PemFormat::EncryptedPkcs8);
        let fp = jwt_fingerprint(&Secret::new(converted), Some(&Secret::new("new-pass-v2")))
            .expect("the converted key loads");
        assert_eq!(fp, jwt_fingerprint(&pem(), None).unwrap());
    }

    #[test]
    fn legacy_encrypted_pkcs1_is_refused_with_the_conversion_command() {
        let pass = "legacy-Pass-4821";
        // OpenSSL's traditional encrypted form of the key generated at test time.
        let legacy = openssl(
            &[
                "rsa",
                "-traditional",
                "-aes256",
                "-passout",
                &format!("pass:{pass}"),
            ],
            pem().expose(),
        );
        assert!(legacy.contains("Proc-Type: 4,ENCRYPTED"), "{legacy:.60}");
        assert!(legacy.contains("DEK-Info:"));
        for given in [Some(Secret::new(pass)), None] {
            let e = KeyPair::from_pem(&Secret::new(legacy.clone()), given.as_ref()).unwrap_err();
            assert_eq!(e.kind(), crate::ErrorKind::Config);
            let m = e.to_string();
            assert!(m.contains("legacy encrypted PKCS#1"), "{m}");
            assert!(m.contains("Proc-Type: 4,ENCRYPTED"), "{m}");
            assert!(
                m.contains("openssl pkcs8 -topk8 -v2 aes-256-cbc -in rsa_key.pem -out rsa_key.p8"),
                "{m}"
            );
            assert_no_key_material(&m, &legacy, pass);
        }
        convert_as_told(CONVERT_PKCS1, &legacy, pass);
    }

    #[test]
    fn pkcs8_v1_pbe_key_is_refused_with_the_conversion_command() {
        let pass = "v1-Pass-9317";
        let v1 = openssl(
            &[
                "pkcs8",
                "-topk8",
                "-v1",
                "PBE-SHA1-3DES",
                "-passout",
                &format!("pass:{pass}"),
            ],
            pem().expose(),
        );
        assert_eq!(pem_format(&v1), PemFormat::EncryptedPkcs8);
        for given in [Some(Secret::new(pass)), None] {
            let e = KeyPair::from_pem(&Secret::new(v1.clone()), given.as_ref()).unwrap_err();
            assert_eq!(e.kind(), crate::ErrorKind::Config);
            let m = e.to_string();
            assert!(m.contains("encrypted PKCS#8 v1 key"), "{m}");
            assert!(m.contains("pbeWithSHAAnd3-KeyTripleDES-CBC"), "{m}");
            assert!(m.contains("1.2.840.113549.1.12.1.3"), "{m}");
            assert!(
                m.contains(
                    "openssl pkcs8 -topk8 -v2 aes-256-cbc -in rsa_key.p8 -out rsa_key_v2.p8"
                ),
                "{m}"
            );
            assert_no_key_material(&m, &v1, pass);
        }
        convert_as_told(CONVERT_PKCS8, &v1, pass);
    }

    #[test]
    fn pkcs8_v2_from_openssl_and_plain_pkcs1_load() {
        use rsa::pkcs1::EncodeRsaPrivateKey;
        let expected = jwt_fingerprint(&pem(), None).unwrap();
        // Plain PKCS#1 (BEGIN RSA PRIVATE KEY, no Proc-Type), from the rsa crate and openssl.
        let pkcs1 = test_key().to_pkcs1_pem(LineEnding::LF).unwrap().to_string();
        assert_eq!(pem_format(&pkcs1), PemFormat::Pkcs1);
        assert_eq!(
            jwt_fingerprint(&Secret::new(pkcs1), None).unwrap(),
            expected
        );
        let pkcs1 = openssl(&["rsa", "-traditional"], pem().expose());
        assert_eq!(pem_format(&pkcs1), PemFormat::Pkcs1);
        assert_eq!(
            jwt_fingerprint(&Secret::new(pkcs1), Some(&Secret::new("ignored"))).unwrap(),
            expected
        );
        // What Snowflake's docs have users run: PKCS#8 v2 (PBES2), and the PBKDF2
        // HMAC-SHA1 variant older OpenSSL releases wrote by default.
        for args in [
            &["-v2", "aes-256-cbc"][..],
            &["-v2", "des3"],
            &["-v2", "aes-256-cbc", "-v2prf", "hmacWithSHA1"],
        ] {
            let mut argv = vec!["pkcs8", "-topk8", "-passout", "pass:pw-v2"];
            argv.extend_from_slice(args);
            let v2 = openssl(&argv, pem().expose());
            let cipher = args.join(" ");
            let fp = jwt_fingerprint(&Secret::new(v2), Some(&Secret::new("pw-v2")))
                .unwrap_or_else(|e| panic!("{cipher}: {e}"));
            assert_eq!(fp, expected);
        }
    }

    #[test]
    fn oid_and_der_helpers() {
        assert_eq!(oid_to_string(OID_PBES2), "1.2.840.113549.1.5.13");
        assert_eq!(
            der_tlv(&[0x06, 0x01, 0x2a, 0xff]),
            Some((0x06, &[0x2a][..], &[0xff][..]))
        );
        assert_eq!(der_tlv(&[0x30, 0x82, 0x00]), None);
        assert_eq!(der_tlv(&[0x30, 0x05, 0x00]), None);
        assert!(unsupported_pkcs8_scheme("no pem here").is_none());
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
