//! Calendar arithmetic and the two ISO 8601 renderings the product prints: AWS's
//! (`…Z`, for `aws:CurrentTime`, `aws:TokenIssueTime` and STS responses) and the AWS
//! CLI's (`…+00:00`, for IAM read commands). Unix seconds in, text out; no clock.

/// Days since 1970-01-01 to (year, month, day) (Howard Hinnant's `civil_from_days`).
pub fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// (year, month, day) to days since 1970-01-01 (Howard Hinnant's `days_from_civil`).
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn render(t: i64, zone: &str) -> String {
    let (y, m, d) = civil_from_days(t.div_euclid(86_400));
    let secs = t.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}{zone}",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// Unix seconds as AWS writes them in condition keys and STS responses:
/// `2026-11-28T06:20:00Z`.
pub fn iso8601(t: i64) -> String {
    render(t, "Z")
}

/// Unix seconds as the AWS CLI prints IAM dates: `2026-11-28T06:11:05+00:00`.
pub fn iso8601_offset(t: i64) -> String {
    render(t, "+00:00")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aws_format() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso8601(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(iso8601(1_798_675_200), "2026-12-31T00:00:00Z");
        assert_eq!(iso8601(1_795_852_800), "2026-11-28T08:00:00Z");
        assert_eq!(iso8601(951_782_400 + 3661), "2000-02-29T01:01:01Z");
    }

    #[test]
    fn cli_format() {
        assert_eq!(iso8601_offset(0), "1970-01-01T00:00:00+00:00");
        assert_eq!(iso8601_offset(1_795_000_000), "2026-11-18T11:06:40+00:00");
    }

    #[test]
    fn days_round_trip() {
        for days in [-800_000, -1, 0, 1, 10_957, 11_016, 20_788, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days, "{y}-{m}-{d}");
        }
        assert_eq!(days_from_civil(2000, 2, 29), 11_016);
        assert_eq!(days_from_civil(-1, 12, 31), -719_529);
    }
}
