//! Reading a socket in bulk without a large buffer per connection.
//!
//! The WebSocket layer reads into a small buffer of its own (see
//! [`crate::connection::READ_BUFFER_BYTES`]), which keeps an idle connection small but
//! would take a busy socket's frames a few hundred bytes per system call. An [`Intake`]
//! reads what the socket has into a buffer shared by the thread, hands the caller what it
//! asked for, and keeps the rest until it is asked again: one system call for everything
//! that came in, and nothing held once it is all handed out.

use std::{
    cell::RefCell,
    io,
    pin::Pin,
    task::{Context, Poll},
};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The most one read from the socket takes.
const READ_AT_ONCE: usize = 16 * 1024;

thread_local! {
    /// Where this thread's reads land before they are handed out.
    static LANDING: RefCell<Box<[u8]>> = RefCell::new(vec![0; READ_AT_ONCE].into_boxed_slice());
}

/// A socket whose reads take everything it has in one go.
pub struct Intake<I> {
    inner: I,
    /// Read from the socket, not yet handed out; empty (and holding no memory) otherwise.
    kept: Vec<u8>,
    /// How much of `kept` is handed out already.
    handed: usize,
}

impl<I> Intake<I> {
    pub fn new(inner: I) -> Self {
        Self {
            inner,
            kept: Vec::new(),
            handed: 0,
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
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
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
        let mut intake = Intake::new(reader);
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
}
