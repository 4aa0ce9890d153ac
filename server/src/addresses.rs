//! Sockets and login attempts per client address: no address may hold more than its
//! share of the server, nor make everyone's presence list churn by logging in over and
//! over on fresh sockets. An IPv6 client is counted by its /64, which one host or home
//! usually has whole.

use std::{
    collections::HashMap,
    net::{IpAddr, SocketAddr},
    sync::{Arc, Mutex},
};

use axum::http::HeaderMap;

use crate::rates::Bucket;

/// Past this many addresses with a login bucket (at the least), the full ones are
/// forgotten.
const PRUNE_AT: usize = 1024;

/// Where a client is, as counted: an IPv4 address, or the /64 of an IPv6 one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AddressKey {
    /// An IPv4 address (also written as an IPv4-mapped IPv6 one).
    V4(u32),
    /// The first 64 bits of an IPv6 address.
    V6(u64),
}

impl AddressKey {
    /// The key of `ip`.
    pub fn of(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(v4) => Self::V4(u32::from(v4)),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => Self::V4(u32::from(v4)),
                None => Self::V6((u128::from(v6) >> 64) as u64),
            },
        }
    }
}

/// The open sockets and the login attempts of every address, within limits.
pub struct Addresses {
    counts: Mutex<Counts>,
    limit: usize,
    /// Login attempts per minute from one address, and as many at once.
    logins_per_minute: f64,
    trusted_proxies: Vec<IpAddr>,
}

#[derive(Default)]
struct Counts {
    open: HashMap<AddressKey, usize>,
    /// Addresses that logged in lately; a full bucket is as good as none, and goes.
    logins: HashMap<AddressKey, Bucket>,
    /// How many buckets there may be before the full ones are looked for; it grows with
    /// the buckets that stay, so that the search costs each login a constant share.
    prune_at: usize,
}

/// A socket's way to count its login attempts against its address.
pub struct AddressLogins {
    addresses: Arc<Addresses>,
    key: AddressKey,
}

impl AddressLogins {
    /// Takes one login attempt from the address's share; false if it has none left.
    pub fn take(&self) -> bool {
        let addresses = &self.addresses;
        let mut counts = addresses.lock();
        if counts.logins.len() >= counts.prune_at.max(PRUNE_AT) {
            counts.logins.retain(|_, bucket| !bucket.is_full());
            counts.prune_at = 2 * counts.logins.len();
        }
        let per_minute = addresses.logins_per_minute;
        counts
            .logins
            .entry(self.key)
            .or_insert_with(|| Bucket::new(per_minute, per_minute / 60.0, 1.0))
            .take(1.0)
    }
}

/// One socket counted against its address, until dropped.
pub struct Slot {
    addresses: Arc<Addresses>,
    key: AddressKey,
}

impl Slot {
    /// What counts the socket's login attempts against its address.
    pub fn logins(&self) -> AddressLogins {
        AddressLogins {
            addresses: Arc::clone(&self.addresses),
            key: self.key,
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let open = &mut self.addresses.lock().open;
        if let Some(count) = open.get_mut(&self.key) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.key);
            }
        }
    }
}

impl Addresses {
    /// At most `limit` sockets per address, and `logins_per_minute` login attempts (as
    /// many at once); `trusted_proxies` name the client in `X-Forwarded-For`.
    pub fn new(limit: usize, logins_per_minute: f64, trusted_proxies: Vec<IpAddr>) -> Self {
        Self {
            counts: Mutex::default(),
            limit,
            logins_per_minute,
            trusted_proxies: trusted_proxies.iter().map(IpAddr::to_canonical).collect(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Counts> {
        self.counts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The client's address: the peer's, or for a trusted proxy the last entry of
    /// `X-Forwarded-For`, the one the proxy itself added. Only that entry: those before it
    /// are whatever the client wrote. An entry the proxy wrote in a form not read here
    /// counts as the proxy's own address, never as an earlier one.
    pub fn client(&self, remote: SocketAddr, headers: &HeaderMap) -> IpAddr {
        let peer = remote.ip().to_canonical();
        if !self.is_trusted_proxy(peer) {
            return peer;
        }
        headers
            .get_all("x-forwarded-for")
            .iter()
            .next_back()
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.rsplit(',').next())
            .and_then(|entry| forwarded_address(entry.trim()))
            .map_or(peer, |ip| ip.to_canonical())
    }

    /// Whether `ip` is one of the trusted reverse proxies.
    pub fn is_trusted_proxy(&self, ip: IpAddr) -> bool {
        self.trusted_proxies.contains(&ip.to_canonical())
    }

    /// A slot for one more socket from `ip`, unless its address has all it may.
    pub fn take(self: &Arc<Self>, ip: IpAddr) -> Option<Slot> {
        let key = AddressKey::of(ip);
        let mut counts = self.lock();
        let count = counts.open.entry(key).or_default();
        if *count >= self.limit {
            return None;
        }
        *count += 1;
        Some(Slot {
            addresses: Arc::clone(self),
            key,
        })
    }
}

/// Connections still speaking HTTP (a page's files, a WebSocket not yet upgraded): as
/// many from one address as it may have sockets, and as many in all as the server takes
/// sockets. One more is closed at once. A trusted proxy's own connections carry many
/// clients and count only in all.
#[derive(Clone)]
pub struct Admission {
    addresses: Arc<Addresses>,
    all: Arc<tokio::sync::Semaphore>,
}

/// A connection let in, until it is upgraded or ends.
pub struct Admitted {
    _slot: Option<Slot>,
    _place: tokio::sync::OwnedSemaphorePermit,
}

impl Admission {
    /// `per_address` from one address, `in_all` in all; `trusted_proxies` uncounted.
    pub fn new(per_address: usize, in_all: usize, trusted_proxies: Vec<IpAddr>) -> Self {
        Self {
            addresses: Arc::new(Addresses::new(per_address, 0.0, trusted_proxies)),
            all: Arc::new(tokio::sync::Semaphore::new(in_all)),
        }
    }

    /// A place for a connection from `ip`, unless its address or the server has none.
    pub fn admit(&self, ip: IpAddr) -> Option<Admitted> {
        let place = Arc::clone(&self.all).try_acquire_owned().ok()?;
        let slot = if self.addresses.is_trusted_proxy(ip) {
            None
        } else {
            Some(self.addresses.take(ip.to_canonical())?)
        };
        Some(Admitted {
            _slot: slot,
            _place: place,
        })
    }
}

/// An address as proxies write it in `X-Forwarded-For`: `192.0.2.1`, `2001:db8::1`,
/// with a port (`192.0.2.1:4711`, `[2001:db8::1]:4711`), or bracketed (`[2001:db8::1]`).
fn forwarded_address(entry: &str) -> Option<IpAddr> {
    entry
        .parse::<IpAddr>()
        .or_else(|_| entry.parse::<SocketAddr>().map(|address| address.ip()))
        .ok()
        .or_else(|| {
            let bracketed = entry.strip_prefix('[')?.strip_suffix(']')?;
            bracketed.parse::<IpAddr>().ok()
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `client` makes of `forwarded` from a trusted proxy at 127.0.0.1.
    fn forwarded_for(forwarded: &[&str]) -> IpAddr {
        let addresses = Addresses::new(1, 1.0, vec!["127.0.0.1".parse().expect("an address")]);
        let mut headers = HeaderMap::new();
        for value in forwarded {
            headers.append("x-forwarded-for", value.parse().expect("a header value"));
        }
        addresses.client("127.0.0.1:5000".parse().expect("an address"), &headers)
    }

    #[test]
    fn only_the_entry_the_proxy_added_is_believed() {
        let ip = |text: &str| text.parse::<IpAddr>().expect("an address");
        assert_eq!(forwarded_for(&["198.51.100.7, 192.0.2.1"]), ip("192.0.2.1"));
        assert_eq!(
            forwarded_for(&["198.51.100.7", "192.0.2.1"]),
            ip("192.0.2.1")
        );
        // Proxies that write a port, or brackets.
        assert_eq!(
            forwarded_for(&["198.51.100.7, 192.0.2.1:4711"]),
            ip("192.0.2.1")
        );
        assert_eq!(forwarded_for(&["[2001:db8::1]:4711"]), ip("2001:db8::1"));
        assert_eq!(forwarded_for(&["[2001:db8::1]"]), ip("2001:db8::1"));
        assert_eq!(forwarded_for(&["::ffff:192.0.2.1"]), ip("192.0.2.1"));
        // An entry the proxy wrote that is not read here is never taken for the client's
        // own word before it: the proxy's address counts.
        assert_eq!(forwarded_for(&["192.0.2.66, unknown"]), ip("127.0.0.1"));
        assert_eq!(forwarded_for(&["192.0.2.66, "]), ip("127.0.0.1"));
        assert_eq!(forwarded_for(&[]), ip("127.0.0.1"));
    }

    #[test]
    fn an_ipv6_host_is_counted_by_its_slash_64() {
        let ip = |text: &str| text.parse::<IpAddr>().expect("an address");
        assert_eq!(
            AddressKey::of(ip("2001:db8:1:2::1")),
            AddressKey::of(ip("2001:db8:1:2:ffff::9"))
        );
        assert_ne!(
            AddressKey::of(ip("2001:db8:1:2::1")),
            AddressKey::of(ip("2001:db8:1:3::1"))
        );
        assert_eq!(
            AddressKey::of(ip("::ffff:192.0.2.1")),
            AddressKey::of(ip("192.0.2.1"))
        );
        assert_ne!(
            AddressKey::of(ip("192.0.2.1")),
            AddressKey::of(ip("192.0.2.2"))
        );
    }

    #[test]
    fn slots_are_given_back() {
        let addresses = Arc::new(Addresses::new(2, 60.0, Vec::new()));
        let ip: IpAddr = [192, 0, 2, 1].into();
        let first = addresses.take(ip);
        let second = addresses.take(ip);
        assert!(first.is_some() && second.is_some());
        assert!(addresses.take(ip).is_none());
        drop(first);
        assert!(addresses.take(ip).is_some());
        assert!(addresses.lock().open.len() == 1);
    }
}
