//! What the service may call out to. Webhook URLs are the tenants' to choose, so without a check
//! they make the service an HTTP client inside the operator's network (loopback admin ports,
//! cloud metadata at 169.254.169.254, the LAN). Outside dev mode a webhook URL must be `https`
//! and every address its host resolves to must be a public one, checked at registration and
//! again at each delivery (DNS may change), and the delivery connects to the address checked.
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// Why a webhook URL or delivery target is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EgressError {
    /// Not an absolute `https` (or, in dev mode, `http`) URL with a host, or too long.
    #[error("url must be an absolute https URL (http only in dev mode), at most 2000 characters")]
    BadUrl,
    /// The host resolves to no address.
    #[error("the url's host does not resolve")]
    NoAddress,
    /// The host is, or resolves to, a loopback, private, link-local, shared or reserved address.
    #[error("the url's host is not a public address")]
    Blocked,
}

impl EgressError {
    /// The short, fixed text the delivery log shows (no resolver or socket detail).
    pub fn log_code(&self) -> &'static str {
        match self {
            EgressError::BadUrl => "bad_url",
            EgressError::NoAddress => "dns_failed",
            EgressError::Blocked => "blocked_address",
        }
    }
}

/// Parse a webhook URL: absolute, with a host, `https` (or `http` when `dev`).
pub fn parse_url(raw: &str, dev: bool) -> Result<reqwest::Url, EgressError> {
    // A URI is ASCII (RFC 3986); international names come punycoded.
    if raw.len() > 2000 || !raw.is_ascii() {
        return Err(EgressError::BadUrl);
    }
    let url = reqwest::Url::parse(raw).map_err(|_| EgressError::BadUrl)?;
    let scheme_ok = url.scheme() == "https" || (dev && url.scheme() == "http");
    if !scheme_ok || url.host_str().is_none_or(str::is_empty) || !url.username().is_empty() {
        return Err(EgressError::BadUrl);
    }
    Ok(url)
}

/// The address to connect to for `url`: every address its host resolves to must be allowed
/// (all of them, so a name cannot mix a public and an internal one); dev mode allows any.
pub async fn resolve(url: &reqwest::Url, dev: bool) -> Result<SocketAddr, EgressError> {
    let host = url.host_str().ok_or(EgressError::BadUrl)?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let port = url.port_or_known_default().ok_or(EgressError::BadUrl)?;
    let addrs: Vec<SocketAddr> = match host.parse::<IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, port)],
        Err(_) => tokio::net::lookup_host((host, port))
            .await
            .map_err(|_| EgressError::NoAddress)?
            .collect(),
    };
    let first = *addrs.first().ok_or(EgressError::NoAddress)?;
    if !dev && addrs.iter().any(|a| !is_public(a.ip())) {
        return Err(EgressError::Blocked);
    }
    Ok(first)
}

/// Whether `ip` is a public unicast address (not loopback, private, link-local, CGNAT, cloud
/// metadata, multicast, documentation or otherwise reserved; IPv6 forms that embed an IPv4
/// address are judged by it).
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    let reserved = a == 0                          // "this network"
        || a == 10                                 // private
        || a == 127                                // loopback
        || (a == 100 && (64..128).contains(&b))    // CGNAT shared space
        || (a == 169 && b == 254)                  // link-local, cloud metadata
        || (a == 172 && (16..32).contains(&b))     // private
        || (a == 192 && b == 0 && c == 0)          // IETF protocol assignments
        || (a == 192 && b == 0 && c == 2)          // documentation
        || (a == 192 && b == 168)                  // private
        || (a == 198 && (b == 18 || b == 19))      // benchmarking
        || (a == 198 && b == 51 && c == 100)       // documentation
        || (a == 203 && b == 0 && c == 113)        // documentation
        || a >= 224; // multicast, reserved, broadcast
    !reserved
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = embedded_v4(ip) {
        return is_public_v4(v4);
    }
    let s = ip.segments();
    let reserved = ip.is_unspecified()
        || ip.is_loopback()
        || (s[0] & 0xfe00) == 0xfc00                // unique local (ULA)
        || (s[0] & 0xffc0) == 0xfe80                // link-local
        || (s[0] & 0xffc0) == 0xfec0                // site-local (deprecated)
        || (s[0] & 0xff00) == 0xff00                // multicast
        || (s[0] == 0x2001 && s[1] == 0x0db8)       // documentation
        || (s[0] == 0x0100 && s[1..4] == [0, 0, 0]); // discard-only
    !reserved
}

/// The IPv4 address inside an IPv4-mapped, IPv4-compatible, NAT64 (64:ff9b::/96) or 6to4
/// (2002::/16) IPv6 address.
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let o = ip.octets();
    let tail = Ipv4Addr::new(o[12], o[13], o[14], o[15]);
    if s[..5] == [0; 5]
        && (s[5] == 0xffff || (s[5] == 0 && !ip.is_loopback() && !ip.is_unspecified()))
    {
        return Some(tail);
    }
    if s[0] == 0x0064 && s[1] == 0xff9b && s[2..6] == [0; 4] {
        return Some(tail);
    }
    if s[0] == 0x2002 {
        return Some(Ipv4Addr::new(o[2], o[3], o[4], o[5]));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_addresses_are_not_public() {
        for ip in [
            "127.0.0.1",
            "127.1.2.3",
            "10.0.0.1",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "169.254.0.1",
            "100.64.0.1",
            "100.127.255.255",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "192.0.2.1",
            "198.18.0.1",
            "::1",
            "::",
            "fd00::1",
            "fc00::1",
            "fe80::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a00:1",
            "2002:7f00:1::",
            "2001:db8::1",
            "::7f00:1",
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip}");
        }
        for ip in [
            "8.8.8.8",
            "1.1.1.1",
            "100.128.0.1",
            "172.32.0.1",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            assert!(is_public(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn urls() {
        assert!(parse_url("https://hooks.example.com/x", false).is_ok());
        assert_eq!(
            parse_url("http://hooks.example.com/x", false),
            Err(EgressError::BadUrl)
        );
        assert!(parse_url("http://127.0.0.1:9/x", true).is_ok());
        for bad in [
            "ftp://x/",
            "https://",
            "/relative",
            "https://user:pw@example.com/",
            "nope",
        ] {
            assert_eq!(parse_url(bad, true), Err(EgressError::BadUrl), "{bad}");
        }
    }

    #[tokio::test]
    async fn resolution_is_checked() {
        let r = |u: &str, dev| {
            let u = parse_url(u, dev).unwrap();
            async move { resolve(&u, dev).await }
        };
        for u in [
            "https://127.0.0.1/",
            "https://[::1]:8443/",
            "https://localhost/",
            "https://169.254.169.254/latest",
            "https://[::ffff:10.0.0.1]/",
        ] {
            assert_eq!(r(u, false).await, Err(EgressError::Blocked), "{u}");
        }
        assert_eq!(r("https://8.8.8.8/", false).await.unwrap().port(), 443);
        assert!(
            r("http://127.0.0.1:9/", true).await.is_ok(),
            "dev mode: a local receiver"
        );
    }
}
