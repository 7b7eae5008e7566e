//! Renders through the same path as the host (`testing::render_json`), so
//! serde's errors are covered along with the module's own.

use strata_sdk::testing::{
    self, TagRules, count_of, has_resource, import_value, properties, resource, resources,
};

use crate::{Config, exports, render};

strata_sdk::test_helpers!(
    Config,
    render,
    "efs",
    tag_rules: TagRules::default()
        .with_tag_list("AWS::EFS::FileSystem", "FileSystemTags")
        .with_tag_list("AWS::EFS::AccessPoint", "AccessPointTags")
        .untaggable("AWS::EFS::MountTarget"),
);

const UPLOADS: &str =
    r#"{"access_points": [{"name": "uploads", "path": "/uploads", "uid": 1000, "gid": 1000}]}"#;

#[test]
fn renders_an_empty_table_as_an_encrypted_backed_up_file_system_in_two_zones() {
    let rendered = rendered("{}");
    let fs = properties(&rendered, "FileSystem");
    assert_eq!(fs["Encrypted"], true);
    assert!(fs.get("KmsKeyId").is_none(), "EFS's own key by default");
    assert_eq!(fs["PerformanceMode"], "generalPurpose");
    assert_eq!(fs["ThroughputMode"], "elastic");
    assert_eq!(fs["BackupPolicy"]["Status"], "ENABLED");
    assert_eq!(
        fs["LifecyclePolicies"].to_string(),
        r#"[{"TransitionToIA":"AFTER_30_DAYS"},{"TransitionToPrimaryStorageClass":"AFTER_1_ACCESS"}]"#
    );
    assert_eq!(fs["FileSystemTags"][0]["Value"], "acme-test-efs");
    assert_eq!(
        resource(&rendered, "FileSystem")["DeletionPolicy"],
        "Delete"
    );
    assert_eq!(count_of(&rendered, "AWS::EFS::MountTarget"), 2);
    assert_eq!(resources(&rendered).count(), 6);
    assert!(rendered.warnings.is_empty());
}

#[test]
fn retains_and_always_backs_up_in_production_across_three_zones() {
    let rendered = rendered_in(&production_ctx(), "{}");
    let fs = resource(&rendered, "FileSystem");
    assert_eq!(fs["DeletionPolicy"], "Retain");
    assert_eq!(fs["UpdateReplacePolicy"], "Retain");
    assert_eq!(fs["Properties"]["BackupPolicy"]["Status"], "ENABLED");
    assert_eq!(count_of(&rendered, "AWS::EFS::MountTarget"), 3);
    let error = error_in(&production_ctx(), r#"{"backup": false}"#, "backup");
    assert!(
        error.message.contains("always backed up"),
        "{}",
        error.message
    );
    error_in(
        &production_ctx(),
        r#"{"availability_zones": 1}"#,
        "availability_zones",
    );
}

#[test]
fn lets_development_turn_backups_off() {
    let rendered = rendered(r#"{"backup": false}"#);
    assert_eq!(
        properties(&rendered, "FileSystem")["BackupPolicy"]["Status"],
        "DISABLED"
    );
}

#[test]
fn refuses_unencrypted_transport_and_root_by_default() {
    let first = rendered("{}");
    let statements = &properties(&first, "FileSystem")["FileSystemPolicy"]["Statement"];
    assert_eq!(
        statements[0]["Action"].to_string(),
        r#"["elasticfilesystem:ClientMount","elasticfilesystem:ClientWrite"]"#
    );
    assert_eq!(
        statements[0]["Condition"]["Bool"]["elasticfilesystem:AccessedViaMountTarget"],
        "true"
    );
    assert_eq!(statements[1]["Effect"], "Deny");
    assert_eq!(
        statements[1]["Condition"]["Bool"]["aws:SecureTransport"],
        "false"
    );
    let root = rendered(r#"{"allow_root_access": true}"#);
    let actions = &properties(&root, "FileSystem")["FileSystemPolicy"]["Statement"][0]["Action"];
    assert_eq!(actions[2], "elasticfilesystem:ClientRootAccess");
}

#[test]
fn puts_a_mount_target_in_each_private_subnet_behind_its_own_group() {
    let ctx = test_ctx();
    let rendered = rendered(r#"{"availability_zones": 3}"#);
    let subnets = import_value(&ctx, "networking", "private-subnet-ids");
    for index in 0..3 {
        let target = properties(&rendered, &format!("MountTarget{}", index + 1));
        assert_eq!(
            target["FileSystemId"].to_string(),
            r#"{"Ref":"FileSystem"}"#
        );
        assert_eq!(
            target["SubnetId"].to_string(),
            format!(r#"{{"Fn::Select":["{index}",{{"Fn::Split":[",",{subnets}]}}]}}"#)
        );
        assert_eq!(
            target["SecurityGroups"].to_string(),
            r#"[{"Fn::GetAtt":["MountTargetSecurityGroup","GroupId"]}]"#
        );
    }
    let group = properties(&rendered, "MountTargetSecurityGroup");
    assert_eq!(
        group["VpcId"].to_string(),
        import_value(&ctx, "networking", "vpc-id")
    );
    assert_eq!(
        group["SecurityGroupEgress"][0]["CidrIp"],
        "255.255.255.255/32"
    );
    assert!(group.get("SecurityGroupIngress").is_none());
}

#[test]
fn admits_nfs_from_the_tasks_group_and_lets_the_tasks_send_it() {
    let ctx = test_ctx();
    let first = rendered("{}");
    let tasks = import_value(&ctx, "security", "ecs-security-group-id");
    let ingress = properties(&first, "MountTargetFromSourceIngress");
    assert_eq!(ingress["SourceSecurityGroupId"].to_string(), tasks);
    assert_eq!(
        ingress["GroupId"].to_string(),
        r#"{"Fn::GetAtt":["MountTargetSecurityGroup","GroupId"]}"#
    );
    let egress = properties(&first, "SourceToMountTargetEgress");
    assert_eq!(egress["GroupId"].to_string(), tasks);
    assert_eq!(
        egress["DestinationSecurityGroupId"].to_string(),
        r#"{"Fn::GetAtt":["MountTargetSecurityGroup","GroupId"]}"#
    );
    for rule in [ingress, egress] {
        assert_eq!(rule["IpProtocol"], "tcp");
        assert_eq!(rule["FromPort"], 2049);
        assert_eq!(rule["ToPort"], 2049);
    }
    let workers = rendered(
        r#"{"source_security_group": "workers.task-security-group-id", "source_egress": false}"#,
    );
    assert!(!has_resource(&workers, "SourceToMountTargetEgress"));
    assert_eq!(
        properties(&workers, "MountTargetFromSourceIngress")["SourceSecurityGroupId"].to_string(),
        import_value(&test_ctx(), "workers", "task-security-group-id")
    );
}

#[test]
fn imports_the_network_and_the_source_group() {
    testing::assert_imports(
        &rendered("{}"),
        &[
            ("networking", "vpc-id"),
            ("security", "ecs-security-group-id"),
            ("networking", "private-subnet-ids"),
        ],
    );
}

#[test]
fn encrypts_with_a_given_or_imported_key() {
    let first = rendered(r#"{"kms_key": {"import": "keys.efs-key-arn"}}"#);
    assert_eq!(
        properties(&first, "FileSystem")["KmsKeyId"].to_string(),
        import_value(&test_ctx(), "keys", "efs-key-arn")
    );
    assert!(
        first
            .imports
            .contains(&testing::import("keys", "efs-key-arn"))
    );
    let arn = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    let literal = rendered(&format!(r#"{{"kms_key": "{arn}"}}"#));
    assert_eq!(properties(&literal, "FileSystem")["KmsKeyId"], arn);
    error_at(r#"{"kms_key": {"import": "keys"}}"#, "kms_key.import");
    error_at(r#"{"kms_key": ""}"#, "kms_key");
}

#[test]
fn creates_access_points_with_a_posix_identity_and_exports_them() {
    let rendered = rendered(UPLOADS);
    let point = properties(&rendered, "UploadsAccessPoint");
    assert_eq!(point["FileSystemId"].to_string(), r#"{"Ref":"FileSystem"}"#);
    assert_eq!(
        point["PosixUser"].to_string(),
        r#"{"Gid":"1000","Uid":"1000"}"#
    );
    assert_eq!(point["RootDirectory"]["Path"], "/uploads");
    assert_eq!(
        point["RootDirectory"]["CreationInfo"].to_string(),
        r#"{"OwnerGid":"1000","OwnerUid":"1000","Permissions":"0750"}"#
    );
    assert_eq!(point["AccessPointTags"][0]["Value"], "acme-test-uploads");
    testing::assert_exports(&rendered, &test_ctx(), &exports(&["uploads"]));
    testing::assert_output_values(
        &rendered,
        &[
            ("FileSystemId", r#"{"Ref":"FileSystem"}"#),
            ("FileSystemArn", r#"{"Fn::GetAtt":["FileSystem","Arn"]}"#),
            (
                "SecurityGroupId",
                r#"{"Fn::GetAtt":["MountTargetSecurityGroup","GroupId"]}"#,
            ),
            ("AccessPointUploadsId", r#"{"Ref":"UploadsAccessPoint"}"#),
            (
                "AccessPointUploadsArn",
                r#"{"Fn::GetAtt":["UploadsAccessPoint","Arn"]}"#,
            ),
        ],
    );
}

#[test]
fn exports_exactly_the_contract_names() {
    testing::assert_exports(
        &rendered("{}"),
        &test_ctx(),
        &["file-system-id", "file-system-arn", "security-group-id"],
    );
}

#[test]
fn sets_modes_and_lifecycle_as_configured() {
    let first = rendered(
        r#"{"throughput_mode": "provisioned", "provisioned_throughput_mibps": 64,
            "performance_mode": "max-io", "transition_to_ia_days": 0,
            "transition_to_primary_on_access": false}"#,
    );
    let fs = properties(&first, "FileSystem");
    assert_eq!(fs["ThroughputMode"], "provisioned");
    assert_eq!(fs["ProvisionedThroughputInMibps"], 64.0);
    assert_eq!(fs["PerformanceMode"], "maxIO");
    assert!(fs.get("LifecyclePolicies").is_none());
    let archived = rendered(r#"{"transition_to_ia_days": 7, "transition_to_archive_days": 90}"#);
    assert_eq!(
        properties(&archived, "FileSystem")["LifecyclePolicies"][1]["TransitionToArchive"],
        "AFTER_90_DAYS"
    );
}

#[test]
fn tags_every_taggable_resource() {
    assert_tagged_in(&test_ctx(), UPLOADS);
    assert_tagged_in(&production_ctx(), UPLOADS);
}

#[test]
fn rejects_modes_efs_refuses() {
    error_at(r#"{"performance_mode": "max-io"}"#, "performance_mode");
    error_at(
        r#"{"throughput_mode": "provisioned"}"#,
        "provisioned_throughput_mibps",
    );
    error_at(
        r#"{"throughput_mode": "provisioned", "provisioned_throughput_mibps": 5000}"#,
        "provisioned_throughput_mibps",
    );
    error_at(
        r#"{"provisioned_throughput_mibps": 10}"#,
        "provisioned_throughput_mibps",
    );
    error_at(r#"{"throughput_mode": "fast"}"#, "throughput_mode");
}

#[test]
fn rejects_transition_periods_efs_does_not_offer() {
    let error = error_at(r#"{"transition_to_ia_days": 45}"#, "transition_to_ia_days");
    assert_eq!(
        error.help.as_deref(),
        Some("use `0` to keep files in Standard, or `30` or `60`")
    );
    error_at(
        r#"{"transition_to_archive_days": 30}"#,
        "transition_to_archive_days",
    );
    error_at(
        r#"{"transition_to_archive_days": 90, "throughput_mode": "bursting"}"#,
        "transition_to_archive_days",
    );
}

#[test]
fn rejects_a_malformed_source_group_or_stack() {
    let error = error_at(
        r#"{"source_security_group": "security"}"#,
        "source_security_group",
    );
    assert!(
        error.message.contains("`STACK.OUTPUT`"),
        "{}",
        error.message
    );
    error_at(r#"{"networking_stack": "Net"}"#, "networking_stack");
    error_at(r#"{"availability_zones": 0}"#, "availability_zones");
}

#[test]
fn rejects_bad_access_points_at_their_key() {
    let errors = errors(
        r#"{"access_points": [
            {"name": "Uploads", "path": "/a"},
            {"name": "a", "path": "uploads"},
            {"name": "b", "path": "/b", "uid": 4294967296},
            {"name": "c", "path": "/c", "permissions": "0789"},
            {"name": "d", "path": "/d/../e"},
            {"name": "d", "path": "/d"}
        ]}"#,
    );
    testing::assert_errors_at(
        &errors,
        &[
            "access_points.0.name",
            "access_points.1.path",
            "access_points.2.uid",
            "access_points.3.permissions",
            "access_points.4.path",
        ],
    );
    let error = error_at(
        r#"{"access_points": [{"name": "d", "path": "/d"}, {"name": "d", "path": "/e"}]}"#,
        "access_points.1.name",
    );
    assert_eq!(error.message, "access point `d` is listed twice");
}

#[test]
fn rejects_unknown_keys() {
    error_at(r#"{"encrypted": false}"#, "encrypted");
}

#[test]
fn describes_every_option_in_the_schema() {
    testing::assert_documented::<Config>(14);
}
