//! The server process's memory as Linux reports it in `/proc/<pid>/status`: resident set now (`VmRSS`) and its peak (`VmHWM`).

use crate::server::Server;

/// A `kB` field of `/proc/<pid>/status`, in bytes; `None` when the process is gone or the
/// system has no such file.
fn status_field(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find_map(|line| {
        let value = line.strip_prefix(field)?.strip_prefix(':')?;
        let kilobytes: u64 = value.trim().trim_end_matches("kB").trim().parse().ok()?;
        Some(kilobytes * 1024)
    })
}

impl Server {
    /// The server's resident memory now, in bytes.
    pub fn rss_bytes(&self) -> Option<u64> {
        status_field(self.pid(), "VmRSS")
    }

    /// The most resident memory the server has had, in bytes.
    pub fn peak_rss_bytes(&self) -> Option<u64> {
        status_field(self.pid(), "VmHWM")
    }
}
