//! UTC dates and times for people: how captures print their times and how dates are given
//! on the command line, without a calendar dependency (proleptic Gregorian, Howard Hinnant's
//! civil-date algorithms).

const NS_PER_S: i64 = 1_000_000_000;
const NS_PER_DAY: i64 = 86_400 * NS_PER_S;

/// A UTC time (ns since 1970) as `YYYY-MM-DDTHH:MM:SS.mmmZ`.
pub fn utc(ns: i64) -> String {
    let secs = ns.div_euclid(NS_PER_S);
    let ms = ns.rem_euclid(NS_PER_S) / 1_000_000;
    let (days, sod) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{ms:03}Z",
        sod / 3600,
        sod % 3600 / 60,
        sod % 60
    )
}

/// `YYYY-MM-DD` or `YYYY-MM-DDTHH:MM:SS[.fff]Z` as ns since 1970 (UTC).
pub fn parse(s: &str) -> Result<i64, String> {
    let bad = || format!("{s:?}: expected YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ");
    let (date, time) = match s.split_once('T') {
        Some((d, t)) => (d, Some(t.strip_suffix('Z').ok_or_else(bad)?)),
        None => (s, None),
    };
    let mut it = date.split('-').map(|x| x.parse::<i64>().map_err(|_| bad()));
    let (y, m, d) = match (it.next(), it.next(), it.next(), it.next()) {
        (Some(y), Some(m), Some(d), None) => (y?, m?, d?),
        _ => return Err(bad()),
    };
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return Err(bad());
    }
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let midnight = (era * 146_097 + doe - 719_468) * NS_PER_DAY;
    let Some(time) = time else {
        return Ok(midnight);
    };
    let mut hms = time.split(':');
    let (h, mi, sec) = match (hms.next(), hms.next(), hms.next(), hms.next()) {
        (Some(h), Some(mi), Some(sec), None) => (h, mi, sec),
        _ => return Err(bad()),
    };
    let h: i64 = h.parse().map_err(|_| bad())?;
    let mi: i64 = mi.parse().map_err(|_| bad())?;
    let sec: f64 = sec.parse().map_err(|_| bad())?;
    if !(0..24).contains(&h) || !(0..60).contains(&mi) || !(0.0..61.0).contains(&sec) {
        return Err(bad());
    }
    Ok(midnight + (h * 3600 + mi * 60) * NS_PER_S + (sec * 1e9).round() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_format_and_parse_back() {
        assert_eq!(utc(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(utc(1_633_608_125_250_000_000), "2021-10-07T12:02:05.250Z");
        assert_eq!(parse("2021-10-07"), Ok(1_633_564_800_000_000_000));
        assert_eq!(
            parse("2021-10-07T12:02:05.25Z"),
            Ok(1_633_608_125_250_000_000)
        );
        assert_eq!(parse("2025-01-01T00:00:00Z"), Ok(1_735_689_600_000_000_000));
        assert!(parse("2021-13-07").is_err());
        assert!(parse("yesterday").is_err());
    }
}
