//! Where the CPU went during a run's measured window: the whole machine
//! (/proc/stat), the load generator (this process, or pgbench) and the
//! server (/proc/PID/stat). On a 2-core machine shared by the server,
//! Postgres and the load generator, this split says more than any one
//! figure about why a run got the throughput it got.

use std::time::Instant;

use serde::{Deserialize, Serialize};

/// Clock ticks per second of /proc's CPU times (USER_HZ), 100 on Linux
/// whatever the kernel's own tick rate.
const TICKS_PER_S: f64 = 100.0;

/// Busy and total CPU time of the machine, in ticks, from the first line
/// of /proc/stat (`cpu user nice system idle iowait irq softirq steal ...`).
pub fn parse_machine(stat: &str) -> Option<(u64, u64)> {
    let line = stat.lines().find(|l| l.starts_with("cpu "))?;
    let values: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|v| v.parse().ok())
        .collect();
    // Guest time is already counted in user time.
    let total: u64 = values.iter().take(8).sum();
    let idle = values.get(3)? + values.get(4).copied().unwrap_or(0);
    Some((total - idle, total))
}

/// User plus system time of a process, in ticks, from /proc/PID/stat.
/// The name in parentheses may hold spaces, so fields are counted after it.
pub fn parse_process(stat: &str) -> Option<u64> {
    let after_name = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // Fields 14 and 15 of the line (utime, stime); the state, field 3,
    // is the first one after the name.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

fn machine() -> Option<(u64, u64)> {
    parse_machine(&std::fs::read_to_string("/proc/stat").ok()?)
}

fn process(pid: u32) -> Option<u64> {
    parse_process(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// User plus system time of the process and of its children it has
/// waited for (fields 14 to 17 of /proc/PID/stat), in ticks.
pub fn parse_process_with_children(stat: &str) -> Option<u64> {
    let after_name = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    fields
        .get(11..15)?
        .iter()
        .map(|v| v.parse::<u64>().ok())
        .sum()
}

/// CPU time, in ticks, that Postgres on this machine has used: every live
/// `postgres` process's own time, plus what its exited backends used (the
/// postmaster waits for them, so it is in its children's time). Compared
/// before and after a phase it says what the phase cost Postgres, however
/// busy the machine was with other work.
pub fn postgres_ticks() -> Option<u64> {
    let mut total = 0;
    let mut found = false;
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(comm) = std::fs::read_to_string(format!("/proc/{pid}/comm")) else {
            continue;
        };
        if comm.trim() != "postgres" {
            continue;
        }
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // The postmaster is the one whose parent is not postgres; its
        // children's time holds the backends that have exited.
        let ppid_is_postgres = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|ppid| std::fs::read_to_string(format!("/proc/{ppid}/comm")).ok())
            .is_some_and(|c| c.trim() == "postgres");
        let ticks = if ppid_is_postgres {
            parse_process(&stat)
        } else {
            parse_process_with_children(&stat)
        };
        if let Some(t) = ticks {
            total += t;
            found = true;
        }
    }
    found.then_some(total)
}

/// This process's CPU time, in ticks.
pub fn own_ticks() -> Option<u64> {
    process(std::process::id())
}

/// Seconds of CPU in `ticks`.
pub fn ticks_to_s(ticks: u64) -> f64 {
    ticks as f64 / TICKS_PER_S
}

/// Cores busy on average over a window (1.0 = one core all the time).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CpuUsage {
    pub machine_cores: f64,
    /// The load generator: `bench http` itself, or pgbench.
    pub client_cores: Option<f64>,
    /// `betledger serve`, when its pid is known.
    pub server_cores: Option<f64>,
}

impl CpuUsage {
    pub fn line(&self) -> String {
        let part = |name: &str, v: Option<f64>| v.map(|c| format!(", {name} {c:.2}"));
        let rest = self.machine_cores
            - self.client_cores.unwrap_or(0.0)
            - self.server_cores.unwrap_or(0.0);
        format!(
            "{:.2} cores busy{}{}, the rest (Postgres, anything else) {rest:.2}",
            self.machine_cores,
            part("load generator", self.client_cores).unwrap_or_default(),
            part("server", self.server_cores).unwrap_or_default(),
        )
    }
}

/// CPU counters at one moment.
#[derive(Debug, Clone, Copy)]
pub struct Snapshot {
    at: Instant,
    machine_busy: Option<u64>,
    client: Option<u64>,
    server: Option<u64>,
}

impl Snapshot {
    pub fn take(client_pid: Option<u32>, server_pid: Option<u32>) -> Snapshot {
        Snapshot {
            at: Instant::now(),
            machine_busy: machine().map(|(busy, _)| busy),
            client: client_pid.and_then(process),
            server: server_pid.and_then(process),
        }
    }

    /// Usage between `self` and a later snapshot; None if /proc was not
    /// readable.
    pub fn usage_until(&self, later: &Snapshot) -> Option<CpuUsage> {
        let seconds = later.at.duration_since(self.at).as_secs_f64();
        if seconds <= 0.0 {
            return None;
        }
        let cores = |a: Option<u64>, b: Option<u64>| {
            Some(b?.saturating_sub(a?) as f64 / TICKS_PER_S / seconds)
        };
        Some(CpuUsage {
            machine_cores: cores(self.machine_busy, later.machine_busy)?,
            client_cores: cores(self.client, later.client),
            server_cores: cores(self.server, later.server),
        })
    }
}

/// Measures from `from` to `to` in the background.
pub fn spawn_window(
    from: Instant,
    to: Instant,
    client_pid: Option<u32>,
    server_pid: Option<u32>,
) -> tokio::task::JoinHandle<Option<CpuUsage>> {
    tokio::spawn(async move {
        tokio::time::sleep_until(from.into()).await;
        let start = Snapshot::take(client_pid, server_pid);
        tokio::time::sleep_until(to.into()).await;
        start.usage_until(&Snapshot::take(client_pid, server_pid))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn machine_time_is_busy_and_total_ticks() {
        let stat = "cpu  100 5 50 800 20 3 2 0 0 0\ncpu0 50 2 25 400 10 1 1 0 0 0\n";
        assert_eq!(parse_machine(stat), Some((160, 980)));
    }

    #[test]
    fn process_time_is_user_plus_system() {
        let stat = "4242 (tokio (x) y) S 1 4242 4242 0 -1 4194560 1000 0 0 0 731 269 0 0 20 0 4 0";
        assert_eq!(parse_process(stat), Some(1000));
        assert_eq!(parse_process("garbage"), None);
    }

    #[test]
    fn children_time_is_added_for_the_postmaster() {
        let stat = "4242 (postgres) S 1 4242 4242 0 -1 4194560 1000 0 0 0 731 269 40 60 20 0 4 0";
        assert_eq!(parse_process_with_children(stat), Some(1100));
    }
}
