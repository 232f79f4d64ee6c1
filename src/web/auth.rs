//! HTTP basic authentication against bcrypt hashes, as the exporter-toolkit
//! does it, with its answers cached.
//!
//! bcrypt is slow on purpose (tens of milliseconds at cost 10). Every
//! scrape carries the password, so without a cache every scrape would pay
//! it, and a flood of wrong passwords would keep the scrapers waiting. So:
//! an answer, right or wrong, is remembered under a digest of user, hash and
//! password (never the password itself); bcrypt runs on a blocking thread,
//! one at a time (also when the client hangs up), never on the threads that
//! serve requests; and past 16 waiting, an unremembered password is told to
//! come back (503) instead of joining the queue.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use crate::lock::LockOrRecover;
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

/// Most requests waiting for a bcrypt comparison; past it an unremembered
/// password is answered "busy" (503) at once, so a flood of wrong passwords
/// neither queues without end nor holds connections.
const MOST_WAITING: usize = 16;

/// What the credentials of a request come to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Allowed,
    Denied,
    /// Not known yet, and too many others wait to be checked: try again.
    Busy,
}

pub struct BasicAuth {
    cache: Mutex<HashMap<[u8; 32], bool>>,
    bcrypt: Arc<Semaphore>,
    waiting: AtomicUsize,
}

impl Default for BasicAuth {
    fn default() -> Self {
        BasicAuth {
            cache: Mutex::new(HashMap::new()),
            bcrypt: Arc::new(Semaphore::new(1)),
            waiting: AtomicUsize::new(0),
        }
    }
}

/// One request waiting for bcrypt, counted until dropped.
struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl BasicAuth {
    /// Whether `authorization` holds the credentials of one of `users`.
    pub async fn check(
        &self,
        users: &BTreeMap<String, String>,
        authorization: Option<&HeaderValue>,
    ) -> Verdict {
        let Some((user, password)) = authorization.and_then(credentials) else {
            return Verdict::Denied;
        };
        let known = users.get(&user);
        let hash = known.map_or(UNKNOWN_USER_HASH, String::as_str).to_string();
        let key = cache_key(&user, &hash, &password);
        let verdict = |matches: bool| {
            if matches && known.is_some() {
                Verdict::Allowed
            } else {
                Verdict::Denied
            }
        };
        if let Some(&answer) = self.lock().get(&key) {
            return verdict(answer);
        }
        if self.waiting.fetch_add(1, Ordering::Relaxed) >= MOST_WAITING {
            self.waiting.fetch_sub(1, Ordering::Relaxed);
            return Verdict::Busy;
        }
        let _waiting = Waiting(&self.waiting);
        let Ok(turn) = self.bcrypt.clone().acquire_owned().await else {
            return Verdict::Denied;
        };
        // Another request may have answered it while this one waited.
        if let Some(&answer) = self.lock().get(&key) {
            return verdict(answer);
        }
        // The turn ends with the comparison, not with this request: a client
        // that hangs up cannot start a second bcrypt beside the first.
        let matches = tokio::task::spawn_blocking(move || {
            let _turn = turn;
            bcrypt::verify(password.as_bytes(), &hash).unwrap_or(false)
        })
        .await
        .unwrap_or(false);
        let answer = matches;
        let mut cache = self.lock();
        if cache.len() >= CACHE_ENTRIES {
            cache.retain(|_, ok| *ok);
            if cache.len() >= CACHE_ENTRIES {
                cache.clear();
            }
        }
        cache.insert(key, answer);
        verdict(answer)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], bool>> {
        self.cache.lock_or_recover()
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
        let check = |h: Option<HeaderValue>| {
            let (auth, users) = (&auth, &users);
            async move { auth.check(users, h.as_ref()).await }
        };
        // The password may hold a colon: only the first one separates.
        assert_eq!(
            check(Some(header("prometheus", "s3cret:x"))).await,
            Verdict::Allowed
        );
        assert_eq!(
            check(Some(header("prometheus", "wrong"))).await,
            Verdict::Denied
        );
        assert_eq!(
            check(Some(header("nobody", "s3cret:x"))).await,
            Verdict::Denied
        );
        assert_eq!(check(None).await, Verdict::Denied);
        for bad in ["Basic !!!", "Bearer abc", "Basic", ""] {
            assert_eq!(
                check(Some(HeaderValue::from_static(bad))).await,
                Verdict::Denied,
                "{bad}"
            );
        }
    }

    #[tokio::test]
    async fn answers_are_cached_without_the_password() {
        let auth = BasicAuth::default();
        let users = users();
        let right = header("prometheus", "s3cret:x");
        let wrong = header("prometheus", "nope");
        assert_eq!(auth.check(&users, Some(&right)).await, Verdict::Allowed);
        assert_eq!(auth.check(&users, Some(&wrong)).await, Verdict::Denied);
        let cache = auth.lock();
        assert_eq!(cache.len(), 2);
        assert!(cache.keys().all(|k| !k.windows(6).any(|w| w == b"s3cret")));
    }

    #[tokio::test]
    async fn a_changed_hash_is_asked_again() {
        let auth = BasicAuth::default();
        let mut users = users();
        let right = header("prometheus", "s3cret:x");
        assert_eq!(auth.check(&users, Some(&right)).await, Verdict::Allowed);
        users.insert("prometheus".into(), bcrypt::hash("other", 4).unwrap());
        assert_eq!(auth.check(&users, Some(&right)).await, Verdict::Denied);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_flood_of_unknown_passwords_is_turned_away_while_known_ones_pass() {
        let auth = Arc::new(BasicAuth::default());
        // Cost 10, as htpasswd makes them: each comparison takes a while.
        let users = Arc::new(BTreeMap::from([(
            "prometheus".to_string(),
            bcrypt::hash("right", 10).unwrap(),
        )]));
        let right = header("prometheus", "right");
        assert_eq!(auth.check(&users, Some(&right)).await, Verdict::Allowed);
        let flood: Vec<_> = (0..40)
            .map(|i| {
                let (auth, users) = (auth.clone(), users.clone());
                tokio::spawn(async move {
                    let wrong = header("prometheus", &format!("wrong{i}"));
                    auth.check(&users, Some(&wrong)).await
                })
            })
            .collect();
        // The remembered password never waits for the flood.
        assert_eq!(auth.check(&users, Some(&right)).await, Verdict::Allowed);
        let mut verdicts = Vec::new();
        for f in flood {
            verdicts.push(f.await.unwrap());
        }
        assert!(verdicts.contains(&Verdict::Busy), "{verdicts:?}");
        assert!(verdicts.iter().all(|v| *v != Verdict::Allowed));
        assert_eq!(auth.waiting.load(Ordering::Relaxed), 0);
    }
}
