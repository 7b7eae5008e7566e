//! DNS names and record values as Route 53 takes them: the checks behind
//! `domain` and `records`, and the quoting of TXT strings.

use std::net::{Ipv4Addr, Ipv6Addr};

/// Longest DNS name, without the trailing dot.
const MAX_NAME: usize = 253;
/// Longest label.
const MAX_LABEL: usize = 63;
/// Longest character-string of a TXT record.
const MAX_TXT_STRING: usize = 255;

/// Which characters a name may carry beyond letters, digits and hyphens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Allow {
    /// `*` as the whole first label (wildcard records).
    pub wildcard: bool,
    /// `_` anywhere in a label (`_dmarc`, `_acme-challenge`).
    pub underscore: bool,
}

impl Allow {
    /// Host names: letters, digits and hyphens only.
    pub const HOST: Self = Self {
        wildcard: false,
        underscore: false,
    };
    /// Record owner names: wildcards and service labels too.
    pub const RECORD: Self = Self {
        wildcard: true,
        underscore: true,
    };
}

/// What is wrong with `name` as a DNS name (without a trailing dot), worded
/// to follow "`name` is not a valid domain name: ", or `None` when it is
/// one. Uppercase letters are a problem: Route 53 stores names lowercase, and
/// a file that says so avoids a diff between what is written and deployed.
pub fn name_problem(name: &str, allow: Allow) -> Option<String> {
    if name.is_empty() {
        return Some("it is empty".into());
    }
    if name.len() > MAX_NAME {
        return Some(format!(
            "it is {} characters long, the limit is {MAX_NAME}",
            name.len()
        ));
    }
    if name.chars().any(|c| c.is_ascii_uppercase()) {
        return Some("it has uppercase letters".into());
    }
    let labels: Vec<&str> = name.split('.').collect();
    for (index, label) in labels.iter().enumerate() {
        if label.is_empty() {
            return Some("it has an empty label (two dots in a row, or a leading dot)".into());
        }
        if *label == "*" {
            if allow.wildcard && index == 0 {
                continue;
            }
            return Some("`*` may only be the whole first label".into());
        }
        if label.len() > MAX_LABEL {
            return Some(format!(
                "label `{label}` is {} characters long, the limit is {MAX_LABEL}",
                label.len()
            ));
        }
        if let Some(bad) = label.chars().find(|c| {
            !(c.is_ascii_lowercase()
                || c.is_ascii_digit()
                || *c == '-'
                || (allow.underscore && *c == '_'))
        }) {
            return Some(format!(
                "label `{label}` has `{bad}`, expected letters, digits and hyphens"
            ));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Some(format!("label `{label}` starts or ends with a hyphen"));
        }
    }
    if labels
        .last()
        .is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_digit()))
    {
        return Some("the last label is a number (an IP address is not a domain name)".into());
    }
    None
}

/// The value of an `A` record, or what is wrong with it.
pub fn ipv4_problem(value: &str) -> Option<String> {
    if value.parse::<Ipv4Addr>().is_ok() {
        None
    } else if value.parse::<Ipv6Addr>().is_ok() {
        Some("is an IPv6 address; put it in an `AAAA` record".into())
    } else {
        Some("is not an IPv4 address, e.g. `192.0.2.10`".into())
    }
}

/// The value of an `AAAA` record, or what is wrong with it.
pub fn ipv6_problem(value: &str) -> Option<String> {
    if value.parse::<Ipv6Addr>().is_ok() {
        None
    } else if value.parse::<Ipv4Addr>().is_ok() {
        Some("is an IPv4 address; put it in an `A` record".into())
    } else {
        Some("is not an IPv6 address, e.g. `2001:db8::10`".into())
    }
}

/// A host name a record points at (`CNAME`, `MX`, `NS`): a DNS name, with an
/// optional trailing dot.
pub fn target_problem(value: &str) -> Option<String> {
    let name = value.strip_suffix('.').unwrap_or(value);
    name_problem(name, Allow::RECORD).map(|problem| format!("is not a host name: {problem}"))
}

/// `priority host`, e.g. `10 mail.example.com`.
pub fn mx_problem(value: &str) -> Option<String> {
    let Some((priority, host)) = value.split_once(' ') else {
        return Some("is not `priority host`, e.g. `10 mail.example.com`".into());
    };
    if priority.parse::<u16>().is_err() {
        return Some(format!("has priority `{priority}`, expected 0 to 65535"));
    }
    target_problem(host.trim())
}

/// CAA property tags Route 53 accepts.
pub const CAA_TAGS: [&str; 3] = ["issue", "issuewild", "iodef"];

/// `flags tag "value"`, e.g. `0 issue "amazon.com"`.
pub fn caa_problem(value: &str) -> Option<String> {
    let mut parts = value.splitn(3, ' ');
    let (Some(flags), Some(tag), Some(quoted)) = (parts.next(), parts.next(), parts.next()) else {
        return Some("is not `flags tag \"value\"`, e.g. `0 issue \"amazon.com\"`".into());
    };
    if flags.parse::<u8>().is_err() {
        return Some(format!(
            "has flags `{flags}`, expected 0 to 255 (usually `0`)"
        ));
    }
    if !CAA_TAGS.contains(&tag) {
        return Some(format!(
            "has tag `{tag}`, expected `issue`, `issuewild` or `iodef`"
        ));
    }
    let is_quoted = quoted.len() >= 2 && quoted.starts_with('"') && quoted.ends_with('"');
    if !is_quoted {
        return Some(format!(
            "has an unquoted value; write `{flags} {tag} \"{}\"`",
            quoted.trim_matches('"')
        ));
    }
    None
}

/// A TXT value in Route 53's presentation format: as written when it is
/// already quoted (`"v=spf1 -all"`, or several strings `"a" "b"`);
/// otherwise quoted, with `"` and `\` escaped, bytes outside printable ASCII
/// as `\ooo` octal escapes, and split into strings of at most 255 bytes
/// (DNS's limit for one TXT string; resolvers join them back).
pub fn quote_txt(value: &str) -> String {
    let already_quoted = value.len() >= 2 && value.starts_with('"') && value.ends_with('"');
    if already_quoted {
        return value.to_owned();
    }
    if value.is_empty() {
        return "\"\"".to_owned();
    }
    value
        .as_bytes()
        .chunks(MAX_TXT_STRING)
        .map(|chunk| {
            let mut quoted = String::with_capacity(chunk.len() + 2);
            quoted.push('"');
            for &byte in chunk {
                match byte {
                    b'"' => quoted.push_str("\\\""),
                    b'\\' => quoted.push_str("\\\\"),
                    0x20..=0x7e => quoted.push(char::from(byte)),
                    _ => quoted.push_str(&format!("\\{byte:03o}")),
                }
            }
            quoted.push('"');
            quoted
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_names_and_service_labels() {
        for name in [
            "example.com",
            "dev.example.co.uk",
            "xn--bcher-kva.example",
            "a-1.b2.io",
        ] {
            assert_eq!(name_problem(name, Allow::HOST), None, "{name}");
        }
        for name in [
            "*.example.com",
            "_dmarc.example.com",
            "_acme-challenge.api.example.com",
        ] {
            assert_eq!(name_problem(name, Allow::RECORD), None, "{name}");
        }
    }

    #[test]
    fn names_the_rule_a_bad_name_breaks() {
        let problem = |name: &str| name_problem(name, Allow::HOST).unwrap_or_default();
        assert_eq!(problem(""), "it is empty");
        assert_eq!(problem("Example.com"), "it has uppercase letters");
        assert!(problem("a..com").contains("empty label"));
        assert!(problem(".example.com").contains("empty label"));
        assert!(problem("ex ample.com").contains("has ` `"));
        assert!(problem("-a.com").contains("hyphen"));
        assert!(problem("_dmarc.example.com").contains("has `_`"));
        assert!(problem("*.example.com").contains("`*`"));
        assert!(problem("10.0.0.1").contains("IP address"));
        assert!(problem(&format!("{}.com", "a".repeat(64))).contains("63"));
        assert!(problem(&format!("{}.com", "a.".repeat(130))).contains("253"));
        assert!(name_problem("api.*.example.com", Allow::RECORD).is_some());
    }

    #[test]
    fn checks_addresses_and_suggests_the_other_family() {
        assert_eq!(ipv4_problem("192.0.2.10"), None);
        assert!(
            ipv4_problem("2001:db8::1")
                .unwrap_or_default()
                .contains("AAAA")
        );
        assert_eq!(ipv6_problem("2001:db8::1"), None);
        assert!(
            ipv6_problem("192.0.2.10")
                .unwrap_or_default()
                .contains("`A`")
        );
        assert!(ipv4_problem("example.com").is_some());
    }

    #[test]
    fn checks_mx_and_caa_values() {
        assert_eq!(mx_problem("10 mail.example.com"), None);
        assert_eq!(mx_problem("0 mail.example.com."), None);
        assert!(mx_problem("mail.example.com").is_some());
        assert!(mx_problem("70000 mail.example.com").is_some());
        assert_eq!(caa_problem("0 issue \"amazon.com\""), None);
        assert_eq!(
            caa_problem("128 iodef \"mailto:security@example.com\""),
            None
        );
        assert!(
            caa_problem("0 issue amazon.com")
                .unwrap_or_default()
                .contains("\"amazon.com\"")
        );
        assert!(caa_problem("0 issuer \"amazon.com\"").is_some());
        assert!(caa_problem("issue \"amazon.com\"").is_some());
    }

    #[test]
    fn quotes_escapes_and_splits_txt_values() {
        assert_eq!(quote_txt("v=spf1 -all"), "\"v=spf1 -all\"");
        assert_eq!(quote_txt("\"already\""), "\"already\"");
        assert_eq!(quote_txt("\"a\" \"b\""), "\"a\" \"b\"");
        assert_eq!(quote_txt("say \"hi\" \\o/"), r#""say \"hi\" \\o/""#);
        assert_eq!(quote_txt("é"), r#""\303\251""#);
        assert_eq!(quote_txt(""), "\"\"");
        let long = "k".repeat(300);
        assert_eq!(
            quote_txt(&long),
            format!("\"{}\" \"{}\"", "k".repeat(255), "k".repeat(45))
        );
    }
}
