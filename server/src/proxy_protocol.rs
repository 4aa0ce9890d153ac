//! The PROXY protocol of TCP balancers (haproxy's `send-proxy` and `send-proxy-v2`, cloud
//! network balancers): a connection from a balancer named by `--proxy-protocol-from`
//! begins with a header that says where the client is, and that address then counts as
//! the client's, for the per-address limits and the logs. A connection from anywhere
//! else is served as it is: its own address is the client's, and a header it sends is
//! only a bad request. See <https://www.haproxy.org/download/3.0/doc/proxy-protocol.txt>.

use std::{
    net::{IpAddr, SocketAddr},
    time::Duration,
};

use ppp::{HeaderResult, PartialResult, v1, v2};
use tokio::{io::AsyncReadExt, net::TcpStream};

/// The longest header read: a version 2 header with a few hundred bytes of TLVs (what
/// cloud balancers add is smaller); a longer one is refused.
const MAX_HEADER_BYTES: usize = 1024;

/// How long to wait before looking again at a header that is only partly here.
const PARTIAL_WAIT: Duration = Duration::from_millis(5);

/// The balancers whose connections begin with a PROXY header.
#[derive(Clone, Default)]
pub struct Balancers(std::sync::Arc<[IpAddr]>);

impl Balancers {
    /// The balancers at `addresses`.
    pub fn new(addresses: &[IpAddr]) -> Self {
        Self(addresses.iter().map(|ip| ip.to_canonical()).collect())
    }

    /// Whether a connection from `remote` comes from one of them.
    pub fn sends(&self, remote: SocketAddr) -> bool {
        self.0.contains(&remote.ip().to_canonical())
    }
}

/// Why a balancer's connection was not taken.
#[derive(Debug)]
pub enum Refused {
    /// It closed before its header: a health check that only connects, say.
    Closed,
    /// What came is not a PROXY header, or could not be read.
    Bad(String),
}

/// Where the client of `socket` is, as its PROXY header says; `None` where the header says
/// the balancer speaks for itself (a health check: `LOCAL` in version 2, `UNKNOWN` in
/// version 1), and the connection's own address stands. The header, and nothing after it,
/// is taken from the socket. The caller bounds how long this may wait.
pub async fn read(socket: &mut TcpStream) -> Result<Option<SocketAddr>, Refused> {
    let mut buffer = [0u8; MAX_HEADER_BYTES];
    loop {
        let seen = socket
            .peek(&mut buffer)
            .await
            .map_err(|error| Refused::Bad(format!("cannot read the PROXY header: {error}")))?;
        if seen == 0 {
            return Err(Refused::Closed);
        }
        let parsed = HeaderResult::parse(&buffer[..seen]);
        if parsed.is_incomplete() {
            if seen == buffer.len() {
                let why = format!("a PROXY header over {MAX_HEADER_BYTES} bytes");
                return Err(Refused::Bad(why));
            }
            tokio::time::sleep(PARTIAL_WAIT).await;
            continue;
        }
        let (length, client) = match parsed {
            HeaderResult::V1(Ok(header)) => (header.header.len(), from_v1(&header.addresses)),
            HeaderResult::V2(Ok(header)) => (header.len(), from_v2(&header)),
            HeaderResult::V1(Err(error)) => {
                return Err(Refused::Bad(format!("no PROXY header: {error}")));
            }
            HeaderResult::V2(Err(error)) => {
                return Err(Refused::Bad(format!("no PROXY header: {error}")));
            }
        };
        socket
            .read_exact(&mut buffer[..length])
            .await
            .map_err(|error| Refused::Bad(format!("cannot read the PROXY header: {error}")))?;
        return Ok(client);
    }
}

fn from_v1(addresses: &v1::Addresses) -> Option<SocketAddr> {
    match addresses {
        v1::Addresses::Tcp4(ip) => Some(SocketAddr::new(ip.source_address.into(), ip.source_port)),
        v1::Addresses::Tcp6(ip) => Some(SocketAddr::new(ip.source_address.into(), ip.source_port)),
        v1::Addresses::Unknown => None,
    }
}

fn from_v2(header: &v2::Header) -> Option<SocketAddr> {
    match (header.command, &header.addresses) {
        (v2::Command::Proxy, v2::Addresses::IPv4(ip)) => {
            Some(SocketAddr::new(ip.source_address.into(), ip.source_port))
        }
        (v2::Command::Proxy, v2::Addresses::IPv6(ip)) => {
            Some(SocketAddr::new(ip.source_address.into(), ip.source_port))
        }
        _ => None,
    }
}
