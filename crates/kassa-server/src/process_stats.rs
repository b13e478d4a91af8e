//! The process metrics every Prometheus exporter offers (`process_resident_memory_bytes`,
//! `process_cpu_seconds_total`, `process_open_fds`), read from `/proc/self` at scrape time with a
//! few lines of parsing rather than a crate. On systems without `/proc` they are left out.

use std::path::Path;

/// What the process uses now; a field is None when it could not be read.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct ProcessStats {
    pub resident_memory_bytes: Option<u64>,
    pub cpu_seconds: Option<f64>,
    pub open_fds: Option<u64>,
}

/// Clock ticks per second of `/proc/<pid>/stat`'s times. `USER_HZ` is 100 on every Linux
/// architecture Rust targets (the kernel converts to it); Prometheus' own Go client fixes it too.
const USER_HZ: f64 = 100.0;

impl ProcessStats {
    /// This process's, from `/proc/self`.
    pub fn read() -> ProcessStats {
        let proc = Path::new("/proc/self");
        ProcessStats {
            resident_memory_bytes: std::fs::read_to_string(proc.join("status"))
                .ok()
                .and_then(|s| resident_bytes(&s)),
            cpu_seconds: std::fs::read_to_string(proc.join("stat"))
                .ok()
                .and_then(|s| cpu_seconds(&s)),
            open_fds: std::fs::read_dir(proc.join("fd"))
                .ok()
                .map(|dir| dir.count() as u64),
        }
    }
}

/// The CPU time (user and system) of a process or one of its threads: `task` is a `/proc` entry
/// such as `/proc/self` or `/proc/self/task/<tid>` (`kassa-bench` subtracts its load
/// generator's thread from the process).
pub fn cpu_seconds_of(task: &Path) -> Option<f64> {
    cpu_seconds(&std::fs::read_to_string(task.join("stat")).ok()?)
}

/// The most resident memory this process has had (`VmHWM`), in bytes.
pub fn peak_resident_bytes() -> Option<u64> {
    status_bytes(
        &std::fs::read_to_string("/proc/self/status").ok()?,
        "VmHWM:",
    )
}

/// `VmRSS:   12345 kB` of `/proc/self/status`, in bytes.
fn resident_bytes(status: &str) -> Option<u64> {
    status_bytes(status, "VmRSS:")
}

fn status_bytes(status: &str, key: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with(key))?;
    let mut words = line[key.len()..].split_whitespace();
    let kib: u64 = words.next()?.parse().ok()?;
    (words.next()? == "kB").then_some(kib * 1024)
}

/// `utime + stime` of `/proc/self/stat` (fields 14 and 15), in seconds. The command name (field
/// 2) is in parentheses and may hold spaces or parentheses itself, so fields are counted after
/// the last `)`.
fn cpu_seconds(stat: &str) -> Option<f64> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    let mut fields = after_name.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some((utime + stime) as f64 / USER_HZ)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resident_memory_is_read_from_status() {
        let status = "Name:\tkassa\nVmPeak:\t  99999 kB\nVmRSS:\t   2048 kB\nThreads:\t9\n";
        assert_eq!(resident_bytes(status), Some(2048 * 1024));
        assert_eq!(resident_bytes("Name:\tkassa\n"), None);
        assert_eq!(resident_bytes("VmRSS:\t  lots kB\n"), None);
    }

    #[test]
    fn cpu_time_is_counted_after_the_command_name() {
        // A command name with a space and a parenthesis must not shift the fields.
        let stat = "4242 (kassa (x) y) S 1 4242 4242 0 -1 4194560 1000 0 0 0 250 50 0 0 20 0 9 0 \
                    12345 100000000 2000 18446744073709551615";
        assert_eq!(cpu_seconds(stat), Some(3.0));
        assert_eq!(cpu_seconds("4242 (kassa) S 1"), None);
        assert_eq!(cpu_seconds("no name here"), None);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn this_process_can_be_read_on_linux() {
        let stats = ProcessStats::read();
        assert!(stats.resident_memory_bytes.is_some_and(|b| b > 0));
        assert!(stats.cpu_seconds.is_some());
        assert!(stats.open_fds.is_some_and(|n| n >= 3));
        let peak = peak_resident_bytes().expect("VmHWM");
        assert!(peak >= stats.resident_memory_bytes.unwrap_or(0) / 2 && peak > 0);
        assert!(cpu_seconds_of(Path::new("/proc/thread-self")).is_some());
    }
}
