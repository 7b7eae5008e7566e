//! Renders through the same path as the host (`testing::render_json`), so
//! serde's errors are covered along with the module's own.

use strata_sdk::testing::{self, imported_stacks, resources};
use strata_sdk::{Context, Rendered, Severity, Value};

use crate::{AURORA_EXPORTS, Config, EXPORTS, render};

strata_sdk::test_helpers!(Config, render, "database");

fn instance(rendered: &Rendered) -> &Value {
    &rendered.template["Resources"]["Database"]["Properties"]
}

#[test]
fn renders_an_empty_table_with_development_defaults() {
    let rendered = rendered("{}");
    // Key, alias, parameter group, instance, its log group, the app user's
    // secret, attachment, rotation, and the rotation Lambda's group and
    // its two rules.
    assert_eq!(resources(&rendered).count(), 11);
    assert!(rendered.warnings.is_empty(), "{:#?}", rendered.warnings);
    let db = instance(&rendered);
    assert_eq!(db["Engine"], "postgres");
    assert_eq!(db["EngineVersion"], "16.13");
    assert_eq!(db["DBInstanceClass"], "db.t4g.micro");
    assert_eq!(db["AllocatedStorage"], "20");
    assert_eq!(db["MaxAllocatedStorage"], 100);
    assert_eq!(db["MultiAZ"], false);
    assert_eq!(db["DeletionProtection"], false);
    assert_eq!(db["EnablePerformanceInsights"], false);
    assert!(db.get("PerformanceInsightsKMSKeyId").is_none());
    assert_eq!(db["BackupRetentionPeriod"], 7);
    assert_eq!(db["DBName"], "app");
    assert_eq!(db["MasterUsername"], "app");
    assert_eq!(db["DBInstanceIdentifier"], "acme-test-database");
}

#[test]
fn exports_exactly_the_contract_names() {
    let rendered = rendered("{}");
    testing::assert_exports(&rendered, &test_ctx(), &EXPORTS);
    testing::assert_output_values(
        &rendered,
        &[
            (
                "SecretArn",
                r#"{"Fn::GetAtt":["Database","MasterUserSecret.SecretArn"]}"#,
            ),
            (
                "EndpointAddress",
                r#"{"Fn::GetAtt":["Database","Endpoint.Address"]}"#,
            ),
            ("KmsKeyArn", r#"{"Fn::GetAtt":["DatabaseKey","Arn"]}"#),
        ],
    );
}

#[test]
fn imports_the_subnet_group_and_security_group() {
    let rendered = rendered("{}");
    testing::assert_imports(
        &rendered,
        &[
            ("networking", "db-subnet-group-name"),
            ("security", "database-security-group-id"),
            ("networking", "vpc-id"),
            ("networking", "private-subnet-ids"),
        ],
    );
    let db = instance(&rendered);
    assert_eq!(
        db["DBSubnetGroupName"].to_string(),
        r#"{"Fn::ImportValue":"acme-test-networking-db-subnet-group-name"}"#
    );
    assert_eq!(
        db["VPCSecurityGroups"].to_string(),
        r#"[{"Fn::ImportValue":"acme-test-security-database-security-group-id"}]"#
    );
}

#[test]
fn imports_from_the_configured_stacks() {
    let rendered = rendered(r#"{"networking_stack": "vpc", "security_stack": "firewall"}"#);
    let stacks = imported_stacks(&rendered);
    assert_eq!(stacks, ["vpc", "firewall", "vpc", "vpc"]);
}

#[test]
fn turns_on_multi_az_protection_and_insights_in_production() {
    let rendered = rendered_in(
        &production_ctx(),
        r#"{"instance_class": "db.r6g.large", "backup_retention_days": 30}"#,
    );
    let db = instance(&rendered);
    assert_eq!(db["MultiAZ"], true);
    assert_eq!(db["DeletionProtection"], true);
    assert_eq!(db["EnablePerformanceInsights"], true);
    assert_eq!(
        db["PerformanceInsightsKMSKeyId"].to_string(),
        r#"{"Fn::GetAtt":["DatabaseKey","Arn"]}"#
    );
    assert_eq!(db["PerformanceInsightsRetentionPeriod"], 7);
    assert_eq!(db["BackupRetentionPeriod"], 30);
    assert!(rendered.warnings.is_empty(), "{:#?}", rendered.warnings);
}

#[test]
fn lets_explicit_settings_win_outside_production() {
    let rendered = rendered(
        r#"{"multi_az": true, "deletion_protection": true, "performance_insights": true}"#,
    );
    let db = instance(&rendered);
    assert_eq!(db["MultiAZ"], true);
    assert_eq!(db["DeletionProtection"], true);
    assert_eq!(db["EnablePerformanceInsights"], true);
}

#[test]
fn allows_turning_off_performance_insights_in_production() {
    let rendered = rendered_in(
        &production_ctx(),
        r#"{"performance_insights": false, "instance_class": "db.m7g.large"}"#,
    );
    assert_eq!(instance(&rendered)["EnablePerformanceInsights"], false);
}

#[test]
fn rejects_single_az_in_production() {
    let error = error_in(&production_ctx(), r#"{"multi_az": false}"#, "multi_az");
    assert!(
        error
            .help
            .as_deref()
            .unwrap_or_default()
            .starts_with("prod databases must be multi-AZ")
    );
}

#[test]
fn rejects_turning_off_deletion_protection_in_production() {
    error_in(
        &production_ctx(),
        r#"{"deletion_protection": false}"#,
        "deletion_protection",
    );
}

#[test]
fn treats_prod_and_prd_as_production() {
    for environment in ["prod", "prd"] {
        let ctx = Context {
            environment: environment.into(),
            ..test_ctx()
        };
        error_in(
            &ctx,
            r#"{"multi_az": false, "instance_class": "db.r6g.large"}"#,
            "multi_az",
        );
    }
}

#[test]
fn warns_about_burstable_classes_in_production() {
    let rendered = rendered_in(&production_ctx(), "{}");
    assert_eq!(rendered.warnings.len(), 1);
    assert_eq!(rendered.warnings[0].path, "instance_class");
    assert_eq!(rendered.warnings[0].severity, Severity::Warning);
}

#[test]
fn encrypts_storage_secret_and_insights_with_its_own_rotating_key() {
    let rendered = rendered(r#"{"performance_insights": true}"#);
    let key = &rendered.template["Resources"]["DatabaseKey"];
    assert_eq!(key["Properties"]["EnableKeyRotation"], true);
    assert_eq!(key["DeletionPolicy"], "Retain");
    let statement = &key["Properties"]["KeyPolicy"]["Statement"][0];
    assert_eq!(
        statement["Principal"]["AWS"].to_string(),
        r#"{"Fn::Sub":"arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}"#
    );
    let alias = &rendered.template["Resources"]["DatabaseKeyAlias"]["Properties"];
    assert_eq!(alias["AliasName"], "alias/acme-test-database");
    let db = instance(&rendered);
    let key_arn = r#"{"Fn::GetAtt":["DatabaseKey","Arn"]}"#;
    assert_eq!(db["StorageEncrypted"], true);
    assert_eq!(db["KmsKeyId"].to_string(), key_arn);
    assert_eq!(db["ManageMasterUserPassword"], true);
    assert_eq!(db["MasterUserSecret"]["KmsKeyId"].to_string(), key_arn);
    assert_eq!(db["PerformanceInsightsKMSKeyId"].to_string(), key_arn);
    assert!(db.get("MasterUserPassword").is_none());
}

#[test]
fn keeps_the_database_private_and_snapshotted() {
    let rendered = rendered("{}");
    let resource = &rendered.template["Resources"]["Database"];
    assert_eq!(resource["DeletionPolicy"], "Snapshot");
    assert_eq!(resource["UpdateReplacePolicy"], "Snapshot");
    let db = instance(&rendered);
    assert_eq!(db["PubliclyAccessible"], false);
    assert_eq!(db["CopyTagsToSnapshot"], true);
    assert_eq!(db["StorageType"], "gp3");
    assert_eq!(
        db["EnableCloudwatchLogsExports"].to_string(),
        r#"["postgresql"]"#
    );
}

#[test]
fn derives_the_parameter_group_family_from_the_major_version() {
    for (version, family) in [
        ("16.13", "postgres16"),
        ("17", "postgres17"),
        ("13.23", "postgres13"),
        ("18.3", "postgres18"),
    ] {
        let rendered = rendered(&format!(r#"{{"engine_version": "{version}"}}"#));
        let group = &rendered.template["Resources"]["DatabaseParameterGroup"]["Properties"];
        assert_eq!(group["Family"], family);
        assert_eq!(instance(&rendered)["EngineVersion"], version);
    }
}

#[test]
fn forces_tls_and_logs_slow_statements() {
    let rendered = rendered(r#"{"log_min_duration_statement_ms": 250}"#);
    let parameters =
        &rendered.template["Resources"]["DatabaseParameterGroup"]["Properties"]["Parameters"];
    assert_eq!(parameters["rds.force_ssl"], "1");
    assert_eq!(parameters["log_min_duration_statement"], "250");
    assert_eq!(
        instance(&rendered)["DBParameterGroupName"]["Ref"],
        "DatabaseParameterGroup"
    );
}

#[test]
fn turns_storage_autoscaling_off_when_the_limit_equals_the_size() {
    let rendered = rendered(r#"{"allocated_storage": 50, "max_allocated_storage": 50}"#);
    assert!(instance(&rendered).get("MaxAllocatedStorage").is_none());
}

#[test]
fn tags_every_taggable_resource() {
    assert_tagged_in(&test_ctx(), "{}");
}

#[test]
fn rejects_backup_retention_below_seven_days() {
    let error = error_at(r#"{"backup_retention_days": 3}"#, "backup_retention_days");
    assert_eq!(
        error.message,
        "backups must be kept at least 7 days, got `3`"
    );
    assert!(error.help.is_some());
}

#[test]
fn rejects_backup_retention_above_thirty_five_days() {
    error_at(r#"{"backup_retention_days": 36}"#, "backup_retention_days");
}

#[test]
fn rejects_an_unsupported_major_version() {
    let error = error_at(r#"{"engine_version": "12.19"}"#, "engine_version");
    assert_eq!(
        error.message,
        "PostgreSQL `12` is not supported, expected 13 to 18"
    );
}

#[test]
fn rejects_a_major_version_newer_than_known() {
    error_at(r#"{"engine_version": "19.1"}"#, "engine_version");
}

#[test]
fn rejects_a_malformed_version() {
    for version in ["latest", "16.", "16.4.1", ".4", "v16", "16.x"] {
        let error = error_at(
            &format!(r#"{{"engine_version": "{version}"}}"#),
            "engine_version",
        );
        assert_eq!(
            error.message,
            format!("`{version}` is not a PostgreSQL version")
        );
    }
}

#[test]
fn rejects_an_instance_class_without_the_db_prefix() {
    let error = error_at(r#"{"instance_class": "t4g.micro"}"#, "instance_class");
    assert_eq!(error.message, "`t4g.micro` is not an RDS instance class");
}

#[test]
fn rejects_malformed_instance_classes() {
    for class in [
        "db.t4g",
        "db.t4g.huge",
        "db..micro",
        "db.T4G.micro",
        "db.r6g.large.x",
    ] {
        error_at(
            &format!(r#"{{"instance_class": "{class}"}}"#),
            "instance_class",
        );
    }
}

#[test]
fn rejects_aurora_serverless_classes() {
    let error = error_at(r#"{"instance_class": "db.serverless"}"#, "instance_class");
    assert!(error.message.contains("Aurora"));
}

#[test]
fn rejects_storage_below_twenty_gib() {
    error_at(
        r#"{"allocated_storage": 10, "max_allocated_storage": 100}"#,
        "allocated_storage",
    );
}

#[test]
fn rejects_a_storage_limit_below_the_size() {
    let error = error_at(
        r#"{"allocated_storage": 100, "max_allocated_storage": 50}"#,
        "max_allocated_storage",
    );
    assert_eq!(
        error.help.as_deref(),
        Some("use at least `110` to let storage grow, or `100` to turn autoscaling off")
    );
}

#[test]
fn rejects_a_storage_limit_less_than_ten_percent_above_the_size() {
    error_at(
        r#"{"allocated_storage": 100, "max_allocated_storage": 105}"#,
        "max_allocated_storage",
    );
}

#[test]
fn rejects_a_storage_limit_above_gp3_maximum() {
    error_at(
        r#"{"max_allocated_storage": 70000}"#,
        "max_allocated_storage",
    );
}

#[test]
fn rejects_invalid_database_names() {
    for name in ["1app", "my-app", "", "app name"] {
        error_at(
            &format!(r#"{{"database_name": "{name}"}}"#),
            "database_name",
        );
    }
    let long = "a".repeat(64);
    error_at(
        &format!(r#"{{"database_name": "{long}"}}"#),
        "database_name",
    );
}

#[test]
fn suggests_a_valid_database_name() {
    let error = error_at(r#"{"database_name": "my-app"}"#, "database_name");
    assert!(
        error
            .help
            .as_deref()
            .unwrap_or_default()
            .ends_with("e.g. `my_app`"),
        "{:?}",
        error.help
    );
}

#[test]
fn rejects_reserved_master_usernames() {
    for name in ["postgres", "admin", "rdsadmin", "Admin"] {
        let error = error_at(
            &format!(r#"{{"master_username": "{name}"}}"#),
            "master_username",
        );
        assert_eq!(
            error.message,
            format!("`{name}` is reserved by PostgreSQL or RDS")
        );
    }
}

#[test]
fn rejects_a_log_threshold_below_minus_one() {
    error_at(
        r#"{"log_min_duration_statement_ms": -2}"#,
        "log_min_duration_statement_ms",
    );
}

#[test]
fn rejects_stack_names_that_cannot_be_imported_from() {
    error_at(r#"{"networking_stack": ""}"#, "networking_stack");
    let error = error_at(r#"{"security_stack": "sec urity"}"#, "security_stack");
    assert!(
        error
            .help
            .as_deref()
            .unwrap_or_default()
            .ends_with("e.g. `security`"),
        "{:?}",
        error.help
    );
    error_at(r#"{"security_stack": "Security"}"#, "security_stack");
    error_at(r#"{"security_stack": "sec--urity"}"#, "security_stack");
}

#[test]
fn rejects_an_identifier_rds_would_refuse() {
    let ctx = Context {
        project: "a-very-long-project-name-that-goes-on-and-on-and-on".into(),
        ..production_ctx()
    };
    let error = error_in(&ctx, r#"{"instance_class": "db.r6g.large"}"#, "");
    assert!(error.message.contains("RDS instance identifier"));
}

#[test]
fn reports_every_error_at_once() {
    let errors = errors_in(
        &production_ctx(),
        r#"{"engine_version": "11", "instance_class": "large", "allocated_storage": 5, "backup_retention_days": 1,
            "multi_az": false, "deletion_protection": false, "database_name": "9", "master_username": "postgres",
            "log_min_duration_statement_ms": -5}"#,
    );
    testing::assert_errors_at(
        &errors,
        &[
            "engine_version",
            "instance_class",
            "allocated_storage",
            "backup_retention_days",
            "multi_az",
            "deletion_protection",
            "database_name",
            "master_username",
            "log_min_duration_statement_ms",
        ],
    );
}

#[test]
fn rejects_unknown_keys() {
    error_at(r#"{"multiaz": true}"#, "multiaz");
}

#[test]
fn rejects_a_value_of_the_wrong_type_at_its_key() {
    error_at(r#"{"multi_az": "yes"}"#, "multi_az");
}

#[test]
fn describes_every_option_in_the_schema() {
    testing::assert_documented::<Config>(24);
}

// MySQL.

fn parameters(rendered: &Rendered) -> &Value {
    &rendered.template["Resources"]["DatabaseParameterGroup"]["Properties"]["Parameters"]
}

#[test]
fn renders_rds_for_mysql_with_tls_and_the_slow_query_log() {
    let rendered = rendered(r#"{"engine": "mysql", "log_min_duration_statement_ms": 250}"#);
    // Two log groups: `error` and `slowquery`.
    assert_eq!(resources(&rendered).count(), 12);
    assert_eq!(rendered.exports, EXPORTS);
    let db = instance(&rendered);
    assert_eq!(db["Engine"], "mysql");
    assert_eq!(db["EngineVersion"], "8.0.46");
    assert_eq!(
        db["EnableCloudwatchLogsExports"].to_string(),
        r#"["error","slowquery"]"#
    );
    assert!(db.get("Port").is_none());
    let group = &rendered.template["Resources"]["DatabaseParameterGroup"]["Properties"];
    assert_eq!(group["Family"], "mysql8.0");
    let parameters = parameters(&rendered);
    assert_eq!(parameters["require_secure_transport"], "ON");
    assert_eq!(parameters["slow_query_log"], "1");
    assert_eq!(parameters["long_query_time"], "0.25");
    assert_eq!(parameters["log_output"], "FILE");
    assert!(parameters.get("rds.force_ssl").is_none());
}

#[test]
fn turns_the_mysql_slow_query_log_off_for_minus_one() {
    let rendered = rendered(r#"{"engine": "mysql", "log_min_duration_statement_ms": -1}"#);
    let parameters = parameters(&rendered);
    assert_eq!(parameters["slow_query_log"], "0");
    assert!(parameters.get("long_query_time").is_none());
}

#[test]
fn derives_the_mysql_family_from_the_version() {
    let rendered = rendered(r#"{"engine": "mysql", "engine_version": "8.4.6"}"#);
    let group = &rendered.template["Resources"]["DatabaseParameterGroup"]["Properties"];
    assert_eq!(group["Family"], "mysql8.4");
}

#[test]
fn renders_an_explicit_port_as_cloudformation_types_it() {
    let rendered = rendered(r#"{"engine": "mysql", "port": 3307}"#);
    assert_eq!(instance(&rendered)["Port"], "3307");
    let rendered = rendered_in(&test_ctx(), r#"{"engine": "aurora-mysql", "port": 3307}"#);
    assert_eq!(cluster(&rendered)["Port"], 3307);
}

#[test]
fn rejects_a_port_rds_refuses() {
    let error = error_at(r#"{"port": 80}"#, "port");
    assert_eq!(error.message, "port `80` is outside 1150 to 65535");
}

#[test]
fn rejects_malformed_and_unsupported_mysql_versions() {
    for version in ["8", "8.0.x", "v8.0.40", "8.0.40.1"] {
        let error = error_at(
            &format!(r#"{{"engine": "mysql", "engine_version": "{version}"}}"#),
            "engine_version",
        );
        assert_eq!(error.message, format!("`{version}` is not a MySQL version"));
    }
    let error = error_at(
        r#"{"engine": "mysql", "engine_version": "5.7.44"}"#,
        "engine_version",
    );
    assert_eq!(
        error.message,
        "MySQL `5.7` is not supported, expected 8.0 or 8.4"
    );
}

#[test]
fn applies_mysql_rules_to_names() {
    let error = error_at(
        r#"{"engine": "mysql", "master_username": "root"}"#,
        "master_username",
    );
    assert_eq!(error.message, "`root` is reserved by MySQL or RDS");
    let error = error_at(
        r#"{"engine": "mysql", "master_username": "application_owner"}"#,
        "master_username",
    );
    assert!(
        error
            .help
            .as_deref()
            .unwrap_or_default()
            .contains("at most 16 characters"),
        "{:?}",
        error.help
    );
    error_at(
        r#"{"engine": "mysql", "database_name": "mysql"}"#,
        "database_name",
    );
    // `admin` is PostgreSQL's, not MySQL's.
    rendered(r#"{"engine": "mysql", "master_username": "admin"}"#);
}

#[test]
fn suggests_the_closest_engine() {
    let error = error_at(r#"{"engine": "aurora-postgres"}"#, "engine");
    assert_eq!(error.message, "unknown engine `aurora-postgres`");
    assert_eq!(
        error.help.as_deref(),
        Some("did you mean `aurora-postgresql`?")
    );
    let error = error_at(r#"{"engine": "oracle"}"#, "engine");
    assert!(error.help.is_some());
}

#[test]
fn points_rds_users_of_db_serverless_to_aurora() {
    let error = error_at(
        r#"{"engine": "mysql", "instance_class": "db.serverless"}"#,
        "instance_class",
    );
    assert!(
        error
            .help
            .as_deref()
            .unwrap_or_default()
            .contains("aurora-mysql"),
        "{:?}",
        error.help
    );
}

// Aurora.

fn cluster(rendered: &Rendered) -> &Value {
    &rendered.template["Resources"]["DatabaseCluster"]["Properties"]
}

fn aurora_instance(rendered: &Rendered, n: u32) -> &Value {
    &rendered.template["Resources"][format!("DatabaseInstance{n}").as_str()]
}

#[test]
fn renders_aurora_postgresql_serverless_v2_by_default() {
    let rendered = rendered(r#"{"engine": "aurora-postgresql"}"#);
    assert!(rendered.warnings.is_empty(), "{:#?}", rendered.warnings);
    let kinds: Vec<(&str, &str)> = resources(&rendered)
        .map(|(id, r)| (id.as_str(), r["Type"].as_str().unwrap_or_default()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("AppUserRotationSecurityGroup", "AWS::EC2::SecurityGroup"),
            ("AppUserSecret", "AWS::SecretsManager::Secret"),
            (
                "AppUserSecretAttachment",
                "AWS::SecretsManager::SecretTargetAttachment"
            ),
            (
                "AppUserSecretRotation",
                "AWS::SecretsManager::RotationSchedule"
            ),
            ("DatabaseCluster", "AWS::RDS::DBCluster"),
            (
                "DatabaseClusterParameterGroup",
                "AWS::RDS::DBClusterParameterGroup"
            ),
            (
                "DatabaseFromRotationIngress",
                "AWS::EC2::SecurityGroupIngress"
            ),
            ("DatabaseInstance1", "AWS::RDS::DBInstance"),
            ("DatabaseKey", "AWS::KMS::Key"),
            ("DatabaseKeyAlias", "AWS::KMS::Alias"),
            ("DatabaseLogGroupPostgresql", "AWS::Logs::LogGroup"),
            ("RotationToDatabaseEgress", "AWS::EC2::SecurityGroupEgress"),
        ]
    );
    let db = cluster(&rendered);
    assert_eq!(db["DBClusterIdentifier"], "acme-test-database");
    assert_eq!(db["Engine"], "aurora-postgresql");
    assert_eq!(db["EngineVersion"], "16.13");
    assert_eq!(
        db["ServerlessV2ScalingConfiguration"].to_string(),
        r#"{"MaxCapacity":2.0,"MinCapacity":0.5}"#
    );
    assert_eq!(db["BackupRetentionPeriod"], 7);
    assert_eq!(db["DeletionProtection"], false);
    assert_eq!(db["StorageEncrypted"], true);
    assert_eq!(db["CopyTagsToSnapshot"], true);
    assert_eq!(db["ManageMasterUserPassword"], true);
    assert_eq!(db["DatabaseName"], "app");
    assert_eq!(
        db["EnableCloudwatchLogsExports"].to_string(),
        r#"["postgresql"]"#
    );
    for key in [
        "AllocatedStorage",
        "DBClusterInstanceClass",
        "PubliclyAccessible",
        "Port",
    ] {
        assert!(db.get(key).is_none(), "{key}");
    }
    let group = &rendered.template["Resources"]["DatabaseClusterParameterGroup"]["Properties"];
    assert_eq!(group["Family"], "aurora-postgresql16");
    assert_eq!(group["Parameters"]["rds.force_ssl"], "1");
    let member = aurora_instance(&rendered, 1);
    assert_eq!(member["DeletionPolicy"], "Delete");
    let member = &member["Properties"];
    assert_eq!(member["DBInstanceClass"], "db.serverless");
    assert_eq!(member["DBInstanceIdentifier"], "acme-test-database-1");
    assert_eq!(member["DBClusterIdentifier"]["Ref"], "DatabaseCluster");
    assert_eq!(member["PubliclyAccessible"], false);
    assert_eq!(member["EnablePerformanceInsights"], false);
}

#[test]
fn snapshots_the_cluster_and_encrypts_it_with_the_stacks_key() {
    let rendered = rendered(r#"{"engine": "aurora-mysql"}"#);
    let resource = &rendered.template["Resources"]["DatabaseCluster"];
    assert_eq!(resource["DeletionPolicy"], "Snapshot");
    assert_eq!(resource["UpdateReplacePolicy"], "Snapshot");
    let key_arn = r#"{"Fn::GetAtt":["DatabaseKey","Arn"]}"#;
    let db = cluster(&rendered);
    assert_eq!(db["KmsKeyId"].to_string(), key_arn);
    assert_eq!(db["MasterUserSecret"]["KmsKeyId"].to_string(), key_arn);
    assert_eq!(
        rendered.template["Resources"]["DatabaseKey"]["DeletionPolicy"],
        "Retain"
    );
}

#[test]
fn renders_aurora_mysql_with_tls_and_the_slow_query_log() {
    let rendered = rendered(r#"{"engine": "aurora-mysql"}"#);
    let db = cluster(&rendered);
    assert_eq!(db["Engine"], "aurora-mysql");
    assert_eq!(db["EngineVersion"], "8.0.mysql_aurora.3.12.0");
    assert_eq!(
        db["EnableCloudwatchLogsExports"].to_string(),
        r#"["error","slowquery"]"#
    );
    let group = &rendered.template["Resources"]["DatabaseClusterParameterGroup"]["Properties"];
    assert_eq!(group["Family"], "aurora-mysql8.0");
    assert_eq!(group["Parameters"]["require_secure_transport"], "ON");
    assert_eq!(group["Parameters"]["long_query_time"], "1");
}

#[test]
fn exports_the_aurora_contract_names() {
    let rendered = rendered(r#"{"engine": "aurora-postgresql"}"#);
    assert_eq!(rendered.exports, AURORA_EXPORTS);
    let value = |id: &str| rendered.template["Outputs"][id]["Value"].to_string();
    assert_eq!(
        value("EndpointAddress"),
        r#"{"Fn::GetAtt":["DatabaseCluster","Endpoint.Address"]}"#
    );
    assert_eq!(
        value("ReaderEndpointAddress"),
        r#"{"Fn::GetAtt":["DatabaseCluster","ReadEndpoint.Address"]}"#
    );
    assert_eq!(
        value("EndpointPort"),
        r#"{"Fn::GetAtt":["DatabaseCluster","Endpoint.Port"]}"#
    );
    assert_eq!(
        value("SecretArn"),
        r#"{"Fn::GetAtt":["DatabaseCluster","MasterUserSecret.SecretArn"]}"#
    );
    assert_eq!(value("ClusterId"), r#"{"Ref":"DatabaseCluster"}"#);
    assert_eq!(
        value("KmsKeyArn"),
        r#"{"Fn::GetAtt":["DatabaseKey","Arn"]}"#
    );
}

#[test]
fn imports_the_subnet_group_and_security_group_into_the_cluster() {
    let rendered = rendered(r#"{"engine": "aurora-postgresql", "networking_stack": "vpc"}"#);
    let stacks: Vec<(&str, &str)> = rendered
        .imports
        .iter()
        .map(|i| (i.stack.as_str(), i.output.as_str()))
        .collect();
    assert_eq!(
        stacks,
        [
            ("vpc", "db-subnet-group-name"),
            ("security", "database-security-group-id"),
            ("vpc", "vpc-id"),
            ("vpc", "private-subnet-ids"),
        ]
    );
    assert_eq!(
        cluster(&rendered)["VpcSecurityGroupIds"].to_string(),
        r#"[{"Fn::ImportValue":"acme-test-security-database-security-group-id"}]"#
    );
}

#[test]
fn runs_two_aurora_instances_with_insights_and_protection_in_production() {
    let ctx = production_ctx();
    let rendered = rendered_in(
        &ctx,
        r#"{"engine": "aurora-postgresql", "backup_retention_days": 30}"#,
    );
    assert!(rendered.warnings.is_empty(), "{:#?}", rendered.warnings);
    let db = cluster(&rendered);
    assert_eq!(db["DeletionProtection"], true);
    assert_eq!(db["BackupRetentionPeriod"], 30);
    assert_eq!(db["ServerlessV2ScalingConfiguration"]["MaxCapacity"], 16.0);
    for n in 1..=2 {
        let member = &aurora_instance(&rendered, n)["Properties"];
        assert_eq!(
            member["DBInstanceIdentifier"],
            format!("acme-production-database-{n}")
        );
        assert_eq!(member["EnablePerformanceInsights"], true);
        assert_eq!(
            member["PerformanceInsightsKMSKeyId"].to_string(),
            r#"{"Fn::GetAtt":["DatabaseKey","Arn"]}"#
        );
    }
    assert!(aurora_instance(&rendered, 3).is_null());
    testing::assert_tagged(&rendered, &ctx);
}

#[test]
fn scales_aurora_serverless_to_four_acu_in_staging() {
    let ctx = Context {
        environment: "staging".into(),
        ..test_ctx()
    };
    let rendered = rendered_in(&ctx, r#"{"engine": "aurora-postgresql"}"#);
    assert_eq!(
        cluster(&rendered)["ServerlessV2ScalingConfiguration"]["MaxCapacity"],
        4.0
    );
}

#[test]
fn lets_explicit_capacity_and_instances_win() {
    let rendered = rendered(
        r#"{"engine": "aurora-postgresql", "min_capacity": 1, "max_capacity": 8.5, "instances": 3}"#,
    );
    assert_eq!(
        cluster(&rendered)["ServerlessV2ScalingConfiguration"].to_string(),
        r#"{"MaxCapacity":8.5,"MinCapacity":1.0}"#
    );
    assert!(!aurora_instance(&rendered, 3).is_null());
}

#[test]
fn renders_provisioned_aurora_instances() {
    let rendered = rendered(r#"{"engine": "aurora-postgresql", "serverless_v2": false}"#);
    assert!(
        cluster(&rendered)
            .get("ServerlessV2ScalingConfiguration")
            .is_none()
    );
    assert_eq!(
        aurora_instance(&rendered, 1)["Properties"]["DBInstanceClass"],
        "db.t4g.medium"
    );
    let rendered = rendered_in(
        &test_ctx(),
        r#"{"engine": "aurora-mysql", "serverless_v2": false, "instance_class": "db.r6g.large"}"#,
    );
    assert_eq!(
        aurora_instance(&rendered, 1)["Properties"]["DBInstanceClass"],
        "db.r6g.large"
    );
}

#[test]
fn tags_every_aurora_resource() {
    let ctx = test_ctx();
    testing::assert_tagged(&rendered_in(&ctx, r#"{"engine": "aurora-mysql"}"#), &ctx);
}

#[test]
fn rejects_keys_that_do_not_apply_to_aurora_serverless() {
    let error = error_at(
        r#"{"engine": "aurora-postgresql", "instance_class": "db.r6g.large"}"#,
        "instance_class",
    );
    assert_eq!(
        error.message,
        "`instance_class` does not apply to Aurora Serverless v2"
    );
    let error = error_at(
        r#"{"engine": "aurora-postgresql", "allocated_storage": 20}"#,
        "allocated_storage",
    );
    assert_eq!(
        error.message,
        "`allocated_storage` does not apply to Aurora Serverless v2"
    );
    let error = error_at(
        r#"{"engine": "aurora-mysql", "serverless_v2": false, "max_allocated_storage": 100}"#,
        "max_allocated_storage",
    );
    assert_eq!(
        error.message,
        "`max_allocated_storage` does not apply to Aurora"
    );
}

#[test]
fn rejects_aurora_keys_with_rds_engines() {
    for key in ["serverless_v2", "min_capacity", "max_capacity", "instances"] {
        let value = if key == "serverless_v2" { "true" } else { "2" };
        let error = error_at(&format!(r#"{{"engine": "mysql", "{key}": {value}}}"#), key);
        assert_eq!(
            error.message,
            format!("`{key}` applies to Aurora engines only")
        );
    }
}

#[test]
fn rejects_capacity_with_provisioned_aurora() {
    let error = error_at(
        r#"{"engine": "aurora-postgresql", "serverless_v2": false, "max_capacity": 4}"#,
        "max_capacity",
    );
    assert_eq!(
        error.message,
        "`max_capacity` applies to Aurora Serverless v2 only"
    );
}

#[test]
fn rejects_capacity_outside_half_acu_steps_and_limits() {
    let error = error_at(
        r#"{"engine": "aurora-postgresql", "min_capacity": 0.7}"#,
        "min_capacity",
    );
    assert_eq!(error.message, "`0.7` ACU is not a multiple of 0.5");
    assert_eq!(
        error.help.as_deref(),
        Some("capacity grows in steps of 0.5 ACU; use `0.5` or `1`")
    );
    error_at(
        r#"{"engine": "aurora-postgresql", "min_capacity": 0}"#,
        "min_capacity",
    );
    error_at(
        r#"{"engine": "aurora-postgresql", "max_capacity": 300}"#,
        "max_capacity",
    );
}

#[test]
fn rejects_a_capacity_range_upside_down() {
    let error = error_at(
        r#"{"engine": "aurora-postgresql", "min_capacity": 4, "max_capacity": 2}"#,
        "max_capacity",
    );
    assert_eq!(error.message, "`2` ACU is below `min_capacity` (`4` ACU)");
    let error = error_at(
        r#"{"engine": "aurora-postgresql", "min_capacity": 4}"#,
        "min_capacity",
    );
    assert_eq!(
        error.help.as_deref(),
        Some("lower `min_capacity`, or set `max_capacity` to at least `4`")
    );
}

#[test]
fn rejects_a_single_aurora_instance_in_production() {
    let error = error_in(
        &production_ctx(),
        r#"{"engine": "aurora-postgresql", "instances": 1}"#,
        "instances",
    );
    assert_eq!(error.message, "`1` instance is not multi-AZ");
    assert!(
        error
            .help
            .as_deref()
            .unwrap_or_default()
            .starts_with("use `instances = 2`")
    );
}

#[test]
fn rejects_a_single_aurora_instance_when_multi_az_is_asked_for() {
    error_at(
        r#"{"engine": "aurora-postgresql", "multi_az": true, "instances": 1}"#,
        "instances",
    );
    let rendered = rendered(r#"{"engine": "aurora-postgresql", "multi_az": true}"#);
    assert!(!aurora_instance(&rendered, 2).is_null());
}

#[test]
fn rejects_more_aurora_instances_than_a_cluster_holds() {
    error_at(
        r#"{"engine": "aurora-postgresql", "instances": 17}"#,
        "instances",
    );
}

#[test]
fn rejects_aurora_versions_it_cannot_run() {
    let error = error_at(
        r#"{"engine": "aurora-postgresql", "engine_version": "12.9"}"#,
        "engine_version",
    );
    assert_eq!(
        error.message,
        "PostgreSQL `12` is not supported, expected 13 to 17"
    );
    let error = error_at(
        r#"{"engine": "aurora-mysql", "engine_version": "5.7.mysql_aurora.2.11.2"}"#,
        "engine_version",
    );
    assert!(
        error
            .help
            .as_deref()
            .unwrap_or_default()
            .contains("end of life")
    );
    let error = error_at(
        r#"{"engine": "aurora-postgresql", "engine_version": "13.4"}"#,
        "engine_version",
    );
    assert_eq!(
        error.message,
        "Aurora PostgreSQL `13.4` cannot run Aurora Serverless v2"
    );
    rendered(
        r#"{"engine": "aurora-postgresql", "engine_version": "13.4", "serverless_v2": false}"#,
    );
}

#[test]
fn rejects_aurora_classes_too_small() {
    let error = error_at(
        r#"{"engine": "aurora-postgresql", "serverless_v2": false, "instance_class": "db.t4g.micro"}"#,
        "instance_class",
    );
    assert_eq!(error.message, "`db.t4g.micro` is too small for Aurora");
}

#[test]
fn rejects_a_cluster_identifier_rds_would_refuse() {
    let ctx = Context {
        project: "a-project-name-long-enough-to-fill-the-identifier".into(),
        ..test_ctx()
    };
    // `a-project-name-long-enough-to-fill-the-identifier-test-database`
    // is 63 characters: an RDS instance fits, Aurora's `-1` does not.
    rendered_in(&ctx, "{}");
    let error = error_in(&ctx, r#"{"engine": "aurora-postgresql"}"#, "");
    assert!(error.message.contains("Aurora cluster identifier"));
}

#[test]
fn reports_every_aurora_error_at_once() {
    let errors = errors_in(
        &production_ctx(),
        r#"{"engine": "aurora-mysql", "engine_version": "8.0", "port": 1, "instance_class": "db.r6g.large",
            "allocated_storage": 100, "instances": 1, "min_capacity": 0.2, "master_username": "root"}"#,
    );
    testing::assert_errors_at(
        &errors,
        &[
            "engine_version",
            "port",
            "instance_class",
            "allocated_storage",
            "instances",
            "min_capacity",
            "master_username",
        ],
    );
}

#[test]
fn describes_aurora_in_the_template() {
    let rendered = rendered(r#"{"engine": "aurora-postgresql"}"#);
    assert_eq!(
        rendered.template["Description"],
        "acme-test-database: Aurora PostgreSQL 16.13, Serverless v2 from 0.5 to 2 ACU, 1 instance(s)"
    );
    let rendered = rendered_in(&test_ctx(), r#"{"engine": "mysql"}"#);
    assert_eq!(
        rendered.template["Description"],
        "acme-test-database: MySQL 8.0.46 on db.t4g.micro"
    );
}

// The application user, logs, monitoring (the template review's findings).

fn resource<'a>(rendered: &'a Rendered, id: &str) -> &'a Value {
    &rendered.template["Resources"][id]
}

#[test]
fn gives_the_application_its_own_user_secret_rotated_with_the_master_secret() {
    for (config, target, rotation) in [
        ("{}", "Database", "PostgreSQLMultiUser"),
        (r#"{"engine": "mysql"}"#, "Database", "MySQLMultiUser"),
        (
            r#"{"engine": "aurora-postgresql"}"#,
            "DatabaseCluster",
            "PostgreSQLMultiUser",
        ),
    ] {
        let rendered = rendered_in(&test_ctx(), config);
        assert_eq!(
            rendered.exports.last().map(String::as_str),
            Some("app-secret-arn")
        );
        assert_eq!(
            rendered.template["Transform"],
            "AWS::SecretsManager-2020-07-23"
        );
        let secret = &resource(&rendered, "AppUserSecret")["Properties"];
        assert_eq!(secret["Name"], "acme-test-database-app");
        assert_eq!(
            secret["KmsKeyId"].to_string(),
            r#"{"Fn::GetAtt":["DatabaseKey","Arn"]}"#
        );
        let template =
            secret["GenerateSecretString"]["SecretStringTemplate"]["Fn::Sub"].to_string();
        assert!(
            template.contains(r#"\"username\":\"app_user\""#),
            "{template}"
        );
        assert!(
            template.contains(&format!(
                r#"{{"Fn::GetAtt":["{target}","MasterUserSecret.SecretArn"]}}"#
            )),
            "{template}"
        );
        let attachment = &resource(&rendered, "AppUserSecretAttachment")["Properties"];
        assert_eq!(attachment["TargetId"]["Ref"], target);
        let schedule = &resource(&rendered, "AppUserSecretRotation")["Properties"];
        let lambda = &schedule["HostedRotationLambda"];
        assert_eq!(lambda["RotationType"], rotation);
        assert_eq!(
            lambda["MasterSecretArn"].to_string(),
            format!(r#"{{"Fn::GetAtt":["{target}","MasterUserSecret.SecretArn"]}}"#)
        );
        assert_eq!(
            schedule["RotationRules"]["ScheduleExpression"],
            "rate(30 days)"
        );
        assert_eq!(schedule["RotateImmediatelyOnUpdate"], false);
    }
}

#[test]
fn lets_the_rotation_lambda_reach_the_database_both_ways() {
    let rendered = rendered(r#"{"engine": "mysql"}"#);
    let egress = &resource(&rendered, "RotationToDatabaseEgress")["Properties"];
    let ingress = &resource(&rendered, "DatabaseFromRotationIngress")["Properties"];
    assert_eq!(egress["FromPort"], 3306);
    assert_eq!(ingress["FromPort"], 3306);
    assert_eq!(
        egress["DestinationSecurityGroupId"], ingress["GroupId"],
        "the egress goes where the ingress admits"
    );
    assert_eq!(egress["GroupId"], ingress["SourceSecurityGroupId"]);
}

#[test]
fn refuses_the_master_user_as_the_application_user() {
    let error = error_at(r#"{"app_username": "app"}"#, "app_username");
    assert_eq!(error.message, "`app` is the master user");
}

#[test]
fn declares_the_log_groups_rds_exports_to_with_a_retention() {
    let rendered = rendered(r#"{"engine": "mysql"}"#);
    for (id, log) in [
        ("DatabaseLogGroupError", "error"),
        ("DatabaseLogGroupSlowquery", "slowquery"),
    ] {
        let group = resource(&rendered, id);
        assert_eq!(
            group["Properties"]["LogGroupName"],
            format!("/aws/rds/instance/acme-test-database/{log}")
        );
        assert_eq!(group["Properties"]["RetentionInDays"], 7);
        assert_eq!(group["DeletionPolicy"], "Delete");
    }
    let production = rendered_in(&production_ctx(), r#"{"engine": "aurora-postgresql"}"#);
    let group = resource(&production, "DatabaseLogGroupPostgresql");
    assert_eq!(
        group["Properties"]["LogGroupName"],
        "/aws/rds/cluster/acme-production-database/postgresql"
    );
    assert_eq!(group["Properties"]["RetentionInDays"], 90);
    assert_eq!(group["DeletionPolicy"], "Retain");
    assert_eq!(
        resource(&production, "DatabaseCluster")["DependsOn"],
        "DatabaseLogGroupPostgresql"
    );
}

#[test]
fn monitors_the_os_and_refuses_major_upgrades_in_production_only() {
    let rendered = rendered_in(&production_ctx(), r#"{"instance_class": "db.r6g.large"}"#);
    let db = instance(&rendered);
    assert_eq!(db["MonitoringInterval"], 60);
    assert_eq!(
        db["MonitoringRoleArn"].to_string(),
        r#"{"Fn::GetAtt":["EnhancedMonitoringRole","Arn"]}"#
    );
    assert_eq!(db["AllowMajorVersionUpgrade"], false);
    let role = &resource(&rendered, "EnhancedMonitoringRole")["Properties"];
    assert_eq!(
        role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]["Service"],
        "monitoring.rds.amazonaws.com"
    );
    let development = rendered_in(&test_ctx(), "{}");
    let db = instance(&development);
    assert!(db.get("MonitoringInterval").is_none());
    assert_eq!(db["AllowMajorVersionUpgrade"], true);
    let error = error_at(
        r#"{"enhanced_monitoring_seconds": 7}"#,
        "enhanced_monitoring_seconds",
    );
    assert!(error.message.contains("got `7`"), "{}", error.message);
}
