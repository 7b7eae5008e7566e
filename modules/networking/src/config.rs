//! The `[stacks.<name>]` table of a networking stack, and its validation
//! into a [`Network`]: for a new VPC, a [`Layout`] with the VPC block and
//! every subnet's block, decided here so the renderer only wires resources
//! together; for an existing VPC, its checked ids ([`crate::existing`]).

use schemars::JsonSchema;
use serde::Deserialize;
use strata_sdk::check::{self, did_you_mean};
use strata_sdk::cidr::{Cidr, CidrError};
use strata_sdk::{Context, Diagnostics};

/// Subnet tiers, in the order their blocks are carved from the VPC.
pub const TIERS: usize = 3;

/// AWS services this module knows to offer as interface VPC endpoints (the
/// part after `com.amazonaws.<region>.`).
pub const INTERFACE_SERVICES: &[&str] = &[
    "athena",
    "cloudformation",
    "ec2",
    "ec2messages",
    "ecr.api",
    "ecr.dkr",
    "ecs",
    "ecs-agent",
    "ecs-telemetry",
    "elasticfilesystem",
    "elasticloadbalancing",
    "events",
    "execute-api",
    "kinesis-firehose",
    "kinesis-streams",
    "kms",
    "lambda",
    "logs",
    "monitoring",
    "rds",
    "secretsmanager",
    "sns",
    "sqs",
    "ssm",
    "ssmmessages",
    "states",
    "sts",
    "xray",
];

/// A VPC over several availability zones with public, private and isolated
/// subnets, NAT gateways, VPC endpoints and flow logs; or, with
/// `existing_vpc`, the DB subnet group, endpoint security group and flow logs
/// of a VPC created elsewhere.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// IPv4 block of the VPC, from `/16` to `/24`, e.g. `10.0.0.0/16`. Give each
    /// environment its own block if they may ever be peered. Not with
    /// `existing_vpc`.
    #[schemars(extend("default" = DEFAULT_CIDR))]
    pub cidr: Option<String>,
    /// Number of availability zones to spread subnets over (2 to 6). RDS needs
    /// at least 2. Not with `existing_vpc`.
    #[schemars(extend("default" = DEFAULT_ZONES))]
    pub availability_zones: Option<u32>,
    /// NAT gateways for the private subnets (0 to `availability_zones`). One per
    /// zone survives a zone outage; fewer is cheaper. Zone `i` uses gateway
    /// `i % nat_gateways`. 0 leaves private subnets without internet access.
    /// Not with `existing_vpc`.
    #[schemars(extend("default" = DEFAULT_NAT_GATEWAYS))]
    pub nat_gateways: Option<u32>,
    /// Prefix length of every subnet (e.g. 20 = 4,096 addresses). The
    /// `3 × availability_zones` subnets must fit in the VPC block. Not with
    /// `existing_vpc`.
    #[schemars(extend("default" = DEFAULT_SUBNET_PREFIX))]
    pub subnet_prefix: Option<u32>,
    /// Record the VPC's traffic in a CloudWatch log group.
    pub flow_logs: bool,
    /// Days to keep flow logs; a value CloudWatch Logs accepts (1, 3, 5, 7, 14,
    /// 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557,
    /// 2922, 3288 or 3653).
    pub flow_log_retention_days: u32,
    /// AWS services reached through interface endpoints in the private subnets
    /// instead of the NAT gateways, e.g. `secretsmanager`. Not with
    /// `existing_vpc`.
    #[schemars(extend("default" = DEFAULT_INTERFACE_ENDPOINTS))]
    pub interface_endpoints: Option<Vec<String>>,
    /// Route S3 traffic from private and isolated subnets through a free gateway
    /// endpoint. Not with `existing_vpc`.
    #[schemars(extend("default" = true))]
    pub s3_gateway_endpoint: Option<bool>,
    /// Adopt a VPC created elsewhere instead of creating one: its id, block,
    /// subnets and zones. No VPC, subnet, gateway, route or endpoint is created;
    /// the DB subnet group, the endpoint security group and the flow logs are.
    pub existing_vpc: Option<ExistingVpc>,
}

const DEFAULT_CIDR: &str = "10.0.0.0/16";
const DEFAULT_ZONES: u32 = 2;
const DEFAULT_NAT_GATEWAYS: u32 = 1;
const DEFAULT_SUBNET_PREFIX: u32 = 20;
const DEFAULT_INTERFACE_ENDPOINTS: [&str; 3] = ["ecr.api", "ecr.dkr", "logs"];

impl Default for Config {
    fn default() -> Self {
        Self {
            cidr: None,
            availability_zones: None,
            nat_gateways: None,
            subnet_prefix: None,
            flow_logs: true,
            flow_log_retention_days: 7,
            interface_endpoints: None,
            s3_gateway_endpoint: None,
            existing_vpc: None,
        }
    }
}

/// A VPC created outside this stack (by another team, another tool, or by
/// hand), described by its ids.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExistingVpc {
    /// The VPC's id: `vpc-` and 8 or 17 hex digits.
    pub vpc_id: String,
    /// The VPC's IPv4 block, e.g. `10.0.0.0/16` (exported as `vpc-cidr`).
    pub cidr: String,
    /// Ids of at least 2 public subnets (routed to an internet gateway), for
    /// load balancers: `subnet-` and 8 or 17 hex digits.
    pub public_subnet_ids: Vec<String>,
    /// Ids of at least 2 private subnets (outbound through NAT), for ECS tasks.
    pub private_subnet_ids: Vec<String>,
    /// Ids of at least 2 subnets without internet routes, for databases.
    /// Defaults to the private subnets.
    pub isolated_subnet_ids: Option<Vec<String>>,
    /// The availability zone of each private subnet, in the same order, e.g.
    /// `["us-east-1a", "us-east-1b"]`.
    pub availability_zones: Vec<String>,
}

/// What the stack builds: a new VPC, or resources in an existing one.
#[derive(Debug, Clone)]
pub enum Network {
    /// A new VPC with this layout.
    New(Layout),
    /// An existing VPC.
    Existing(Existing),
}

/// A validated `existing_vpc` table.
#[derive(Debug, Clone)]
pub struct Existing {
    /// The VPC's id.
    pub vpc_id: String,
    /// The VPC's block.
    pub cidr: Cidr,
    /// Public subnet ids.
    pub public_subnet_ids: Vec<String>,
    /// Private subnet ids.
    pub private_subnet_ids: Vec<String>,
    /// Isolated subnet ids (the private ones when none were given).
    pub isolated_subnet_ids: Vec<String>,
    /// Zones of the private subnets, in order.
    pub availability_zones: Vec<String>,
}

/// A validated config for a new VPC, with the subnet blocks computed.
#[derive(Debug, Clone)]
pub struct Layout {
    /// The VPC's block.
    pub vpc: Cidr,
    /// Availability zones used.
    pub zones: usize,
    /// NAT gateways (at most `zones`).
    pub nat_gateways: usize,
    /// Subnet blocks, tier-major: `subnets[tier][zone]`.
    pub subnets: [Vec<Cidr>; TIERS],
    /// Services with interface endpoints.
    pub interface_endpoints: Vec<String>,
    /// Whether to add the S3 gateway endpoint.
    pub s3_gateway_endpoint: bool,
}

/// The keys of a new VPC, with the defaults of absent ones applied.
struct NewVpc<'a> {
    cidr: &'a str,
    availability_zones: u32,
    nat_gateways: u32,
    subnet_prefix: u32,
    interface_endpoints: Vec<String>,
}

impl Config {
    /// Check every key, reporting all problems at once. On success, returns
    /// what to build and the warnings about a valid but risky config.
    pub fn validate(&self, ctx: &Context) -> Result<(Network, Diagnostics), Diagnostics> {
        match &self.existing_vpc {
            Some(existing) => self
                .validate_existing(ctx, existing)
                .map(|(existing, warnings)| (Network::Existing(existing), warnings)),
            None => self
                .validate_new(ctx)
                .map(|(layout, warnings)| (Network::New(layout), warnings)),
        }
    }

    fn validate_new(&self, ctx: &Context) -> Result<(Layout, Diagnostics), Diagnostics> {
        let new = NewVpc {
            cidr: self.cidr.as_deref().unwrap_or(DEFAULT_CIDR),
            availability_zones: self.availability_zones.unwrap_or(DEFAULT_ZONES),
            nat_gateways: self.nat_gateways.unwrap_or(DEFAULT_NAT_GATEWAYS),
            subnet_prefix: self.subnet_prefix.unwrap_or(DEFAULT_SUBNET_PREFIX),
            interface_endpoints: self
                .interface_endpoints
                .clone()
                .unwrap_or_else(|| DEFAULT_INTERFACE_ENDPOINTS.map(String::from).to_vec()),
        };
        let mut diagnostics = Diagnostics::new();
        let vpc = new.check_cidr(&mut diagnostics);
        let zones_ok = new.check_zones(&mut diagnostics);
        new.check_nat_gateways(ctx, &mut diagnostics);
        let prefix = new.check_subnet_prefix(vpc, zones_ok, &mut diagnostics);
        check::log_retention(
            "flow_log_retention_days",
            self.flow_log_retention_days,
            &mut diagnostics,
        );
        new.check_interface_endpoints(&mut diagnostics);
        diagnostics.check()?;

        // Every check passed, so the blocks fit; the `None` arm only guards
        // the arithmetic.
        let zones = new.availability_zones as usize;
        let layout = vpc.zip(prefix).and_then(|(vpc, prefix)| {
            let tier = |t: usize| -> Option<Vec<Cidr>> {
                (0..zones)
                    .map(|zone| vpc.subnet(prefix, (t * zones + zone) as u128))
                    .collect()
            };
            Some(Layout {
                vpc,
                zones,
                nat_gateways: new.nat_gateways as usize,
                subnets: [tier(0)?, tier(1)?, tier(2)?],
                interface_endpoints: new.interface_endpoints.clone(),
                s3_gateway_endpoint: self.s3_gateway_endpoint.unwrap_or(true),
            })
        });
        match layout {
            Some(layout) => Ok((layout, diagnostics)),
            None => {
                diagnostics.error("subnet_prefix", "the subnets do not fit in the VPC block");
                Err(diagnostics)
            }
        }
    }

    fn validate_existing(
        &self,
        ctx: &Context,
        existing: &ExistingVpc,
    ) -> Result<(Existing, Diagnostics), Diagnostics> {
        let mut diagnostics = Diagnostics::new();
        self.check_keys_of_a_new_vpc(&mut diagnostics);
        let cidr = crate::existing::check(ctx, existing, &mut diagnostics);
        check::log_retention(
            "flow_log_retention_days",
            self.flow_log_retention_days,
            &mut diagnostics,
        );
        diagnostics.check()?;
        match cidr {
            Some(cidr) => Ok((
                Existing {
                    vpc_id: existing.vpc_id.clone(),
                    cidr,
                    public_subnet_ids: existing.public_subnet_ids.clone(),
                    private_subnet_ids: existing.private_subnet_ids.clone(),
                    isolated_subnet_ids: existing
                        .isolated_subnet_ids
                        .clone()
                        .unwrap_or_else(|| existing.private_subnet_ids.clone()),
                    availability_zones: existing.availability_zones.clone(),
                },
                diagnostics,
            )),
            None => {
                diagnostics.error("existing_vpc.cidr", "the VPC block did not parse");
                Err(diagnostics)
            }
        }
    }

    /// The keys that shape a new VPC say nothing about an existing one: each
    /// one set is an error at its key.
    fn check_keys_of_a_new_vpc(&self, diagnostics: &mut Diagnostics) {
        let set = [
            (
                "cidr",
                self.cidr.is_some(),
                "remove it; give the VPC's block as `existing_vpc.cidr`",
            ),
            (
                "availability_zones",
                self.availability_zones.is_some(),
                "remove it; list the private subnets' zones as `existing_vpc.availability_zones`",
            ),
            (
                "nat_gateways",
                self.nat_gateways.is_some(),
                "remove it; the existing VPC's NAT gateways and routes are managed where the VPC is",
            ),
            (
                "subnet_prefix",
                self.subnet_prefix.is_some(),
                "remove it; the existing VPC's subnets are listed in `existing_vpc`",
            ),
            (
                "interface_endpoints",
                self.interface_endpoints.is_some(),
                "remove it; the existing VPC's endpoints are managed where the VPC is",
            ),
            (
                "s3_gateway_endpoint",
                self.s3_gateway_endpoint.is_some(),
                "remove it; the existing VPC's endpoints are managed where the VPC is",
            ),
        ];
        for (key, is_set, help) in set {
            if is_set {
                diagnostics
                    .error(key, format!("`{key}` does not apply to an existing VPC"))
                    .help(help);
            }
        }
    }
}

impl NewVpc<'_> {
    fn check_cidr(&self, diagnostics: &mut Diagnostics) -> Option<Cidr> {
        let cidr = self.cidr;
        match Cidr::parse_ipv4(cidr) {
            Ok(vpc) if (16..=24).contains(&vpc.prefix()) => Some(vpc),
            Ok(vpc) => {
                let help = if vpc.prefix() < 16 {
                    "AWS VPCs are at most a /16 (65,536 addresses); use a block such as `10.0.0.0/16`"
                } else {
                    "three tiers of subnets in every zone need at least a /24; use a block such as `10.0.0.0/16`"
                };
                let message = format!(
                    "VPC block `{cidr}` has prefix `/{}`, expected /16 to /24",
                    vpc.prefix()
                );
                diagnostics.error("cidr", message).help(help);
                None
            }
            Err(CidrError::HostBitsSet(network)) => {
                diagnostics
                    .error(
                        "cidr",
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
                    .error("cidr", format!("`{cidr}` is not an IPv4 CIDR block"))
                    .help("write a network address and a prefix length, e.g. `10.0.0.0/16`");
                None
            }
        }
    }

    fn check_zones(&self, diagnostics: &mut Diagnostics) -> bool {
        let zones = self.availability_zones;
        if (2..=6).contains(&zones) {
            return true;
        }
        let help = if zones < 2 {
            "RDS subnet groups and load balancers need subnets in at least 2 zones; use `2`"
        } else {
            "most regions have 3 zones; use `3`"
        };
        diagnostics
            .error(
                "availability_zones",
                format!("expected 2 to 6 availability zones, got `{zones}`"),
            )
            .help(help);
        false
    }

    fn check_nat_gateways(&self, ctx: &Context, diagnostics: &mut Diagnostics) {
        let (nat, zones) = (self.nat_gateways, self.availability_zones);
        let gateways = count(nat, "NAT gateway");
        if nat > zones {
            diagnostics
                .error(
                    "nat_gateways",
                    format!("{gateways} for `{zones}` availability zones"),
                )
                .help(format!(
                    "a zone holds at most one NAT gateway; use at most `{zones}`"
                ));
        } else if nat == 0 {
            diagnostics
                .warning("nat_gateways", "`0` NAT gateways: private subnets get no route to the internet")
                .help("services there reach AWS only through VPC endpoints; use `1` or more for outbound traffic");
        } else if nat < zones && ctx.is_production() {
            let message = format!(
                "{gateways} for `{zones}` availability zones in production: a single NAT gateway is a single point \
                 of failure for every zone routed through it"
            );
            diagnostics.warning("nat_gateways", message).help(format!(
                "use `nat_gateways = {zones}` in production, one per zone"
            ));
        }
    }

    fn check_subnet_prefix(
        &self,
        vpc: Option<Cidr>,
        zones_ok: bool,
        diagnostics: &mut Diagnostics,
    ) -> Option<u8> {
        let prefix = self.subnet_prefix;
        let Some(subnet) = u8::try_from(prefix).ok().filter(|p| (16..=28).contains(p)) else {
            diagnostics
                .error(
                    "subnet_prefix",
                    format!("subnet prefix `{prefix}` is outside 16 to 28"),
                )
                .help("AWS subnets are /16 to /28; use `20` (4,096 addresses) or `24` (256)");
            return None;
        };
        // Whether the subnets fit depends on the VPC block and zone count;
        // when either is already wrong, that error says enough.
        let vpc = vpc.filter(|_| zones_ok)?;
        let needed = u128::from(self.availability_zones) * TIERS as u128;
        if subnet <= vpc.prefix() {
            diagnostics
                .error(
                    "subnet_prefix",
                    format!(
                        "subnet prefix `{prefix}` must be longer than the VPC's `/{}`",
                        vpc.prefix()
                    ),
                )
                .help(fitting_prefix_help(vpc, needed));
            return None;
        }
        let fit = vpc.subnet_count(subnet);
        if fit < needed {
            diagnostics
                .error(
                    "subnet_prefix",
                    format!(
                        "`{needed}` subnets of `/{prefix}` (3 tiers × {} zones) do not fit in `{vpc}`; only {fit} do",
                        self.availability_zones
                    ),
                )
                .help(fitting_prefix_help(vpc, needed));
            return None;
        }
        Some(subnet)
    }

    fn check_interface_endpoints(&self, diagnostics: &mut Diagnostics) {
        for (index, service) in self.interface_endpoints.iter().enumerate() {
            let path = format!("interface_endpoints.{index}");
            if self.interface_endpoints[..index].contains(service) {
                diagnostics
                    .error(
                        path,
                        format!("interface endpoint `{service}` is listed twice"),
                    )
                    .help("remove the duplicate");
                continue;
            }
            if INTERFACE_SERVICES.contains(&service.as_str()) {
                continue;
            }
            let help = match service.as_str() {
                "s3" => "S3 is reached through the free gateway endpoint; set `s3_gateway_endpoint = true`".to_owned(),
                "dynamodb" => "DynamoDB is reached through a gateway endpoint, which this module does not create".to_owned(),
                _ => match did_you_mean(service, INTERFACE_SERVICES) {
                    Some(known) => format!("did you mean `{known}`?"),
                    None => format!("known services: {}", quoted_list(INTERFACE_SERVICES)),
                },
            };
            diagnostics
                .error(
                    path,
                    format!("unknown interface endpoint service `{service}`"),
                )
                .help(help);
        }
    }
}

/// Help naming the shortest subnet prefix (the largest subnets) for which
/// `needed` subnets fit in `vpc`, or asking for a larger VPC.
fn fitting_prefix_help(vpc: Cidr, needed: u128) -> String {
    let bits = u8::try_from(128 - (needed.max(1) - 1).leading_zeros()).unwrap_or(u8::MAX);
    match vpc.prefix().checked_add(bits).filter(|p| *p <= 28) {
        Some(prefix) => format!("use `subnet_prefix = {prefix}`, or a larger VPC block"),
        None => "use a larger VPC block, e.g. `10.0.0.0/16`".to_owned(),
    }
}

/// `` `1` NAT gateway ``, `` `2` NAT gateways ``.
fn count(n: u32, noun: &str) -> String {
    if n == 1 {
        format!("`1` {noun}")
    } else {
        format!("`{n}` {noun}s")
    }
}

fn quoted_list(items: &[&str]) -> String {
    items
        .iter()
        .map(|item| format!("`{item}`"))
        .collect::<Vec<_>>()
        .join(", ")
}
