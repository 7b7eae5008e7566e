//! The `[stacks.<name>]` table of an efs stack, and its validation into
//! [`Settings`]: modes and lifecycle checked against what EFS accepts, the
//! stacks to import from, and the access points (each becomes logical ids
//! and export names).

use schemars::JsonSchema;
use serde::Deserialize;
use strata_sdk::{Context, Diagnostics, StringOrImport, cfn, check};

/// Days after which EFS moves a file to a colder class (`AFTER_N_DAYS`).
const TRANSITION_DAYS: [u32; 9] = [1, 7, 14, 30, 60, 90, 180, 270, 365];
/// Provisioned throughput EFS accepts, MiB/s.
const PROVISIONED_MIBPS: std::ops::RangeInclusive<f64> = 1.0..=3414.0;
/// An access point's name in the config: it is part of export names.
const MAX_ACCESS_POINT_NAME: usize = 40;
/// EFS's limit of access points per file system.
const MAX_ACCESS_POINTS: usize = 10_000;
/// The largest POSIX user or group id EFS takes.
const MAX_POSIX_ID: u64 = 4_294_967_295;
/// Longest root directory path of an access point.
const MAX_PATH: usize = 100;

/// An encrypted EFS file system with a mount target in every private
/// subnet, a security group admitting NFS from one source group, and access
/// points.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Stack to import `vpc-id` and `private-subnet-ids` from.
    pub networking_stack: String,
    /// Mount targets to create: one in each of the first N private subnets
    /// of the networking stack. Set it to the networking stack's number of
    /// availability zones. Defaults to 3 in production, 2 elsewhere (the
    /// reference sizing).
    pub availability_zones: Option<u32>,
    /// The security group allowed to mount the file system (NFS, TCP 2049):
    /// `STACK.OUTPUT`, a security group id another stack exports.
    pub source_security_group: String,
    /// Add the egress rule letting the source group send to the mount
    /// targets on 2049 (an `AWS::EC2::SecurityGroupEgress` on the imported
    /// group). Set it to `false` when the stack owning the source group
    /// allows that itself.
    pub source_egress: bool,
    /// The KMS key encrypting the file system: a key ARN or id as text, or
    /// `{ import = "STACK.OUTPUT" }`. Defaults to EFS's AWS-managed key
    /// (`aws/elasticfilesystem`).
    pub kms_key: Option<StringOrImport>,
    /// `general-purpose` (lowest latency, the right choice for nearly every
    /// workload) or `max-io` (higher aggregate throughput, only with
    /// `bursting` or `provisioned` throughput).
    pub performance_mode: PerformanceMode,
    /// `elastic` (scales with the workload, pay per use), `bursting` (grows
    /// with the stored size) or `provisioned` (set
    /// `provisioned_throughput_mibps`).
    pub throughput_mode: ThroughputMode,
    /// Throughput to provision, MiB/s (1 to 3414), with
    /// `throughput_mode = "provisioned"` only.
    pub provisioned_throughput_mibps: Option<f64>,
    /// Days without access after which a file moves to Infrequent Access
    /// (1, 7, 14, 30, 60, 90, 180, 270 or 365), or `0` to keep files in
    /// Standard.
    pub transition_to_ia_days: u32,
    /// Days without access after which a file moves to Archive (same
    /// values), longer than `transition_to_ia_days`; `elastic` throughput
    /// only. Unset: no archiving.
    pub transition_to_archive_days: Option<u32>,
    /// Move a file back to Standard on its first access.
    pub transition_to_primary_on_access: bool,
    /// Daily AWS Backup of the file system (EFS's automatic backups, kept
    /// 35 days). Always on in production.
    pub backup: bool,
    /// Let clients mount as root (`elasticfilesystem:ClientRootAccess`).
    /// Off: root is squashed, and files are written as an access point's
    /// POSIX user.
    pub allow_root_access: bool,
    /// Access points: entry directories with a fixed POSIX identity.
    pub access_points: Vec<AccessPoint>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            networking_stack: "networking".into(),
            availability_zones: None,
            source_security_group: "security.ecs-security-group-id".into(),
            source_egress: true,
            kms_key: None,
            performance_mode: PerformanceMode::GeneralPurpose,
            throughput_mode: ThroughputMode::Elastic,
            provisioned_throughput_mibps: None,
            transition_to_ia_days: 30,
            transition_to_archive_days: None,
            transition_to_primary_on_access: true,
            backup: true,
            allow_root_access: false,
            access_points: Vec::new(),
        }
    }
}

/// EFS performance modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum PerformanceMode {
    /// `generalPurpose`.
    GeneralPurpose,
    /// `maxIO`.
    MaxIo,
}

impl PerformanceMode {
    /// CloudFormation's spelling.
    pub fn as_cfn(self) -> &'static str {
        match self {
            Self::GeneralPurpose => "generalPurpose",
            Self::MaxIo => "maxIO",
        }
    }
}

/// EFS throughput modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ThroughputMode {
    /// `elastic`.
    Elastic,
    /// `bursting`.
    Bursting,
    /// `provisioned`.
    Provisioned,
}

impl ThroughputMode {
    /// CloudFormation's spelling.
    pub fn as_cfn(self) -> &'static str {
        match self {
            Self::Elastic => "elastic",
            Self::Bursting => "bursting",
            Self::Provisioned => "provisioned",
        }
    }
}

/// An access point: a directory clients enter as a fixed POSIX user.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct AccessPoint {
    /// Short name (lowercase letters, digits and single hyphens, at most 40
    /// characters): the `Name` tag is `{project}-{environment}-{name}`, the
    /// exports `access-point-{name}-id` and `-arn`.
    pub name: String,
    /// The directory clients see as `/`, e.g. `/uploads`. EFS creates it on
    /// first use, owned by `uid`:`gid` with `permissions`.
    pub path: String,
    /// POSIX user id every request through the access point runs as.
    pub uid: u64,
    /// POSIX group id every request through the access point runs as.
    pub gid: u64,
    /// Octal mode of the directory when EFS creates it, e.g. `0750`.
    pub permissions: String,
}

impl Default for AccessPoint {
    fn default() -> Self {
        Self {
            name: String::new(),
            path: String::new(),
            uid: 1000,
            gid: 1000,
            permissions: "0750".into(),
        }
    }
}

/// A validated config.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Stack exporting the VPC and subnets.
    pub networking_stack: String,
    /// Mount targets, one per private subnet.
    pub availability_zones: usize,
    /// (stack, output) of the source security group.
    pub source: (String, String),
    /// Add the source group's egress rule.
    pub source_egress: bool,
    /// The KMS key, when not EFS's own.
    pub kms_key: Option<StringOrImport>,
    /// Performance mode.
    pub performance_mode: PerformanceMode,
    /// Throughput mode.
    pub throughput_mode: ThroughputMode,
    /// Provisioned throughput, MiB/s.
    pub provisioned_throughput_mibps: Option<f64>,
    /// `AFTER_N_DAYS` to Infrequent Access, or `None`.
    pub transition_to_ia_days: Option<u32>,
    /// `AFTER_N_DAYS` to Archive, or `None`.
    pub transition_to_archive_days: Option<u32>,
    /// Back to Standard on first access.
    pub transition_to_primary_on_access: bool,
    /// AWS Backup on.
    pub backup: bool,
    /// `ClientRootAccess` granted.
    pub allow_root_access: bool,
    /// The access points, in config order.
    pub access_points: Vec<CheckedAccessPoint>,
}

/// An access point and the names that follow from it.
#[derive(Debug, Clone)]
pub struct CheckedAccessPoint {
    /// The short name, used in export names.
    pub name: String,
    /// Its logical id.
    pub logical_id: String,
    /// Root directory.
    pub path: String,
    /// POSIX user.
    pub uid: u64,
    /// POSIX group.
    pub gid: u64,
    /// Directory mode, octal.
    pub permissions: String,
}

impl Config {
    /// Check every key, reporting all problems at once.
    pub fn validate(self, ctx: &Context) -> Result<Settings, Diagnostics> {
        let mut diagnostics = Diagnostics::new();
        check::stack_name("networking_stack", &self.networking_stack, &mut diagnostics);
        let zones = self
            .availability_zones
            .unwrap_or(if ctx.is_production() { 3 } else { 2 });
        if !(1..=6).contains(&zones) {
            diagnostics
                .error(
                    "availability_zones",
                    format!("`{zones}` mount targets is outside 1 to 6"),
                )
                .help("use the networking stack's number of availability zones, e.g. `2`");
        } else if ctx.is_production() && zones < 2 {
            diagnostics
                .error(
                    "availability_zones",
                    "production file systems need mount targets in at least 2 availability zones",
                )
                .help("use the networking stack's number of availability zones (`3` in the reference sizing)");
        }
        let source = self.check_source(&mut diagnostics);
        if let Some(key) = &self.kms_key {
            key.check("kms_key", &mut diagnostics);
            if let StringOrImport::Text(text) = key
                && text.trim().is_empty()
            {
                diagnostics
                    .error("kms_key", "`kms_key` is empty")
                    .help("remove it to use EFS's AWS-managed key, or give a key ARN or `{ import = \"STACK.OUTPUT\" }`");
            }
        }
        self.check_modes(&mut diagnostics);
        let ia = self.check_transitions(&mut diagnostics);
        if ctx.is_production() && !self.backup {
            diagnostics
                .error("backup", "production file systems are always backed up")
                .help(
                    "remove `backup = false`: AWS Backup keeps daily recovery points for 35 days",
                );
        }
        let access_points = self.check_access_points(&mut diagnostics);
        diagnostics.check()?;
        Ok(Settings {
            networking_stack: self.networking_stack,
            availability_zones: usize::try_from(zones).unwrap_or(2),
            source: source.unwrap_or_default(),
            source_egress: self.source_egress,
            kms_key: self.kms_key,
            performance_mode: self.performance_mode,
            throughput_mode: self.throughput_mode,
            provisioned_throughput_mibps: self.provisioned_throughput_mibps,
            transition_to_ia_days: ia,
            transition_to_archive_days: self.transition_to_archive_days,
            transition_to_primary_on_access: self.transition_to_primary_on_access,
            backup: self.backup || ctx.is_production(),
            allow_root_access: self.allow_root_access,
            access_points,
        })
    }

    fn check_source(&self, diagnostics: &mut Diagnostics) -> Option<(String, String)> {
        let raw = &self.source_security_group;
        let parsed = raw
            .split_once('.')
            .filter(|(stack, output)| check::is_stack_name(stack) && check::is_name(output, 64));
        if parsed.is_none() {
            diagnostics
                .error(
                    "source_security_group",
                    format!("`{raw}` is not `STACK.OUTPUT`"),
                )
                .help("name the stack and output of the group allowed to mount, e.g. `security.ecs-security-group-id`");
        }
        parsed.map(|(stack, output)| (stack.to_owned(), output.to_owned()))
    }

    fn check_modes(&self, diagnostics: &mut Diagnostics) {
        if self.performance_mode == PerformanceMode::MaxIo
            && self.throughput_mode == ThroughputMode::Elastic
        {
            diagnostics
                .error(
                    "performance_mode",
                    "`max-io` does not work with `elastic` throughput",
                )
                .help("use `general-purpose` (recommended), or `throughput_mode = \"bursting\"`");
        }
        match (self.throughput_mode, self.provisioned_throughput_mibps) {
            (ThroughputMode::Provisioned, None) => {
                diagnostics
                    .error(
                        "provisioned_throughput_mibps",
                        "`provisioned` throughput needs `provisioned_throughput_mibps`",
                    )
                    .help("e.g. `provisioned_throughput_mibps = 64`");
            }
            (ThroughputMode::Provisioned, Some(mibps)) if !PROVISIONED_MIBPS.contains(&mibps) => {
                diagnostics
                    .error(
                        "provisioned_throughput_mibps",
                        format!("`{mibps}` MiB/s is outside EFS's 1 to 3414"),
                    )
                    .help("use e.g. `64`");
            }
            (ThroughputMode::Elastic | ThroughputMode::Bursting, Some(_)) => {
                diagnostics
                    .error(
                        "provisioned_throughput_mibps",
                        "`provisioned_throughput_mibps` applies to `provisioned` throughput only",
                    )
                    .help("remove it, or set `throughput_mode = \"provisioned\"`");
            }
            _ => {}
        }
    }

    fn check_transitions(&self, diagnostics: &mut Diagnostics) -> Option<u32> {
        let ia = self.transition_to_ia_days;
        let ia = match ia {
            0 => None,
            days if TRANSITION_DAYS.contains(&days) => Some(days),
            days => {
                diagnostics
                    .error(
                        "transition_to_ia_days",
                        format!("`{days}` is not a period EFS transitions after"),
                    )
                    .help(transition_help(days, "`0` to keep files in Standard, or "));
                None
            }
        };
        if let Some(days) = self.transition_to_archive_days {
            if !TRANSITION_DAYS.contains(&days) {
                diagnostics
                    .error(
                        "transition_to_archive_days",
                        format!("`{days}` is not a period EFS transitions after"),
                    )
                    .help(transition_help(days, ""));
            } else if self.throughput_mode != ThroughputMode::Elastic {
                diagnostics
                    .error(
                        "transition_to_archive_days",
                        "the Archive class needs `elastic` throughput",
                    )
                    .help("remove it, or use `throughput_mode = \"elastic\"`");
            } else if let Some(ia) = ia
                && days <= ia
            {
                diagnostics
                    .error(
                        "transition_to_archive_days",
                        format!("files move to Archive after `{days}` days, not after Infrequent Access's `{ia}`"),
                    )
                    .help("archive later than the move to Infrequent Access, e.g. `90`");
            }
        }
        ia
    }

    fn check_access_points(&self, diagnostics: &mut Diagnostics) -> Vec<CheckedAccessPoint> {
        if self.access_points.len() > MAX_ACCESS_POINTS {
            diagnostics
                .error(
                    "access_points",
                    "EFS allows at most 10000 access points per file system",
                )
                .help("remove some");
        }
        let mut checked: Vec<CheckedAccessPoint> = Vec::new();
        for (index, point) in self.access_points.iter().enumerate() {
            let path = format!("access_points.{index}");
            let mut ok = check::resource_name(
                &format!("{path}.name"),
                "access point",
                &point.name,
                MAX_ACCESS_POINT_NAME,
                "uploads",
                diagnostics,
            );
            let logical_id = format!("{}AccessPoint", cfn::logical_id(&point.name));
            if ok {
                let earlier = checked
                    .iter()
                    .map(|p| (p.name.as_str(), p.logical_id.as_str()));
                ok = check::unique_name(
                    &format!("{path}.name"),
                    "access point",
                    &point.name,
                    &logical_id,
                    earlier,
                    diagnostics,
                );
            }
            if let Some(problem) = path_problem(&point.path) {
                diagnostics
                    .error(
                        format!("{path}.path"),
                        format!("`{}` is not an access point path: {problem}", point.path),
                    )
                    .help("an absolute path of letters, digits, `-`, `_`, `.` and `/`, e.g. `/uploads`");
                ok = false;
            }
            for (key, id) in [("uid", point.uid), ("gid", point.gid)] {
                if id > MAX_POSIX_ID {
                    diagnostics
                        .error(
                            format!("{path}.{key}"),
                            format!("`{id}` is above the largest POSIX id, 4294967295"),
                        )
                        .help("use the id your container runs as, e.g. `1000`");
                    ok = false;
                }
            }
            if !is_octal_mode(&point.permissions) {
                diagnostics
                    .error(
                        format!("{path}.permissions"),
                        format!("`{}` is not an octal file mode", point.permissions),
                    )
                    .help("write three or four octal digits, e.g. `0750`");
                ok = false;
            }
            if ok {
                checked.push(CheckedAccessPoint {
                    name: point.name.clone(),
                    logical_id,
                    path: point.path.clone(),
                    uid: point.uid,
                    gid: point.gid,
                    permissions: point.permissions.clone(),
                });
            }
        }
        checked
    }
}

fn transition_help(days: u32, prefix: &str) -> String {
    let below = TRANSITION_DAYS.iter().rev().find(|d| **d < days);
    let above = TRANSITION_DAYS.iter().find(|d| **d > days);
    match (below, above) {
        (Some(below), Some(above)) => format!("use {prefix}`{below}` or `{above}`"),
        (Some(nearest), None) | (None, Some(nearest)) => format!("use {prefix}`{nearest}`"),
        (None, None) => format!("use {prefix}`30`"),
    }
}

/// What is wrong with an access point's root directory, or `None`.
fn path_problem(path: &str) -> Option<&'static str> {
    if path.is_empty() {
        return Some("it is empty");
    }
    if !path.starts_with('/') {
        return Some("it does not start with `/`");
    }
    if path.len() > MAX_PATH {
        return Some("it is longer than 100 characters");
    }
    if path.len() > 1 && path.ends_with('/') {
        return Some("it ends with `/`");
    }
    if path.contains("//") || path.split('/').any(|part| part == "..") {
        return Some("it has an empty or `..` part");
    }
    if !path
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '-' | '_' | '.'))
    {
        return Some("it has characters other than letters, digits, `-`, `_`, `.` and `/`");
    }
    None
}

fn is_octal_mode(mode: &str) -> bool {
    (3..=4).contains(&mode.len()) && mode.bytes().all(|b| (b'0'..=b'7').contains(&b))
}
