//! Strata's built-in policy: the reference architecture's guarantees, checked
//! over every rendered template of an environment, whoever wrote the module
//! that rendered it. One rule per guarantee ([`RULES`]); every finding is an
//! error (a repository may lower a rule per environment in `strata.toml`).
//!
//! The tables it reads are the SDK's: where each resource type keeps its
//! tags (`tag-properties.txt`, `untaggable-types.txt`) and which properties
//! hold physical names (`name-properties.txt`), so a module's unit tests,
//! `strata module check` and this policy agree.

use std::collections::BTreeSet;

use strata_sdk::policy::{
    Environment, Finding, Findings, ResourceRef, Rule, StackByStack, name_properties, truthy,
};
use strata_sdk::testing::TagRules;
use strata_sdk::{Value, json};

#[cfg(test)]
mod tests;

/// Every rule this policy reports.
pub const RULES: &[Rule] = &[
    Rule::new(
        "tags",
        "every taggable resource carries the environment's tags",
    ),
    Rule::new("names", "physical names carry `{project}-{environment}`"),
    Rule::new(
        "encryption",
        "data is encrypted at rest wherever the service supports it",
    ),
    Rule::new(
        "public-database",
        "no database instance is publicly accessible",
    ),
    Rule::new(
        "open-ingress",
        "only a load balancer admits the internet (`0.0.0.0/0`, `::/0`), and only on 80 and 443",
    ),
    Rule::new(
        "https",
        "listeners redirect HTTP to HTTPS, CloudFront viewers use HTTPS, buckets deny plain HTTP",
    ),
    Rule::new(
        "backups",
        "databases keep automated backups for at least 7 days",
    ),
    Rule::new(
        "multi-az",
        "production databases and caches span availability zones",
    ),
    Rule::new(
        "deletion-protection",
        "production databases and load balancers have deletion protection",
    ),
    Rule::new(
        "alarms",
        "in an environment with alarms, every database, load balancer and ECS service has one",
    ),
];

/// Check every guarantee over `env`: each stack as the sandbox sees it, one
/// at a time.
pub fn evaluate(env: &Environment) -> Findings {
    strata_sdk::policy::stack_by_stack::<Guarantees>(env)
}

/// The guarantees, checked one stack at a time (the sandbox holds one parsed
/// template, not the environment's): every rule but `alarms` reads one
/// resource and its stack; `alarms` keeps what it needs across stacks.
#[derive(Default)]
pub struct Guarantees {
    tag_rules: TagRules,
    alarms: Alarms,
}

impl StackByStack for Guarantees {
    fn stack(&mut self, env: &Environment, findings: &mut Findings) {
        for resource in env.resources() {
            tags(env, &self.tag_rules, &resource, findings);
            names(env, &resource, findings);
            encryption(&resource, findings);
            public_database(&resource, findings);
            open_ingress(&resource, findings);
            https(&resource, findings);
            backups(&resource, findings);
            if env.production {
                multi_az(&resource, findings);
                deletion_protection(&resource, findings);
            }
            self.alarms.see(&resource);
        }
    }

    fn finish(self, _env: &Environment, findings: &mut Findings) {
        self.alarms.conclude(findings);
    }
}

strata_sdk::policy! {
    name: "guarantees",
    description: "The reference architecture's guarantees, on every stack",
    rules: RULES,
    stack_by_stack: Guarantees,
}

fn tags(env: &Environment, rules: &TagRules, r: &ResourceRef<'_>, findings: &mut Findings) {
    if rules.is_untaggable(r.kind) {
        return;
    }
    let property = rules.tags_property(r.kind);
    let path = format!("Properties.{property}");
    let tags = r.property(&path);
    let missing: Vec<String> = env
        .tags
        .iter()
        .filter(|(key, _)| key != "Name")
        .filter(|(key, value)| {
            let found = match tags {
                Some(Value::Array(list)) => list
                    .iter()
                    .find(|t| t["Key"] == key.as_str())
                    .map(|t| &t["Value"]),
                Some(Value::Object(map)) => map.get(key.as_str()),
                _ => None,
            };
            found.is_none_or(|found| found != value.as_str())
        })
        .map(|(key, value)| format!("{key}={value}"))
        .collect();
    if missing.is_empty() {
        return;
    }
    let message = if tags.is_none() {
        format!("`{}` has no `{property}`", r.kind)
    } else {
        format!("`{}` lacks the tags {}", r.kind, missing.join(", "))
    };
    findings
        .error("tags", r, &path, message)
        .help(format!(
            "tag it with every environment tag (`ctx.tags()`, or `ctx.tag_map()` for types that take a map): {}",
            missing.join(", ")
        ));
}

/// The text of a name: a string, or an `Fn::Sub` template.
fn name_text(value: &Value) -> Option<&str> {
    match value {
        Value::String(s) => Some(s),
        Value::Object(map) => map.get("Fn::Sub").and_then(Value::as_str),
        _ => None,
    }
}

fn names(env: &Environment, r: &ResourceRef<'_>, findings: &mut Findings) {
    let prefix = env.prefix();
    let short: String = env.project.chars().take(8).collect();
    for property in name_properties(r.kind) {
        let path = format!("Properties.{property}");
        let Some(text) = r.property(&path).and_then(name_text) else {
            continue;
        };
        // Load balancer and target group names are capped at 32 characters
        // and may be shortened; they keep the project's start.
        let shortened = property == "Name"
            && r.kind.starts_with("AWS::ElasticLoadBalancingV2")
            && text.starts_with(&short);
        if text.contains(&prefix) || shortened {
            continue;
        }
        findings
            .error(
                "names",
                r,
                &path,
                format!("`{}` is named `{text}`, outside `{prefix}-…`", r.kind),
            )
            .help(format!(
                "name it `{prefix}-…` (`ctx.name(\"…\")` in a module): the prefix keeps projects and environments apart in one account"
            ));
    }
}

fn encryption(r: &ResourceRef<'_>, findings: &mut Findings) {
    let (path, ok, help) = match r.kind {
        "AWS::S3::Bucket" => (
            "Properties.BucketEncryption",
            r.has("Properties.BucketEncryption"),
            "set `BucketEncryption` (SSE-S3 or SSE-KMS)",
        ),
        "AWS::RDS::DBCluster" => (
            "Properties.StorageEncrypted",
            r.is_true("Properties.StorageEncrypted"),
            "set `StorageEncrypted: true`",
        ),
        "AWS::RDS::DBInstance" => (
            "Properties.StorageEncrypted",
            r.has("Properties.DBClusterIdentifier") || r.is_true("Properties.StorageEncrypted"),
            "set `StorageEncrypted: true`",
        ),
        "AWS::SQS::Queue" => (
            "Properties.SqsManagedSseEnabled",
            r.has("Properties.KmsMasterKeyId") || r.is_true("Properties.SqsManagedSseEnabled"),
            "set `SqsManagedSseEnabled: true` or a `KmsMasterKeyId`",
        ),
        "AWS::SNS::Topic" => (
            "Properties.KmsMasterKeyId",
            r.has("Properties.KmsMasterKeyId"),
            "set `KmsMasterKeyId` (`alias/aws/sns` at least)",
        ),
        "AWS::SecretsManager::Secret" => (
            "Properties.KmsKeyId",
            r.has("Properties.KmsKeyId"),
            "set `KmsKeyId`",
        ),
        "AWS::ElastiCache::ReplicationGroup" => (
            "Properties.AtRestEncryptionEnabled",
            r.is_true("Properties.AtRestEncryptionEnabled"),
            "set `AtRestEncryptionEnabled: true`",
        ),
        "AWS::ECR::Repository" => (
            "Properties.EncryptionConfiguration",
            r.has("Properties.EncryptionConfiguration"),
            "set `EncryptionConfiguration`",
        ),
        "AWS::KMS::Key" => (
            "Properties.EnableKeyRotation",
            r.is_true("Properties.EnableKeyRotation"),
            "set `EnableKeyRotation: true`",
        ),
        "AWS::CloudTrail::Trail" => (
            "Properties.KMSKeyId",
            r.has("Properties.KMSKeyId"),
            "set `KMSKeyId`",
        ),
        _ => return,
    };
    if !ok {
        findings
            .error(
                "encryption",
                r,
                path,
                format!("`{}` is not encrypted at rest", r.kind),
            )
            .help(help);
    }
}

fn public_database(r: &ResourceRef<'_>, findings: &mut Findings) {
    if r.kind != "AWS::RDS::DBInstance" {
        return;
    }
    let public = r.property("Properties.PubliclyAccessible");
    if !matches!(public, Some(v) if v == &Value::Bool(false) || v == "false") {
        findings
            .error(
                "public-database",
                r,
                "Properties.PubliclyAccessible",
                format!(
                    "`{}` does not set `PubliclyAccessible: false` (CloudFormation's default depends on the subnets)",
                    r.kind
                ),
            )
            .help("set `PubliclyAccessible: false`; reach the database through the VPC");
    }
}

/// Whether the security group `group` (a `{"Ref": id}`) is a load
/// balancer's, in the same stack.
fn is_load_balancer_group(r: &ResourceRef<'_>, group: &Value) -> bool {
    let Some(id) = group.get("Ref").and_then(Value::as_str) else {
        return false;
    };
    r.stack.resource(id).is_some_and(|sg| {
        sg.kind == "AWS::EC2::SecurityGroup" && {
            let p = sg.properties();
            let text = format!("{} {}", p["GroupDescription"], p["Tags"]).to_lowercase();
            text.contains("load balancer") || text.contains("-alb")
        }
    })
}

fn open_ingress(r: &ResourceRef<'_>, findings: &mut Findings) {
    let mut rules: Vec<(String, &Value, Value)> = Vec::new();
    match r.kind {
        "AWS::EC2::SecurityGroup" => {
            if let Some(Value::Array(list)) = r.property("Properties.SecurityGroupIngress") {
                for (i, rule) in list.iter().enumerate() {
                    rules.push((
                        format!("Properties.SecurityGroupIngress.{i}"),
                        rule,
                        json!({ "Ref": r.id }),
                    ));
                }
            }
        }
        "AWS::EC2::SecurityGroupIngress" => rules.push((
            "Properties".to_owned(),
            r.properties(),
            r.properties()["GroupId"].clone(),
        )),
        _ => return,
    }
    for (path, rule, group) in rules {
        let open = rule["CidrIp"] == "0.0.0.0/0" || rule["CidrIpv6"] == "::/0";
        if !open {
            continue;
        }
        let web_port = rule["FromPort"] == rule["ToPort"]
            && (rule["FromPort"] == 80 || rule["FromPort"] == 443);
        let to_balancer = is_load_balancer_group(r, &group);
        if web_port && to_balancer {
            continue;
        }
        let what = if to_balancer {
            format!(
                "admits the internet on ports {}-{}",
                rule["FromPort"], rule["ToPort"]
            )
        } else {
            "admits the internet to a group that is not a load balancer's".to_owned()
        };
        findings
            .error("open-ingress", r, &path, format!("`{}` {what}", r.kind))
            .help("admit `0.0.0.0/0` only to the load balancer's security group, on 80 and 443; reach everything else from inside the VPC");
    }
}

fn https(r: &ResourceRef<'_>, findings: &mut Findings) {
    match r.kind {
        "AWS::ElasticLoadBalancingV2::Listener" if r.properties()["Protocol"] == "HTTP" => {
            let redirects = r.properties()["DefaultActions"]
                .as_array()
                .into_iter()
                .flatten()
                .all(|a| a["Type"] == "redirect" && a["RedirectConfig"]["Protocol"] == "HTTPS");
            if !redirects {
                findings
                    .error(
                        "https",
                        r,
                        "Properties.DefaultActions",
                        "the listener serves plain HTTP instead of redirecting to HTTPS",
                    )
                    .help("make the HTTP listener's only action a `redirect` to `HTTPS` on 443");
            }
        }
        "AWS::CloudFront::Distribution" => {
            let config = &r.properties()["DistributionConfig"];
            let behaviours = std::iter::once((
                "Properties.DistributionConfig.DefaultCacheBehavior".to_owned(),
                &config["DefaultCacheBehavior"],
            ))
            .chain(
                config["CacheBehaviors"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .enumerate()
                    .map(|(i, b)| {
                        (
                            format!("Properties.DistributionConfig.CacheBehaviors.{i}"),
                            b,
                        )
                    }),
            );
            for (path, behaviour) in behaviours {
                let policy = &behaviour["ViewerProtocolPolicy"];
                if policy != "redirect-to-https" && policy != "https-only" {
                    findings
                        .error(
                            "https",
                            r,
                            &format!("{path}.ViewerProtocolPolicy"),
                            format!("the distribution lets viewers use HTTP ({policy})"),
                        )
                        .help("set `ViewerProtocolPolicy` to `redirect-to-https`");
                }
            }
        }
        "AWS::S3::Bucket" => {
            let denied = r.siblings().any(|policy| {
                policy.kind == "AWS::S3::BucketPolicy"
                    && policy.properties()["Bucket"]["Ref"] == r.id
                    && {
                        let text = policy.properties()["PolicyDocument"].to_string();
                        text.contains("aws:SecureTransport") && text.contains("Deny")
                    }
            });
            if !denied {
                findings
                    .error(
                        "https",
                        r,
                        "",
                        "no bucket policy of the stack denies requests to the bucket without TLS",
                    )
                    .help("add an `AWS::S3::BucketPolicy` that denies `s3:*` when `aws:SecureTransport` is `false`");
            }
        }
        _ => {}
    }
}

fn backups(r: &ResourceRef<'_>, findings: &mut Findings) {
    let applies = r.kind == "AWS::RDS::DBCluster"
        || (r.kind == "AWS::RDS::DBInstance" && !r.has("Properties.DBClusterIdentifier"));
    if !applies {
        return;
    }
    let days = r.property("Properties.BackupRetentionPeriod");
    let number = days.and_then(|d| {
        d.as_u64()
            .or_else(|| d.as_str().and_then(|s| s.parse().ok()))
    });
    if number.is_none_or(|d| d < 7) {
        let kept = days.map_or("the default 1".to_owned(), Value::to_string);
        findings
            .error(
                "backups",
                r,
                "Properties.BackupRetentionPeriod",
                format!("`{}` keeps backups for {kept} days, fewer than 7", r.kind),
            )
            .help("set `BackupRetentionPeriod` to 7 or more");
    }
}

fn multi_az(r: &ResourceRef<'_>, findings: &mut Findings) {
    match r.kind {
        "AWS::RDS::DBInstance"
            if !r.has("Properties.DBClusterIdentifier") && !r.is_true("Properties.MultiAZ") =>
        {
            findings
                .error(
                    "multi-az",
                    r,
                    "Properties.MultiAZ",
                    "the production database is not multi-AZ",
                )
                .help("set `MultiAZ: true`");
        }
        "AWS::RDS::DBCluster" => {
            let instances = r
                .siblings()
                .filter(|i| {
                    i.kind == "AWS::RDS::DBInstance"
                        && i.properties()["DBClusterIdentifier"]["Ref"] == r.id
                })
                .count();
            if instances < 2 {
                findings
                    .error(
                        "multi-az",
                        r,
                        "",
                        format!(
                            "the production cluster has {instances} instance{}, so it is not multi-AZ",
                            if instances == 1 { "" } else { "s" }
                        ),
                    )
                    .help("give the cluster a second instance (a reader in another availability zone)");
            }
        }
        "AWS::ElastiCache::ReplicationGroup" if !r.is_true("Properties.MultiAZEnabled") => {
            findings
                .error(
                    "multi-az",
                    r,
                    "Properties.MultiAZEnabled",
                    "the production cache is not multi-AZ",
                )
                .help("set `MultiAZEnabled: true` with a replica in another availability zone");
        }
        _ => {}
    }
}

/// A cluster, or an instance that is not a cluster's member (whose cluster
/// holds the setting).
fn standalone_or_cluster(r: &ResourceRef<'_>) -> bool {
    r.kind == "AWS::RDS::DBCluster" || !r.has("Properties.DBClusterIdentifier")
}

fn deletion_protection(r: &ResourceRef<'_>, findings: &mut Findings) {
    match r.kind {
        "AWS::RDS::DBCluster" | "AWS::RDS::DBInstance"
            if standalone_or_cluster(r) && !r.is_true("Properties.DeletionProtection") =>
        {
            findings
                .error(
                    "deletion-protection",
                    r,
                    "Properties.DeletionProtection",
                    "the production database has no deletion protection",
                )
                .help("set `DeletionProtection: true`");
        }
        "AWS::ElasticLoadBalancingV2::LoadBalancer" => {
            let protected = r.properties()["LoadBalancerAttributes"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|a| a["Key"] == "deletion_protection.enabled" && truthy(&a["Value"]));
            if !protected {
                findings
                    .error(
                        "deletion-protection",
                        r,
                        "Properties.LoadBalancerAttributes",
                        "the production load balancer has no deletion protection",
                    )
                    .help("add the attribute `deletion_protection.enabled` = `true`");
            }
        }
        _ => {}
    }
}

/// What `alarms` needs across stacks: whether the environment alarms at
/// all, the metric namespaces its alarms watch, and its critical resources.
#[derive(Default)]
struct Alarms {
    any: bool,
    watched: BTreeSet<String>,
    critical: Vec<Critical>,
}

/// A resource that needs an alarm, by stack and logical id.
struct Critical {
    stack: String,
    id: String,
    needed: &'static [&'static str],
    what: &'static str,
}

impl Alarms {
    fn see(&mut self, r: &ResourceRef<'_>) {
        if r.kind == "AWS::CloudWatch::Alarm" {
            self.any = true;
            let p = r.properties();
            if let Some(ns) = p["Namespace"].as_str() {
                self.watched.insert(ns.to_owned());
            }
            for metric in p["Metrics"].as_array().into_iter().flatten() {
                if let Some(ns) = metric["MetricStat"]["Metric"]["Namespace"].as_str() {
                    self.watched.insert(ns.to_owned());
                }
            }
            return;
        }
        let (needed, what): (&'static [&'static str], &'static str) = match r.kind {
            "AWS::RDS::DBCluster" => (&["AWS/RDS"], "database"),
            "AWS::RDS::DBInstance" if !r.has("Properties.DBClusterIdentifier") => {
                (&["AWS/RDS"], "database")
            }
            "AWS::ElasticLoadBalancingV2::LoadBalancer" => {
                (&["AWS/ApplicationELB", "AWS/NetworkELB"], "load balancer")
            }
            "AWS::ECS::Service" => (&["ECS/ContainerInsights", "AWS/ECS"], "ECS service"),
            _ => return,
        };
        self.critical.push(Critical {
            stack: r.stack.name.clone(),
            id: r.id.to_owned(),
            needed,
            what,
        });
    }

    fn conclude(self, findings: &mut Findings) {
        // Only an environment that alarms at all is held to alarming on each
        // critical resource: what to page on is the repository's choice.
        if !self.any {
            return;
        }
        for c in self.critical {
            if c.needed.iter().any(|ns| self.watched.contains(*ns)) {
                continue;
            }
            findings
                .add(Finding::about_resource(
                    "alarms",
                    &c.stack,
                    &c.id,
                    format!(
                        "no alarm of the environment watches this {} (no alarm on `{}` metrics)",
                        c.what, c.needed[0]
                    ),
                ))
                .help(match c.what {
                    "database" => "alarm on its connections and CPU (a `monitoring` stack with `database_stack` set)",
                    "load balancer" => "alarm on its latency, 5xx rate and unhealthy hosts (a `monitoring` stack with `load_balancer = true`)",
                    _ => "alarm on its running tasks (list it in a `monitoring` stack's `services`)",
                });
        }
    }
}
