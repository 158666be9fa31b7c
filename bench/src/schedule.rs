//! When each request is sent: as fast as the connections allow (closed
//! loop), or at a fixed rate (open loop, `--rate`).
//!
//! At a fixed rate, request `i` is due at `start + i / rate`, whatever
//! happened to earlier requests. Workers take the next index from a shared
//! counter, so a slow server makes requests late instead of making the
//! client send fewer of them; their latency is measured from the time they
//! were due, which is what a user arriving on schedule would have waited.
//! Measuring from the actual send time instead would hide the wait
//! (coordinated omission).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Highest rate accepted, in requests per second.
pub const RATE_MAX_PER_S: f64 = 1_000_000.0;

/// How far into the schedule request `index` is due.
pub fn offset(index: u64, rate_per_s: f64) -> Duration {
    // f64 holds integers exactly up to 2^53: far more requests than a
    // bounded run can send.
    Duration::from_secs_f64(index as f64 / rate_per_s)
}

/// What a worker does next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    /// Send now; `due` is when the request was due. `on_time` is false
    /// when the request was already late when a worker took it (every
    /// connection was busy): its latency is then counted from `due`.
    Send { due: Instant, on_time: bool },
    /// The run is over.
    Stop,
}

/// A run's timetable, shared by its workers.
#[derive(Debug)]
pub struct Schedule {
    start: Instant,
    end: Instant,
    rate_per_s: Option<f64>,
    next: AtomicU64,
}

impl Schedule {
    /// `rate_per_s` None means closed loop. Requests are sent in
    /// `[start, end)`.
    pub fn new(start: Instant, end: Instant, rate_per_s: Option<f64>) -> Self {
        Self {
            start,
            end,
            rate_per_s,
            next: AtomicU64::new(0),
        }
    }

    /// The next slot for a worker that is free at `now`.
    pub fn next(&self, now: Instant) -> Slot {
        match self.rate_per_s {
            None if now >= self.end => Slot::Stop,
            None => Slot::Send {
                due: now.max(self.start),
                on_time: true,
            },
            Some(rate) => {
                let index = self.next.fetch_add(1, Ordering::Relaxed);
                let due = self.start + offset(index, rate);
                if due >= self.end {
                    return Slot::Stop;
                }
                Slot::Send {
                    due,
                    on_time: due >= now,
                }
            }
        }
    }
}

/// When latency is counted from: the time the request was due if it was
/// late because every connection was busy, else the time it was sent. A
/// worker that slept until a due time wakes a little after it (the timer's
/// granularity is about a millisecond); that delay is the client's, not the
/// server's, and is not counted.
pub fn latency_origin(slot_due: Instant, on_time: bool, sent: Instant) -> Instant {
    if on_time {
        sent
    } else {
        slot_due
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_follow_the_rate() {
        assert_eq!(offset(0, 1000.0), Duration::ZERO);
        assert_eq!(offset(1000, 1000.0), Duration::from_secs(1));
        assert_eq!(offset(3, 2.0), Duration::from_millis(1500));
    }

    #[test]
    fn an_open_loop_hands_out_each_slot_once_and_stops_at_the_end() {
        let start = Instant::now();
        let schedule = Schedule::new(start, start + Duration::from_millis(10), Some(1000.0));
        let mut dues = Vec::new();
        // Bounded: 10 ms at 1000/s is 10 slots; 100 tries is plenty.
        for _ in 0..100 {
            match schedule.next(start) {
                Slot::Send { due, on_time } => {
                    assert!(on_time, "a slot due later is on time");
                    dues.push(due - start);
                }
                Slot::Stop => break,
            }
        }
        let expected: Vec<Duration> = (0..10).map(Duration::from_millis).collect();
        assert_eq!(dues, expected);
    }

    #[test]
    fn a_late_slot_counts_from_its_due_time() {
        let start = Instant::now();
        let schedule = Schedule::new(start, start + Duration::from_secs(1), Some(10.0));
        let late = start + Duration::from_millis(350);
        let first = schedule.next(late);
        assert_eq!(
            first,
            Slot::Send {
                due: start,
                on_time: false
            }
        );
        assert_eq!(latency_origin(start, false, late), start);
        assert_eq!(latency_origin(start, true, late), late);
    }

    #[test]
    fn a_closed_loop_sends_until_the_end() {
        let start = Instant::now();
        let end = start + Duration::from_secs(1);
        let schedule = Schedule::new(start, end, None);
        assert!(matches!(schedule.next(start), Slot::Send { .. }));
        assert_eq!(schedule.next(end), Slot::Stop);
    }
}
