//! Time in workflows: durations (`1h30m`), days of the week, deploy windows
//! and time zones, and how instants are written in pull-request comments.
//!
//! Nothing here reads a clock: every function is given the instant it works
//! on ([`Timestamp`], seconds since the Unix epoch). Time zones come from the
//! IANA database compiled into the binary (jiff's bundled copy), so windows
//! and schedules behave the same on a machine without `/usr/share/zoneinfo`,
//! daylight-saving changes included.

use std::fmt;
use std::time::Duration;

use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;

use super::Timestamp;

/// A day of the week, as written in a window's `days` (`"mon"` … `"sun"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Day {
    /// Monday.
    Mon,
    /// Tuesday.
    Tue,
    /// Wednesday.
    Wed,
    /// Thursday.
    Thu,
    /// Friday.
    Fri,
    /// Saturday.
    Sat,
    /// Sunday.
    Sun,
}

impl Day {
    /// Every day, Monday first.
    pub const ALL: [Day; 7] = [
        Day::Mon,
        Day::Tue,
        Day::Wed,
        Day::Thu,
        Day::Fri,
        Day::Sat,
        Day::Sun,
    ];

    /// The day for `mon` … `sun` (any case).
    pub fn parse(text: &str) -> Option<Self> {
        let lower = text.to_ascii_lowercase();
        Self::ALL.into_iter().find(|day| day.as_str() == lower)
    }

    /// How the day is written in a workflow file: `mon`.
    pub fn as_str(self) -> &'static str {
        match self {
            Day::Mon => "mon",
            Day::Tue => "tue",
            Day::Wed => "wed",
            Day::Thu => "thu",
            Day::Fri => "fri",
            Day::Sat => "sat",
            Day::Sun => "sun",
        }
    }

    fn of(date: Date) -> Self {
        // 0 = Monday … 6 = Sunday.
        let index = usize::try_from(date.weekday().to_monday_zero_offset()).unwrap_or(0);
        Self::ALL[index.min(6)]
    }
}

impl fmt::Display for Day {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// When a stage may deploy: some days of the week, between two times of day,
/// in a time zone (`window = { days = ["mon"], hours = "09:00-16:00",
/// timezone = "Europe/Berlin" }`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Window {
    /// The days it opens on (every day when the file names none), sorted.
    pub days: Vec<Day>,
    /// Opens at this minute of the day (0 = midnight), local time.
    pub start: u16,
    /// Closes at this minute of the day (1440 = midnight at the end), local time.
    pub end: u16,
    /// The IANA time zone the days and hours are in: `Europe/Berlin`.
    pub timezone: String,
}

impl Window {
    /// Whether the window is open at `at`.
    pub fn is_open(&self, at: Timestamp) -> bool {
        let local = zone(&self.timezone).to_datetime(instant(at));
        let minute = minute_of_day(local);
        self.days.contains(&Day::of(local.date())) && self.start <= minute && minute < self.end
    }

    /// The next instant after `at` at which the window opens (`at` itself
    /// when it is open then). `None` only for a window with no days.
    pub fn next_open(&self, at: Timestamp) -> Option<Timestamp> {
        if self.is_open(at) {
            return Some(at);
        }
        let tz = zone(&self.timezone);
        let mut date = tz.to_datetime(instant(at)).date();
        // Eight days always reach the next opening of a window with a day in it.
        for _ in 0..8 {
            if self.days.contains(&Day::of(date)) {
                let (hour, minute) = hour_minute(self.start);
                let opens = tz
                    .to_ambiguous_timestamp(date.at(hour, minute, 0, 0))
                    .compatible()
                    .ok()?
                    .as_second();
                if opens > at {
                    return Some(opens);
                }
            }
            date = date.tomorrow().ok()?;
        }
        None
    }

    /// `mon-thu 09:00-16:00 Europe/Berlin`, for messages.
    pub fn describe(&self) -> String {
        let days = if self.days.len() == 7 {
            "every day".to_owned()
        } else {
            self.days
                .iter()
                .map(|d| d.as_str())
                .collect::<Vec<_>>()
                .join(",")
        };
        format!(
            "{days} {}-{} {}",
            clock(self.start),
            clock(self.end),
            self.timezone
        )
    }
}

/// `09:30` for minute 570.
pub fn clock(minute_of_day: u16) -> String {
    format!("{:02}:{:02}", minute_of_day / 60, minute_of_day % 60)
}

fn hour_minute(minute_of_day: u16) -> (i8, i8) {
    let hour = i8::try_from(minute_of_day / 60).unwrap_or(23).min(23);
    let minute = i8::try_from(minute_of_day % 60).unwrap_or(0);
    (hour, minute)
}

fn minute_of_day(local: DateTime) -> u16 {
    u16::try_from(i32::from(local.hour()) * 60 + i32::from(local.minute())).unwrap_or(0)
}

/// The time zone named `name`; UTC when the name is unknown (names are
/// checked when a workflow loads, so that only happens for hand-built values).
pub(crate) fn zone(name: &str) -> TimeZone {
    TimeZone::get(name).unwrap_or(TimeZone::UTC)
}

/// `at` as a jiff timestamp, clamped to jiff's range.
pub(crate) fn instant(at: Timestamp) -> jiff::Timestamp {
    jiff::Timestamp::from_second(at).unwrap_or(if at < 0 {
        jiff::Timestamp::MIN
    } else {
        jiff::Timestamp::MAX
    })
}

/// Check an IANA time zone name; the error says what to write instead.
pub fn check_time_zone(name: &str) -> Result<(), String> {
    match TimeZone::get(name) {
        Ok(_) => Ok(()),
        Err(_) => {
            let names: Vec<String> = jiff::tz::db()
                .available()
                .map(|n| n.as_str().to_owned())
                .collect();
            let suggestion =
                crate::config::suggest::did_you_mean(name, names.iter().map(String::as_str));
            Err(match suggestion {
                Some(best) => format!("did you mean `{best}`?"),
                None => "time zones are IANA names: `UTC`, `Europe/Berlin`, `America/New_York`"
                    .to_owned(),
            })
        }
    }
}

/// Parse window hours `HH:MM-HH:MM` into minutes of the day; the end may be
/// `24:00`. The error says what is wrong.
pub fn parse_hours(text: &str) -> Result<(u16, u16), String> {
    let Some((start, end)) = text.split_once('-') else {
        return Err("hours are written `HH:MM-HH:MM`, e.g. `09:00-16:00`".into());
    };
    let start = parse_clock(start.trim(), false)?;
    let end = parse_clock(end.trim(), true)?;
    if start >= end {
        return Err(format!(
            "the window opens at {} but closes at {}: it must open before it closes (a window cannot span midnight; use two stages or `00:00-…`)",
            clock(start),
            clock(end)
        ));
    }
    Ok((start, end))
}

fn parse_clock(text: &str, end: bool) -> Result<u16, String> {
    let bad = || format!("`{text}` is not a time of day: write `HH:MM`, e.g. `09:00`");
    let (hours, minutes) = text.split_once(':').ok_or_else(bad)?;
    if hours.is_empty()
        || hours.len() > 2
        || minutes.len() != 2
        || !hours
            .chars()
            .chain(minutes.chars())
            .all(|c| c.is_ascii_digit())
    {
        return Err(bad());
    }
    let hours: u16 = hours.parse().map_err(|_| bad())?;
    let minutes: u16 = minutes.parse().map_err(|_| bad())?;
    if minutes > 59 || hours > 24 || (hours == 24 && (minutes != 0 || !end)) {
        return Err(format!(
            "`{text}` is not a time of day: hours go from 00 to 23 (24:00 only as the end), minutes from 00 to 59"
        ));
    }
    Ok(hours * 60 + minutes)
}

/// Parse a duration: whole numbers with units `d`, `h`, `m`, `s`, largest
/// first, each at most once (`90s`, `10m`, `1h30m`, `2d`). Must be above zero.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    const UNITS: [(char, u64); 4] = [('d', 86_400), ('h', 3_600), ('m', 60), ('s', 1)];
    let bad = || {
        format!(
            "`{text}` is not a duration: write a number and a unit, e.g. `90s`, `10m`, `1h30m`, `2d`"
        )
    };
    let mut seconds: u64 = 0;
    let mut digits = String::new();
    let mut last_unit = None;
    for c in text.trim().chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let unit = UNITS
            .iter()
            .position(|(u, _)| *u == c.to_ascii_lowercase())
            .ok_or_else(bad)?;
        if digits.is_empty() || last_unit.is_some_and(|last| unit <= last) {
            return Err(bad());
        }
        let value: u64 = digits.parse().map_err(|_| bad())?;
        seconds = value
            .checked_mul(UNITS[unit].1)
            .and_then(|s| seconds.checked_add(s))
            .ok_or_else(bad)?;
        digits.clear();
        last_unit = Some(unit);
    }
    if !digits.is_empty() || last_unit.is_none() {
        return Err(bad());
    }
    if seconds == 0 {
        return Err(format!("`{text}` is zero: leave the key out instead"));
    }
    Ok(Duration::from_secs(seconds))
}

/// A duration as a workflow file writes it: `1h30m`, `10m`, `2d`.
pub fn format_duration(duration: Duration) -> String {
    let mut left = duration.as_secs();
    if left == 0 {
        return "0s".into();
    }
    let mut out = String::new();
    for (unit, size) in [("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)] {
        if left >= size {
            out.push_str(&format!("{}{unit}", left / size));
            left %= size;
        }
    }
    out
}

/// `at` in `timezone` with a `strftime` pattern (`%a %H:%M`).
pub(crate) fn format_instant(at: Timestamp, timezone: &str, pattern: &str) -> String {
    instant(at)
        .to_zoned(zone(timezone))
        .strftime(pattern)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        text.parse::<jiff::Timestamp>()
            .expect("test instant")
            .as_second()
    }

    #[test]
    fn parses_durations_with_combined_units() {
        assert_eq!(parse_duration("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("2d"), Ok(Duration::from_secs(172_800)));
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        for bad in ["", "10", "m", "10 minutes", "30m1h", "1h1h", "0m", "-5m"] {
            assert!(parse_duration(bad).is_err(), "{bad} parsed");
        }
        assert_eq!(format_duration(Duration::from_secs(5400)), "1h30m");
        assert_eq!(format_duration(Duration::from_secs(600)), "10m");
    }

    #[test]
    fn parses_window_hours() {
        assert_eq!(parse_hours("09:00-16:00"), Ok((540, 960)));
        assert_eq!(parse_hours("00:00-24:00"), Ok((0, 1440)));
        assert!(parse_hours("16:00-09:00").is_err());
        assert!(parse_hours("9-16").is_err());
        assert!(parse_hours("24:00-24:00").is_err());
        assert!(parse_hours("09:60-10:00").is_err());
    }

    #[test]
    fn a_window_opens_on_the_next_working_day_in_its_time_zone() {
        let window = Window {
            days: vec![Day::Mon, Day::Tue, Day::Wed, Day::Thu],
            start: 9 * 60,
            end: 16 * 60,
            timezone: "Europe/Berlin".into(),
        };
        // Thursday 2025-03-27 16:30 in Berlin (15:30 UTC, winter time).
        let closed = at("2025-03-27T15:30:00Z");
        assert!(!window.is_open(closed));
        // Opens Monday 2025-03-31 09:00 in Berlin, which is summer time by then (07:00 UTC).
        assert_eq!(window.next_open(closed), Some(at("2025-03-31T07:00:00Z")));
        assert!(window.is_open(at("2025-03-31T07:00:00Z")));
        assert!(!window.is_open(at("2025-03-31T06:59:00Z")));
    }

    #[test]
    fn checks_time_zones_and_suggests_a_close_name() {
        assert!(check_time_zone("Europe/Berlin").is_ok());
        assert!(check_time_zone("UTC").is_ok());
        assert_eq!(
            check_time_zone("Europe/Berln"),
            Err("did you mean `Europe/Berlin`?".into())
        );
    }
}
