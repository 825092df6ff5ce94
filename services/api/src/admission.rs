//! Bounded admission to face inference, so a burst of compares queues a little and then gets a
//! fast 503 instead of piling up unbounded blocking tasks (and latency) behind the model locks.
//!
//! [`InferenceGate`] holds two semaphores: `capacity` (`max_in_flight + max_queued` permits,
//! taken with `try_acquire`: none left means "busy") and `running` (`max_in_flight` permits,
//! awaited: the queue). An [`InferencePermit`] owns one of each and is moved into the blocking
//! task, so a slot is freed when the inference really ends, even if the client has gone.

use std::{sync::Arc, time::Duration};

use prometheus::IntGauge;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Admission control for compares: at most `max_in_flight` running, `max_queued` waiting.
#[derive(Debug)]
pub struct InferenceGate {
    capacity: Arc<Semaphore>,
    running: Arc<Semaphore>,
    retry_after: Duration,
}

/// The gate is full: every running and queue slot is taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Busy {
    /// How long the caller should wait before retrying.
    pub retry_after: Duration,
}

/// A running slot; dropping it lets the next queued compare start.
#[derive(Debug)]
pub struct InferencePermit {
    _capacity: OwnedSemaphorePermit,
    _running: OwnedSemaphorePermit,
}

/// Keeps the queued gauge right even when the waiting request is cancelled (timeout, hang-up).
struct QueuedGuard<'a>(&'a IntGauge);

impl Drop for QueuedGuard<'_> {
    fn drop(&mut self) {
        self.0.dec();
    }
}

impl InferenceGate {
    /// A gate running at most `max_in_flight` (at least 1) compares with `max_queued` waiting.
    pub fn new(max_in_flight: usize, max_queued: usize, retry_after: Duration) -> Self {
        let max_in_flight = max_in_flight.max(1);
        Self {
            capacity: Arc::new(Semaphore::new(max_in_flight.saturating_add(max_queued))),
            running: Arc::new(Semaphore::new(max_in_flight)),
            retry_after,
        }
    }

    /// Takes a queue slot at once (or fails with [`Busy`]), then waits for a running slot;
    /// `queued` counts the wait.
    pub async fn admit(&self, queued: &IntGauge) -> Result<InferencePermit, Busy> {
        let busy = Busy {
            retry_after: self.retry_after,
        };
        let capacity = Arc::clone(&self.capacity)
            .try_acquire_owned()
            .map_err(|_| busy)?;
        queued.inc();
        let _waiting = QueuedGuard(queued);
        // The semaphore is never closed, so acquiring only fails if that invariant breaks.
        let running = Arc::clone(&self.running)
            .acquire_owned()
            .await
            .map_err(|_| busy)?;
        Ok(InferencePermit {
            _capacity: capacity,
            _running: running,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn wait_for(gauge: &IntGauge, value: i64) {
        for _ in 0..200 {
            if gauge.get() == value {
                return;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        panic!("gauge stayed at {} instead of {value}", gauge.get());
    }

    #[tokio::test]
    async fn queues_up_to_the_limit_then_refuses_at_once() {
        let gate = Arc::new(InferenceGate::new(1, 1, Duration::from_secs(2)));
        let queued = IntGauge::new("queued", "test").unwrap();
        let running = gate.admit(&queued).await.unwrap();
        let waiter = tokio::spawn({
            let (gate, queued) = (Arc::clone(&gate), queued.clone());
            async move { gate.admit(&queued).await.is_ok() }
        });
        wait_for(&queued, 1).await;

        let refused = tokio::time::timeout(Duration::from_millis(500), gate.admit(&queued))
            .await
            .expect("a full gate answers at once, it does not wait");
        assert_eq!(
            refused.unwrap_err(),
            Busy {
                retry_after: Duration::from_secs(2)
            }
        );

        drop(running);
        assert!(
            waiter.await.unwrap(),
            "the queued compare runs once the slot frees"
        );
        assert_eq!(queued.get(), 0);
    }

    #[tokio::test]
    async fn an_abandoned_wait_frees_its_queue_slot() {
        let gate = InferenceGate::new(1, 1, Duration::from_secs(1));
        let queued = IntGauge::new("queued", "test").unwrap();
        let _running = gate.admit(&queued).await.unwrap();
        let abandoned = tokio::time::timeout(Duration::from_millis(20), gate.admit(&queued)).await;
        assert!(abandoned.is_err(), "it was still waiting");
        assert_eq!(queued.get(), 0);
        let again = tokio::time::timeout(Duration::from_millis(20), gate.admit(&queued)).await;
        assert!(
            again.is_err(),
            "the slot is free again: this caller queues, it is not refused"
        );
    }
}
