//! What the database adds around the instance or cluster, for RDS and
//! Aurora alike:
//!
//! - the application user's secret (`{project}-{environment}-database-app`),
//!   separate from the master secret RDS manages: a generated password,
//!   encrypted with the database's key, attached to the database (which
//!   fills in `host`, `port` and `engine`), and rotated by Secrets
//!   Manager's hosted multi-user rotation Lambda (the
//!   `AWS::SecretsManager-2020-07-23` transform), which logs in as the
//!   master user and alternates between the user and its `_clone`, so a
//!   task started before a rotation keeps a password that still works for
//!   one more period;
//! - the rotation Lambda's security group (in the private subnets: it needs
//!   the database port and HTTPS to Secrets Manager), and the database
//!   group's ingress from it, both directions wired here;
//! - the log groups RDS writes the exported logs to, declared with a
//!   retention so nothing is created outside the template;
//! - the enhanced monitoring role, when enhanced monitoring is on.

use strata_sdk::{Context, Resource, Template, Value, aws, cfn, json};

use crate::config::Settings;
use crate::key_arn;

/// Logical id of the application user's secret.
pub const APP_SECRET: &str = "AppUserSecret";
const ROTATION_GROUP: &str = "AppUserRotationSecurityGroup";
/// Logical id of the enhanced monitoring role.
pub const MONITORING_ROLE: &str = "EnhancedMonitoringRole";
/// The transform that expands `HostedRotationLambda`.
pub const ROTATION_TRANSFORM: &str = "AWS::SecretsManager-2020-07-23";

/// Add the application user's secret, its attachment and rotation.
/// `target` is the logical id of the instance or cluster, `master_secret`
/// its managed secret's ARN.
pub fn add_app_user(
    template: &mut Template,
    ctx: &Context,
    settings: &Settings,
    target: &str,
    master_secret: Value,
) {
    let name = ctx.name("database-app");
    template.resource(
        APP_SECRET,
        Resource::new(
            "AWS::SecretsManager::Secret",
            json!({
                "Name": name,
                "Description": format!(
                    "{}: credentials of the application user `{}` (not the master user)",
                    settings.identifier, settings.app_username
                ),
                "KmsKeyId": key_arn(),
                "GenerateSecretString": {
                    // `masterarn` lets the multi-user rotation log in as the
                    // master user; the attachment adds host, port, engine.
                    "SecretStringTemplate": { "Fn::Sub": [
                        format!(
                            "{{\"username\":\"{}\",\"dbname\":\"{}\",\"masterarn\":\"${{MasterSecretArn}}\"}}",
                            settings.app_username, settings.database_name
                        ),
                        { "MasterSecretArn": master_secret.clone() },
                    ] },
                    "GenerateStringKey": "password",
                    "PasswordLength": 32,
                    // Characters that need quoting in a connection string.
                    "ExcludeCharacters": "\"@/\\'`:;%&#",
                },
                "Tags": ctx.tags_named(&name),
            }),
        ),
    );
    let target_type = if settings.engine.is_aurora() {
        "AWS::RDS::DBCluster"
    } else {
        "AWS::RDS::DBInstance"
    };
    template.resource(
        "AppUserSecretAttachment",
        Resource::new(
            "AWS::SecretsManager::SecretTargetAttachment",
            json!({
                "SecretId": cfn::reference(APP_SECRET),
                "TargetId": cfn::reference(target),
                "TargetType": target_type,
            }),
        ),
    );
    add_rotation_group(template, ctx, settings);
    template.transform(ROTATION_TRANSFORM);
    let private_subnets = template.import(&settings.networking_stack, "private-subnet-ids");
    template.resource(
        "AppUserSecretRotation",
        Resource::new(
            "AWS::SecretsManager::RotationSchedule",
            json!({
                "SecretId": cfn::reference(APP_SECRET),
                // The user must exist before the first rotation (the
                // README says how to create it): no rotation at creation.
                "RotateImmediatelyOnUpdate": false,
                "HostedRotationLambda": {
                    "RotationType": if settings.engine.is_mysql() {
                        "MySQLMultiUser"
                    } else {
                        "PostgreSQLMultiUser"
                    },
                    "RotationLambdaName": ctx.name("database-app-rotation"),
                    "MasterSecretArn": master_secret,
                    "MasterSecretKmsKeyArn": key_arn(),
                    "KmsKeyArn": key_arn(),
                    "VpcSecurityGroupIds": cfn::get_att(ROTATION_GROUP, "GroupId"),
                    "VpcSubnetIds": private_subnets,
                },
                "RotationRules": {
                    "ScheduleExpression": format!("rate({} days)", settings.app_secret_rotation_days),
                },
            }),
        )
        .depends_on("AppUserSecretAttachment"),
    );
    template.export(
        "app-secret-arn",
        cfn::reference(APP_SECRET),
        "ARN of the Secrets Manager secret of the application user (username, password, host, port, dbname)",
    );
}

/// The rotation Lambda's group: it sends to the database on its port and
/// to Secrets Manager on 443; the database's group (imported) admits it.
fn add_rotation_group(template: &mut Template, ctx: &Context, settings: &Settings) {
    let vpc_id = template.import(&settings.networking_stack, "vpc-id");
    let database_group = template.import(&settings.security_stack, "database-security-group-id");
    let port = settings
        .port
        .unwrap_or_else(|| settings.engine.default_port());
    let name = ctx.name("database-rotation");
    template.resource(
        ROTATION_GROUP,
        Resource::new(
            "AWS::EC2::SecurityGroup",
            json!({
                "GroupDescription": format!("{name}: rotation Lambda of the app user secret"),
                "VpcId": vpc_id,
                "SecurityGroupEgress": [{
                    "IpProtocol": "tcp",
                    "FromPort": 443,
                    "ToPort": 443,
                    "CidrIp": "0.0.0.0/0",
                    "Description": "HTTPS to Secrets Manager and KMS",
                }],
                "Tags": ctx.tags_named(&name),
            }),
        ),
    );
    template.resource(
        "RotationToDatabaseEgress",
        Resource::new(
            "AWS::EC2::SecurityGroupEgress",
            json!({
                "GroupId": cfn::get_att(ROTATION_GROUP, "GroupId"),
                "DestinationSecurityGroupId": database_group,
                "IpProtocol": "tcp",
                "FromPort": port,
                "ToPort": port,
                "Description": "To the database, to rotate the app user's password",
            }),
        ),
    );
    template.resource(
        "DatabaseFromRotationIngress",
        Resource::new(
            "AWS::EC2::SecurityGroupIngress",
            json!({
                "GroupId": database_group,
                "SourceSecurityGroupId": cfn::get_att(ROTATION_GROUP, "GroupId"),
                "IpProtocol": "tcp",
                "FromPort": port,
                "ToPort": port,
                "Description": "From the app user's secret rotation Lambda",
            }),
        ),
    );
}

/// Declare `/aws/rds/{instance|cluster}/<identifier>/<log>` for every
/// exported log, with the environment's retention, so RDS writes into
/// groups the stack owns. Logical ids `DatabaseLogGroup<Log>`.
pub fn add_log_groups(template: &mut Template, ctx: &Context, settings: &Settings) -> Vec<String> {
    let scope = if settings.engine.is_aurora() {
        "cluster"
    } else {
        "instance"
    };
    let mut ids = Vec::new();
    for log in settings.engine.log_names() {
        let id = format!("DatabaseLogGroup{}", cfn::logical_id(log));
        template.resource(
            &id,
            aws::log_group(
                ctx,
                format!("/aws/rds/{scope}/{}/{log}", settings.identifier),
                settings.log_retention_days,
                ctx.is_production(),
            ),
        );
        ids.push(id);
    }
    ids
}

/// The role RDS's enhanced monitoring publishes OS metrics with.
pub fn add_monitoring_role(template: &mut Template, ctx: &Context) {
    template.resource(
        MONITORING_ROLE,
        Resource::new(
            "AWS::IAM::Role",
            json!({
                "AssumeRolePolicyDocument": aws::assume_role_policy("monitoring.rds.amazonaws.com", None),
                "ManagedPolicyArns": [cfn::sub(
                    "arn:${AWS::Partition}:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole",
                )],
                "Tags": ctx.tags(),
            }),
        ),
    );
}
