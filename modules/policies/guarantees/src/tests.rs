//! One good and one bad template per rule, evaluated natively through the
//! SDK's policy test kit.

use strata_sdk::policy::testing::{self, assert_finds, assert_no_findings, rules_of};
use strata_sdk::policy::{Environment, Findings, Severity};
use strata_sdk::{Value, json};

use super::{RULES, evaluate};

/// `resources` as one stack `app` of environment `name`, every resource
/// tagged (unless it sets its own tags) and encrypted where it matters.
fn env_with(name: &str, resources: Value) -> Environment {
    let env = testing::environment(name);
    let tags = env.tag_list();
    let mut resources = resources;
    if let Value::Object(map) = &mut resources {
        for resource in map.values_mut() {
            let kind = resource["Type"].as_str().unwrap_or_default().to_owned();
            if strata_sdk::testing::is_untaggable(&kind) {
                continue;
            }
            let properties = resource
                .as_object_mut()
                .map(|r| r.entry("Properties").or_insert_with(|| json!({})));
            if let Some(Value::Object(p)) = properties
                && !p.contains_key("Tags")
            {
                p.insert("Tags".into(), tags.clone());
            }
        }
    }
    env.stack("app", "app", json!({ "Resources": resources }))
}

fn findings_of(name: &str, resources: Value) -> Findings {
    let findings = evaluate(&env_with(name, resources));
    testing::assert_well_formed(&findings, RULES);
    findings
}

fn only_rule(findings: &Findings, rule: &str) {
    assert_eq!(rules_of(findings), [rule], "{findings:#?}");
    assert!(findings.iter().all(|f| f.severity == Severity::Error));
}

#[test]
fn tags_require_every_environment_tag_in_the_types_own_property() {
    let env = testing::environment("dev");
    let good = env.clone().stack(
        "auth",
        "cognito",
        json!({ "Resources": {
            "Pool": { "Type": "AWS::Cognito::UserPool", "Properties": { "UserPoolTags": env.tag_map() } },
            "Link": { "Type": "AWS::EC2::Route", "Properties": {} },
        } }),
    );
    assert_no_findings(&evaluate(&good));
    let bad = env.stack(
        "auth",
        "cognito",
        json!({ "Resources": {
            "Pool": { "Type": "AWS::Cognito::UserPool", "Properties": {} },
            "Queue": { "Type": "AWS::SQS::Queue", "Properties": { "SqsManagedSseEnabled": true, "Tags": [{ "Key": "Environment", "Value": "dev" }] } },
        } }),
    );
    let findings = evaluate(&bad);
    only_rule(&findings, "tags");
    let pool = assert_finds(&findings, "tags", "auth", "Pool");
    assert_eq!(pool.path, "Properties.UserPoolTags");
    let queue = assert_finds(&findings, "tags", "auth", "Queue");
    assert!(queue.message.contains("Application=acme"), "{queue:?}");
}

#[test]
fn names_must_carry_project_and_environment() {
    let good = findings_of(
        "dev",
        json!({
            "Queue": { "Type": "AWS::SQS::Queue", "Properties": { "QueueName": "acme-dev-jobs", "SqsManagedSseEnabled": true } },
            "Logs": { "Type": "AWS::Logs::LogGroup", "Properties": { "LogGroupName": "/ecs/acme-dev-api" } },
            "Alb": { "Type": "AWS::ElasticLoadBalancingV2::LoadBalancer", "Properties": { "Name": "acme-d-alb" } },
        }),
    );
    assert_no_findings(&good);
    let bad = findings_of(
        "dev",
        json!({ "Queue": { "Type": "AWS::SQS::Queue", "Properties": { "QueueName": "my-queue", "SqsManagedSseEnabled": true } } }),
    );
    only_rule(&bad, "names");
    let finding = assert_finds(&bad, "names", "app", "Queue");
    assert_eq!(finding.path, "Properties.QueueName");
    assert!(finding.message.contains("`my-queue`"), "{finding:?}");
}

#[test]
fn encryption_at_rest_is_required_where_supported() {
    let good = findings_of(
        "dev",
        json!({
            "Key": { "Type": "AWS::KMS::Key", "Properties": { "EnableKeyRotation": true } },
            "Topic": { "Type": "AWS::SNS::Topic", "Properties": { "KmsMasterKeyId": "alias/aws/sns" } },
            "Cache": { "Type": "AWS::ElastiCache::ReplicationGroup", "Properties": { "AtRestEncryptionEnabled": "true" } },
        }),
    );
    assert_no_findings(&good);
    let bad = findings_of(
        "dev",
        json!({
            "Topic": { "Type": "AWS::SNS::Topic", "Properties": {} },
            "Repo": { "Type": "AWS::ECR::Repository", "Properties": {} },
        }),
    );
    only_rule(&bad, "encryption");
    assert_finds(&bad, "encryption", "app", "Topic");
    assert_eq!(
        assert_finds(&bad, "encryption", "app", "Repo").path,
        "Properties.EncryptionConfiguration"
    );
}

fn database(extra: Value) -> Value {
    let mut properties = json!({
        "StorageEncrypted": true,
        "PubliclyAccessible": false,
        "BackupRetentionPeriod": 7,
        "MultiAZ": true,
        "DeletionProtection": true,
    });
    if let (Value::Object(p), Value::Object(extra)) = (&mut properties, extra) {
        p.extend(extra);
    }
    json!({ "Db": { "Type": "AWS::RDS::DBInstance", "Properties": properties } })
}

#[test]
fn databases_are_never_publicly_accessible() {
    assert_no_findings(&findings_of("prod", database(json!({}))));
    let bad = findings_of("dev", database(json!({ "PubliclyAccessible": true })));
    only_rule(&bad, "public-database");
    assert_eq!(
        assert_finds(&bad, "public-database", "app", "Db").path,
        "Properties.PubliclyAccessible"
    );
}

#[test]
fn backups_are_kept_at_least_seven_days() {
    assert_no_findings(&findings_of(
        "dev",
        database(json!({ "BackupRetentionPeriod": 14 })),
    ));
    let bad = findings_of("dev", database(json!({ "BackupRetentionPeriod": 3 })));
    only_rule(&bad, "backups");
    assert!(
        assert_finds(&bad, "backups", "app", "Db")
            .message
            .contains("3 days")
    );
}

#[test]
fn production_databases_are_multi_az_with_deletion_protection() {
    let single = database(json!({ "MultiAZ": false, "DeletionProtection": false }));
    assert_no_findings(&findings_of("dev", single.clone()));
    let bad = findings_of("prod", single);
    assert_eq!(rules_of(&bad), ["deletion-protection", "multi-az"]);
    let cluster = json!({
        "Cluster": { "Type": "AWS::RDS::DBCluster", "Properties": { "StorageEncrypted": true, "BackupRetentionPeriod": 7, "DeletionProtection": true } },
        "Writer": { "Type": "AWS::RDS::DBInstance", "Properties": { "DBClusterIdentifier": { "Ref": "Cluster" }, "PubliclyAccessible": false } },
    });
    let one_instance = findings_of("prod", cluster);
    only_rule(&one_instance, "multi-az");
    assert_finds(&one_instance, "multi-az", "app", "Cluster");
}

#[test]
fn production_load_balancers_have_deletion_protection() {
    let alb = |value: &str| {
        json!({ "Alb": { "Type": "AWS::ElasticLoadBalancingV2::LoadBalancer", "Properties": {
            "Name": "acme-prod-alb",
            "LoadBalancerAttributes": [{ "Key": "deletion_protection.enabled", "Value": value }],
        } } })
    };
    assert_no_findings(&findings_of("prod", alb("true")));
    let bad = findings_of("prod", alb("false"));
    only_rule(&bad, "deletion-protection");
}

fn security_group(description: &str, port: u16) -> Value {
    json!({ "Group": { "Type": "AWS::EC2::SecurityGroup", "Properties": {
        "GroupDescription": description,
        "SecurityGroupIngress": [{ "IpProtocol": "tcp", "CidrIp": "0.0.0.0/0", "FromPort": port, "ToPort": port }],
    } } })
}

#[test]
fn only_the_load_balancer_admits_the_internet_on_80_and_443() {
    assert_no_findings(&findings_of(
        "dev",
        security_group("Public load balancer", 443),
    ));
    let ssh = findings_of("dev", security_group("Public load balancer", 22));
    only_rule(&ssh, "open-ingress");
    assert_eq!(
        assert_finds(&ssh, "open-ingress", "app", "Group").path,
        "Properties.SecurityGroupIngress.0"
    );
    let database = findings_of("dev", security_group("Database", 443));
    assert!(
        assert_finds(&database, "open-ingress", "app", "Group")
            .message
            .contains("not a load balancer's")
    );
}

#[test]
fn public_endpoints_use_https() {
    let listener = |actions: Value| json!({ "Http": { "Type": "AWS::ElasticLoadBalancingV2::Listener", "Properties": { "Protocol": "HTTP", "DefaultActions": actions } } });
    assert_no_findings(&findings_of(
        "dev",
        listener(json!([{ "Type": "redirect", "RedirectConfig": { "Protocol": "HTTPS" } }])),
    ));
    let forward = findings_of("dev", listener(json!([{ "Type": "forward" }])));
    only_rule(&forward, "https");

    let bucket = json!({ "Type": "AWS::S3::Bucket", "Properties": { "BucketName": "acme-dev-assets", "BucketEncryption": {} } });
    let denied = findings_of(
        "dev",
        json!({
            "Bucket": bucket,
            "Policy": { "Type": "AWS::S3::BucketPolicy", "Properties": { "Bucket": { "Ref": "Bucket" }, "PolicyDocument": {
                "Statement": [{ "Effect": "Deny", "Condition": { "Bool": { "aws:SecureTransport": "false" } } }]
            } } },
        }),
    );
    assert_no_findings(&denied);
    let open = findings_of("dev", json!({ "Bucket": bucket }));
    only_rule(&open, "https");

    let cdn = findings_of(
        "dev",
        json!({ "Cdn": { "Type": "AWS::CloudFront::Distribution", "Properties": { "DistributionConfig": {
            "DefaultCacheBehavior": { "ViewerProtocolPolicy": "allow-all" }
        } } } }),
    );
    only_rule(&cdn, "https");
    assert_eq!(
        assert_finds(&cdn, "https", "app", "Cdn").path,
        "Properties.DistributionConfig.DefaultCacheBehavior.ViewerProtocolPolicy"
    );
}

#[test]
fn an_environment_with_alarms_alarms_on_each_critical_resource() {
    let service = json!({ "Type": "AWS::ECS::Service", "Properties": {} });
    let alarm = |namespace: &str| json!({ "Type": "AWS::CloudWatch::Alarm", "Properties": { "AlarmName": "acme-dev-x", "Namespace": namespace } });
    // No alarms at all: what to page on is the repository's choice.
    assert_no_findings(&findings_of("dev", json!({ "Service": service })));
    assert_no_findings(&findings_of(
        "dev",
        json!({ "Service": service, "Alarm": alarm("ECS/ContainerInsights") }),
    ));
    let unwatched = findings_of(
        "dev",
        json!({ "Service": service, "Alarm": alarm("AWS/SQS") }),
    );
    only_rule(&unwatched, "alarms");
    assert_finds(&unwatched, "alarms", "app", "Service");
}

#[test]
fn every_rule_has_a_well_formed_unique_id() {
    let mut ids: Vec<&str> = RULES.iter().map(|r| r.id).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), RULES.len());
    testing::assert_well_formed(&Findings::new(), RULES);
}

#[test]
fn alarms_in_one_stack_cover_critical_resources_of_another_whichever_comes_first() {
    let service = json!({ "Type": "AWS::ECS::Service", "Properties": {} });
    let alarm = |namespace: &str| json!({ "Type": "AWS::CloudWatch::Alarm", "Properties": { "AlarmName": "acme-dev-x", "Namespace": namespace } });
    // Stacks are checked in name order: `alerts` before `app`, `zalerts` after.
    for monitoring in ["alerts", "zalerts"] {
        let with = |namespace: &str| {
            let app = env_with("dev", json!({ "Service": service }));
            let alarms = env_with("dev", json!({ "Alarm": alarm(namespace) }));
            let mut env = app;
            let mut stack = alarms.stacks[0].clone();
            stack.name = monitoring.to_owned();
            env.stacks.push(stack);
            env.stacks.sort_by(|a, b| a.name.cmp(&b.name));
            env
        };
        assert_no_findings(&evaluate(&with("ECS/ContainerInsights")));
        let unwatched = evaluate(&with("AWS/SQS"));
        testing::assert_well_formed(&unwatched, RULES);
        only_rule(&unwatched, "alarms");
        assert_finds(&unwatched, "alarms", "app", "Service");
    }
}
