//! Function secrets: environment variables whose values are encrypted at rest
//! and never shown again. Each value is sealed with ChaCha20-Poly1305 (ring)
//! under the server's secret key, with a fresh random nonce and the function
//! and secret name as associated data (a sealed value copied to another row
//! does not open). The key comes from `WISP_SECRET_KEY` (64 hex digits or
//! base64 of 32 bytes) or from `<data-dir>/secret.key`, created with mode 0600
//! on first start. Values are decrypted once, when a live function is loaded.

use std::collections::BTreeMap;
use std::path::Path;
use std::str::FromStr;

use anyhow::Context as _;
use base64::Engine as _;
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, CHACHA20_POLY1305, NONCE_LEN};
use ring::rand::{SecureRandom, SystemRandom};
use sha2::{Digest, Sha256};
use sqlx::Row as _;

use crate::{Platform, PlatformError};

/// Name of the key file in the data directory.
pub const SECRET_KEY_FILE: &str = "secret.key";
/// Bytes of a secret key.
const KEY_LEN: usize = 32;
/// Prefix of a sealed value: the format, so it can change later.
const SEALED_PREFIX: &str = "v1:";
/// Most secrets one function may have.
pub const MAX_SECRETS: usize = 100;
/// Largest secret value, in bytes.
pub const MAX_SECRET_BYTES: usize = 32 * 1024;
/// What recorded logs show instead of a secret value.
pub const REDACTED: &str = "[redacted]";

/// A secret key as configured (hex or base64 text); never printed.
#[derive(Clone)]
pub struct SecretKeyText(String);

impl FromStr for SecretKeyText {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        parse_key(s)?;
        Ok(Self(s.to_string()))
    }
}

impl SecretKeyText {
    /// The key as configured, for a backup that must carry it.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for SecretKeyText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKeyText(hidden)")
    }
}

/// 32 key bytes from 64 hex digits or base64 (standard or URL-safe, padded or not).
pub fn parse_key(text: &str) -> Result<[u8; KEY_LEN], String> {
    let text = text.trim();
    let bytes = if text.len() == 2 * KEY_LEN && text.bytes().all(|b| b.is_ascii_hexdigit()) {
        hex::decode(text).map_err(|e| e.to_string())?
    } else {
        use base64::engine::general_purpose::{STANDARD, URL_SAFE};
        let unpadded = text.trim_end_matches('=');
        let padded = format!("{unpadded}{}", "=".repeat((4 - unpadded.len() % 4) % 4));
        STANDARD
            .decode(&padded)
            .or_else(|_| URL_SAFE.decode(&padded))
            .map_err(|_| "a secret key must be 64 hex digits or base64 of 32 bytes".to_string())?
    };
    bytes
        .try_into()
        .map_err(|b: Vec<u8>| format!("a secret key must be 32 bytes, not {}", b.len()))
}

/// Why a sealed value could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("it was encrypted with key {stored}, but this server uses key {current}: start the server with the key the secrets were stored with (WISP_SECRET_KEY or <data-dir>/{SECRET_KEY_FILE})")]
    WrongKey { stored: String, current: String },
    #[error("its stored value is damaged or does not belong to it")]
    Damaged,
    #[error("the system random number generator failed")]
    Random,
}

/// Seals and opens secret values with the server's key.
pub(crate) struct SecretBox {
    key: LessSafeKey,
    id: String,
    rng: SystemRandom,
}

impl SecretBox {
    pub fn new(bytes: &[u8; KEY_LEN]) -> Self {
        let key = UnboundKey::new(&CHACHA20_POLY1305, bytes).expect("a 32-byte key");
        // Tells keys apart without revealing anything usable about them.
        let mut hash = Sha256::new();
        hash.update(b"wisp secret key id\0");
        hash.update(bytes);
        Self {
            key: LessSafeKey::new(key),
            id: hex::encode(&hash.finalize()[..8]),
            rng: SystemRandom::new(),
        }
    }

    /// The key's public fingerprint, stored beside each sealed value.
    pub fn key_id(&self) -> &str {
        &self.id
    }

    fn aad(function: &str, name: &str) -> Vec<u8> {
        format!("wisp secret\0{function}\0{name}").into_bytes()
    }

    /// `v1:` + base64(nonce || ciphertext || tag).
    pub fn seal(&self, function: &str, name: &str, value: &str) -> Result<String, SecretError> {
        let mut nonce = [0u8; NONCE_LEN];
        self.rng.fill(&mut nonce).map_err(|_| SecretError::Random)?;
        let mut data = value.as_bytes().to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(Self::aad(function, name)),
                &mut data,
            )
            .map_err(|_| SecretError::Damaged)?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&data);
        Ok(format!(
            "{SEALED_PREFIX}{}",
            base64::engine::general_purpose::STANDARD.encode(out)
        ))
    }

    /// The value sealed by [`SecretBox::seal`] for this function and name.
    pub fn open(
        &self,
        function: &str,
        name: &str,
        key_id: &str,
        sealed: &str,
    ) -> Result<String, SecretError> {
        if key_id != self.id {
            return Err(SecretError::WrongKey {
                stored: key_id.to_string(),
                current: self.id.clone(),
            });
        }
        let encoded = sealed
            .strip_prefix(SEALED_PREFIX)
            .ok_or(SecretError::Damaged)?;
        let mut data = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .map_err(|_| SecretError::Damaged)?;
        if data.len() < NONCE_LEN {
            return Err(SecretError::Damaged);
        }
        let nonce: [u8; NONCE_LEN] = data[..NONCE_LEN].try_into().expect("nonce length");
        let plain = self
            .key
            .open_in_place(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(Self::aad(function, name)),
                &mut data[NONCE_LEN..],
            )
            .map_err(|_| SecretError::Damaged)?;
        String::from_utf8(plain.to_vec()).map_err(|_| SecretError::Damaged)
    }
}

/// The server's key: `configured` (from `WISP_SECRET_KEY`) if given, else the
/// key file in `data_dir`, created (mode 0600) when missing.
pub(crate) fn load_key(
    configured: Option<&SecretKeyText>,
    data_dir: &Path,
) -> anyhow::Result<SecretBox> {
    if let Some(text) = configured {
        let bytes = parse_key(&text.0).map_err(anyhow::Error::msg)?;
        return Ok(SecretBox::new(&bytes));
    }
    let path = data_dir.join(SECRET_KEY_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            warn_if_readable_by_others(&path);
            let bytes = parse_key(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
            Ok(SecretBox::new(&bytes))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => create_key_file(&path),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

fn create_key_file(path: &Path) -> anyhow::Result<SecretBox> {
    use std::io::Write as _;
    let mut bytes = [0u8; KEY_LEN];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| anyhow::anyhow!("the system random number generator failed"))?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(format!("{}\n", hex::encode(bytes)).as_bytes())
        .and_then(|()| file.sync_all())
        .with_context(|| format!("writing {}", path.display()))?;
    tracing::info!(path = %path.display(), "created the secret key file (keep it: stored secrets need it)");
    Ok(SecretBox::new(&bytes))
}

fn warn_if_readable_by_others(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        if let Ok(meta) = std::fs::metadata(path) {
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                tracing::warn!(path = %path.display(), mode = %format!("{mode:o}"), "the secret key file is readable by other users; chmod 600 it");
            }
        }
    }
    #[cfg(not(unix))]
    let _ = path;
}

/// Checks a requested change of secrets (names like environment variables;
/// bounded sizes).
pub(crate) fn validate_changes(
    changes: &BTreeMap<String, Option<String>>,
) -> Result<(), PlatformError> {
    for (name, value) in changes {
        if !model::is_env_name(name) {
            return Err(PlatformError::invalid(format!(
                "secret name {name:?} must be letters, digits and '_', not starting with a digit"
            )));
        }
        if value.as_ref().is_some_and(|v| v.len() > MAX_SECRET_BYTES) {
            return Err(PlatformError::invalid(format!(
                "secret {name} is longer than {MAX_SECRET_BYTES} bytes"
            )));
        }
    }
    Ok(())
}

/// Replaces every secret value in `text` by [`REDACTED`]. `values` must be
/// sorted longest first and hold no empty string.
pub(crate) fn redact(text: &str, values: &[String]) -> String {
    let mut out = text.to_string();
    for value in values {
        if out.contains(value.as_str()) {
            out = out.replace(value.as_str(), REDACTED);
        }
    }
    out
}

impl Platform {
    /// Names of a function's secrets, sorted.
    pub(crate) async fn secret_names(&self, function: &str) -> Result<Vec<String>, PlatformError> {
        let rows =
            sqlx::query("SELECT name FROM function_secrets WHERE function_name = $1 ORDER BY name")
                .bind(function)
                .fetch_all(&self.inner.db)
                .await?;
        rows.iter()
            .map(|r| Ok(r.try_get::<String, _>("name")?))
            .collect()
    }

    /// Applies `changes` (a value sets or replaces, `None` deletes) inside `tx`.
    pub(crate) async fn write_secrets(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        function: &str,
        changes: &BTreeMap<String, Option<String>>,
    ) -> Result<(), PlatformError> {
        let now = self.inner.clock.now_ms();
        for (name, value) in changes {
            match value {
                Some(value) => {
                    let sealed = self
                        .inner
                        .secrets
                        .seal(function, name, value)
                        .map_err(|e| {
                            PlatformError::Internal(anyhow::anyhow!("sealing a secret: {e}"))
                        })?;
                    sqlx::query(
                        "INSERT INTO function_secrets (function_name, name, key_id, sealed, created_at, updated_at) \
                         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (function_name, name) DO UPDATE \
                         SET key_id = excluded.key_id, sealed = excluded.sealed, updated_at = excluded.updated_at",
                    )
                    .bind(function)
                    .bind(name)
                    .bind(self.inner.secrets.key_id().to_string())
                    .bind(sealed)
                    .bind(now)
                    .bind(now)
                    .execute(&mut **tx)
                    .await?;
                }
                None => {
                    sqlx::query(
                        "DELETE FROM function_secrets WHERE function_name = $1 AND name = $2",
                    )
                    .bind(function)
                    .bind(name)
                    .execute(&mut **tx)
                    .await?;
                }
            }
        }
        let count: i64 =
            sqlx::query("SELECT COUNT(*) AS n FROM function_secrets WHERE function_name = $1")
                .bind(function)
                .fetch_one(&mut **tx)
                .await?
                .try_get("n")?;
        if count as usize > MAX_SECRETS {
            return Err(PlatformError::invalid(format!(
                "a function may have at most {MAX_SECRETS} secrets"
            )));
        }
        Ok(())
    }

    /// A function's secrets, decrypted: what its live version gets as
    /// environment variables.
    pub(crate) async fn open_secrets(
        &self,
        function: &str,
    ) -> Result<Vec<(String, String)>, PlatformError> {
        let rows = sqlx::query(
            "SELECT name, key_id, sealed FROM function_secrets WHERE function_name = $1 ORDER BY name",
        )
        .bind(function)
        .fetch_all(&self.inner.db)
        .await?;
        let mut secrets = Vec::with_capacity(rows.len());
        for row in &rows {
            let name: String = row.try_get("name")?;
            let key_id: String = row.try_get("key_id")?;
            let sealed: String = row.try_get("sealed")?;
            let value = self
                .inner
                .secrets
                .open(function, &name, &key_id, &sealed)
                .map_err(|e| {
                    PlatformError::Internal(anyhow::anyhow!(
                        "secret {name} of function {function} cannot be decrypted: {e}"
                    ))
                })?;
            secrets.push((name, value));
        }
        Ok(secrets)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: [u8; 32] = [7; 32];

    #[test]
    fn sealed_values_open_only_for_their_function_and_name() {
        let secrets = SecretBox::new(&KEY);
        let sealed = secrets.seal("f", "API_KEY", "s3cr3t").unwrap();
        assert!(sealed.starts_with("v1:"));
        assert!(!sealed.contains("s3cr3t"));
        let id = secrets.key_id().to_string();
        assert_eq!(
            secrets.open("f", "API_KEY", &id, &sealed).unwrap(),
            "s3cr3t"
        );
        assert!(matches!(
            secrets.open("g", "API_KEY", &id, &sealed),
            Err(SecretError::Damaged)
        ));
        assert!(matches!(
            secrets.open("f", "OTHER", &id, &sealed),
            Err(SecretError::Damaged)
        ));
        // A fresh nonce per value: the same value seals differently.
        assert_ne!(sealed, secrets.seal("f", "API_KEY", "s3cr3t").unwrap());
    }

    #[test]
    fn another_key_is_named_not_guessed() {
        let sealed = SecretBox::new(&KEY).seal("f", "A", "x").unwrap();
        let other = SecretBox::new(&[8; 32]);
        let stored = SecretBox::new(&KEY).key_id().to_string();
        assert!(matches!(
            other.open("f", "A", &stored, &sealed),
            Err(SecretError::WrongKey { .. })
        ));
        // Even with a forged key id the tag does not verify.
        let forged = other.key_id().to_string();
        assert!(matches!(
            other.open("f", "A", &forged, &sealed),
            Err(SecretError::Damaged)
        ));
    }

    #[test]
    fn keys_parse_from_hex_or_base64() {
        let hex_key = hex::encode(KEY);
        assert_eq!(parse_key(&hex_key).unwrap(), KEY);
        let b64 = base64::engine::general_purpose::STANDARD.encode(KEY);
        assert_eq!(parse_key(&format!(" {b64}\n")).unwrap(), KEY);
        assert_eq!(parse_key(b64.trim_end_matches('=')).unwrap(), KEY);
        assert!(parse_key("abcd").is_err());
        assert!(parse_key(&hex::encode([1u8; 16])).is_err());
        assert!(format!("{:?}", hex_key.parse::<SecretKeyText>().unwrap()).contains("hidden"));
    }

    #[test]
    fn the_key_file_is_created_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let first = load_key(None, dir.path()).unwrap();
        let path = dir.path().join(SECRET_KEY_FILE);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        let again = load_key(None, dir.path()).unwrap();
        assert_eq!(first.key_id(), again.key_id());
        let configured: SecretKeyText = hex::encode(KEY).parse().unwrap();
        let from_env = load_key(Some(&configured), dir.path()).unwrap();
        assert_eq!(from_env.key_id(), SecretBox::new(&KEY).key_id());
    }

    #[test]
    fn redaction_replaces_every_value() {
        let values = vec!["longer-secret".to_string(), "secret".to_string()];
        assert_eq!(
            redact("a longer-secret and a secret.", &values),
            "a [redacted] and a [redacted]."
        );
        assert_eq!(redact("nothing here", &values), "nothing here");
    }
}
