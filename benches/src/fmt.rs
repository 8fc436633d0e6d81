//! Formatting without allocation: civil dates, numbers, CSV fields and JSON strings.

/// Days since 1970-01-01 of a civil date (proleptic Gregorian).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let m = m as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Civil date of a day number.
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Parses `YYYY-MM-DD` into a day number.
pub fn parse_ymd(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let y: i64 = s[0..4].parse().ok()?;
    let m: u32 = s[5..7].parse().ok()?;
    let d: u32 = s[8..10].parse().ok()?;
    if !(1..=12).contains(&m) || d == 0 || d > 31 {
        return None;
    }
    let days = days_from_civil(y, m, d);
    (civil_from_days(days) == (y, m, d)).then_some(days)
}

/// Day of the week, 0 = Sunday.
pub fn weekday(days: i64) -> i64 {
    (days + 4).rem_euclid(7)
}

/// Whether `days` is the day US clocks spring forward (second Sunday of March since
/// 2007, first Sunday of April before).
pub fn is_us_dst_start(days: i64) -> bool {
    let (y, m, d) = civil_from_days(days);
    if weekday(days) != 0 {
        return false;
    }
    if y >= 2007 {
        m == 3 && (8..=14).contains(&d)
    } else {
        m == 4 && d <= 7
    }
}

/// A second of the day that exists as local time in US time zones: readers that take
/// naive timestamps as US local time (recon's `time_zone`) reject 02:xx on the day the
/// clocks spring forward.
pub fn existing_local_second(days: i64, sec: u32) -> u32 {
    if (7200..10800).contains(&sec) && is_us_dst_start(days) {
        sec + 3600
    } else {
        sec
    }
}

#[inline]
pub fn push_u64(buf: &mut Vec<u8>, mut n: u64) {
    let mut tmp = [0u8; 20];
    let mut i = tmp.len();
    loop {
        i -= 1;
        tmp[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    buf.extend_from_slice(&tmp[i..]);
}

/// Zero-padded to `width` digits.
#[inline]
pub fn push_padded(buf: &mut Vec<u8>, n: u64, width: usize) {
    let mut tmp = [b'0'; 20];
    let mut i = tmp.len();
    let mut x = n;
    loop {
        i -= 1;
        tmp[i] = b'0' + (x % 10) as u8;
        x /= 10;
        if x == 0 {
            break;
        }
    }
    let digits = tmp.len() - i;
    for _ in digits..width {
        buf.push(b'0');
    }
    buf.extend_from_slice(&tmp[i..]);
}

/// `YYYY-MM-DD`.
pub fn push_ymd(buf: &mut Vec<u8>, days: i64) {
    let (y, m, d) = civil_from_days(days);
    push_padded(buf, y as u64, 4);
    buf.push(b'-');
    push_padded(buf, m as u64, 2);
    buf.push(b'-');
    push_padded(buf, d as u64, 2);
}

/// `MM/DD/YYYY`.
pub fn push_mdy(buf: &mut Vec<u8>, days: i64) {
    let (y, m, d) = civil_from_days(days);
    push_padded(buf, m as u64, 2);
    buf.push(b'/');
    push_padded(buf, d as u64, 2);
    buf.push(b'/');
    push_padded(buf, y as u64, 4);
}

/// `HH:MM:SS` of a second of the day.
pub fn push_hms(buf: &mut Vec<u8>, sec: u32) {
    push_padded(buf, (sec / 3600) as u64, 2);
    buf.push(b':');
    push_padded(buf, (sec / 60 % 60) as u64, 2);
    buf.push(b':');
    push_padded(buf, (sec % 60) as u64, 2);
}

/// `hh:MM AM` (12-hour clock) of a second of the day.
pub fn push_hm12(buf: &mut Vec<u8>, sec: u32) {
    let h = sec / 3600;
    let h12 = match h % 12 {
        0 => 12,
        x => x,
    };
    push_padded(buf, h12 as u64, 2);
    buf.push(b':');
    push_padded(buf, (sec / 60 % 60) as u64, 2);
    buf.extend_from_slice(if h < 12 { b" AM" } else { b" PM" });
}

/// Cents as a decimal text with two places: `1999` → `19.99`.
pub fn push_cents(buf: &mut Vec<u8>, cents: u64) {
    push_u64(buf, cents / 100);
    buf.push(b'.');
    push_padded(buf, cents % 100, 2);
}

/// A CSV field, quoted by RFC 4180 rules when it contains a delimiter, a quote or a
/// line break.
pub fn push_csv(buf: &mut Vec<u8>, s: &str) {
    let b = s.as_bytes();
    if b.iter().any(|&c| matches!(c, b',' | b'"' | b'\n' | b'\r')) {
        buf.push(b'"');
        for &c in b {
            if c == b'"' {
                buf.push(b'"');
            }
            buf.push(c);
        }
        buf.push(b'"');
    } else {
        buf.extend_from_slice(b);
    }
}

/// A JSON string literal.
pub fn push_json_str(buf: &mut Vec<u8>, s: &str) {
    buf.push(b'"');
    for &c in s.as_bytes() {
        match c {
            b'"' => buf.extend_from_slice(b"\\\""),
            b'\\' => buf.extend_from_slice(b"\\\\"),
            b'\n' => buf.extend_from_slice(b"\\n"),
            b'\r' => buf.extend_from_slice(b"\\r"),
            b'\t' => buf.extend_from_slice(b"\\t"),
            0..=0x1f => {
                buf.extend_from_slice(b"\\u00");
                const HEX: &[u8; 16] = b"0123456789abcdef";
                buf.push(HEX[(c >> 4) as usize]);
                buf.push(HEX[(c & 15) as usize]);
            }
            _ => buf.push(c),
        }
    }
    buf.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_round_trip() {
        for z in [-800_000i64, -1, 0, 1, 10_957, 20_777, 2_932_896] {
            let (y, m, d) = civil_from_days(z);
            assert_eq!(days_from_civil(y, m, d), z);
        }
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(parse_ymd("2026-11-20"), Some(days_from_civil(2026, 11, 20)));
        assert_eq!(parse_ymd("2026-02-30"), None);
        assert_eq!(weekday(days_from_civil(2026, 11, 20)), 5);
        assert!(is_us_dst_start(days_from_civil(2026, 3, 8)));
        assert!(is_us_dst_start(days_from_civil(2019, 3, 10)));
        assert!(!is_us_dst_start(days_from_civil(2026, 3, 15)));
        assert_eq!(
            existing_local_second(days_from_civil(2026, 3, 8), 2 * 3600 + 5),
            3 * 3600 + 5
        );
    }

    #[test]
    fn formats() {
        let mut b = Vec::new();
        push_mdy(&mut b, days_from_civil(2019, 1, 5));
        b.push(b' ');
        push_hm12(&mut b, 0);
        b.push(b' ');
        push_hm12(&mut b, 12 * 3600 + 5 * 60);
        b.push(b' ');
        push_hm12(&mut b, 16 * 3600 + 40 * 60);
        b.push(b' ');
        push_cents(&mut b, 4900);
        b.push(b' ');
        push_csv(&mut b, "Globex, Inc.");
        b.push(b' ');
        push_csv(&mut b, "say \"hi\"");
        b.push(b' ');
        push_json_str(&mut b, "a\"b\\c\n");
        assert_eq!(
            String::from_utf8(b).unwrap(),
            "01/05/2019 12:00 AM 12:05 PM 04:40 PM 49.00 \"Globex, Inc.\" \"say \"\"hi\"\"\" \"a\\\"b\\\\c\\n\""
        );
    }
}
