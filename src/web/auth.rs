//! HTTP basic authentication against bcrypt hashes, as the exporter-toolkit
//! does it, with its answers cached.
//!
//! bcrypt is slow on purpose (tens of milliseconds at cost 10). Every
//! scrape carries the password, so without a cache every scrape would pay
//! it, and a flood of wrong passwords would keep the scrapers waiting. So:
//! an answer, right or wrong, is remembered under a digest of user, hash and
//! password (never the password itself); bcrypt runs on a blocking thread,
//! one at a time, and never on the threads that serve requests.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use axum::http::HeaderValue;
use base64::Engine;
use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;

/// A bcrypt hash of "fakepassword" (cost 10): compared against when the user
/// is unknown, so that a missing user takes as long as a wrong password.
const UNKNOWN_USER_HASH: &str = "$2y$10$QOauhQNbBCuQDKes6eFzPeMqBSjb7Mr5DUmpZ/VcEd00UAV/LDeSi";

/// How many answers are remembered; past it the wrong ones are forgotten
/// first, then all.
const CACHE_ENTRIES: usize = 1024;

pub struct BasicAuth {
    cache: Mutex<HashMap<[u8; 32], bool>>,
    bcrypt: Semaphore,
}

impl Default for BasicAuth {
    fn default() -> Self {
        BasicAuth {
            cache: Mutex::new(HashMap::new()),
            bcrypt: Semaphore::new(1),
        }
    }
}

impl BasicAuth {
    /// True when `authorization` holds the credentials of one of `users`.
    pub async fn allows(
        &self,
        users: &BTreeMap<String, String>,
        authorization: Option<&HeaderValue>,
    ) -> bool {
        let Some((user, password)) = authorization.and_then(credentials) else {
            return false;
        };
        let known = users.get(&user);
        let hash = known.map_or(UNKNOWN_USER_HASH, String::as_str).to_string();
        let key = cache_key(&user, &hash, &password);
        if let Some(&answer) = self.lock().get(&key) {
            return answer && known.is_some();
        }
        let Ok(_turn) = self.bcrypt.acquire().await else {
            return false;
        };
        // Another request may have answered it while this one waited.
        if let Some(&answer) = self.lock().get(&key) {
            return answer && known.is_some();
        }
        let matches = tokio::task::spawn_blocking(move || {
            bcrypt::verify(password.as_bytes(), &hash).unwrap_or(false)
        })
        .await
        .unwrap_or(false);
        let answer = matches && known.is_some();
        let mut cache = self.lock();
        if cache.len() >= CACHE_ENTRIES {
            cache.retain(|_, ok| *ok);
            if cache.len() >= CACHE_ENTRIES {
                cache.clear();
            }
        }
        cache.insert(key, answer);
        answer
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], bool>> {
        self.cache.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// User and password from `Authorization: Basic base64(user:password)`.
fn credentials(value: &HeaderValue) -> Option<(String, String)> {
    let value = value.to_str().ok()?;
    let (scheme, encoded) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (user, password) = decoded.split_once(':')?;
    Some((user.to_string(), password.to_string()))
}

fn cache_key(user: &str, hash: &str, password: &str) -> [u8; 32] {
    let mut digest = Sha256::new();
    for part in [user, hash, password] {
        digest.update((part.len() as u64).to_be_bytes());
        digest.update(part.as_bytes());
    }
    digest.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(user: &str, password: &str) -> HeaderValue {
        let encoded =
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        HeaderValue::from_str(&format!("Basic {encoded}")).unwrap()
    }

    fn users() -> BTreeMap<String, String> {
        BTreeMap::from([(
            "prometheus".to_string(),
            bcrypt::hash("s3cret:x", 4).unwrap(),
        )])
    }

    #[tokio::test]
    async fn right_wrong_unknown_and_malformed() {
        let auth = BasicAuth::default();
        let users = users();
        // The password may hold a colon: only the first one separates.
        assert!(
            auth.allows(&users, Some(&header("prometheus", "s3cret:x")))
                .await
        );
        assert!(
            !auth
                .allows(&users, Some(&header("prometheus", "wrong")))
                .await
        );
        assert!(
            !auth
                .allows(&users, Some(&header("nobody", "s3cret:x")))
                .await
        );
        assert!(!auth.allows(&users, None).await);
        for bad in ["Basic !!!", "Bearer abc", "Basic", ""] {
            assert!(
                !auth
                    .allows(&users, Some(&HeaderValue::from_static(bad)))
                    .await,
                "{bad}"
            );
        }
    }

    #[tokio::test]
    async fn answers_are_cached_without_the_password() {
        let auth = BasicAuth::default();
        let users = users();
        assert!(
            auth.allows(&users, Some(&header("prometheus", "s3cret:x")))
                .await
        );
        assert!(
            !auth
                .allows(&users, Some(&header("prometheus", "nope")))
                .await
        );
        let cache = auth.lock();
        assert_eq!(cache.len(), 2);
        assert!(cache.keys().all(|k| !k.windows(6).any(|w| w == b"s3cret")));
    }

    #[tokio::test]
    async fn a_changed_hash_is_asked_again() {
        let auth = BasicAuth::default();
        let mut users = users();
        assert!(
            auth.allows(&users, Some(&header("prometheus", "s3cret:x")))
                .await
        );
        users.insert("prometheus".into(), bcrypt::hash("other", 4).unwrap());
        assert!(
            !auth
                .allows(&users, Some(&header("prometheus", "s3cret:x")))
                .await
        );
    }
}
