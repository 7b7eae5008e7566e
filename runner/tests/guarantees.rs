//! The guarantees every template keeps (reference architecture, seed 004's
//! correctness properties), checked over the rendered templates of every
//! environment in the repository and in each seed fixture repository under
//! `tests/fixtures/`, so a new module cannot break them unnoticed.
//!
//! Each check walks all resources and collects violations, so one run lists
//! every broken template. The built-in policy (`modules/policies/guarantees`)
//! enforces the same guarantees at `validate` and plan time; it must find
//! nothing in any of these environments either.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use serde_json::Value;
use strata::conventions::NAME_PROPERTIES;
use strata::host::{Host, Limits};
use strata::render::{RenderedEnvironment, render_environment};
use strata::workspace::Workspace;

fn host() -> &'static Host {
    static HOST: OnceLock<Host> = OnceLock::new();
    HOST.get_or_init(|| {
        let cache = Path::new(env!("CARGO_TARGET_TMPDIR")).join("module-cache");
        Host::new(Limits::default(), Some(cache)).expect("host starts")
    })
}

/// Every rendered environment of every repository checked here.
fn environments() -> &'static [RenderedEnvironment] {
    static RENDERED: OnceLock<Vec<RenderedEnvironment>> = OnceLock::new();
    RENDERED.get_or_init(|| {
        let host = host();
        let mut all = Vec::new();
        for root in repositories() {
            let workspace =
                Workspace::load(&root).unwrap_or_else(|d| panic!("{}: {d:?}", root.display()));
            for name in workspace.environment_names() {
                let (environment, _) = workspace
                    .environment(&name)
                    .unwrap_or_else(|d| panic!("{}/{name} is invalid: {d:#?}", root.display()));
                let outcome = render_environment(host, &workspace.registry, &environment);
                assert!(
                    outcome.ok,
                    "{}/{name} did not render: {:#?}",
                    root.display(),
                    outcome.diagnostics
                );
                all.push(outcome.partial);
            }
        }
        for project in ["v3-backend", "ecs-app", "acme-api", "community-tracker"] {
            assert!(
                all.iter().any(|e| e.environment.project == project),
                "no environment of `{project}` was checked"
            );
        }
        all
    })
}

/// The repository itself and every fixture repository under `tests/fixtures`.
fn repositories() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut repos = vec![root.clone()];
    let mut fixtures: Vec<PathBuf> = std::fs::read_dir(root.join("tests/fixtures"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("environments").is_dir())
        .collect();
    fixtures.sort();
    repos.extend(fixtures);
    repos
}

/// Every resource: (environment label, stack, logical id, type, properties, whole resource).
fn resources() -> Vec<(String, String, String, String, Value, Value)> {
    let mut out = Vec::new();
    for rendered in environments() {
        let label = format!(
            "{}/{}",
            rendered.environment.project, rendered.environment.name
        );
        for (stack, template) in &rendered.stacks {
            for (id, resource) in template.template()["Resources"]
                .as_object()
                .into_iter()
                .flatten()
            {
                let kind = resource["Type"].as_str().unwrap_or_default().to_owned();
                let properties = resource.get("Properties").cloned().unwrap_or(Value::Null);
                out.push((
                    label.clone(),
                    stack.to_string(),
                    id.clone(),
                    kind,
                    properties,
                    resource.clone(),
                ));
            }
        }
    }
    out
}

fn is_production(label: &str) -> bool {
    environments()
        .iter()
        .find(|e| format!("{}/{}", e.environment.project, e.environment.name) == label)
        .is_some_and(|e| {
            matches!(
                e.environment.environment.as_str(),
                "prod" | "production" | "prd"
            )
        })
}

fn assert_none(violations: Vec<String>) {
    assert!(
        violations.is_empty(),
        "{} violation(s):\n  {}",
        violations.len(),
        violations.join("\n  ")
    );
}

fn truthy(value: &Value) -> bool {
    value == &Value::Bool(true) || value == "true"
}

#[test]
fn every_taggable_resource_carries_the_required_and_environment_tags() {
    let list = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../modules/sdk/src/untaggable-types.txt"),
    )
    .expect("modules/sdk/src/untaggable-types.txt");
    let untaggable: Vec<&str> = list
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    // Types that keep their tags elsewhere than `Tags` (`UserPoolTags`,
    // `FileSystemTags`, `HostedZoneTags`, ...): `TYPE PROPERTY FORM` lines.
    let table = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../modules/sdk/src/tag-properties.txt"),
    )
    .expect("modules/sdk/src/tag-properties.txt");
    let tag_property = |kind: &str| -> String {
        table
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .find_map(|l| {
                let mut fields = l.split_whitespace();
                if fields.next()? == kind {
                    fields.next()
                } else {
                    None
                }
            })
            .unwrap_or("Tags")
            .to_owned()
    };
    let mut violations = Vec::new();
    for rendered in environments() {
        for (stack, template) in &rendered.stacks {
            for (id, resource) in template.template()["Resources"]
                .as_object()
                .into_iter()
                .flatten()
            {
                let kind = resource["Type"].as_str().unwrap_or_default();
                if untaggable.contains(&kind) {
                    continue;
                }
                let property = tag_property(kind);
                let tags = &resource["Properties"][property.as_str()];
                for (key, value) in &rendered.environment.tags {
                    let present = match tags {
                        Value::Array(list) => list
                            .iter()
                            .any(|t| t["Key"] == *key && t["Value"] == *value),
                        Value::Object(map) => map.get(key).is_some_and(|v| v == value),
                        _ => false,
                    };
                    if !present {
                        violations.push(format!(
                            "{}/{stack}: {id} ({kind}) lacks tag {key}={value}",
                            rendered.environment.name
                        ));
                    }
                }
            }
        }
    }
    assert_none(violations);
}

#[test]
fn data_is_encrypted_at_rest_wherever_the_service_supports_it() {
    let mut violations = Vec::new();
    for (env, stack, id, kind, p, _) in resources() {
        let ok = match kind.as_str() {
            "AWS::S3::Bucket" => p.get("BucketEncryption").is_some(),
            "AWS::RDS::DBCluster" => truthy(&p["StorageEncrypted"]),
            "AWS::RDS::DBInstance" => {
                p.get("DBClusterIdentifier").is_some() || truthy(&p["StorageEncrypted"])
            }
            "AWS::SQS::Queue" => {
                p.get("KmsMasterKeyId").is_some() || truthy(&p["SqsManagedSseEnabled"])
            }
            "AWS::SNS::Topic" => p.get("KmsMasterKeyId").is_some(),
            "AWS::SecretsManager::Secret" => p.get("KmsKeyId").is_some(),
            "AWS::ElastiCache::ReplicationGroup" => truthy(&p["AtRestEncryptionEnabled"]),
            "AWS::ECR::Repository" => p.get("EncryptionConfiguration").is_some(),
            "AWS::KMS::Key" => truthy(&p["EnableKeyRotation"]),
            "AWS::CloudTrail::Trail" => p.get("KMSKeyId").is_some(),
            _ => true,
        };
        if !ok {
            violations.push(format!(
                "{env}/{stack}: {id} ({kind}) is not encrypted at rest"
            ));
        }
    }
    assert_none(violations);
}

#[test]
fn no_database_or_cache_is_publicly_accessible() {
    let mut violations = Vec::new();
    for (env, stack, id, kind, p, _) in resources() {
        if kind == "AWS::RDS::DBInstance" && p["PubliclyAccessible"] != Value::Bool(false) {
            violations.push(format!(
                "{env}/{stack}: {id} does not set PubliclyAccessible = false"
            ));
        }
    }
    assert_none(violations);
}

/// Ingress rules open to the whole internet.
fn open_ingress(rule: &Value) -> bool {
    rule["CidrIp"] == "0.0.0.0/0" || rule["CidrIpv6"] == "::/0"
}

#[test]
fn only_the_load_balancer_admits_the_internet_and_only_on_80_and_443() {
    let all = resources();
    // Security groups by logical id, per stack, and whether each is a load balancer's.
    let is_alb_group = |env: &str, stack: &str, group: &Value| -> bool {
        let Some(id) = group.get("Ref").and_then(Value::as_str) else {
            return false;
        };
        all.iter().any(|(e, s, i, k, p, _)| {
            e == env && s == stack && i == id && k == "AWS::EC2::SecurityGroup" && {
                let text = format!("{} {}", p["GroupDescription"], p["Tags"]).to_lowercase();
                text.contains("load balancer") || text.contains("-alb")
            }
        })
    };
    let mut violations = Vec::new();
    for (env, stack, id, kind, p, _) in &all {
        let mut rules: Vec<(Value, Value)> = Vec::new();
        match kind.as_str() {
            "AWS::EC2::SecurityGroup" => {
                for rule in p["SecurityGroupIngress"].as_array().into_iter().flatten() {
                    rules.push((rule.clone(), serde_json::json!({ "Ref": id })));
                }
            }
            "AWS::EC2::SecurityGroupIngress" => rules.push((p.clone(), p["GroupId"].clone())),
            _ => {}
        }
        for (rule, group) in rules {
            if !open_ingress(&rule) {
                continue;
            }
            let ports_ok = rule["FromPort"] == rule["ToPort"]
                && (rule["FromPort"] == 80 || rule["FromPort"] == 443);
            if !ports_ok || !is_alb_group(env, stack, &group) {
                violations.push(format!(
                    "{env}/{stack}: {id} admits the internet on {}-{} ({group})",
                    rule["FromPort"], rule["ToPort"]
                ));
            }
        }
    }
    assert_none(violations);
}

#[test]
fn public_endpoints_enforce_https() {
    let all = resources();
    let mut violations = Vec::new();
    for (env, stack, id, kind, p, _) in &all {
        match kind.as_str() {
            "AWS::ElasticLoadBalancingV2::Listener" if p["Protocol"] == "HTTP" => {
                let redirects = p["DefaultActions"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .all(|a| a["Type"] == "redirect" && a["RedirectConfig"]["Protocol"] == "HTTPS");
                if !redirects {
                    violations.push(format!(
                        "{env}/{stack}: {id} serves plain HTTP instead of redirecting to HTTPS"
                    ));
                }
            }
            "AWS::CloudFront::Distribution" => {
                let config = &p["DistributionConfig"];
                let behaviours = std::iter::once(&config["DefaultCacheBehavior"])
                    .chain(config["CacheBehaviors"].as_array().into_iter().flatten());
                for behaviour in behaviours {
                    let policy = &behaviour["ViewerProtocolPolicy"];
                    if policy != "redirect-to-https" && policy != "https-only" {
                        violations.push(format!(
                            "{env}/{stack}: {id} lets viewers use HTTP ({policy})"
                        ));
                    }
                }
            }
            "AWS::S3::Bucket" => {
                // Some bucket policy of the stack must deny insecure transport to it.
                let denied = all.iter().any(|(e, s, _, k, policy, _)| {
                    e == env
                        && s == stack
                        && k == "AWS::S3::BucketPolicy"
                        && policy["Bucket"]["Ref"] == id.as_str()
                        && {
                            let text = policy["PolicyDocument"].to_string();
                            text.contains("aws:SecureTransport") && text.contains("Deny")
                        }
                });
                if !denied {
                    violations.push(format!(
                        "{env}/{stack}: bucket {id} does not deny requests without TLS"
                    ));
                }
            }
            _ => {}
        }
    }
    assert_none(violations);
}

#[test]
fn databases_keep_backups_for_at_least_seven_days() {
    let mut violations = Vec::new();
    for (env, stack, id, kind, p, _) in resources() {
        let retention = match kind.as_str() {
            "AWS::RDS::DBCluster" => Some(&p["BackupRetentionPeriod"]),
            "AWS::RDS::DBInstance" if p.get("DBClusterIdentifier").is_none() => {
                Some(&p["BackupRetentionPeriod"])
            }
            _ => None,
        };
        if let Some(days) = retention
            && days.as_u64().is_none_or(|d| d < 7)
        {
            violations.push(format!("{env}/{stack}: {id} keeps backups for {days} days"));
        }
    }
    assert_none(violations);
}

#[test]
fn production_is_multi_az_with_deletion_protection() {
    let all = resources();
    let mut violations = Vec::new();
    for (env, stack, id, kind, p, _) in &all {
        if !is_production(env) {
            continue;
        }
        let mut fail = |what: &str| violations.push(format!("{env}/{stack}: {id} ({kind}) {what}"));
        match kind.as_str() {
            "AWS::RDS::DBInstance" if p.get("DBClusterIdentifier").is_none() => {
                if !truthy(&p["MultiAZ"]) {
                    fail("is not multi-AZ");
                }
                if !truthy(&p["DeletionProtection"]) {
                    fail("has no deletion protection");
                }
            }
            "AWS::RDS::DBCluster" => {
                if !truthy(&p["DeletionProtection"]) {
                    fail("has no deletion protection");
                }
                let instances = all
                    .iter()
                    .filter(|(e, s, _, k, q, _)| {
                        e == env
                            && s == stack
                            && k == "AWS::RDS::DBInstance"
                            && q["DBClusterIdentifier"]["Ref"] == id.as_str()
                    })
                    .count();
                if instances < 2 {
                    fail("has fewer than two instances (not multi-AZ)");
                }
            }
            "AWS::ElastiCache::ReplicationGroup" if !truthy(&p["MultiAZEnabled"]) => {
                fail("is not multi-AZ");
            }
            "AWS::ElasticLoadBalancingV2::LoadBalancer" => {
                let protected = p["LoadBalancerAttributes"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|a| a["Key"] == "deletion_protection.enabled" && truthy(&a["Value"]));
                if !protected {
                    fail("has no deletion protection");
                }
            }
            _ => {}
        }
    }
    assert_none(violations);
}

fn name_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Object(map) => map
            .get("Fn::Sub")
            .map(|s| s.as_str().map_or_else(|| s.to_string(), str::to_owned)),
        _ => None,
    }
}

#[test]
fn physical_names_carry_project_and_environment() {
    let mut violations = Vec::new();
    for rendered in environments() {
        let prefix = format!(
            "{}-{}",
            rendered.environment.project, rendered.environment.environment
        );
        for (stack, template) in &rendered.stacks {
            for (id, resource) in template.template()["Resources"]
                .as_object()
                .into_iter()
                .flatten()
            {
                let properties = &resource["Properties"];
                let kind = resource["Type"].as_str().unwrap_or_default();
                let mut names: Vec<&str> = NAME_PROPERTIES.to_vec();
                if matches!(
                    kind,
                    "AWS::ElasticLoadBalancingV2::LoadBalancer"
                        | "AWS::ElasticLoadBalancingV2::TargetGroup"
                        | "AWS::WAFv2::WebACL"
                ) {
                    names.push("Name");
                }
                for property in names {
                    let Some(value) = properties.get(property) else {
                        continue;
                    };
                    let Some(text) = name_text(value) else {
                        continue;
                    };
                    // ALB and target group names are capped at 32 characters and
                    // may be shortened; they must still start with the project.
                    let ok = text.contains(&prefix)
                        || (property == "Name"
                            && kind.starts_with("AWS::ElasticLoadBalancingV2")
                            && text.starts_with(
                                &rendered.environment.project
                                    [..rendered.environment.project.len().min(8)],
                            ));
                    if !ok {
                        violations.push(format!("{}/{stack}: {id} ({kind}) {property} `{text}` does not carry `{prefix}`", rendered.environment.name));
                    }
                }
            }
        }
    }
    assert_none(violations);
}

#[test]
fn the_built_in_policy_finds_nothing_in_any_environment() {
    let mut found = Vec::new();
    let mut evaluated = 0;
    for root in repositories() {
        let workspace =
            Workspace::load(&root).unwrap_or_else(|d| panic!("{}: {d:?}", root.display()));
        let settings = strata::policy::check_settings(
            host(),
            &workspace.registry,
            &workspace.repo,
            &workspace.environment_names(),
        );
        assert!(settings.is_empty(), "{settings:#?}");
        for rendered in environments()
            .iter()
            .filter(|e| e.environment.source.name.starts_with("environments/"))
            .filter(|e| {
                // This repository's environments: same project as its files.
                workspace
                    .environment(&e.environment.name)
                    .is_ok_and(|(env, _)| env.project == e.environment.project)
            })
        {
            let outcome =
                strata::policy::check(host(), &workspace.registry, &workspace.repo, rendered);
            evaluated += 1;
            found.extend(outcome.diagnostics.iter().map(|d| {
                format!(
                    "{}/{}: {}",
                    rendered.environment.project, rendered.environment.name, d.message
                )
            }));
        }
    }
    assert!(evaluated >= 10, "only {evaluated} environments evaluated");
    assert_none(found);
}

/// A security group: the stack and logical id that define it.
type Group = (String, String);

/// Where a rule lets traffic go to or come from.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Peer {
    Group(Group),
    Cidr(String),
}

/// One ingress or egress rule of a security group, as EC2 will hold it.
#[derive(Debug, Clone)]
struct Rule {
    /// The group the rule belongs to.
    owner: Group,
    /// The source (ingress) or destination (egress).
    peer: Peer,
    protocol: String,
    from: i64,
    to: i64,
    /// Where it is written, for the report.
    at: String,
}

impl Rule {
    /// Whether this rule's protocol and port range include `other`'s.
    fn covers(&self, other: &Rule) -> bool {
        (self.protocol == "-1" || self.protocol == other.protocol)
            && self.from <= other.from
            && other.to <= self.to
    }
}

/// The group `value` names in `stack`: a `Ref` or `Fn::GetAtt` of a group
/// of the stack, or an `Fn::ImportValue` of another stack's export of one.
fn resolve_group(rendered: &RenderedEnvironment, stack: &str, value: &Value) -> Option<Group> {
    if let Some(id) = value.get("Ref").and_then(Value::as_str) {
        return Some((stack.to_owned(), id.to_owned()));
    }
    if let Some(att) = value.get("Fn::GetAtt").and_then(Value::as_array) {
        return Some((stack.to_owned(), att.first()?.as_str()?.to_owned()));
    }
    let name = value.get("Fn::ImportValue")?.as_str()?;
    rendered.stacks.iter().find_map(|(other, template)| {
        template.template()["Outputs"]
            .as_object()
            .into_iter()
            .flatten()
            .find(|(_, output)| output["Export"]["Name"] == name)
            .and_then(|(_, output)| resolve_group(rendered, other.as_str(), &output["Value"]))
    })
}

/// Every ingress and egress rule of an environment, inline or standalone,
/// and the groups defined without egress rules (which EC2 lets send
/// anywhere).
fn security_rules(rendered: &RenderedEnvironment) -> (Vec<Rule>, Vec<Rule>, Vec<Group>) {
    let (mut ingress, mut egress, mut open_egress) = (Vec::new(), Vec::new(), Vec::new());
    let rule = |owner: Group, peer_key: &str, r: &Value, stack: &str, at: String| -> Option<Rule> {
        let peer = if let Some(cidr) = r
            .get("CidrIp")
            .or_else(|| r.get("CidrIpv6"))
            .and_then(Value::as_str)
        {
            Peer::Cidr(cidr.to_owned())
        } else {
            Peer::Group(resolve_group(rendered, stack, r.get(peer_key)?)?)
        };
        let protocol = match &r["IpProtocol"] {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let (from, to) = if protocol == "-1" {
            (0, 65_535)
        } else {
            (r["FromPort"].as_i64()?, r["ToPort"].as_i64()?)
        };
        Some(Rule {
            owner,
            peer,
            protocol,
            from,
            to,
            at,
        })
    };
    for (stack, template) in &rendered.stacks {
        let stack = stack.as_str();
        for (id, resource) in template.template()["Resources"]
            .as_object()
            .into_iter()
            .flatten()
        {
            let p = &resource["Properties"];
            let at = format!("{stack}/{id}");
            match resource["Type"].as_str().unwrap_or_default() {
                "AWS::EC2::SecurityGroup" => {
                    let owner = (stack.to_owned(), id.clone());
                    for r in p["SecurityGroupIngress"].as_array().into_iter().flatten() {
                        ingress.extend(rule(
                            owner.clone(),
                            "SourceSecurityGroupId",
                            r,
                            stack,
                            at.clone(),
                        ));
                    }
                    match p.get("SecurityGroupEgress").and_then(Value::as_array) {
                        Some(rules) => {
                            for r in rules {
                                egress.extend(rule(
                                    owner.clone(),
                                    "DestinationSecurityGroupId",
                                    r,
                                    stack,
                                    at.clone(),
                                ));
                            }
                        }
                        None => open_egress.push(owner),
                    }
                }
                "AWS::EC2::SecurityGroupIngress" => {
                    if let Some(owner) = resolve_group(rendered, stack, &p["GroupId"]) {
                        ingress.extend(rule(owner, "SourceSecurityGroupId", p, stack, at));
                    }
                }
                "AWS::EC2::SecurityGroupEgress" => {
                    if let Some(owner) = resolve_group(rendered, stack, &p["GroupId"]) {
                        egress.extend(rule(owner, "DestinationSecurityGroupId", p, stack, at));
                    }
                }
                _ => {}
            }
        }
    }
    (ingress, egress, open_egress)
}

#[test]
fn every_security_group_pair_a_stack_wires_is_open_in_both_directions() {
    // Traffic between two groups needs an egress rule on the sender and an
    // ingress rule on the receiver; one without the other is a connection
    // that times out (seed 002's tasks and its cache).
    let mut violations = Vec::new();
    for rendered in environments() {
        let label = format!(
            "{}/{}",
            rendered.environment.project, rendered.environment.name
        );
        let (ingress, egress, open_egress) = security_rules(rendered);
        for admitted in &ingress {
            let Peer::Group(source) = &admitted.peer else {
                continue;
            };
            let sends = open_egress.contains(source)
                || egress.iter().any(|e| {
                    &e.owner == source
                        && e.covers(admitted)
                        && (e.peer == Peer::Group(admitted.owner.clone())
                            || e.peer == Peer::Cidr("0.0.0.0/0".into()))
                });
            if !sends {
                violations.push(format!(
                    "{label}: {} admits {}/{} on {}-{}, which has no egress rule to it",
                    admitted.at, source.0, source.1, admitted.from, admitted.to
                ));
            }
        }
        for sent in &egress {
            let Peer::Group(destination) = &sent.peer else {
                continue;
            };
            let admits = ingress.iter().any(|i| {
                &i.owner == destination
                    && i.covers(sent)
                    && (i.peer == Peer::Group(sent.owner.clone())
                        || i.peer == Peer::Cidr("0.0.0.0/0".into()))
            });
            if !admits {
                violations.push(format!(
                    "{label}: {} sends to {}/{} on {}-{}, which admits nothing from it",
                    sent.at, destination.0, destination.1, sent.from, sent.to
                ));
            }
        }
    }
    assert_none(violations);
}

#[test]
fn log_groups_are_retained_in_production_and_deleted_elsewhere() {
    // One rule for every log group of the catalogue, said explicitly.
    let mut violations = Vec::new();
    for (env, stack, id, kind, _, resource) in resources() {
        if kind != "AWS::Logs::LogGroup" {
            continue;
        }
        let expected = if is_production(&env) {
            "Retain"
        } else {
            "Delete"
        };
        for policy in ["DeletionPolicy", "UpdateReplacePolicy"] {
            if resource[policy] != expected {
                violations.push(format!(
                    "{env}/{stack}: {id} has {policy} {}, expected {expected}",
                    resource[policy]
                ));
            }
        }
    }
    assert_none(violations);
}

#[test]
fn log_groups_aws_creates_for_exported_database_logs_are_declared() {
    // RDS creates `/aws/rds/{instance|cluster}/<id>/<log>` on first export,
    // outside the template and without retention, unless the template
    // declares it first.
    let all = resources();
    let mut violations = Vec::new();
    for (env, stack, id, kind, p, _) in &all {
        let (scope, identifier) = match kind.as_str() {
            "AWS::RDS::DBCluster" => ("cluster", &p["DBClusterIdentifier"]),
            "AWS::RDS::DBInstance" if p.get("DBClusterIdentifier").is_none() => {
                ("instance", &p["DBInstanceIdentifier"])
            }
            _ => continue,
        };
        for log in p["EnableCloudwatchLogsExports"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let name = format!(
                "/aws/rds/{scope}/{}/{}",
                identifier.as_str().unwrap_or_default(),
                log.as_str().unwrap_or_default()
            );
            let declared = all.iter().any(|(e, s, _, k, q, _)| {
                e == env
                    && s == stack
                    && k == "AWS::Logs::LogGroup"
                    && q["LogGroupName"] == name.as_str()
                    && q.get("RetentionInDays").is_some()
            });
            if !declared {
                violations.push(format!(
                    "{env}/{stack}: {id} exports `{log}` to `{name}`, which the template does not declare with a retention"
                ));
            }
        }
    }
    assert_none(violations);
}

/// Whether `value` (written in `stack`) names the resource `target` of
/// `target_stack`: directly, or through an export of it.
fn names_resource(
    rendered: &RenderedEnvironment,
    stack: &str,
    value: &Value,
    target: &(String, String),
) -> bool {
    let text = value.to_string();
    if stack == target.0
        && (text.contains(&format!("\"Ref\":\"{}\"", target.1))
            || text.contains(&format!("\"Fn::GetAtt\":[\"{}\"", target.1)))
    {
        return true;
    }
    rendered.stacks.iter().any(|(other, template)| {
        template.template()["Outputs"]
            .as_object()
            .into_iter()
            .flatten()
            .any(|(_, output)| {
                output["Export"]["Name"]
                    .as_str()
                    .is_some_and(|name| text.contains(&format!("\"Fn::ImportValue\":\"{name}\"")))
                    && names_resource(rendered, other.as_str(), &output["Value"], target)
            })
    })
}

#[test]
fn dead_letter_queues_databases_and_functions_have_alarms_to_a_topic() {
    // What fails silently must page someone: a message in a dead-letter
    // queue, a database running out of storage or memory, a function
    // failing.
    let mut violations = Vec::new();
    for rendered in environments() {
        let label = format!(
            "{}/{}",
            rendered.environment.project, rendered.environment.name
        );
        let mut watched: Vec<((String, String), Vec<&str>)> = Vec::new();
        let mut alarms: Vec<(String, &Value)> = Vec::new();
        let parsed: Vec<(String, Value)> = rendered
            .stacks
            .iter()
            .map(|(stack, rendered)| (stack.to_string(), rendered.template()))
            .collect();
        for (stack, template) in &parsed {
            let resources = template["Resources"].as_object();
            for (id, resource) in resources.into_iter().flatten() {
                let p = &resource["Properties"];
                let target = (stack.to_string(), id.clone());
                match resource["Type"].as_str().unwrap_or_default() {
                    "AWS::SQS::Queue" => {
                        // A dead-letter queue is some queue's redrive target.
                        let arn = format!("\"Fn::GetAtt\":[\"{id}\",\"Arn\"]");
                        let is_dlq = resources.into_iter().flatten().any(|(_, q)| {
                            q["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]
                                .to_string()
                                .contains(&arn)
                        }) || template.to_string().contains(&format!(
                            "\"DestinationConfig\":{{\"OnFailure\":{{\"Destination\":{{{arn}}}"
                        )) || template
                            .to_string()
                            .contains(&format!("\"DeadLetterConfig\":{{\"Arn\":{{{arn}}}"));
                        if is_dlq {
                            watched.push((target, vec!["ApproximateNumberOfMessagesVisible"]));
                        }
                    }
                    "AWS::RDS::DBInstance" if p.get("DBClusterIdentifier").is_none() => {
                        watched.push((target, vec!["FreeStorageSpace", "FreeableMemory"]));
                    }
                    "AWS::RDS::DBCluster" => watched.push((target, vec!["FreeableMemory"])),
                    "AWS::Lambda::Function" => watched.push((target, vec!["Errors"])),
                    "AWS::CloudWatch::Alarm" => alarms.push((stack.to_string(), p)),
                    _ => {}
                }
            }
        }
        for (target, metrics) in watched {
            for metric in metrics {
                let alarmed = alarms.iter().any(|(stack, alarm)| {
                    let text = alarm.to_string();
                    text.contains(&format!("\"MetricName\":\"{metric}\""))
                        && alarm["AlarmActions"]
                            .as_array()
                            .is_some_and(|a| !a.is_empty())
                        && alarm["Dimensions"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .chain(alarm["Metrics"].as_array().into_iter().flatten().flat_map(
                                |m| {
                                    m["MetricStat"]["Metric"]["Dimensions"]
                                        .as_array()
                                        .into_iter()
                                        .flatten()
                                },
                            ))
                            .any(|d| names_resource(rendered, stack, &d["Value"], &target))
                });
                if !alarmed {
                    violations.push(format!(
                        "{label}: {}/{} has no alarm on `{metric}` with an action",
                        target.0, target.1
                    ));
                }
            }
        }
    }
    assert_none(violations);
}
