//! The span clock: wall-clock time at the cost of reading the CPU's
//! time-stamp counter.
//!
//! A span reads the clock three times or more (start, each event, end), and
//! `SystemTime::now` costs about 40 ns on a virtual machine, which is a
//! fifth of what recording a whole span costs. [`now`] reads the
//! monotonic counter instead (`quanta`, which uses the time-stamp counter
//! where the CPU keeps it invariant, and the OS monotonic clock elsewhere)
//! and adds the time elapsed to a wall-clock reading taken at most
//! [`ANCHOR_WINDOW`] earlier on the same thread.
//!
//! What that gives:
//! - timestamps within a few microseconds of `SystemTime::now` (the counter
//!   drifts from the wall clock by its calibration error and by NTP's
//!   slewing, both parts per million, over at most one window);
//! - a wall-clock step (NTP, a manual change) shows up within one window;
//! - within a window, time on one thread never goes back; at the start of a
//!   new one it can step back by the drift above, and a span's end is never
//!   before its start either way (ending clamps it).

use std::cell::Cell;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

/// How long a wall-clock reading serves a thread before it reads the wall
/// clock again.
pub const ANCHOR_WINDOW: Duration = Duration::from_millis(10);

/// [`ANCHOR_WINDOW`] in nanoseconds.
const WINDOW_NANOS: u64 = ANCHOR_WINDOW.as_nanos() as u64;

/// A wall-clock reading and the counter's raw value at that moment.
#[derive(Clone, Copy)]
struct Anchor {
    wall: SystemTime,
    raw: u64,
}

thread_local! {
    static ANCHOR: Cell<Option<Anchor>> = const { Cell::new(None) };
}

fn counter() -> &'static quanta::Clock {
    static CLOCK: OnceLock<quanta::Clock> = OnceLock::new();
    CLOCK.get_or_init(quanta::Clock::new)
}

/// Calibrates the counter (under a millisecond, once per process), so the
/// first span does not pay for it. Building a tracer calls this.
pub fn calibrate() {
    let _ = counter();
}

/// The current wall-clock time, as spans record it. See the module docs for
/// how it relates to `SystemTime::now`.
#[inline]
pub fn now() -> SystemTime {
    let clock = counter();
    // The raw counter, scaled only as the distance from the anchor: one
    // multiplication, and the window is a comparison of integers.
    let raw = clock.raw();
    ANCHOR
        .try_with(|cell| {
            if let Some(a) = cell.get() {
                if raw > a.raw {
                    let elapsed = clock.delta_as_nanos(a.raw, raw);
                    if elapsed < WINDOW_NANOS {
                        // Under a second: no carry into whole seconds to work out.
                        #[allow(clippy::cast_possible_truncation)]
                        let elapsed = Duration::new(0, elapsed as u32);
                        if let Some(t) = a.wall.checked_add(elapsed) {
                            return t;
                        }
                    }
                }
            }
            reanchor(cell, clock)
        })
        // The thread is exiting and its anchor is gone: read the wall clock.
        .unwrap_or_else(|_| SystemTime::now())
}

/// Counter readings around a wall-clock reading further apart than this
/// (in nanoseconds) mean the thread was preempted in between: the pair is
/// read again.
const TIGHT_NANOS: u64 = 20_000;

#[cold]
fn reanchor(cell: &Cell<Option<Anchor>>, clock: &quanta::Clock) -> SystemTime {
    // The counter is read on both sides of the wall clock, and the anchor
    // is the middle, so a thread preempted between the two reads does not
    // shift every timestamp of the next window by the time it was off the
    // CPU. Up to three tries, keeping the tightest.
    let read = || {
        let before = clock.raw();
        let wall = SystemTime::now();
        let after = clock.raw();
        (
            clock.delta_as_nanos(before, after),
            Anchor {
                wall,
                raw: before + after.saturating_sub(before) / 2,
            },
        )
    };
    let (mut gap, mut anchor) = read();
    for _ in 1..3 {
        if gap <= TIGHT_NANOS {
            break;
        }
        let (g, a) = read();
        if g < gap {
            (gap, anchor) = (g, a);
        }
    }
    cell.set(Some(anchor));
    anchor.wall
}

#[cfg(test)]
mod tests {
    use super::*;

    /// How far a reading may fall outside the `SystemTime::now` readings
    /// taken just before and after it: the counter's drift over one window
    /// is microseconds; a wrong scale or a missing anchor is off by far more.
    const TOLERANCE: Duration = Duration::from_micros(200);

    fn check_between_system_readings(rounds: usize) {
        for _ in 0..rounds {
            let before = SystemTime::now();
            let t = now();
            let after = SystemTime::now();
            assert!(
                t + TOLERANCE >= before && t <= after + TOLERANCE,
                "clock reading {t:?} outside [{before:?}, {after:?}] by more than {TOLERANCE:?}"
            );
        }
    }

    #[test]
    fn agrees_with_the_system_clock() {
        calibrate();
        check_between_system_readings(100_000);
    }

    #[test]
    fn agrees_across_anchor_windows() {
        // Each sleep outlasts a window, so every round re-anchors and then
        // reads from the new anchor.
        for _ in 0..5 {
            std::thread::sleep(ANCHOR_WINDOW + Duration::from_millis(2));
            check_between_system_readings(1_000);
        }
    }

    #[test]
    fn elapsed_time_matches_the_system_clock() {
        // Each reading of ours lies between two system readings, so a
        // thread preempted next to it (a loaded machine) widens the bounds
        // instead of failing the test.
        let between = || (SystemTime::now(), now(), SystemTime::now());
        let (a0, t0, b0) = between();
        std::thread::sleep(Duration::from_millis(30));
        let (a1, t1, b1) = between();
        let ours = t1.duration_since(t0).unwrap_or_default();
        let least = a1.duration_since(b0).unwrap_or_default();
        let most = b1.duration_since(a0).unwrap_or_default();
        let slack = Duration::from_millis(1);
        assert!(
            ours + slack >= least && ours <= most + slack,
            "30 ms sleep: span clock measured {ours:?}, system clock between {least:?} and {most:?}"
        );
    }

    #[test]
    fn each_thread_has_its_own_anchor() {
        let handles: Vec<_> = (0..4)
            .map(|_| std::thread::spawn(|| check_between_system_readings(10_000)))
            .collect();
        for h in handles {
            h.join().unwrap();
        }
    }
}
