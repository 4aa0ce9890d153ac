//! Sockets per client address: no address may hold more than its share of the server.
//! An IPv6 client is counted by its /64, which one host or home usually has whole.

use std::{
    collections::HashMap,
    net::{IpAddr, SocketAddr},
    sync::{Arc, Mutex},
};

use axum::http::HeaderMap;

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

/// The open sockets of every address, within a limit.
pub struct Addresses {
    open: Mutex<HashMap<AddressKey, usize>>,
    limit: usize,
    trusted_proxies: Vec<IpAddr>,
}

/// One socket counted against its address, until dropped.
pub struct Slot {
    addresses: Arc<Addresses>,
    key: AddressKey,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self.addresses.lock();
        if let Some(count) = open.get_mut(&self.key) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.key);
            }
        }
    }
}

impl Addresses {
    /// At most `limit` sockets per address; `trusted_proxies` name the client in
    /// `X-Forwarded-For`.
    pub fn new(limit: usize, trusted_proxies: Vec<IpAddr>) -> Self {
        Self {
            open: Mutex::default(),
            limit,
            trusted_proxies: trusted_proxies.iter().map(IpAddr::to_canonical).collect(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<AddressKey, usize>> {
        self.open
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The client's address: the peer's, or for a trusted proxy the last address in
    /// `X-Forwarded-For` (the one the proxy itself saw).
    pub fn client(&self, remote: SocketAddr, headers: &HeaderMap) -> IpAddr {
        let peer = remote.ip().to_canonical();
        if !self.trusted_proxies.contains(&peer) {
            return peer;
        }
        headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .filter_map(|entry| entry.trim().parse::<IpAddr>().ok())
            .next_back()
            .unwrap_or(peer)
    }

    /// A slot for one more socket from `ip`, unless its address has all it may.
    pub fn take(self: &Arc<Self>, ip: IpAddr) -> Option<Slot> {
        let key = AddressKey::of(ip);
        let mut open = self.lock();
        let count = open.entry(key).or_default();
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

#[cfg(test)]
mod tests {
    use super::*;

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
        let addresses = Arc::new(Addresses::new(2, Vec::new()));
        let ip: IpAddr = [192, 0, 2, 1].into();
        let first = addresses.take(ip);
        let second = addresses.take(ip);
        assert!(first.is_some() && second.is_some());
        assert!(addresses.take(ip).is_none());
        drop(first);
        assert!(addresses.take(ip).is_some());
        assert!(addresses.lock().len() == 1);
    }
}
