//! When approvers get a reminder: a quarter of the approval window before it closes, at most
//! 15 minutes and at least one second before. The workflow waits `remind_after` seconds for a
//! decision, sends the reminder, then waits the remaining `lead` seconds.

pub const MAX_LEAD_SECONDS: u64 = 15 * 60;

/// `(remind_after, lead)` for an approval window of `timeout_seconds`; they add up to it.
pub fn schedule(timeout_seconds: u64) -> (u64, u64) {
    let timeout = timeout_seconds.max(2);
    let lead = (timeout / 4).clamp(1, MAX_LEAD_SECONDS);
    (timeout - lead, lead)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules_add_up_and_stay_in_bounds() {
        assert_eq!(schedule(3600), (2700, 900));
        assert_eq!(schedule(86_400), (85_500, 900));
        assert_eq!(schedule(600), (450, 150));
        assert_eq!(schedule(2), (1, 1));
        assert_eq!(schedule(0), (1, 1));
        for t in 2..5000 {
            let (a, l) = schedule(t);
            assert_eq!(a + l, t);
            assert!(a >= 1 && l >= 1);
        }
    }
}
