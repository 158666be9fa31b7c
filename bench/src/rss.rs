//! The server's memory, from /proc/PID/status: VmRSS sampled while a run
//! lasts, and VmHWM (the kernel's own peak RSS) at the end.

use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

/// How often VmRSS is read while a run lasts.
const SAMPLE_INTERVAL_MS: u64 = 100;
/// Most samples one run takes (an hour at the interval above).
const SAMPLES_MAX: u64 = 36_000;

/// Peak memory of a process, in kB.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Peak {
    /// Highest VmRSS sampled.
    pub rss_kb: Option<u64>,
    /// VmHWM when sampling stopped.
    pub hwm_kb: Option<u64>,
}

/// Reads `VmRSS` and `VmHWM` (kB) from the text of /proc/PID/status.
pub fn parse_status(text: &str) -> Peak {
    let field = |name: &str| {
        text.lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
    };
    Peak {
        rss_kb: field("VmRSS:"),
        hwm_kb: field("VmHWM:"),
    }
}

fn read(pid: u32) -> Peak {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .map(|text| parse_status(&text))
        .unwrap_or_default()
}

pub struct Sampler {
    stop: watch::Sender<bool>,
    task: JoinHandle<Peak>,
}

impl Sampler {
    pub fn spawn(pid: u32) -> Sampler {
        let (stop, mut stopped) = watch::channel(false);
        let task = tokio::spawn(async move {
            let mut peak = read(pid);
            for _ in 0..SAMPLES_MAX {
                let tick = tokio::time::sleep(Duration::from_millis(SAMPLE_INTERVAL_MS));
                tokio::select! {
                    () = tick => {}
                    _ = stopped.changed() => break,
                }
                let now = read(pid);
                peak.rss_kb = peak.rss_kb.max(now.rss_kb);
                peak.hwm_kb = now.hwm_kb.or(peak.hwm_kb);
            }
            let last = read(pid);
            Peak {
                rss_kb: peak.rss_kb.max(last.rss_kb),
                hwm_kb: last.hwm_kb.or(peak.hwm_kb),
            }
        });
        Sampler { stop, task }
    }

    pub async fn stop(self) -> Peak {
        let _ = self.stop.send(true);
        self.task.await.unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_fields_are_read_in_kb() {
        let text = "Name:\tbetledger\nVmHWM:\t  123456 kB\nVmRSS:\t   98765 kB\nThreads:\t4\n";
        assert_eq!(
            parse_status(text),
            Peak {
                rss_kb: Some(98_765),
                hwm_kb: Some(123_456)
            }
        );
        assert_eq!(parse_status("Name:\tx\n"), Peak::default());
    }
}
