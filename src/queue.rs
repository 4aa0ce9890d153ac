//! A queue from the page's callbacks to one task, on the page's one thread: the session's
//! inputs, and a listener's "it happened" to the task that waits for it.
//!
//! Nothing crosses threads in the browser, so the queue is a shared `VecDeque` and the
//! waiting task's waker: no atomics, no locks.

use std::{
    cell::{Cell, RefCell},
    collections::VecDeque,
    future::poll_fn,
    rc::Rc,
    task::{Poll, Waker},
};

struct Shared<T> {
    items: RefCell<VecDeque<T>>,
    waiting: Cell<Option<Waker>>,
    open: Cell<bool>,
}

/// Puts items in the queue; cloned for every callback that feeds it.
pub struct Sender<T>(Rc<Shared<T>>);

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        Self(Rc::clone(&self.0))
    }
}

/// The task's end of the queue; once it is closed or dropped, items are refused.
pub struct Receiver<T>(Rc<Shared<T>>);

/// A new, empty queue.
pub fn queue<T>() -> (Sender<T>, Receiver<T>) {
    let shared = Rc::new(Shared {
        items: RefCell::new(VecDeque::new()),
        waiting: Cell::new(None),
        open: Cell::new(true),
    });
    (Sender(Rc::clone(&shared)), Receiver(shared))
}

impl<T> Sender<T> {
    /// Queues `item` and wakes the task; hands it back once the receiver is closed, so
    /// that what it holds (a camera, a track) can be let go.
    pub fn send(&self, item: T) -> Result<(), T> {
        if !self.0.open.get() {
            return Err(item);
        }
        self.0.items.borrow_mut().push_back(item);
        if let Some(waker) = self.0.waiting.take() {
            waker.wake();
        }
        Ok(())
    }
}

impl<T> Receiver<T> {
    /// The oldest item, if one waits.
    pub fn try_next(&self) -> Option<T> {
        self.0.items.borrow_mut().pop_front()
    }

    /// The oldest item, once there is one.
    pub async fn next(&self) -> T {
        poll_fn(|context| match self.try_next() {
            Some(item) => Poll::Ready(item),
            None => {
                self.0.waiting.set(Some(context.waker().clone()));
                Poll::Pending
            }
        })
        .await
    }

    /// Refuses every later item; those already queued can still be taken.
    pub fn close(&self) {
        self.0.open.set(false);
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        self.close();
        // The task that waited has ended: its senders must not keep it.
        drop(self.0.waiting.take());
        // Taken out before they are dropped: an item's own drop may send.
        let left = std::mem::take(&mut *self.0.items.borrow_mut());
        drop(left);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_come_out_in_order_until_closed() {
        let (sender, receiver) = queue();
        assert_eq!(sender.send(1), Ok(()));
        assert_eq!(sender.clone().send(2), Ok(()));
        receiver.close();
        assert_eq!(sender.send(3), Err(3), "refused once closed");
        assert_eq!(receiver.try_next(), Some(1));
        assert_eq!(receiver.try_next(), Some(2));
        assert_eq!(receiver.try_next(), None);
    }

    #[test]
    fn a_dropped_receiver_refuses_and_lets_go_of_what_waited() {
        let held = Rc::new(());
        let (sender, receiver) = queue();
        assert!(sender.send(Rc::clone(&held)).is_ok());
        drop(receiver);
        assert_eq!(Rc::strong_count(&held), 1, "the queued item was dropped");
        assert!(sender.send(held).is_err());
    }
}
