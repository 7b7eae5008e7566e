//! Renders through the same path as the host (`testing::render_json`), so
//! serde's errors are covered along with the module's own.

use strata_sdk::testing::{self, imported_stacks, resources};
use strata_sdk::{Context, Rendered, Severity, Value};

use crate::{Config, EXPORTS, render};

strata_sdk::test_helpers!(Config, render, "cache");

fn group(rendered: &Rendered) -> &Value {
    &rendered.template["Resources"]["Cache"]["Properties"]
}

#[test]
fn renders_an_empty_table_with_development_defaults() {
    let rendered = rendered("{}");
    assert!(rendered.warnings.is_empty(), "{:#?}", rendered.warnings);
    let kinds: Vec<(&str, &str)> = resources(&rendered)
        .map(|(id, r)| (id.as_str(), r["Type"].as_str().unwrap_or_default()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("Cache", "AWS::ElastiCache::ReplicationGroup"),
            ("CacheFromEcsIngress", "AWS::EC2::SecurityGroupIngress"),
            ("CacheKey", "AWS::KMS::Key"),
            ("CacheKeyAlias", "AWS::KMS::Alias"),
            ("CacheSecurityGroup", "AWS::EC2::SecurityGroup"),
            ("CacheSubnetGroup", "AWS::ElastiCache::SubnetGroup"),
            ("EcsToCacheEgress", "AWS::EC2::SecurityGroupEgress"),
        ]
    );
    let cache = group(&rendered);
    assert_eq!(cache["ReplicationGroupId"], "acme-test-cache");
    assert_eq!(cache["Engine"], "redis");
    assert_eq!(cache["EngineVersion"], "7.1");
    assert_eq!(cache["CacheNodeType"], "cache.t4g.micro");
    assert_eq!(cache["NumCacheClusters"], 1);
    assert_eq!(cache["AutomaticFailoverEnabled"], false);
    assert_eq!(cache["MultiAZEnabled"], false);
    assert_eq!(cache["SnapshotRetentionLimit"], 1);
    assert_eq!(cache["TransitEncryptionEnabled"], true);
    assert_eq!(cache["Port"], 6379);
    for key in [
        "CacheParameterGroupName",
        "PreferredMaintenanceWindow",
        "SnapshotWindow",
    ] {
        assert!(cache.get(key).is_none(), "{key}");
    }
}

#[test]
fn runs_two_nodes_over_two_zones_with_a_week_of_snapshots_in_production() {
    let rendered = rendered_in(&production_ctx(), r#"{"node_type": "cache.r7g.large"}"#);
    assert!(rendered.warnings.is_empty(), "{:#?}", rendered.warnings);
    let cache = group(&rendered);
    assert_eq!(cache["NumCacheClusters"], 2);
    assert_eq!(cache["AutomaticFailoverEnabled"], true);
    assert_eq!(cache["MultiAZEnabled"], true);
    assert_eq!(cache["SnapshotRetentionLimit"], 7);
    assert_eq!(cache["ReplicationGroupId"], "acme-production-cache");
}

#[test]
fn lets_explicit_settings_win_outside_production() {
    let rendered =
        rendered(r#"{"multi_az": true, "num_cache_clusters": 3, "snapshot_retention_days": 5}"#);
    let cache = group(&rendered);
    assert_eq!(cache["NumCacheClusters"], 3);
    assert_eq!(cache["MultiAZEnabled"], true);
    assert_eq!(cache["SnapshotRetentionLimit"], 5);
    let rendered = rendered_in(&test_ctx(), r#"{"multi_az": true}"#);
    assert_eq!(group(&rendered)["NumCacheClusters"], 2);
}

#[test]
fn fails_over_automatically_with_a_replica_even_without_multi_az() {
    let rendered = rendered(r#"{"num_cache_clusters": 2}"#);
    assert_eq!(group(&rendered)["AutomaticFailoverEnabled"], true);
    assert_eq!(group(&rendered)["MultiAZEnabled"], false);
}

#[test]
fn encrypts_at_rest_with_its_own_rotating_key() {
    let rendered = rendered("{}");
    let key = &rendered.template["Resources"]["CacheKey"];
    assert_eq!(key["Properties"]["EnableKeyRotation"], true);
    assert_eq!(key["DeletionPolicy"], "Retain");
    assert_eq!(key["UpdateReplacePolicy"], "Retain");
    let alias = &rendered.template["Resources"]["CacheKeyAlias"]["Properties"];
    assert_eq!(alias["AliasName"], "alias/acme-test-cache");
    let cache = group(&rendered);
    assert_eq!(cache["AtRestEncryptionEnabled"], true);
    assert_eq!(
        cache["KmsKeyId"].to_string(),
        r#"{"Fn::GetAtt":["CacheKey","Arn"]}"#
    );
}

#[test]
fn snapshots_the_group_when_deleted_or_replaced() {
    let rendered = rendered("{}");
    let resource = &rendered.template["Resources"]["Cache"];
    assert_eq!(resource["DeletionPolicy"], "Snapshot");
    assert_eq!(resource["UpdateReplacePolicy"], "Snapshot");
}

#[test]
fn deletes_a_group_without_snapshots_and_warns() {
    let rendered = rendered(r#"{"snapshot_retention_days": 0}"#);
    let resource = &rendered.template["Resources"]["Cache"];
    assert_eq!(resource["DeletionPolicy"], "Delete");
    assert_eq!(resource["UpdateReplacePolicy"], "Delete");
    assert_eq!(rendered.warnings.len(), 1);
    assert_eq!(rendered.warnings[0].path, "snapshot_retention_days");
    assert_eq!(rendered.warnings[0].severity, Severity::Warning);
}

#[test]
fn places_the_cache_in_the_private_subnets() {
    let rendered = rendered("{}");
    let subnets = &rendered.template["Resources"]["CacheSubnetGroup"]["Properties"];
    assert_eq!(subnets["CacheSubnetGroupName"], "acme-test-cache");
    assert_eq!(
        subnets["SubnetIds"].to_string(),
        r#"{"Fn::Split":[",",{"Fn::ImportValue":"acme-test-networking-private-subnet-ids"}]}"#
    );
    assert_eq!(
        group(&rendered)["CacheSubnetGroupName"].to_string(),
        r#"{"Ref":"CacheSubnetGroup"}"#
    );
}

#[test]
fn admits_only_the_ecs_tasks_on_the_cache_port() {
    let rendered = rendered(r#"{"port": 6380}"#);
    let security = &rendered.template["Resources"]["CacheSecurityGroup"]["Properties"];
    assert!(security.get("SecurityGroupIngress").is_none());
    assert_eq!(
        security["VpcId"].to_string(),
        r#"{"Fn::ImportValue":"acme-test-networking-vpc-id"}"#
    );
    let egress = security["SecurityGroupEgress"].as_array().expect("egress");
    assert_eq!(egress.len(), 1);
    assert_eq!(egress[0]["CidrIp"], "255.255.255.255/32");
    let ingress = &rendered.template["Resources"]["CacheFromEcsIngress"]["Properties"];
    assert_eq!(
        ingress["SourceSecurityGroupId"].to_string(),
        r#"{"Fn::ImportValue":"acme-test-security-ecs-security-group-id"}"#
    );
    assert_eq!(ingress["FromPort"], 6380);
    assert_eq!(ingress["ToPort"], 6380);
    assert_eq!(ingress["IpProtocol"], "tcp");
    assert!(ingress.get("CidrIp").is_none());
    assert_eq!(
        group(&rendered)["SecurityGroupIds"].to_string(),
        r#"[{"Fn::GetAtt":["CacheSecurityGroup","GroupId"]}]"#
    );
    assert_eq!(group(&rendered)["Port"], 6380);
}

#[test]
fn lets_the_ecs_tasks_send_to_the_cache_port() {
    // Without this rule the tasks' group (which the security stack lets
    // send only on 443 and the database port) could not reach the cache.
    let rendered = rendered(r#"{"port": 6380}"#);
    let egress = &rendered.template["Resources"]["EcsToCacheEgress"]["Properties"];
    assert_eq!(
        egress["GroupId"].to_string(),
        r#"{"Fn::ImportValue":"acme-test-security-ecs-security-group-id"}"#
    );
    assert_eq!(
        egress["DestinationSecurityGroupId"].to_string(),
        r#"{"Fn::GetAtt":["CacheSecurityGroup","GroupId"]}"#
    );
    assert_eq!(egress["FromPort"], 6380);
    assert_eq!(egress["ToPort"], 6380);
    assert_eq!(egress["IpProtocol"], "tcp");
}

#[test]
fn exports_exactly_the_contract_names() {
    let rendered = rendered("{}");
    testing::assert_exports(&rendered, &test_ctx(), &EXPORTS);
    testing::assert_output_values(
        &rendered,
        &[
            (
                "PrimaryEndpointAddress",
                r#"{"Fn::GetAtt":["Cache","PrimaryEndPoint.Address"]}"#,
            ),
            (
                "PrimaryEndpointPort",
                r#"{"Fn::GetAtt":["Cache","PrimaryEndPoint.Port"]}"#,
            ),
            (
                "ReaderEndpointAddress",
                r#"{"Fn::GetAtt":["Cache","ReaderEndPoint.Address"]}"#,
            ),
            (
                "SecurityGroupId",
                r#"{"Fn::GetAtt":["CacheSecurityGroup","GroupId"]}"#,
            ),
        ],
    );
}

#[test]
fn imports_the_vpc_private_subnets_and_ecs_group() {
    let rendered = rendered("{}");
    testing::assert_imports(
        &rendered,
        &[
            ("networking", "private-subnet-ids"),
            ("networking", "vpc-id"),
            ("security", "ecs-security-group-id"),
        ],
    );
}

#[test]
fn imports_from_the_configured_stacks() {
    let rendered = rendered(r#"{"networking_stack": "vpc", "security_stack": "firewall"}"#);
    let stacks = imported_stacks(&rendered);
    assert_eq!(stacks, ["vpc", "vpc", "firewall"]);
}

#[test]
fn renders_a_parameter_group_for_parameters() {
    let rendered = rendered(
        r#"{"parameters": {"maxmemory-policy": "allkeys-lru", "notify-keyspace-events": "Ex"}}"#,
    );
    let parameters = &rendered.template["Resources"]["CacheParameterGroup"]["Properties"];
    assert_eq!(parameters["CacheParameterGroupFamily"], "redis7");
    assert_eq!(
        parameters["Properties"].to_string(),
        r#"{"maxmemory-policy":"allkeys-lru","notify-keyspace-events":"Ex"}"#
    );
    assert_eq!(
        group(&rendered)["CacheParameterGroupName"].to_string(),
        r#"{"Ref":"CacheParameterGroup"}"#
    );
}

#[test]
fn derives_the_parameter_group_family_from_engine_and_version() {
    for (engine, version, family) in [
        ("redis", "6.2", "redis6.x"),
        ("redis", "7.0", "redis7"),
        ("valkey", "7.2", "valkey7"),
        ("valkey", "8.0", "valkey8"),
    ] {
        let rendered = rendered(&format!(
            r#"{{"engine": "{engine}", "engine_version": "{version}", "parameters": {{"timeout": "300"}}}}"#
        ));
        let parameters = &rendered.template["Resources"]["CacheParameterGroup"]["Properties"];
        assert_eq!(parameters["CacheParameterGroupFamily"], family);
        assert_eq!(group(&rendered)["Engine"], engine);
        assert_eq!(group(&rendered)["EngineVersion"], version);
    }
}

#[test]
fn defaults_valkey_to_version_eight() {
    assert_eq!(
        group(&rendered(r#"{"engine": "valkey"}"#))["EngineVersion"],
        "8.0"
    );
}

#[test]
fn renders_the_maintenance_and_snapshot_windows() {
    let rendered = rendered(
        r#"{"maintenance_window": "sun:05:00-sun:06:00", "snapshot_window": "03:00-04:00"}"#,
    );
    let cache = group(&rendered);
    assert_eq!(cache["PreferredMaintenanceWindow"], "sun:05:00-sun:06:00");
    assert_eq!(cache["SnapshotWindow"], "03:00-04:00");
}

#[test]
fn tags_every_taggable_resource() {
    let ctx = production_ctx();
    let rendered = rendered_in(
        &ctx,
        r#"{"node_type": "cache.r7g.large", "parameters": {"timeout": "300"}}"#,
    );
    testing::assert_tagged(&rendered, &ctx);
}

#[test]
fn warns_about_burstable_nodes_in_production() {
    let rendered = rendered_in(&production_ctx(), "{}");
    assert_eq!(rendered.warnings.len(), 1);
    assert_eq!(rendered.warnings[0].path, "node_type");
}

#[test]
fn warns_about_plain_text_outside_production() {
    let rendered = rendered(r#"{"transit_encryption": false}"#);
    assert_eq!(group(&rendered)["TransitEncryptionEnabled"], false);
    assert_eq!(rendered.warnings.len(), 1);
    assert_eq!(rendered.warnings[0].path, "transit_encryption");
}

#[test]
fn rejects_plain_text_in_production() {
    error_in(
        &production_ctx(),
        r#"{"transit_encryption": false}"#,
        "transit_encryption",
    );
}

#[test]
fn rejects_turning_multi_az_off_in_production() {
    error_in(&production_ctx(), r#"{"multi_az": false}"#, "multi_az");
}

#[test]
fn rejects_multi_az_with_a_single_node() {
    let error = error_in(
        &production_ctx(),
        r#"{"num_cache_clusters": 1}"#,
        "num_cache_clusters",
    );
    assert_eq!(
        error.message,
        "multi-AZ needs at least 2 cache clusters, got `1`"
    );
    assert!(error.help.is_some());
    error_at(
        r#"{"multi_az": true, "num_cache_clusters": 1}"#,
        "num_cache_clusters",
    );
}

#[test]
fn rejects_more_than_six_nodes() {
    error_at(r#"{"num_cache_clusters": 7}"#, "num_cache_clusters");
    error_at(r#"{"num_cache_clusters": 0}"#, "num_cache_clusters");
}

#[test]
fn rejects_less_than_a_week_of_snapshots_in_production() {
    let error = error_in(
        &production_ctx(),
        r#"{"snapshot_retention_days": 3}"#,
        "snapshot_retention_days",
    );
    assert_eq!(
        error.message,
        "`3` days of snapshots in production environment `production`"
    );
}

#[test]
fn rejects_snapshots_kept_longer_than_elasticache_allows() {
    error_at(
        r#"{"snapshot_retention_days": 36}"#,
        "snapshot_retention_days",
    );
}

#[test]
fn rejects_malformed_node_types() {
    for node_type in ["t4g.micro", "cache.t4g", "db.t4g.micro", "cache.T4G.micro"] {
        let error = error_at(&format!(r#"{{"node_type": "{node_type}"}}"#), "node_type");
        assert_eq!(
            error.message,
            format!("`{node_type}` is not an ElastiCache node type")
        );
    }
}

#[test]
fn suggests_the_closest_engine() {
    let error = error_at(r#"{"engine": "redsi"}"#, "engine");
    assert_eq!(error.message, "unknown engine `redsi`");
    assert_eq!(error.help.as_deref(), Some("did you mean `redis`?"));
    let error = error_at(r#"{"engine": "memcached"}"#, "engine");
    assert!(error.help.is_some());
}

#[test]
fn rejects_unsupported_and_malformed_versions() {
    let error = error_at(r#"{"engine_version": "5.0"}"#, "engine_version");
    assert_eq!(error.message, "redis `5.0` is not supported");
    error_at(
        r#"{"engine": "valkey", "engine_version": "7.1"}"#,
        "engine_version",
    );
    let error = error_at(r#"{"engine_version": "7"}"#, "engine_version");
    assert_eq!(error.message, "`7` is not an engine version");
}

#[test]
fn rejects_malformed_windows() {
    for window in [
        "sun:05:00",
        "sunday:05:00-sunday:06:00",
        "sun:25:00-sun:26:00",
    ] {
        error_at(
            &format!(r#"{{"maintenance_window": "{window}"}}"#),
            "maintenance_window",
        );
    }
    let error = error_at(
        r#"{"maintenance_window": "sun:05:00-sun:05:30"}"#,
        "maintenance_window",
    );
    assert!(error.message.contains("shorter than an hour"));
    error_at(r#"{"snapshot_window": "3:00-4:00"}"#, "snapshot_window");
}

#[test]
fn rejects_bad_parameters_at_their_key() {
    error_at(
        r#"{"parameters": {"MaxMemory": "1"}}"#,
        "parameters.MaxMemory",
    );
    error_at(
        r#"{"parameters": {"cluster-enabled": "yes"}}"#,
        "parameters.cluster-enabled",
    );
    error_at(r#"{"parameters": {"timeout": " "}}"#, "parameters.timeout");
}

#[test]
fn rejects_a_port_out_of_range() {
    error_at(r#"{"port": 0}"#, "port");
    error_at(r#"{"port": 70000}"#, "port");
}

#[test]
fn rejects_a_replication_group_id_longer_than_forty_characters() {
    let ctx = |project: &str| Context {
        project: project.into(),
        environment: "staging".into(),
        ..test_ctx()
    };
    // 40 characters fit.
    rendered_in(&ctx("a-rather-long-project-name"), "{}");
    let error = error_in(&ctx("a-rather-longer-project-name"), "{}", "");
    assert_eq!(
        error.message,
        "replication group id `a-rather-longer-project-name-staging-cache` is 42 characters, ElastiCache allows 40"
    );
    assert!(
        error
            .help
            .as_deref()
            .unwrap_or_default()
            .ends_with("by 2 characters")
    );
}

#[test]
fn rejects_stack_names_that_cannot_be_imported_from() {
    error_at(r#"{"networking_stack": ""}"#, "networking_stack");
    error_at(r#"{"security_stack": "Security"}"#, "security_stack");
}

#[test]
fn reports_every_error_at_once() {
    let errors = errors_in(
        &production_ctx(),
        r#"{"networking_stack": "", "node_type": "large", "engine": "memcached", "multi_az": false,
            "num_cache_clusters": 9, "snapshot_retention_days": 1, "port": 0, "transit_encryption": false,
            "parameters": {"X": "1"}, "maintenance_window": "x", "snapshot_window": "y"}"#,
    );
    testing::assert_errors_at(
        &errors,
        &[
            "networking_stack",
            "node_type",
            "engine",
            "multi_az",
            "num_cache_clusters",
            "snapshot_retention_days",
            "port",
            "transit_encryption",
            "parameters.X",
            "maintenance_window",
            "snapshot_window",
        ],
    );
}

#[test]
fn rejects_unknown_keys() {
    error_at(r#"{"nodes": 2}"#, "nodes");
}

#[test]
fn rejects_a_value_of_the_wrong_type_at_its_key() {
    error_at(r#"{"parameters": {"timeout": 300}}"#, "parameters.timeout");
}

#[test]
fn describes_every_option_in_the_schema() {
    testing::assert_documented::<Config>(13);
}

#[test]
fn renders_the_same_bytes_every_time() {
    let config = r#"{"parameters": {"b": "1", "a": "2"}, "multi_az": true}"#;
    assert_eq!(
        rendered(config).template.to_string(),
        rendered(config).template.to_string()
    );
}
