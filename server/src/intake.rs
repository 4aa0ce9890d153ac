//! Reading a socket in bulk without a large buffer per connection.
//!
//! The WebSocket layer reads into a small buffer of its own (see
//! [`crate::connection::READ_BUFFER_BYTES`]), which keeps an idle connection small but
//! would take a busy socket's frames a few hundred bytes per system call. An [`Intake`]
//! reads what the socket has into a buffer shared by the thread, hands the caller what it
//! asked for, and keeps the rest until it is asked again: one system call for everything
//! that came in, and nothing held once it is all handed out.
//!
//! Its writes have a deadline too: a client that stops reading (a page's file half
//! downloaded, a socket that never takes its frames) has its connection ended once a
//! write has made no progress for that long, and gives back its place.

use std::{
    cell::RefCell,
    future::Future,
    io,
    pin::Pin,
    task::{Context, Poll},
    time::Duration,
};

use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    time::Sleep,
};

/// The most one read from the socket takes.
const READ_AT_ONCE: usize = 16 * 1024;

thread_local! {
    /// Where this thread's reads land before they are handed out.
    static LANDING: RefCell<Box<[u8]>> = RefCell::new(vec![0; READ_AT_ONCE].into_boxed_slice());
}

/// A socket whose reads take everything it has in one go, and whose writes may not stall.
pub struct Intake<I> {
    inner: I,
    /// Read from the socket, not yet handed out; empty (and holding no memory) otherwise.
    kept: Vec<u8>,
    /// How much of `kept` is handed out already.
    handed: usize,
    /// How long a write may wait for the socket without any progress.
    patience: Duration,
    /// While a write waits: when the connection ends.
    stalled: Option<Pin<Box<Sleep>>>,
}

impl<I> Intake<I> {
    /// `inner`, whose writes may wait `patience` at most without progress.
    pub fn new(inner: I, patience: Duration) -> Self {
        Self {
            inner,
            kept: Vec::new(),
            handed: 0,
            patience,
            stalled: None,
        }
    }

    /// Passes on what a write (or flush) of the socket gave: its progress clears the
    /// deadline; waiting starts it, and past it the write fails.
    fn within<T>(
        &mut self,
        cx: &mut Context<'_>,
        done: Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        if done.is_ready() {
            self.stalled = None;
            return done;
        }
        let patience = self.patience;
        let deadline = self
            .stalled
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(patience)));
        match deadline.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the client took nothing for too long",
            ))),
            Poll::Pending => Poll::Pending,
        }
    }

    /// Hands out what is kept, as much as `buf` takes; gives the memory back once all is.
    fn hand_out(&mut self, buf: &mut ReadBuf<'_>) {
        let rest = &self.kept[self.handed..];
        let n = rest.len().min(buf.remaining());
        buf.put_slice(&rest[..n]);
        self.handed += n;
        if self.handed == self.kept.len() {
            self.kept = Vec::new();
            self.handed = 0;
        }
    }
}

impl<I: AsyncRead + Unpin> AsyncRead for Intake<I> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.handed < this.kept.len() {
            this.hand_out(buf);
            return Poll::Ready(Ok(()));
        }
        // A caller that asks for as much as a bulk read gets it straight.
        if buf.remaining() >= READ_AT_ONCE {
            return Pin::new(&mut this.inner).poll_read(cx, buf);
        }
        LANDING.with_borrow_mut(|landing| {
            let mut landed = ReadBuf::new(landing);
            match Pin::new(&mut this.inner).poll_read(cx, &mut landed) {
                Poll::Ready(Ok(())) => {
                    let landed = landed.filled();
                    let n = landed.len().min(buf.remaining());
                    buf.put_slice(&landed[..n]);
                    if n < landed.len() {
                        this.kept = landed[n..].to_vec();
                        this.handed = 0;
                    }
                    Poll::Ready(Ok(()))
                }
                other => other,
            }
        })
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for Intake<I> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let done = Pin::new(&mut this.inner).poll_write(cx, buf);
        this.within(cx, done)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let done = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        this.within(cx, done)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let done = Pin::new(&mut this.inner).poll_flush(cx);
        this.within(cx, done)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    #[tokio::test]
    async fn small_reads_get_every_byte_in_order_and_keep_nothing_after() {
        let (mut writer, reader) = tokio::io::duplex(64 * 1024);
        let sent: Vec<u8> = (0..40_000u32).map(|i| (i % 251) as u8).collect();
        writer.write_all(&sent).await.unwrap();
        drop(writer);
        let mut intake = Intake::new(reader, Duration::from_secs(1));
        let mut got = Vec::new();
        let mut chunk = [0; 300];
        loop {
            let n = intake.read(&mut chunk).await.unwrap();
            if n == 0 {
                break;
            }
            got.extend_from_slice(&chunk[..n]);
        }
        assert_eq!(got, sent);
        assert_eq!(
            intake.kept.capacity(),
            0,
            "a drained intake holds no memory"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_write_the_other_side_never_takes_fails_after_the_patience_and_not_before() {
        let (near, mut far) = tokio::io::duplex(1024);
        let mut intake = Intake::new(near, Duration::from_secs(10));
        // The other side reads slowly, a little every 9 s: the write goes on.
        let slow = tokio::spawn(async move {
            let mut chunk = [0; 1024];
            for _ in 0..3 {
                tokio::time::sleep(Duration::from_secs(9)).await;
                far.read_exact(&mut chunk).await.unwrap();
            }
            // Then nothing more.
            far
        });
        let started = tokio::time::Instant::now();
        let error = intake.write_all(&[7; 64 * 1024]).await.unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::TimedOut);
        // Three reads of 9 s kept it going; the fourth wait of 10 s ended it.
        assert_eq!(started.elapsed(), Duration::from_secs(37));
        drop(slow.await.unwrap());
    }
}
