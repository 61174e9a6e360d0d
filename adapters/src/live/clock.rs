//! Data time: ASTERIX says the time of day (UTC seconds since midnight), the wire says
//! seconds since the run epoch. The conversion needs the day, and must survive midnight.

/// Nanoseconds in one day.
pub const DAY_NS: i64 = 86_400_000_000_000;

/// Converts ASTERIX times of day into the run's data time (`t`, seconds since the epoch).
///
/// The day is the UTC day the feed's times of day count from. When the times of day jump
/// back by more than 12 h the day has turned (midnight); a time of day more than 12 h after
/// the latest one is a late record of the previous day.
#[derive(Debug, Clone)]
pub struct TodClock {
    epoch_unix_ns: i64,
    day_unix_ns: i64,
    last_tod: Option<f64>,
}

impl TodClock {
    /// A clock for a feed whose times of day count from `day_unix_ns` (a UTC midnight), for
    /// a run whose epoch is `epoch_unix_ns`.
    pub fn new(epoch_unix_ns: i64, day_unix_ns: i64) -> Self {
        Self {
            epoch_unix_ns,
            day_unix_ns,
            last_tod: None,
        }
    }

    /// A clock for a live feed: the day is today's UTC midnight, or yesterday's when the
    /// first time of day is more than 12 h after the wall clock's.
    pub fn live(epoch_unix_ns: i64, now_unix_ns: i64) -> Self {
        Self::new(epoch_unix_ns, now_unix_ns - now_unix_ns.rem_euclid(DAY_NS))
            .anchored_at(now_unix_ns)
    }

    fn anchored_at(mut self, now_unix_ns: i64) -> Self {
        // The first record decides the day against `now`, through `last_tod`.
        self.last_tod = Some(now_unix_ns.rem_euclid(DAY_NS) as f64 * 1e-9);
        self
    }

    /// The data time of a record stamped `tod_s`; `None` for a time of day that is not a
    /// finite number in [0, 86400].
    pub fn t(&mut self, tod_s: f64) -> Option<f64> {
        if !(tod_s.is_finite() && (0.0..=86_400.0).contains(&tod_s)) {
            return None;
        }
        let mut day = self.day_unix_ns;
        if let Some(last) = self.last_tod {
            if tod_s < last - 43_200.0 {
                self.day_unix_ns += DAY_NS;
                day = self.day_unix_ns;
                self.last_tod = Some(tod_s);
            } else if tod_s > last + 43_200.0 {
                day -= DAY_NS;
            } else if tod_s > last {
                self.last_tod = Some(tod_s);
            }
        } else {
            self.last_tod = Some(tod_s);
        }
        Some((day - self.epoch_unix_ns) as f64 * 1e-9 + tod_s)
    }
}

/// The UTC time of day (s) of data time `t` of a run whose epoch is `epoch_unix_ns`.
pub fn tod_of(epoch_unix_ns: i64, t: f64) -> f64 {
    let ns = iapz_proto::t_to_unix_ns(epoch_unix_ns, t);
    ns.rem_euclid(DAY_NS) as f64 * 1e-9
}

/// Now, in nanoseconds since the Unix epoch (0 if the clock is before 1970).
pub fn now_unix_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    const EPOCH: i64 = 1_633_564_800_000_000_000; // 2021-10-07T00:00:00Z

    #[test]
    fn time_of_day_to_data_time_across_midnight() {
        let mut c = TodClock::new(EPOCH, EPOCH);
        assert_eq!(c.t(43_800.5), Some(43_800.5));
        assert_eq!(c.t(86_399.0), Some(86_399.0));
        assert_eq!(c.t(1.0), Some(86_401.0), "the day turned");
        assert_eq!(
            c.t(86_399.5),
            Some(86_399.5),
            "a late record of the day before"
        );
        assert_eq!(c.t(2.0), Some(86_402.0));
        assert_eq!(c.t(f64::NAN), None);
        assert_eq!(c.t(-1.0), None);
        assert!((tod_of(EPOCH, 86_402.25) - 2.25).abs() < 1e-9);
    }

    #[test]
    fn a_live_clock_takes_the_day_from_the_wall_clock() {
        let now = EPOCH + DAY_NS + 10 * 1_000_000_000; // 00:00:10 on the next day
        let mut c = TodClock::live(EPOCH, now);
        assert_eq!(c.t(9.0), Some(86_409.0));
        let mut c = TodClock::live(EPOCH, now);
        assert_eq!(c.t(86_395.0), Some(86_395.0), "sent just before midnight");
    }
}
