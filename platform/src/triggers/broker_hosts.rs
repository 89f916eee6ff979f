//! Which broker hosts NATS, Redis and MQTT triggers may connect to: the
//! server's `--broker-hosts` allow-list (`WISP_BROKER_HOSTS`), set by the
//! administrator. `*` allows any host whose addresses are all public (the
//! default); loopback, private, link-local and cloud-metadata addresses
//! (169.254.169.254) are allowed only when listed, by name, address or CIDR
//! range, optionally with a port. Without this, a developer could point a
//! trigger at internal services and use the server as a port scanner.
//! Checked when a trigger is created or updated (a 400 naming the rule) and
//! again before every connection (stored triggers may predate the list, and
//! DNS answers change).

use std::net::IpAddr;
use std::time::Duration;

use model::TriggerSpec;

/// Longest wait for a broker host name to resolve.
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(5);

/// The broker allow-list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BrokerHosts {
    /// `*`: any host whose addresses are all public.
    any_public: bool,
    entries: Vec<Entry>,
}

/// One listed host, with the port it is limited to (any port when `None`).
#[derive(Clone, Debug, PartialEq, Eq)]
struct Entry {
    host: Pattern,
    port: Option<u16>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Pattern {
    /// A host name, lowercase, without a final dot.
    Name(String),
    /// `*.example.com`: any subdomain (not the apex); holds `.example.com`.
    Subdomains(String),
    /// An address (full prefix) or a CIDR range.
    Net { addr: IpAddr, prefix: u8 },
}

impl Default for BrokerHosts {
    /// Public brokers only.
    fn default() -> Self {
        Self {
            any_public: true,
            entries: Vec::new(),
        }
    }
}

impl BrokerHosts {
    /// Parses the entries of `--broker-hosts`: `*`, `host`, `*.domain`, an
    /// IP address (IPv6 bare or in brackets), or a CIDR range such as
    /// `10.0.0.0/8`, each but `*` optionally followed by `:port`. An empty
    /// list allows no broker at all.
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<Self, String> {
        let mut hosts = Self {
            any_public: false,
            entries: Vec::new(),
        };
        for text in entries {
            let text = text.as_ref().trim().to_ascii_lowercase();
            if text.is_empty() {
                continue;
            }
            if text == "*" {
                hosts.any_public = true;
                continue;
            }
            let entry = parse_entry(&text)
                .map_err(|e| format!("bad --broker-hosts entry {text:?}: {e}"))?;
            hosts.entries.push(entry);
        }
        Ok(hosts)
    }

    /// Whether a trigger may connect to `host:port`; the error says why not
    /// (the same words whether the host is off the list or does not
    /// resolve, so the answer reveals nothing of the internal network).
    pub(crate) async fn check(&self, host: &str, port: u16) -> Result<(), String> {
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .trim_end_matches('.')
            .to_ascii_lowercase();
        let refused = || {
            format!(
                "broker host {host} (port {port}) is not allowed: brokers must have public \
                 addresses unless the server's administrator lists them in --broker-hosts \
                 (WISP_BROKER_HOSTS)"
            )
        };
        if let Ok(ip) = host.parse::<IpAddr>() {
            return self.allows_ip(ip, port).then_some(()).ok_or_else(refused);
        }
        if self.allows_name(&host, port) {
            return Ok(());
        }
        let resolved = tokio::time::timeout(
            RESOLVE_TIMEOUT,
            tokio::net::lookup_host((host.as_str(), port)),
        )
        .await;
        let addresses: Vec<IpAddr> = match resolved {
            Ok(Ok(addresses)) => addresses.map(|a| a.ip()).collect(),
            _ => Vec::new(),
        };
        // Every address: the client may connect to any of them.
        if !addresses.is_empty() && addresses.iter().all(|ip| self.allows_ip(*ip, port)) {
            Ok(())
        } else {
            Err(refused())
        }
    }

    /// Checks the broker a trigger spec names (other kinds pass).
    pub(crate) async fn check_spec(&self, spec: &TriggerSpec) -> Result<(), String> {
        match broker_address(spec)? {
            Some((host, port)) => self.check(&host, port).await,
            None => Ok(()),
        }
    }

    fn allows_ip(&self, ip: IpAddr, port: u16) -> bool {
        let ip = ip.to_canonical();
        let listed = self.entries.iter().any(|entry| {
            entry.port.is_none_or(|p| p == port)
                && matches!(entry.host, Pattern::Net { addr, prefix } if in_net(ip, addr, prefix))
        });
        listed || (self.any_public && runtime::is_public(ip))
    }

    fn allows_name(&self, name: &str, port: u16) -> bool {
        self.entries.iter().any(|entry| {
            entry.port.is_none_or(|p| p == port)
                && match &entry.host {
                    Pattern::Name(listed) => listed == name,
                    Pattern::Subdomains(suffix) => {
                        name.len() > suffix.len() && name.ends_with(suffix.as_str())
                    }
                    Pattern::Net { .. } => false,
                }
        })
    }
}

/// The host and port a broker trigger connects to, as its client library
/// reads the URL (`None` for kinds without a broker).
pub(crate) fn broker_address(spec: &TriggerSpec) -> Result<Option<(String, u16)>, String> {
    match spec {
        TriggerSpec::Nats { url, .. } => nats_address(url).map(Some),
        TriggerSpec::Redis { url, .. } => redis_address(url).map(Some),
        TriggerSpec::Mqtt { url, .. } => mqtt_address(url).map(Some),
        _ => Ok(None),
    }
}

/// Where async-nats connects for `url`.
pub(crate) fn nats_address(url: &str) -> Result<(String, u16), String> {
    let addr: async_nats::ServerAddr = url.parse().map_err(|e| format!("bad NATS url: {e}"))?;
    Ok((addr.host().to_string(), addr.port()))
}

/// Where the redis client connects for `url`.
pub(crate) fn redis_address(url: &str) -> Result<(String, u16), String> {
    let client = redis::Client::open(url).map_err(|e| format!("bad Redis url: {e}"))?;
    match client.get_connection_info().addr() {
        redis::ConnectionAddr::Tcp(host, port) => Ok((host.clone(), *port)),
        redis::ConnectionAddr::TcpTls { host, port, .. } => Ok((host.clone(), *port)),
        _ => Err("Redis triggers connect over TCP (redis:// or rediss://)".into()),
    }
}

/// Where an MQTT trigger connects for `url` (Wisp hands rumqttc the host
/// and port it parsed itself).
pub(crate) fn mqtt_address(url: &str) -> Result<(String, u16), String> {
    super::parse_broker_url(url, &["mqtt", "tcp"], 1883)
}

fn parse_entry(text: &str) -> Result<Entry, String> {
    let (host, port) = split_port(text)?;
    let host = host.trim_end_matches('.');
    if host.is_empty() {
        return Err("no host".into());
    }
    let pattern = if let Some(suffix) = host.strip_prefix("*.") {
        check_name(suffix)?;
        Pattern::Subdomains(format!(".{suffix}"))
    } else if let Some((addr, prefix)) = host.split_once('/') {
        let addr: IpAddr = addr.parse().map_err(|_| "bad CIDR address")?;
        let addr = addr.to_canonical();
        let bits = if addr.is_ipv4() { 32 } else { 128 };
        let prefix: u8 = prefix
            .parse()
            .ok()
            .filter(|p| *p <= bits)
            .ok_or("bad CIDR prefix length")?;
        Pattern::Net { addr, prefix }
    } else if let Ok(addr) = host.parse::<IpAddr>() {
        let addr = addr.to_canonical();
        let prefix = if addr.is_ipv4() { 32 } else { 128 };
        Pattern::Net { addr, prefix }
    } else {
        check_name(host)?;
        Pattern::Name(host.to_string())
    };
    Ok(Entry {
        host: pattern,
        port,
    })
}

/// Splits `host[:port]`, where host may be a bare IPv6 address (no port),
/// `[v6]` or `[v6]:port`, or a CIDR range.
fn split_port(text: &str) -> Result<(&str, Option<u16>), String> {
    let parse_port = |p: &str| {
        p.parse::<u16>()
            .ok()
            .filter(|p| *p > 0)
            .map(Some)
            .ok_or_else(|| format!("bad port {p:?}"))
    };
    if let Some(rest) = text.strip_prefix('[') {
        let (host, tail) = rest.split_once(']').ok_or("unclosed [")?;
        return match tail.strip_prefix(':') {
            Some(port) => Ok((host, parse_port(port)?)),
            None if tail.is_empty() => Ok((host, None)),
            None => Err("text after ]".into()),
        };
    }
    // A bare IPv6 address or range has several colons and no port.
    if text.matches(':').count() > 1 {
        return Ok((text, None));
    }
    match text.rsplit_once(':') {
        Some((host, port)) => Ok((host, parse_port(port)?)),
        None => Ok((text, None)),
    }
}

fn check_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.split('.').all(|label| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    if ok {
        Ok(())
    } else {
        Err("not a host name, address or CIDR range".into())
    }
}

/// Whether `ip` lies in `addr/prefix` (same address family).
fn in_net(ip: IpAddr, addr: IpAddr, prefix: u8) -> bool {
    match (ip, addr) {
        (IpAddr::V4(ip), IpAddr::V4(net)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            u32::from(ip) & mask == u32::from(net) & mask
        }
        (IpAddr::V6(ip), IpAddr::V6(net)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            u128::from(ip) & mask == u128::from(net) & mask
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hosts(entries: &[&str]) -> BrokerHosts {
        BrokerHosts::parse(entries).expect("valid entries")
    }

    #[tokio::test]
    async fn public_hosts_only_by_default() {
        let default = BrokerHosts::default();
        assert_eq!(default, hosts(&["*"]));
        for denied in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "[::ffff:169.254.169.254]",
            "localhost",
        ] {
            assert!(default.check(denied, 4222).await.is_err(), "{denied}");
        }
        assert!(default.check("8.8.8.8", 4222).await.is_ok());
        assert!(default.check("2001:4860:4860::8888", 4222).await.is_ok());
    }

    #[tokio::test]
    async fn listed_hosts_are_allowed_even_when_local() {
        let local = hosts(&[
            "127.0.0.1",
            "10.0.0.0/8:6379",
            "broker.internal",
            "*.mq.internal",
        ]);
        assert!(local.check("127.0.0.1", 1).await.is_ok());
        assert!(local.check("10.9.9.9", 6379).await.is_ok());
        assert!(local.check("10.9.9.9", 6380).await.is_err());
        assert!(local.check("broker.internal", 4222).await.is_ok());
        assert!(local.check("Broker.Internal.", 4222).await.is_ok());
        assert!(local.check("a.mq.internal", 1883).await.is_ok());
        assert!(local.check("mq.internal", 1883).await.is_err());
        // Without `*`, public hosts are not allowed either.
        assert!(local.check("8.8.8.8", 4222).await.is_err());
        assert!(local.check("169.254.169.254", 80).await.is_err());
        let v6 = hosts(&["[::1]:4222", "fd00::/8"]);
        assert!(v6.check("::1", 4222).await.is_ok());
        assert!(v6.check("0:0::1", 4222).await.is_ok());
        assert!(v6.check("::1", 4223).await.is_err());
        assert!(v6.check("fdab::7", 1).await.is_ok());
    }

    #[test]
    fn bad_entries_are_refused() {
        for bad in [
            "10.0.0.0/33",
            "host:0",
            "host:x",
            "[::1",
            "a..b",
            "1.2.3.4/x",
            "h/8",
        ] {
            assert!(BrokerHosts::parse(&[bad]).is_err(), "{bad}");
        }
        assert_eq!(BrokerHosts::parse::<&str>(&[]).unwrap().entries.len(), 0);
    }

    #[test]
    fn broker_addresses_are_read_like_the_clients_read_them() {
        let nats = TriggerSpec::Nats {
            url: "nats://user:pw@[::1]:4333".into(),
            subject: "a".into(),
            stream: None,
        };
        assert_eq!(broker_address(&nats), Ok(Some(("::1".into(), 4333))));
        let redis = TriggerSpec::Redis {
            url: "redis://10.0.0.5/2".into(),
            stream: "s".into(),
            group: None,
        };
        assert_eq!(broker_address(&redis), Ok(Some(("10.0.0.5".into(), 6379))));
        let mqtt = TriggerSpec::Mqtt {
            url: "mqtt://169.254.169.254".into(),
            topic: "t".into(),
        };
        assert_eq!(
            broker_address(&mqtt),
            Ok(Some(("169.254.169.254".into(), 1883)))
        );
    }
}
