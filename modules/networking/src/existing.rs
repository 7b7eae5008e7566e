//! Checks of the `existing_vpc` table: the ids, block, subnets and zones of
//! a VPC created outside this stack. Nothing here can ask AWS whether the
//! ids exist; the checks catch what can be seen in the file (shapes, counts,
//! duplicates, a zone of another region), and CloudFormation reports an id
//! that does not exist when the stack deploys.

use strata_sdk::cidr::{Cidr, CidrError};
use strata_sdk::{Context, Diagnostics};

use crate::config::ExistingVpc;

/// Check every key of `existing_vpc`; returns the VPC's block when it parses.
pub fn check(ctx: &Context, existing: &ExistingVpc, diagnostics: &mut Diagnostics) -> Option<Cidr> {
    check_vpc_id(&existing.vpc_id, diagnostics);
    let cidr = check_cidr(&existing.cidr, diagnostics);
    check_subnets(
        "public_subnet_ids",
        &existing.public_subnet_ids,
        &[],
        diagnostics,
    );
    check_subnets(
        "private_subnet_ids",
        &existing.private_subnet_ids,
        &[("public_subnet_ids", &existing.public_subnet_ids)],
        diagnostics,
    );
    if let Some(isolated) = &existing.isolated_subnet_ids {
        check_subnets(
            "isolated_subnet_ids",
            isolated,
            &[("public_subnet_ids", &existing.public_subnet_ids)],
            diagnostics,
        );
    }
    check_zones(ctx, existing, diagnostics);
    cidr
}

/// `prefix` followed by 8 or 17 lowercase hex digits, e.g. `vpc-0a1b2c3d`.
pub fn is_aws_id(id: &str, prefix: &str) -> bool {
    id.strip_prefix(prefix).is_some_and(|hex| {
        matches!(hex.len(), 8 | 17)
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

fn check_vpc_id(id: &str, diagnostics: &mut Diagnostics) {
    if !is_aws_id(id, "vpc-") {
        diagnostics
            .error("existing_vpc.vpc_id", format!("`{id}` is not a VPC id"))
            .help(
                "VPC ids are `vpc-` and 8 or 17 lowercase hex digits, e.g. `vpc-0123456789abcdef0`; \
                 `aws ec2 describe-vpcs` lists them",
            );
    }
}

fn check_cidr(cidr: &str, diagnostics: &mut Diagnostics) -> Option<Cidr> {
    let path = "existing_vpc.cidr";
    match Cidr::parse_ipv4(cidr) {
        Ok(block) if (16..=28).contains(&block.prefix()) => Some(block),
        Ok(block) => {
            diagnostics
                .error(
                    path,
                    format!(
                        "VPC block `{cidr}` has prefix `/{}`, expected /16 to /28",
                        block.prefix()
                    ),
                )
                .help("give the VPC's primary IPv4 block as `aws ec2 describe-vpcs` shows it");
            None
        }
        Err(CidrError::HostBitsSet(network)) => {
            diagnostics
                .error(
                    path,
                    format!(
                        "`{cidr}` has bits set after the `/{}` prefix",
                        network.prefix()
                    ),
                )
                .help(format!("did you mean `{network}`?"));
            None
        }
        Err(CidrError::Syntax) => {
            diagnostics
                .error(path, format!("`{cidr}` is not an IPv4 CIDR block"))
                .help("write a network address and a prefix length, e.g. `10.0.0.0/16`");
            None
        }
    }
}

/// Each id well-formed, listed once, in no list of `others`; at least 2.
fn check_subnets(
    key: &str,
    ids: &[String],
    others: &[(&str, &[String])],
    diagnostics: &mut Diagnostics,
) {
    let path = format!("existing_vpc.{key}");
    if ids.len() < 2 {
        diagnostics
            .error(
                path.as_str(),
                format!(
                    "`{}` subnet(s) listed, expected at least 2",
                    ids.len()
                ),
            )
            .help(
                "RDS subnet groups and load balancers need subnets in at least 2 availability zones; \
                 list one subnet per zone",
            );
    }
    for (index, id) in ids.iter().enumerate() {
        let item = format!("{path}.{index}");
        if !is_aws_id(id, "subnet-") {
            diagnostics
                .error(item, format!("`{id}` is not a subnet id"))
                .help("subnet ids are `subnet-` and 8 or 17 lowercase hex digits, e.g. `subnet-0123456789abcdef0`");
        } else if ids[..index].contains(id) {
            diagnostics
                .error(item, format!("subnet `{id}` is listed twice"))
                .help("remove the duplicate");
        } else if let Some((other, _)) = others.iter().find(|(_, list)| list.contains(id)) {
            diagnostics
                .error(item, format!("subnet `{id}` is also in `existing_vpc.{other}`"))
                .help("a subnet is either public (routed to the internet gateway) or not; list it once");
        }
    }
}

/// One zone of the stack's region per private subnet, at least 2 distinct.
fn check_zones(ctx: &Context, existing: &ExistingVpc, diagnostics: &mut Diagnostics) {
    let path = "existing_vpc.availability_zones";
    let zones = &existing.availability_zones;
    let subnets = existing.private_subnet_ids.len();
    if zones.len() != subnets {
        diagnostics
            .error(
                path,
                format!(
                    "`{}` availability zone(s) for `{subnets}` private subnet(s)",
                    zones.len()
                ),
            )
            .help(
                "list the zone of each private subnet, in the same order as `private_subnet_ids`",
            );
    }
    let region = ctx.region.as_str();
    let mut all_valid = true;
    for (index, zone) in zones.iter().enumerate() {
        let letter = zone.strip_prefix(region);
        let valid = letter.is_some_and(|letter| {
            letter.len() == 1 && letter.bytes().all(|b| b.is_ascii_lowercase())
        });
        if !valid {
            all_valid = false;
            let example = format!("{region}a");
            let message = if is_zone_name(zone) {
                format!("availability zone `{zone}` is not in region `{region}`")
            } else {
                format!("`{zone}` is not an availability zone name")
            };
            diagnostics
                .error(format!("{path}.{index}"), message)
                .help(format!(
                    "zone names are the region and a letter, e.g. `{example}`; the stack deploys to `{region}`"
                ));
        }
    }
    let first = zones.first();
    if all_valid && zones.len() >= 2 && zones.iter().all(|zone| Some(zone) == first) {
        diagnostics
            .error(
                path,
                format!(
                    "every private subnet is in `{}`",
                    first.map(String::as_str).unwrap_or_default()
                ),
            )
            .help("RDS and load balancers need subnets in at least 2 availability zones");
    }
}

/// Looks like `xx-xxxx-N` and a letter, whatever the region.
fn is_zone_name(zone: &str) -> bool {
    let Some(body) = zone.strip_suffix(|c: char| c.is_ascii_lowercase()) else {
        return false;
    };
    let parts: Vec<&str> = body.split('-').collect();
    parts.len() >= 3
        && parts
            .last()
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        && parts[..parts.len() - 1]
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_vpc_and_subnet_ids() {
        assert!(is_aws_id("vpc-0a1b2c3d", "vpc-"));
        assert!(is_aws_id("vpc-0123456789abcdef0", "vpc-"));
        assert!(is_aws_id("subnet-0123456789abcdef0", "subnet-"));
        for bad in [
            "vpc-",
            "vpc-0a1b2c3",
            "vpc-0A1B2C3D",
            "vpc-0123456789abcdef",
            "subnet-0a1b2c3d",
            "vpc-0a1b2c3g",
        ] {
            assert!(!is_aws_id(bad, "vpc-"), "{bad}");
        }
    }

    #[test]
    fn recognises_zone_names_of_any_region() {
        for zone in [
            "us-east-1a",
            "eu-west-3c",
            "ap-southeast-2b",
            "us-gov-west-1a",
        ] {
            assert!(is_zone_name(zone), "{zone}");
        }
        for zone in ["us-east-1", "useast1a", "us-east-a", "US-EAST-1A", ""] {
            assert!(!is_zone_name(zone), "{zone}");
        }
    }
}
