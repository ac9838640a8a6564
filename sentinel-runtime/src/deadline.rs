//! Deadlines: every call the client makes ends by one instant, and every request within it
//! is given only the time that is left.

use std::time::{Duration, Instant};

/// `now + timeout`, saturating far in the future instead of overflowing on a huge timeout.
pub(crate) fn deadline_after(timeout: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(timeout)
        .unwrap_or_else(|| now + Duration::from_secs(100 * 365 * 24 * 3600))
}

/// The time left before `deadline`; zero once it has passed.
pub(crate) fn time_left(deadline: Instant) -> Duration {
    deadline.saturating_duration_since(Instant::now())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_huge_timeout_saturates_instead_of_overflowing() {
        let deadline = deadline_after(Duration::MAX);
        assert!(time_left(deadline) > Duration::from_secs(50 * 365 * 24 * 3600));
    }

    #[test]
    fn a_past_deadline_leaves_no_time() {
        let deadline = deadline_after(Duration::ZERO);
        std::thread::sleep(Duration::from_millis(2));
        assert_eq!(time_left(deadline), Duration::ZERO);
    }
}
