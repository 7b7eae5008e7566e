//! Cron expressions of `[[on.schedule]]`: five fields (minute, hour,
//! day of the month, month, day of the week), each `*`, a value, a range
//! `a-b`, a step `*/15` or `a-b/2`, or a list of those; months and days of the
//! week may be names (`jan`, `mon-fri`). As in classic cron, when both day
//! fields are restricted a day matches either of them.
//!
//! [`Cron::next_after`] finds the next firing in a time zone by walking days
//! and then the listed hours and minutes of a matching day, so asking about a
//! `since` weeks back costs a few hundred steps, not one per minute.

use std::fmt;
use std::ops::Range;

use jiff::tz::TimeZone;

use super::Timestamp;
use super::time::instant;

/// A parsed cron expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cron {
    text: String,
    minutes: u64,
    hours: u32,
    days: u32,
    months: u16,
    weekdays: u8,
    days_restricted: bool,
    weekdays_restricted: bool,
}

/// A problem with one field of a cron expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CronError {
    /// Byte range of the offending field (or item) in the expression.
    pub range: Range<usize>,
    /// What is wrong, lowercase.
    pub message: String,
    /// What to write instead.
    pub help: String,
}

struct Field {
    name: &'static str,
    min: u32,
    max: u32,
    names: &'static [&'static str],
    example: &'static str,
}

const FIELDS: [Field; 5] = [
    Field {
        name: "minute",
        min: 0,
        max: 59,
        names: &[],
        example: "`0`, `*/15`, `0,30`",
    },
    Field {
        name: "hour",
        min: 0,
        max: 23,
        names: &[],
        example: "`6`, `9-17`, `*/2`",
    },
    Field {
        name: "day of the month",
        min: 1,
        max: 31,
        names: &[],
        example: "`1`, `1-7`, `*`",
    },
    Field {
        name: "month",
        min: 1,
        max: 12,
        names: &[
            "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
        ],
        example: "`1-6`, `jan,jul`, `*`",
    },
    Field {
        name: "day of the week",
        min: 0,
        max: 7,
        names: &["sun", "mon", "tue", "wed", "thu", "fri", "sat"],
        example: "`mon-fri`, `1-5`, `sun`",
    },
];

impl Cron {
    /// Parse a five-field expression; the error points at the bad field.
    pub fn parse(text: &str) -> Result<Self, CronError> {
        let fields: Vec<(usize, &str)> = text
            .split_ascii_whitespace()
            .map(|field| (field.as_ptr() as usize - text.as_ptr() as usize, field))
            .collect();
        if fields.len() != 5 {
            let range = match fields.get(5) {
                Some((start, _)) => *start..text.len(),
                None => 0..text.len(),
            };
            return Err(CronError {
                range,
                message: format!(
                    "a cron expression has 5 fields (minute hour day-of-month month day-of-week), this one has {}",
                    fields.len()
                ),
                help: "e.g. `0 6 * * mon-fri`: 06:00 on weekdays".into(),
            });
        }
        let mut sets = [0u64; 5];
        for (index, (start, field)) in fields.iter().enumerate() {
            sets[index] = parse_field(&FIELDS[index], field, *start)?;
        }
        // Day of the week 7 is Sunday, like 0.
        let mut weekdays = sets[4];
        if weekdays & (1 << 7) != 0 {
            weekdays = (weekdays | 1) & 0x7f;
        }
        let cron = Self {
            text: text.to_owned(),
            minutes: sets[0],
            hours: u32::try_from(sets[1]).unwrap_or(0),
            days: u32::try_from(sets[2]).unwrap_or(0),
            months: u16::try_from(sets[3]).unwrap_or(0),
            weekdays: u8::try_from(weekdays).unwrap_or(0),
            days_restricted: !fields[2].1.starts_with('*'),
            weekdays_restricted: !fields[4].1.starts_with('*'),
        };
        if cron.next_after(0, &TimeZone::UTC).is_none() {
            return Err(CronError {
                range: fields[2].0..fields[3].0 + fields[3].1.len(),
                message: format!("`{text}` never fires: no month has that day"),
                help: "months have at most 29 (February), 30 or 31 days".into(),
            });
        }
        Ok(cron)
    }

    /// The expression as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    fn matches_day(&self, date: jiff::civil::Date) -> bool {
        let month = u32::try_from(date.month()).unwrap_or(0);
        if self.months & (1 << month) == 0 {
            return false;
        }
        let day = self.days & (1 << u32::try_from(date.day()).unwrap_or(0)) != 0;
        let weekday = self.weekdays & (1 << date.weekday().to_sunday_zero_offset()) != 0;
        if self.days_restricted && self.weekdays_restricted {
            day || weekday
        } else {
            day && weekday
        }
    }

    /// The first instant after `after` (strictly) at which the expression
    /// fires in `tz`; `None` when it never does within eight years. A local
    /// time skipped by a daylight-saving change fires at the same distance
    /// after the change (02:30 becomes 03:30); one that happens twice fires once.
    pub fn next_after(&self, after: Timestamp, tz: &TimeZone) -> Option<Timestamp> {
        let mut date = tz.to_datetime(instant(after)).date();
        // Eight years always hold a 29th of February.
        for _ in 0..(8 * 366) {
            if self.matches_day(date) {
                for hour in bits(u64::from(self.hours)) {
                    for minute in bits(self.minutes) {
                        let local =
                            date.at(i8::try_from(hour).ok()?, i8::try_from(minute).ok()?, 0, 0);
                        let Ok(at) = tz.to_ambiguous_timestamp(local).compatible() else {
                            continue;
                        };
                        if at.as_second() > after {
                            return Some(at.as_second());
                        }
                    }
                }
            }
            date = date.tomorrow().ok()?;
        }
        None
    }
}

impl fmt::Display for Cron {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// The set bits of `set`, lowest first.
fn bits(set: u64) -> impl Iterator<Item = u32> {
    (0..64).filter(move |bit| set & (1 << bit) != 0)
}

fn parse_field(field: &Field, text: &str, offset: usize) -> Result<u64, CronError> {
    let mut set = 0u64;
    let mut item_start = offset;
    for item in text.split(',') {
        let range = item_start..item_start + item.len();
        item_start += item.len() + 1;
        let error = |message: String| CronError {
            range: range.clone(),
            message,
            help: format!(
                "the {} field takes {}{}",
                field.name,
                field.example,
                if field.names.is_empty() {
                    String::new()
                } else {
                    format!(" (names: {})", field.names.join(", "))
                }
            ),
        };
        if item.is_empty() {
            return Err(error(format!("empty item in the {} field", field.name)));
        }
        let (span, step) = match item.split_once('/') {
            Some((span, step)) => {
                let step: u32 = step.parse().ok().filter(|s| *s > 0).ok_or_else(|| {
                    error(format!("`{step}` is not a step: use a whole number from 1"))
                })?;
                (span, step)
            }
            None => (item, 1),
        };
        let (low, high) = if span == "*" {
            (field.min, field.max)
        } else if let Some((a, b)) = span.split_once('-') {
            let low = value(field, a).ok_or_else(|| error(out_of_range(field, a)))?;
            let high = value(field, b).ok_or_else(|| error(out_of_range(field, b)))?;
            if low > high {
                return Err(error(format!(
                    "the range `{span}` runs backwards in the {} field",
                    field.name
                )));
            }
            (low, high)
        } else {
            let low = value(field, span).ok_or_else(|| error(out_of_range(field, span)))?;
            // `5/15` means from 5 to the end, every 15.
            (low, if item.contains('/') { field.max } else { low })
        };
        let mut v = low;
        while v <= high {
            set |= 1 << v;
            v += step;
        }
    }
    Ok(set)
}

fn value(field: &Field, text: &str) -> Option<u32> {
    let lower = text.to_ascii_lowercase();
    if let Some(index) = field.names.iter().position(|n| *n == lower) {
        let index = u32::try_from(index).ok()?;
        // Months are named from 1, days of the week from 0 (Sunday).
        return Some(if field.min == 1 { index + 1 } else { index });
    }
    let n: u32 = text.parse().ok()?;
    (field.min..=field.max).contains(&n).then_some(n)
}

fn out_of_range(field: &Field, text: &str) -> String {
    format!(
        "`{text}` is not a valid {}: expected {}-{}{}",
        field.name,
        field.min,
        field.max,
        if field.names.is_empty() {
            String::new()
        } else {
            " or a name".to_owned()
        }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        text.parse::<jiff::Timestamp>()
            .expect("test instant")
            .as_second()
    }

    fn next(cron: &str, after: &str, tz: &str) -> String {
        let tz = TimeZone::get(tz).expect("zone");
        let cron = Cron::parse(cron).expect("valid cron");
        let next = cron.next_after(at(after), &tz).expect("fires");
        jiff::Timestamp::from_second(next)
            .expect("instant")
            .to_string()
    }

    #[test]
    fn finds_the_next_weekday_morning_in_a_time_zone() {
        // Friday 2025-03-28 06:00 Berlin has passed: next is Monday, summer time.
        assert_eq!(
            next("0 6 * * mon-fri", "2025-03-28T06:00:00Z", "Europe/Berlin"),
            "2025-03-31T04:00:00Z"
        );
        assert_eq!(
            next("*/15 * * * *", "2025-01-01T00:07:00Z", "UTC"),
            "2025-01-01T00:15:00Z"
        );
        assert_eq!(
            next("0 0 29 feb *", "2025-01-01T00:00:00Z", "UTC"),
            "2028-02-29T00:00:00Z"
        );
    }

    #[test]
    fn either_day_field_matches_when_both_are_restricted() {
        // The 1st of the month or any Monday: 2025-09-01 is a Monday, so the
        // next after it is Monday the 8th, not October 1st.
        assert_eq!(
            next("0 0 1 * mon", "2025-09-01T00:00:00Z", "UTC"),
            "2025-09-08T00:00:00Z"
        );
        assert_eq!(
            next("0 0 * * 7", "2025-09-01T00:00:00Z", "UTC"),
            "2025-09-07T00:00:00Z"
        );
    }

    #[test]
    fn points_at_the_bad_field() {
        let error = Cron::parse("0 25 * * *").expect_err("hour 25");
        assert_eq!(error.range, 2..4);
        assert!(error.message.contains("hour"), "{}", error.message);
        let error = Cron::parse("0 6 * * mon-fry").expect_err("fry");
        assert_eq!(error.range, 8..15);
        let error = Cron::parse("0 6 * *").expect_err("four fields");
        assert!(error.message.contains("has 4"), "{}", error.message);
        let error = Cron::parse("0 6 31 feb *").expect_err("never");
        assert!(error.message.contains("never fires"), "{}", error.message);
    }
}
