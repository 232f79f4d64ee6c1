//! One way to take a lock. A panic while a lock is held poisons it; every
//! value the exporter keeps under a lock is whole between statements (a
//! panic leaves plain data, never half an update), so the lock is taken
//! anyway and the exporter goes on serving, rather than every later caller
//! panicking in turn.

use std::sync::{Mutex, MutexGuard, PoisonError};

/// [`Mutex::lock`], through a poisoning.
pub trait LockOrRecover<T: ?Sized> {
    fn lock_or_recover(&self) -> MutexGuard<'_, T>;
}

impl<T: ?Sized> LockOrRecover<T> for Mutex<T> {
    fn lock_or_recover(&self) -> MutexGuard<'_, T> {
        self.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_poisoned_lock_is_taken_with_its_data() {
        let m = std::sync::Arc::new(Mutex::new(vec![1]));
        let held = m.clone();
        let _ = std::thread::spawn(move || {
            let mut v = held.lock().unwrap();
            v.push(2);
            panic!("while holding the lock");
        })
        .join();
        assert!(m.is_poisoned());
        assert_eq!(*m.lock_or_recover(), [1, 2]);
    }
}
