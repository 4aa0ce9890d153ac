//! Headers on every response: what the page may load and use, and the right content types.
//!
//! The demo page's Content-Security-Policy allows scripts from this origin only, WebAssembly
//! compilation, and the inline scripts the page itself carries (the loader trunk writes),
//! each by its SHA-256 hash, computed from the page as served.

use axum::{
    body::Body,
    http::{HeaderMap, HeaderValue, Response, StatusCode, Uri, header},
};
use base64::Engine as _;
use sha2::{Digest, Sha256};

/// The largest page whose inline scripts are hashed; larger HTML goes out with a policy
/// that allows no inline script at all.
const MAX_PAGE_BYTES: usize = 1 << 20;

/// One year, in seconds.
const HSTS: &str = "max-age=31536000";

/// The policy, with `{scripts}` the hashes of the page's inline scripts.
fn content_security_policy(scripts: &str) -> String {
    format!(
        "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'{scripts}; \
         style-src 'self'; img-src 'self' data: blob:; media-src 'self' blob: mediastream:; \
         connect-src 'self' blob:; object-src 'none'; base-uri 'none'; form-action 'self'; \
         frame-ancestors 'self'"
    )
}

/// Adds the security headers to `response`; `hsts` only behind a certificate browsers
/// trust.
pub async fn secure(uri: Uri, response: Response<Body>, hsts: bool) -> Response<Body> {
    let (mut parts, body) = response.into_parts();
    let headers = &mut parts.headers;
    let path = uri.path();
    if parts.status.is_success() {
        fix_content_type(headers, path);
    }
    let html = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("text/html"));
    if parts.status.is_success() || parts.status == StatusCode::NOT_MODIFIED {
        set_caching(headers, path, html);
    }
    let body = if html {
        match axum::body::to_bytes(body, MAX_PAGE_BYTES).await {
            Ok(page) => {
                let policy = content_security_policy(&inline_script_hashes(&page));
                set(headers, header::CONTENT_SECURITY_POLICY, &policy);
                Body::from(page)
            }
            Err(error) => {
                tracing::warn!(%error, path, "page too large to hash its scripts");
                set(
                    headers,
                    header::CONTENT_SECURITY_POLICY,
                    &content_security_policy(""),
                );
                Body::empty()
            }
        }
    } else {
        body
    };
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        "permissions-policy",
        HeaderValue::from_static(
            "camera=(self), microphone=(self), display-capture=(self), geolocation=(), payment=(), usb=()",
        ),
    );
    if hsts {
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static(HSTS),
        );
    }
    Response::from_parts(parts, body)
}

/// How long browsers keep a file. One whose name carries its content's hash (trunk
/// names the demo page's files so) never changes: a year, unasked. Anything else (a
/// page, whatever its address: a room's link may look like a hashed name; `/pkg`'s fixed
/// names) is asked after each time, so that after an update no cached page points at
/// files that are gone and no cached glue meets a newer module.
fn set_caching(headers: &mut HeaderMap, path: &str, html: bool) {
    if headers.contains_key(header::CACHE_CONTROL) {
        return;
    }
    let policy = if !html && is_fingerprinted(path) {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(policy));
}

/// Whether the file `path` names has a content hash in its name, as trunk writes it:
/// `name-<16 hex digits>` and then its extension (`peercall-b338b702f5089761_bg.wasm`).
fn is_fingerprinted(path: &str) -> bool {
    let file = path.rsplit('/').next().unwrap_or_default();
    file.rsplit_once('-').is_some_and(|(_, rest)| {
        rest.len() > 16
            && rest.as_bytes()[..16].iter().all(u8::is_ascii_hexdigit)
            && matches!(rest.as_bytes()[16], b'.' | b'_')
    })
}

/// Types the static file service's extension table gets wrong.
fn fix_content_type(headers: &mut HeaderMap, path: &str) {
    // The table takes `.ts` for an MPEG transport stream.
    if path.ends_with(".ts") {
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/typescript; charset=utf-8"),
        );
    }
}

fn set(headers: &mut HeaderMap, name: header::HeaderName, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        headers.insert(name, value);
    }
}

/// ` 'sha256-…'` for each inline `<script>` of `page`, each preceded by a space.
fn inline_script_hashes(page: &[u8]) -> String {
    let page = String::from_utf8_lossy(page);
    let mut hashes = String::new();
    let mut rest = page.as_ref();
    while let Some(start) = find_ascii_ci(rest, "<script") {
        rest = &rest[start + "<script".len()..];
        let Some(open_end) = rest.find('>') else {
            break;
        };
        let attributes = &rest[..open_end];
        rest = &rest[open_end + 1..];
        let Some(close) = find_ascii_ci(rest, "</script") else {
            break;
        };
        let content = &rest[..close];
        rest = &rest[close..];
        if has_src(attributes) {
            continue;
        }
        let digest = Sha256::digest(content.as_bytes());
        hashes.push_str(" 'sha256-");
        hashes.push_str(&base64::engine::general_purpose::STANDARD.encode(digest));
        hashes.push('\'');
    }
    hashes
}

fn has_src(attributes: &str) -> bool {
    attributes
        .split(|c: char| c.is_ascii_whitespace())
        .any(|attribute| attribute.to_ascii_lowercase().starts_with("src="))
}

fn find_ascii_ci(haystack: &str, needle: &str) -> Option<usize> {
    haystack
        .as_bytes()
        .windows(needle.len())
        .position(|window| window.eq_ignore_ascii_case(needle.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_names_with_a_content_hash_are_kept_unasked() {
        for kept in [
            "/peercall-b338b702f5089761_bg.wasm",
            "/peercall-b338b702f5089761.js",
            "/style-0123456789abcdef.css",
        ] {
            assert!(is_fingerprinted(kept), "{kept}");
        }
        for asked in [
            "/",
            "/index.html",
            "/pkg/peercall.js",
            "/pkg/peercall_bg.wasm",
            "/peercall-b338b702f508976.js",
            "/peercall-b338b702f5089761",
            "/peercall-b338b702f508976x.js",
            "/embed-page.html",
            "/a-\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}.js",
        ] {
            assert!(!is_fingerprinted(asked), "{asked}");
        }
    }

    #[test]
    fn inline_scripts_are_hashed_and_external_ones_are_not() {
        let page =
            b"<html><SCRIPT type=\"module\">alert(1)</script><script src=\"/a.js\"></script>\
                     <script>x</script></html>";
        let hash = |text: &str| {
            base64::engine::general_purpose::STANDARD.encode(Sha256::digest(text.as_bytes()))
        };
        assert_eq!(
            inline_script_hashes(page),
            format!(" 'sha256-{}' 'sha256-{}'", hash("alert(1)"), hash("x"))
        );
    }
}
