//! [`NetNs`]: a network namespace joined to this one by a veth pair, with
//! link-local IPv4 addresses only, for tests that need a real network fault:
//! a link taken down under a live TCP connection, a partition, a peer that
//! vanishes without a FIN.
//!
//! Each fixture has a name made of this process's id and a counter (tests of
//! one binary run in parallel; binaries may too) and a /30 of its own in
//! 169.254.0.0/16 (never another range: the address of this side ends in
//! `.1` or `.5` ..., the namespace's in the next number). Everything is
//! removed when the fixture is dropped, whether the test passed or panicked.
//!
//! Creating one needs Linux, root (CAP_NET_ADMIN and CAP_SYS_ADMIN) and
//! iproute2's `ip`. [`NetNs::create_or_skip`] prints `skipped: <why>` and
//! returns `None` where they are missing, so the test passes without
//! checking anything only where it cannot run, and says so.
//!
//! ```no_run
//! use std::process::Stdio;
//!
//! let Some(ns) = interop::NetNs::create_or_skip("my_test") else { return };
//! // a program inside the namespace, reachable at ns.ns_addr() from here
//! let mut server = ns.exec("my-server").arg(ns.ns_addr().to_string()).stdout(Stdio::piped()).spawn().unwrap();
//! ns.set_link(false).unwrap(); // the namespace's end of the link goes down: packets vanish
//! ns.set_link(true).unwrap();
//! server.kill().unwrap();
//! ```

use std::ffi::OsStr;
use std::fmt;
use std::io;
use std::net::Ipv4Addr;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

/// How many /30 subnets 169.254.1.0 to 169.254.254.255 hold (169.254.0.x
/// and 169.254.255.x are reserved by RFC 3927).
const SUBNETS: u32 = 254 * 64;

/// Fixtures made by this process so far (part of each name).
static NEXT: AtomicU32 = AtomicU32::new(0);

/// Why a namespace could not be made.
#[derive(Debug)]
pub enum NetNsError {
    /// This machine or user cannot make one (not Linux, not root, no `ip`,
    /// not permitted): a test skips.
    Unavailable(String),
    /// Making one failed for another reason: a test fails.
    Failed(String),
}

impl fmt::Display for NetNsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NetNsError::Unavailable(why) => write!(f, "network namespaces unavailable: {why}"),
            NetNsError::Failed(why) => write!(f, "cannot set up a network namespace: {why}"),
        }
    }
}

impl std::error::Error for NetNsError {}

/// A network namespace and the veth pair that joins it to ours; removed on drop.
#[derive(Debug)]
pub struct NetNs {
    name: String,
    host_link: String,
    ns_link: String,
    host_addr: Ipv4Addr,
    ns_addr: Ipv4Addr,
}

impl NetNs {
    /// Makes a namespace, a veth pair with one end in it, a link-local /30
    /// on the pair, and brings both ends (and the namespace's loopback) up.
    ///
    /// # Errors
    ///
    /// [`NetNsError::Unavailable`] when this is not Linux, we are not root,
    /// `ip` is missing or the kernel refuses; [`NetNsError::Failed`] when a
    /// later step fails (what `ip` said).
    pub fn create() -> Result<NetNs, NetNsError> {
        if !cfg!(target_os = "linux") {
            return Err(NetNsError::Unavailable("network namespaces are Linux-only".into()));
        }
        match effective_uid() {
            Some(0) => {}
            Some(uid) => {
                return Err(NetNsError::Unavailable(format!(
                    "not root (uid {uid}): a network namespace needs CAP_NET_ADMIN"
                )))
            }
            None => return Err(NetNsError::Unavailable("cannot tell our uid (no /proc/self/status)".into())),
        }
        let pid = std::process::id();
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let (host_addr, ns_addr) = free_subnet(pid.wrapping_mul(16).wrapping_add(n))?;
        let name = format!("ipc-test-{pid}-{n}");
        // interface names hold at most 15 bytes: "ih" + pid in hex (<= 6) + "n" + counter in hex
        let host_link = format!("ih{pid:x}n{n:x}");
        let ns_link = format!("in{pid:x}n{n:x}");
        match ip(["netns", "add", &name]) {
            Ok(_) => {}
            Err(IpError::Missing(e)) => return Err(NetNsError::Unavailable(format!("no `ip` command: {e}"))),
            Err(IpError::Said(why)) if why.contains("not permitted") || why.contains("denied") => {
                return Err(NetNsError::Unavailable(format!("`ip netns add` refused: {why}")))
            }
            Err(IpError::Said(why)) => return Err(NetNsError::Failed(format!("ip netns add {name}: {why}"))),
        }
        // from here on, drop cleans up whatever exists
        let netns = NetNs { name, host_link, ns_link, host_addr, ns_addr };
        netns.set_up().map_err(NetNsError::Failed)?;
        Ok(netns)
    }

    /// [`create`](NetNs::create) for a test: `None` after printing
    /// `skipped: <test>: <why>` when namespaces are unavailable here.
    ///
    /// # Panics
    ///
    /// When they are available and setting one up fails.
    pub fn create_or_skip(test: &str) -> Option<NetNs> {
        match NetNs::create() {
            Ok(netns) => Some(netns),
            Err(NetNsError::Unavailable(why)) => {
                eprintln!("skipped: {test}: {why}");
                None
            }
            Err(e) => panic!("{test}: {e}"),
        }
    }

    fn set_up(&self) -> Result<(), String> {
        let (name, host, ns) = (self.name.as_str(), self.host_link.as_str(), self.ns_link.as_str());
        let host_cidr = format!("{}/30", self.host_addr);
        let ns_cidr = format!("{}/30", self.ns_addr);
        let run = |args: &[&str]| {
            ip(args.iter().copied()).map(drop).map_err(|e| format!("ip {}: {e}", args.join(" ")))
        };
        run(&["link", "add", host, "type", "veth", "peer", "name", ns, "netns", name])?;
        // IPv4 link-local only: no IPv6 link-local addresses either (best
        // effort: a kernel without IPv6 makes none anyway)
        let _ = run(&["link", "set", host, "addrgenmode", "none"]);
        let _ = run(&["-n", name, "link", "set", ns, "addrgenmode", "none"]);
        run(&["addr", "add", &host_cidr, "dev", host])?;
        run(&["-n", name, "addr", "add", &ns_cidr, "dev", ns])?;
        run(&["link", "set", host, "up"])?;
        run(&["-n", name, "link", "set", ns, "up"])?;
        ip(["-n", name, "link", "set", "lo", "up"])
            .map_err(|e| format!("ip -n {name} link set lo up: {e}"))?;
        Ok(())
    }

    /// The namespace's name (for `ip netns exec`, `ip -n`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Our end's address (a 169.254.x.y/30).
    pub fn host_addr(&self) -> Ipv4Addr {
        self.host_addr
    }

    /// The namespace's end's address (the next one in the same /30).
    pub fn ns_addr(&self) -> Ipv4Addr {
        self.ns_addr
    }

    /// Our end's interface name.
    pub fn host_link(&self) -> &str {
        &self.host_link
    }

    /// The namespace's end's interface name.
    pub fn ns_link(&self) -> &str {
        &self.ns_link
    }

    /// A command that runs `program` inside the namespace (`ip netns exec
    /// NAME program`; `ip` execs it, so the child's pid is the program's).
    pub fn exec(&self, program: impl AsRef<OsStr>) -> Command {
        let mut command = Command::new("ip");
        command.args(["netns", "exec"]).arg(&self.name).arg(program);
        command
    }

    /// Takes the namespace's end of the link down (`false`) or up (`true`).
    /// Down, whatever either side sends over it is lost, and neither side is
    /// told: no FIN, no RST, no ICMP. Our end's routes stay.
    ///
    /// # Errors
    ///
    /// What `ip` said.
    pub fn set_link(&self, up: bool) -> io::Result<()> {
        let state = if up { "up" } else { "down" };
        ip(["-n", self.name.as_str(), "link", "set", self.ns_link.as_str(), state])
            .map(drop)
            .map_err(|e| io::Error::other(e.to_string()))
    }
}

impl Drop for NetNs {
    fn drop(&mut self) {
        // deleting one end deletes the pair; deleting the namespace's name
        // frees it once no process is left inside
        let _ = ip(["link", "del", self.host_link.as_str()]);
        let _ = ip(["netns", "del", self.name.as_str()]);
    }
}

/// A failed `ip` run.
#[derive(Debug)]
enum IpError {
    /// `ip` could not be started.
    Missing(io::Error),
    /// It ran and failed: its stderr.
    Said(String),
}

impl fmt::Display for IpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IpError::Missing(e) => write!(f, "cannot run ip: {e}"),
            IpError::Said(why) => f.write_str(why),
        }
    }
}

/// Runs `ip ARGS`, returning its output when it succeeds.
fn ip<'a>(args: impl IntoIterator<Item = &'a str>) -> Result<Output, IpError> {
    let output = Command::new("ip").args(args).stdin(Stdio::null()).output().map_err(IpError::Missing)?;
    if output.status.success() {
        Ok(output)
    } else {
        Err(IpError::Said(String::from_utf8_lossy(&output.stderr).trim().to_owned()))
    }
}

/// The /30 numbered `index` (mod [`SUBNETS`]) or the next one that no
/// interface of ours has an address in: (our address, the namespace's).
fn free_subnet(index: u32) -> Result<(Ipv4Addr, Ipv4Addr), NetNsError> {
    let taken = match ip(["-4", "-o", "addr", "show"]) {
        Ok(out) => String::from_utf8_lossy(&out.stdout).into_owned(),
        Err(IpError::Missing(e)) => return Err(NetNsError::Unavailable(format!("no `ip` command: {e}"))),
        Err(e) => return Err(NetNsError::Failed(format!("ip -4 -o addr show: {e}"))),
    };
    let in_use: Vec<Ipv4Addr> = taken
        .split_whitespace()
        .filter_map(|word| word.split_once('/').and_then(|(addr, _)| addr.parse().ok()))
        .collect();
    for step in 0..SUBNETS {
        let (host, ns) = subnet((index + step) % SUBNETS);
        let base = u32::from(host) & !3;
        if !in_use.iter().any(|a| u32::from(*a) & !3 == base) {
            return Ok((host, ns));
        }
    }
    Err(NetNsError::Failed("every link-local /30 is in use".into()))
}

/// The two usable addresses of the /30 numbered `i`: 169.254.(1 + i / 64).(4 * (i % 64) + 1 and + 2).
fn subnet(i: u32) -> (Ipv4Addr, Ipv4Addr) {
    let third = (1 + i / 64) as u8;
    let fourth = (4 * (i % 64)) as u8;
    (Ipv4Addr::new(169, 254, third, fourth + 1), Ipv4Addr::new(169, 254, third, fourth + 2))
}

/// Our effective uid, from `/proc/self/status` (`Uid: real effective ...`).
fn effective_uid() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find_map(|l| l.strip_prefix("Uid:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subnets_are_link_local_thirty_twos() {
        for i in [0, 1, 63, 64, SUBNETS - 1] {
            let (host, ns) = subnet(i);
            assert!(host.is_link_local() && ns.is_link_local(), "{host} {ns}");
            assert_eq!(u32::from(host) & !3, u32::from(ns) & !3, "one /30");
            assert_eq!(u32::from(ns), u32::from(host) + 1);
            assert!(!matches!(host.octets()[2], 0 | 255), "RFC 3927's reserved blocks are left alone");
        }
        assert_eq!(subnet(0), (Ipv4Addr::new(169, 254, 1, 1), Ipv4Addr::new(169, 254, 1, 2)));
        assert_eq!(subnet(65), (Ipv4Addr::new(169, 254, 2, 5), Ipv4Addr::new(169, 254, 2, 6)));
    }

    #[test]
    fn a_namespace_is_made_and_goes_away() {
        let Some(ns) = NetNs::create_or_skip("a_namespace_is_made_and_goes_away") else { return };
        let other = NetNs::create().unwrap();
        assert_ne!(ns.name(), other.name());
        assert_ne!(u32::from(ns.host_addr()) & !3, u32::from(other.host_addr()) & !3, "a /30 each");
        let links =
            String::from_utf8(ip(["-n", ns.name(), "-4", "-o", "addr", "show"]).unwrap().stdout).unwrap();
        assert!(links.contains(&format!("{}/30", ns.ns_addr())), "{links}");
        ns.set_link(false).unwrap();
        ns.set_link(true).unwrap();
        let (name, link) = (ns.name().to_owned(), ns.host_link().to_owned());
        drop(ns);
        let namespaces = String::from_utf8(ip(["netns", "list"]).unwrap().stdout).unwrap();
        assert!(!namespaces.contains(&name), "{namespaces}");
        assert!(ip(["link", "show", &link]).is_err(), "the veth pair is gone");
    }
}
