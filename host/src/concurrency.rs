//! How many account exports run at once against the account API: one more when the limit was
//! reached and answers kept their pace, half as many after a 429 or when answers slow down
//! (additive increase, multiplicative decrease, as Vector's adaptive request concurrency does),
//! within the configured maximum. A limit that grows while nothing asked for more would be a
//! number that means nothing: it only grows with evidence that more would have been used.

use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::Notify;

/// Exports started at once before anything was measured: most accounts' lists fit in one wave
/// (every account in it pays the wide-area round trips at the same time), and a 429 halves it.
pub const INITIAL: usize = 16;
/// Answers this much slower than the pace seen so far count as the API slowing down.
const SLOWDOWN: f64 = 2.0;
/// Weight of a new measurement in the pace (an exponentially weighted mean).
const PACE_WEIGHT: f64 = 0.25;

/// What one finished export says about the API's state.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Signal {
    /// It met HTTP 429.
    pub throttled: bool,
    /// Its mean time per request, in milliseconds (its wall time over its requests).
    pub per_request_ms: f64,
}

#[derive(Debug)]
struct State {
    limit: usize,
    in_flight: usize,
    reached: usize,
    /// Every place was taken at some moment since the limit last changed: the evidence that a
    /// higher limit would have been used.
    saturated: bool,
    pace_ms: Option<f64>,
}

/// The adaptive limit, shared by the export tasks of one run.
#[derive(Debug)]
pub struct AdaptiveLimit {
    state: Mutex<State>,
    released: Notify,
    max: usize,
}

/// A running export's place; give it back with [`Permit::done`] (dropping it gives it back
/// without a measurement).
pub struct Permit {
    limit: Arc<AdaptiveLimit>,
    measured: bool,
}

impl AdaptiveLimit {
    /// Starts at [`INITIAL`] (or `max`, when smaller).
    pub fn new(max: usize) -> Arc<AdaptiveLimit> {
        let max = max.max(1);
        let limit = INITIAL.min(max);
        Arc::new(AdaptiveLimit {
            state: Mutex::new(State { limit, in_flight: 0, reached: 0, saturated: false, pace_ms: None }),
            released: Notify::new(),
            max,
        })
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Waits for a place under the current limit.
    pub async fn acquire(self: &Arc<Self>) -> Permit {
        loop {
            // Registered before the check, so that a release in between is not missed.
            let released = self.released.notified();
            tokio::pin!(released);
            released.as_mut().enable();
            {
                let mut state = self.state();
                if state.in_flight < state.limit {
                    state.in_flight += 1;
                    state.reached = state.reached.max(state.in_flight);
                    state.saturated |= state.in_flight == state.limit;
                    return Permit { limit: self.clone(), measured: false };
                }
            }
            released.await;
        }
    }

    /// The most exports that ran at once so far.
    pub fn reached(&self) -> usize {
        self.state().reached
    }

    /// The current limit.
    pub fn current(&self) -> usize {
        self.state().limit
    }

    fn release(&self, signal: Option<Signal>) {
        let mut state = self.state();
        state.in_flight = state.in_flight.saturating_sub(1);
        if let Some(signal) = signal.filter(|s| s.per_request_ms.is_finite() && s.per_request_ms >= 0.0) {
            let slowed = state.pace_ms.is_some_and(|pace| signal.per_request_ms > SLOWDOWN * pace.max(1.0));
            if signal.throttled || slowed {
                state.limit = (state.limit / 2).max(1);
                state.saturated = false;
            } else if state.saturated && state.limit < self.max {
                // Vector's rule: up only when the limit was reached and no back pressure was seen.
                state.limit += 1;
                state.saturated = false;
            }
            // The pace follows what was measured, slowdowns included, so that a lasting slower
            // pace is the new normal rather than halving for ever.
            state.pace_ms = Some(match state.pace_ms {
                Some(pace) => pace + PACE_WEIGHT * (signal.per_request_ms - pace),
                None => signal.per_request_ms,
            });
        }
        drop(state);
        self.released.notify_waiters();
    }
}

impl Permit {
    /// Gives the place back with what the export saw.
    pub fn done(mut self, signal: Signal) {
        self.measured = true;
        self.limit.release(Some(signal));
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        if !self.measured {
            self.limit.release(None);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STEADY: Signal = Signal { throttled: false, per_request_ms: 30.0 };

    /// Runs `exports` exports `at_once` at a time, each done with `signal`.
    async fn run(limit: &Arc<AdaptiveLimit>, exports: usize, at_once: usize, signal: Signal) {
        for _ in 0..exports / at_once {
            let mut permits = Vec::new();
            for _ in 0..at_once {
                permits.push(limit.acquire().await);
            }
            for permit in permits {
                permit.done(signal);
            }
        }
    }

    #[tokio::test]
    async fn the_limit_grows_only_when_it_was_reached_and_answers_kept_their_pace() {
        let limit = AdaptiveLimit::new(20);
        assert_eq!(limit.current(), INITIAL);
        // One export at a time never reaches the limit: no evidence that more would be used.
        run(&limit, 20, 1, STEADY).await;
        assert_eq!((limit.current(), limit.reached()), (INITIAL, 1), "one at a time here");
        // A wave that takes every place: one more.
        run(&limit, INITIAL, INITIAL, STEADY).await;
        assert_eq!(limit.current(), INITIAL + 1);
        // Waves at the limit, up to the maximum and never above it.
        for _ in 0..10 {
            let at_once = limit.current();
            run(&limit, at_once, at_once, STEADY).await;
        }
        assert_eq!(limit.current(), 20);
        assert_eq!(AdaptiveLimit::new(2).current(), 2, "never above the maximum");
    }

    #[tokio::test]
    async fn a_429_or_a_slowdown_halves_it() {
        let limit = AdaptiveLimit::new(32);
        for _ in 0..8 {
            let at_once = limit.current();
            run(&limit, at_once, at_once, STEADY).await;
        }
        assert_eq!(limit.current(), 24);
        limit.acquire().await.done(Signal { throttled: true, per_request_ms: 30.0 });
        assert_eq!(limit.current(), 12);
        limit.acquire().await.done(Signal { throttled: false, per_request_ms: 200.0 });
        assert_eq!(limit.current(), 6);
    }

    #[tokio::test]
    async fn no_more_than_the_limit_run_at_once() {
        let limit = AdaptiveLimit::new(2);
        let first = limit.acquire().await;
        let _second = limit.acquire().await;
        assert_eq!(limit.reached(), 2);
        let third = tokio::time::timeout(std::time::Duration::from_millis(50), limit.acquire()).await;
        assert!(third.is_err(), "a third waits while two run");
        drop(first);
        let third = tokio::time::timeout(std::time::Duration::from_secs(1), limit.acquire()).await;
        assert!(third.is_ok(), "and starts when one ends");
    }
}
