//! Cancellation of running calls: a [`Cancellation`] token given to a
//! sandbox (through [`crate::SandboxConfig::cancel`]) stops its guest when
//! it fires. Tokens form a tree: cancelling one cancels every token made
//! from it with [`Cancellation::child`], so a call that ends can stop all
//! the calls it started and that still run.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};

use tokio::sync::Notify;

/// A cloneable cancellation signal; clones share one state.
#[derive(Clone, Default)]
pub struct Cancellation {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    cancelled: AtomicBool,
    notify: Notify,
    /// Tokens made by [`Cancellation::child`], cancelled with this one.
    children: Mutex<Vec<Weak<Inner>>>,
}

impl Cancellation {
    /// A new token, not cancelled.
    pub fn new() -> Self {
        Self::default()
    }

    /// A token cancelled when this one is (and on its own).
    pub fn child(&self) -> Cancellation {
        let child = Cancellation::new();
        {
            let mut children = self
                .inner
                .children
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            // Forget the children that are gone, so the list stays as long
            // as the number of live children.
            children.retain(|c| c.strong_count() > 0);
            children.push(Arc::downgrade(&child.inner));
        }
        // Checked after registering: a cancel racing with this call either
        // sees the child in the list or is seen here.
        if self.is_cancelled() {
            child.cancel();
        }
        child
    }

    /// Fires the signal for this token and all its descendants (once).
    pub fn cancel(&self) {
        if self.inner.cancelled.swap(true, Ordering::SeqCst) {
            return;
        }
        self.inner.notify.notify_waiters();
        let children: Vec<_> = {
            let mut list = self
                .inner
                .children
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            std::mem::take(&mut *list)
        };
        for child in children.iter().filter_map(Weak::upgrade) {
            Cancellation { inner: child }.cancel();
        }
    }

    /// Whether the signal has fired.
    pub fn is_cancelled(&self) -> bool {
        self.inner.cancelled.load(Ordering::SeqCst)
    }

    /// Resolves once the signal has fired.
    pub async fn cancelled(&self) {
        loop {
            let notified = self.inner.notify.notified();
            tokio::pin!(notified);
            // Registered before the check, so a cancel in between wakes it.
            notified.as_mut().enable();
            if self.is_cancelled() {
                return;
            }
            notified.await;
        }
    }
}

impl std::fmt::Debug for Cancellation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cancellation")
            .field("cancelled", &self.is_cancelled())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::Cancellation;

    #[tokio::test]
    async fn cancelling_reaches_every_descendant() {
        let root = Cancellation::new();
        let child = root.child();
        let grandchild = child.child();
        let sibling = Cancellation::new();
        let waiter = tokio::spawn({
            let grandchild = grandchild.clone();
            async move { grandchild.cancelled().await }
        });
        root.cancel();
        waiter.await.unwrap();
        assert!(child.is_cancelled() && grandchild.is_cancelled());
        assert!(!sibling.is_cancelled());
        // A child made after the cancel starts cancelled.
        assert!(root.child().is_cancelled());
    }

    #[test]
    fn a_child_does_not_cancel_its_parent() {
        let root = Cancellation::new();
        root.child().cancel();
        assert!(!root.is_cancelled());
    }
}
