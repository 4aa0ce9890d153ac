//! Which web pages may use the server: browsers let any page open a WebSocket to any
//! server, and say which page it is in the `Origin` header. Without `--allowed-origin`,
//! the server's own origin and pages on localhost are allowed; with it, exactly the
//! listed origins and the server's own. The same rule answers CORS for `/pkg`.

use axum::http::{HeaderMap, HeaderValue, header};

/// The origins a socket (or a cross-origin `/pkg` fetch) may come from.
#[derive(Debug, Clone, Default)]
pub struct Origins {
    /// `scheme://host[:port]`, lower-cased, without a trailing slash.
    listed: Vec<String>,
}

impl Origins {
    /// The origins `--allowed-origin` lists (none: localhost pages).
    pub fn new(listed: &[String]) -> Self {
        Self {
            listed: listed.iter().map(|origin| normalize(origin)).collect(),
        }
    }

    /// Whether a request with these headers comes from an allowed page. A request without
    /// `Origin` does not come from a web page (browsers always send it on WebSocket
    /// upgrades), so it is allowed.
    pub fn allow(&self, headers: &HeaderMap) -> bool {
        match headers.get(header::ORIGIN) {
            None => true,
            Some(origin) => self.allows(origin, headers.get(header::HOST)),
        }
    }

    /// Whether `origin` is allowed, for a request to `host`.
    pub fn allows(&self, origin: &HeaderValue, host: Option<&HeaderValue>) -> bool {
        let Ok(origin) = origin.to_str() else {
            return false;
        };
        let origin = normalize(origin);
        let Some((scheme, authority)) = origin.split_once("://") else {
            return false; // "null": a sandboxed frame or a file
        };
        if !matches!(scheme, "http" | "https") {
            return false;
        }
        // The server's own origin, whatever name or address it was reached by.
        if host
            .and_then(|host| host.to_str().ok())
            .is_some_and(|host| host.eq_ignore_ascii_case(authority))
        {
            return true;
        }
        if self.listed.is_empty() {
            let host = match authority.rsplit_once(':') {
                Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) => host,
                _ => authority,
            };
            matches!(host, "localhost" | "127.0.0.1" | "[::1]")
        } else {
            self.listed.contains(&origin)
        }
    }
}

fn normalize(origin: &str) -> String {
    origin.trim().trim_end_matches('/').to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allows(origins: &Origins, origin: &str, host: &str) -> bool {
        origins.allows(
            &HeaderValue::from_str(origin).expect("a header value"),
            Some(&HeaderValue::from_str(host).expect("a header value")),
        )
    }

    #[test]
    fn by_default_own_and_localhost_pages_are_allowed() {
        let origins = Origins::default();
        assert!(allows(
            &origins,
            "https://call.example.org",
            "call.example.org"
        ));
        assert!(allows(&origins, "http://127.0.0.1:8081", "127.0.0.1:8080"));
        assert!(allows(
            &origins,
            "http://localhost:3000",
            "call.example.org"
        ));
        assert!(allows(&origins, "http://[::1]:3000", "call.example.org"));
        assert!(!allows(
            &origins,
            "https://evil.example",
            "call.example.org"
        ));
        assert!(!allows(
            &origins,
            "http://localhost.evil.example",
            "call.example.org"
        ));
        assert!(!allows(&origins, "null", "call.example.org"));
        assert!(!allows(&origins, "file://", "call.example.org"));
    }

    #[test]
    fn listed_origins_replace_localhost() {
        let origins = Origins::new(&["https://Site.Example/".to_owned()]);
        assert!(allows(&origins, "https://site.example", "call.example.org"));
        assert!(allows(
            &origins,
            "https://call.example.org",
            "call.example.org"
        ));
        assert!(!allows(&origins, "http://site.example", "call.example.org"));
        assert!(!allows(
            &origins,
            "http://localhost:3000",
            "call.example.org"
        ));
    }
}
