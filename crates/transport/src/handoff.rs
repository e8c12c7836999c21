//! A queue between threads whose receiver sleeps at once when it is
//! empty.
//!
//! `crossbeam_channel` (and `std::sync::mpsc`, built on it) spins and then
//! calls `sched_yield` up to four times before a receiver sleeps. That
//! suits a receiver whose message is microseconds away; the threads here
//! wait for an HTTP response or for the next batch, milliseconds away, and
//! on a busy two-core machine every yield is a syscall and often a context
//! switch: about a dozen per exported batch at 50,000 spans/s
//! (`perf stat -e syscalls:sys_enter_sched_yield`). This queue is a
//! `Mutex<VecDeque>` and a `Condvar`. A receiver that finds it empty
//! yields once, which on a saturated machine hands the core to the thread
//! it is waiting for (sleeping at once measured ~5% fewer spans/s in W2),
//! and then waits on the condition variable.
//!
//! Disconnection works as with a channel: when every [`Sender`] is gone,
//! the receiver gets what is left and then `None`; when the [`Receiver`]
//! is gone, sends fail and give the message back.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

struct State<T> {
    items: VecDeque<T>,
    senders: usize,
    receivers: usize,
}

struct Shared<T> {
    state: Mutex<State<T>>,
    ready: Condvar,
}

impl<T> Shared<T> {
    /// The state; no code panics while holding it, so poisoning is
    /// ignored.
    fn lock(&self) -> MutexGuard<'_, State<T>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The sending side; clone it for more senders.
pub(crate) struct Sender<T>(Arc<Shared<T>>);

/// The receiving side; clones share the queue, each item goes to one of
/// them.
pub(crate) struct Receiver<T>(Arc<Shared<T>>);

/// Why [`Receiver::recv_deadline`] returned without a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RecvError {
    /// The deadline passed.
    Timeout,
    /// Every sender is gone and nothing is left.
    Disconnected,
}

/// A new queue.
pub(crate) fn channel<T>() -> (Sender<T>, Receiver<T>) {
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            items: VecDeque::new(),
            senders: 1,
            receivers: 1,
        }),
        ready: Condvar::new(),
    });
    (Sender(Arc::clone(&shared)), Receiver(shared))
}

impl<T> Sender<T> {
    /// Queues `item`; gives it back if every receiver is gone.
    pub(crate) fn send(&self, item: T) -> Result<(), T> {
        let mut s = self.0.lock();
        if s.receivers == 0 {
            return Err(item);
        }
        s.items.push_back(item);
        drop(s);
        self.0.ready.notify_one();
        Ok(())
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        self.0.lock().senders += 1;
        Sender(Arc::clone(&self.0))
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        let mut s = self.0.lock();
        s.senders = s.senders.saturating_sub(1);
        let last = s.senders == 0;
        drop(s);
        if last {
            self.0.ready.notify_all();
        }
    }
}

impl<T> Receiver<T> {
    /// The next item, waiting for one; `None` once every sender is gone
    /// and nothing is left.
    pub(crate) fn recv(&self) -> Option<T> {
        self.recv_until(None).ok()
    }

    /// The state, after one yield of this thread's time slice if there is
    /// nothing to take yet (see the module docs).
    fn yield_if_empty(&self) -> MutexGuard<'_, State<T>> {
        let s = self.0.lock();
        if !s.items.is_empty() || s.senders == 0 {
            return s;
        }
        drop(s);
        std::thread::yield_now();
        self.0.lock()
    }

    /// The next item if there is one, without waiting.
    pub(crate) fn try_recv(&self) -> Option<T> {
        self.0.lock().items.pop_front()
    }

    /// [`recv`](Self::recv), waiting at most until `deadline`.
    pub(crate) fn recv_deadline(&self, deadline: Instant) -> Result<T, RecvError> {
        self.recv_until(Some(deadline))
    }

    fn recv_until(&self, deadline: Option<Instant>) -> Result<T, RecvError> {
        let mut s = self.yield_if_empty();
        loop {
            if let Some(item) = s.items.pop_front() {
                return Ok(item);
            }
            if s.senders == 0 {
                return Err(RecvError::Disconnected);
            }
            s = match deadline {
                None => self.0.ready.wait(s).unwrap_or_else(PoisonError::into_inner),
                Some(deadline) => {
                    let now = Instant::now();
                    if now >= deadline {
                        return Err(RecvError::Timeout);
                    }
                    self.0
                        .ready
                        .wait_timeout(s, deadline - now)
                        .unwrap_or_else(PoisonError::into_inner)
                        .0
                }
            };
        }
    }
}

impl<T> Clone for Receiver<T> {
    fn clone(&self) -> Self {
        self.0.lock().receivers += 1;
        Receiver(Arc::clone(&self.0))
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        let mut s = self.0.lock();
        s.receivers = s.receivers.saturating_sub(1);
        // Whatever was queued goes with the last receiver.
        let left = if s.receivers == 0 {
            std::mem::take(&mut s.items)
        } else {
            VecDeque::new()
        };
        drop(s);
        drop(left);
    }
}

impl<T> IntoIterator for Receiver<T> {
    type Item = T;
    type IntoIter = IntoIter<T>;

    fn into_iter(self) -> IntoIter<T> {
        IntoIter(self)
    }
}

/// The items of a [`Receiver`], until every sender is gone.
pub(crate) struct IntoIter<T>(Receiver<T>);

impl<T> Iterator for IntoIter<T> {
    type Item = T;

    fn next(&mut self) -> Option<T> {
        self.0.recv()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn items_arrive_in_order_then_disconnection() {
        let (tx, rx) = channel();
        let tx2 = tx.clone();
        let t = std::thread::spawn(move || {
            for i in 0..1000 {
                assert!(tx2.send(i).is_ok());
            }
        });
        assert!(t.join().is_ok());
        assert!(tx.send(1000).is_ok());
        drop(tx);
        let got: Vec<i32> = std::iter::from_fn(|| rx.recv()).collect();
        assert_eq!(got, (0..=1000).collect::<Vec<_>>());
        assert_eq!(rx.recv(), None);
    }

    #[test]
    fn a_waiting_receiver_wakes_for_an_item_and_for_the_last_sender() {
        let (tx, rx) = channel::<u8>();
        let t = std::thread::spawn(move || {
            let first = rx.recv();
            let second = rx.recv();
            (first, second)
        });
        std::thread::sleep(Duration::from_millis(20));
        assert!(tx.send(7).is_ok());
        std::thread::sleep(Duration::from_millis(20));
        drop(tx);
        assert_eq!(t.join().ok(), Some((Some(7), None)));
    }

    #[test]
    fn receivers_share_the_items() {
        let (tx, rx) = channel::<u32>();
        let workers: Vec<_> = (0..3)
            .map(|_| {
                let rx = rx.clone();
                std::thread::spawn(move || rx.into_iter().map(u64::from).sum::<u64>())
            })
            .collect();
        drop(rx);
        for i in 1..=10_000 {
            assert!(tx.send(i).is_ok());
        }
        drop(tx);
        let total: u64 = workers.into_iter().filter_map(|w| w.join().ok()).sum();
        assert_eq!(total, 10_000 * 10_001 / 2);
    }

    #[test]
    fn deadlines_and_a_gone_receiver() {
        let (tx, rx) = channel::<u8>();
        let start = Instant::now();
        assert_eq!(
            rx.recv_deadline(start + Duration::from_millis(30)),
            Err(RecvError::Timeout)
        );
        assert!(start.elapsed() >= Duration::from_millis(30));
        assert_eq!(rx.try_recv(), None);
        assert!(tx.send(1).is_ok());
        assert!(tx.send(4).is_ok());
        assert_eq!(rx.recv_deadline(start), Ok(1));
        assert_eq!(rx.try_recv(), Some(4));
        let rx2 = rx.clone();
        drop(rx);
        assert!(tx.send(2).is_ok());
        assert_eq!(rx2.recv(), Some(2));
        drop(rx2);
        assert_eq!(tx.send(3), Err(3));
        let (tx, rx) = channel::<u8>();
        drop(tx);
        assert_eq!(
            rx.recv_deadline(Instant::now() + Duration::from_secs(5)),
            Err(RecvError::Disconnected)
        );
    }
}
