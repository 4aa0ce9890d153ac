//! A small internet made of Linux network namespaces, for calls between two homes behind
//! NAT routers. Every address lives inside namespaces made here; dropping the network
//! kills what runs in them and removes them, also when a test fails. Namespaces left by a
//! test process that died are removed by the next one.
//!
//! ```text
//! home1 192.168.1.10 ─lan─ nat1 192.168.1.1 | 198.51.100.1 ─wan─┐
//!                                                                pub 203.0.113.10
//! home2 192.168.2.10 ─lan─ nat2 192.168.2.1 | 192.0.2.1    ─wan─┘  (forwards nothing)
//! ```
//! The NAT routers masquerade (nftables) and let in only replies, as home routers do.
//! `pub` answers on the server address only and routes nothing between the two NATs, so
//! the homes have no path to each other but through a relay on the server.

use std::{
    path::{Path, PathBuf},
    process::Command,
};

/// The address of the server (signaling and TURN) on the public side.
pub const SERVER: &str = "203.0.113.10";

/// The namespaces.
const PLACES: [&str; 5] = ["pub", "nat1", "nat2", "home1", "home2"];

/// Where namespaces are named.
const NETNS_DIR: &str = "/run/netns";

/// Where `ip netns exec` finds a namespace's own `/etc` files.
const ETC_NETNS: &str = "/etc/netns";

/// The name prefix of this crate's namespaces; the test process id follows.
const PREFIX: &str = "pcnat";

/// The network; removed when dropped.
pub struct Network {
    prefix: String,
    scripts: PathBuf,
}

impl Network {
    /// Builds the network, after removing any a dead test process left.
    pub fn up() -> Self {
        static NETWORKS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        sweep_stale();
        let number = NETWORKS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let prefix = format!("{PREFIX}{}n{number}", std::process::id());
        let network = Self {
            scripts: std::env::temp_dir().join(&prefix),
            prefix,
        };
        // Built by the value that removes it, so a failure half-way leaves nothing.
        network.build();
        network
    }

    /// The full name of namespace `place` (`pub`, `nat1`, `nat2`, `home1`, `home2`).
    pub fn namespace(&self, place: &str) -> String {
        format!("{}-{place}", self.prefix)
    }

    /// `program` to be run inside `place`.
    pub fn command(
        &self,
        place: &str,
        program: impl AsRef<std::ffi::OsStr>,
    ) -> tokio::process::Command {
        let mut command = tokio::process::Command::new("ip");
        command
            .args(["netns", "exec", &self.namespace(place)])
            .arg(program);
        command
    }

    /// An executable that runs `program` inside `place` with the arguments it is given:
    /// a browser binary for a driver outside the namespace.
    pub fn launcher(&self, place: &str, program: &Path) -> PathBuf {
        std::fs::create_dir_all(&self.scripts).expect("a folder for launchers");
        let path = self.scripts.join(format!(
            "{place}-{}",
            program.file_name().unwrap_or_default().to_string_lossy()
        ));
        let script = format!(
            "#!/bin/sh\nexec ip netns exec {} {} \"$@\"\n",
            self.namespace(place),
            program.display()
        );
        std::fs::write(&path, script).expect("a launcher");
        let mut permissions = std::fs::metadata(&path)
            .expect("the launcher")
            .permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut permissions, 0o755);
        std::fs::set_permissions(&path, permissions).expect("an executable launcher");
        path
    }

    fn build(&self) {
        for place in PLACES {
            let ns = self.namespace(place);
            run(&["ip", "netns", "add", &ns]);
            self.ip(place, &["link", "set", "lo", "up"]);
            self.sysctl(place, "net.ipv4.ip_forward=0");
            self.sysctl(place, "net.ipv6.conf.all.disable_ipv6=1");
            self.sysctl(place, "net.ipv6.conf.default.disable_ipv6=1");
            // `ip netns exec` puts these over /etc/resolv.conf and /etc/hosts: name
            // lookups go to the namespace's own loopback and fail at once, instead of
            // waiting on a name server no namespace can reach.
            let etc = Path::new(ETC_NETNS).join(&ns);
            std::fs::create_dir_all(&etc).expect("/etc/netns");
            std::fs::write(etc.join("resolv.conf"), "nameserver 127.0.0.1\n").expect("resolv.conf");
            std::fs::write(etc.join("hosts"), "127.0.0.1 localhost\n").expect("hosts");
        }
        // Each veth is made inside its namespaces: no interface ever exists outside them.
        self.link("home1", "eth0", "nat1", "lan");
        self.link("home2", "eth0", "nat2", "lan");
        self.link("nat1", "wan", "pub", "nat1");
        self.link("nat2", "wan", "pub", "nat2");
        for (place, device, address) in [
            ("home1", "eth0", "192.168.1.10/24"),
            ("nat1", "lan", "192.168.1.1/24"),
            ("home2", "eth0", "192.168.2.10/24"),
            ("nat2", "lan", "192.168.2.1/24"),
            ("nat1", "wan", "198.51.100.1/24"),
            ("pub", "nat1", "198.51.100.254/24"),
            ("nat2", "wan", "192.0.2.1/24"),
            ("pub", "nat2", "192.0.2.254/24"),
            ("pub", "lo", "203.0.113.10/32"),
        ] {
            self.ip(place, &["addr", "add", address, "dev", device]);
        }
        for (place, gateway) in [
            ("home1", "192.168.1.1"),
            ("home2", "192.168.2.1"),
            ("nat1", "198.51.100.254"),
            ("nat2", "192.0.2.254"),
        ] {
            self.ip(place, &["route", "add", "default", "via", gateway]);
        }
        for router in ["nat1", "nat2"] {
            self.sysctl(router, "net.ipv4.ip_forward=1");
            // Byte counts per connection, for rules that act on long flows.
            self.sysctl(router, "net.netfilter.nf_conntrack_acct=1");
            self.nft(router, HOME_ROUTER);
        }
        self.nft("pub", &PUBLIC.replace("{SERVER}", SERVER));
    }

    /// Runs `nft` with `args` inside `place`.
    pub fn nft_in(&self, place: &str, args: &[&str]) {
        let ns = self.namespace(place);
        let mut all = vec!["ip", "netns", "exec", &ns, "nft"];
        all.extend_from_slice(args);
        run(&all);
    }

    fn ip(&self, place: &str, args: &[&str]) {
        let ns = self.namespace(place);
        let mut all = vec!["ip", "-n", &ns];
        all.extend_from_slice(args);
        run(&all);
    }

    fn sysctl(&self, place: &str, setting: &str) {
        let ns = self.namespace(place);
        run(&["ip", "netns", "exec", &ns, "sysctl", "-qw", setting]);
    }

    fn link(&self, a: &str, a_device: &str, b: &str, b_device: &str) {
        let (a_ns, b_ns) = (self.namespace(a), self.namespace(b));
        run(&[
            "ip", "-n", &a_ns, "link", "add", a_device, "type", "veth", "peer", "name", b_device,
            "netns", &b_ns,
        ]);
        self.ip(a, &["link", "set", a_device, "up"]);
        self.ip(b, &["link", "set", b_device, "up"]);
    }

    fn nft(&self, place: &str, rules: &str) {
        let ns = self.namespace(place);
        let path = self.scripts.join(format!("{place}.nft"));
        std::fs::create_dir_all(&self.scripts).expect("a folder for rules");
        std::fs::write(&path, rules).expect("the rules");
        run(&[
            "ip",
            "netns",
            "exec",
            &ns,
            "nft",
            "-f",
            &path.display().to_string(),
        ]);
    }
}

impl Drop for Network {
    fn drop(&mut self) {
        remove(&self.prefix);
        let _ = std::fs::remove_dir_all(&self.scripts);
    }
}

/// A home router: masquerade out of the WAN side, and let in only what answers traffic
/// from the home.
const HOME_ROUTER: &str = r#"
table ip nat {
    chain postrouting {
        type nat hook postrouting priority srcnat; policy accept;
        oifname "wan" masquerade
    }
}
table ip filter {
    chain forward {
        type filter hook forward priority filter; policy drop;
        ct state established,related accept
        iifname "lan" oifname "wan" accept
    }
    chain input {
        type filter hook input priority filter; policy drop;
        iifname "lo" accept
        ct state established,related accept
        iifname "lan" accept
    }
}
"#;

/// The public side: the server address answers; nothing is forwarded.
const PUBLIC: &str = r#"
table ip filter {
    chain input {
        type filter hook input priority filter; policy drop;
        iifname "lo" accept
        ip daddr {SERVER} accept
    }
    chain forward {
        type filter hook forward priority filter; policy drop;
    }
}
"#;

fn run(args: &[&str]) {
    let status = Command::new(args[0])
        .args(&args[1..])
        .status()
        .unwrap_or_else(|error| panic!("{} runs: {error}", args[0]));
    assert!(status.success(), "{} failed: {status}", args.join(" "));
}

/// Kills what runs in the namespaces of `prefix` and removes them.
fn remove(prefix: &str) {
    for place in PLACES {
        let ns = format!("{prefix}-{place}");
        if !Path::new(NETNS_DIR).join(&ns).exists() {
            continue;
        }
        if let Ok(output) = Command::new("ip").args(["netns", "pids", &ns]).output() {
            for pid in String::from_utf8_lossy(&output.stdout).split_whitespace() {
                if let Ok(pid) = pid.parse::<i32>() {
                    let _ = nix::sys::signal::kill(
                        nix::unistd::Pid::from_raw(pid),
                        nix::sys::signal::Signal::SIGKILL,
                    );
                }
            }
        }
        // Deleting a namespace destroys its veth ends, and so their peers.
        let _ = Command::new("ip").args(["netns", "del", &ns]).status();
    }
    for place in PLACES {
        let _ = std::fs::remove_dir_all(Path::new(ETC_NETNS).join(format!("{prefix}-{place}")));
    }
    // Only if nothing else keeps files there.
    let _ = std::fs::remove_dir(ETC_NETNS);
}

/// Removes the namespaces of test processes that are gone.
fn sweep_stale() {
    // Namespaces, and their `/etc/netns` files should the namespaces be gone already.
    let names = [NETNS_DIR, ETC_NETNS]
        .into_iter()
        .filter_map(|dir| std::fs::read_dir(dir).ok())
        .flat_map(|entries| entries.flatten())
        .map(|entry| entry.file_name().to_string_lossy().into_owned());
    for name in names {
        let Some((prefix, _)) = name.split_once('-') else {
            continue;
        };
        let pid = prefix
            .strip_prefix(PREFIX)
            .and_then(|rest| rest.split('n').next())
            .and_then(|pid| pid.parse::<u32>().ok());
        let Some(pid) = pid else {
            continue;
        };
        if pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists() {
            remove(prefix);
        }
    }
}
