//! The `database` stack type: an RDS instance (PostgreSQL, the default, or
//! MySQL) or an Aurora cluster (PostgreSQL or MySQL compatible, Serverless v2
//! by default).
//!
//! - [`config`] validates the stack's table and resolves the defaults that
//!   depend on the environment (multi-AZ, deletion protection and
//!   Performance Insights are on in production, and the first two cannot be
//!   turned off there).
//! - [`engine`] knows what differs between engines: versions, parameter
//!   group families, TLS and slow-log parameters, log exports, names.
//! - This file adds the resources of both kinds: a customer-managed KMS key
//!   (storage, the master user secret and Performance Insights are encrypted
//!   with it), and for RDS a parameter group forcing TLS and the instance.
//! - [`cluster`] adds Aurora's cluster parameter group, cluster and
//!   instances.
//!
//! The database lives in the `networking` stack's DB subnet group (isolated
//! subnets) behind the `security` stack's database group; both are imported.
//! Its exports ([`EXPORTS`] for RDS, [`AURORA_EXPORTS`] for Aurora) are what
//! the compute stack needs to connect.

pub mod access;
pub mod cluster;
pub mod config;
pub mod engine;

#[cfg(test)]
mod tests;

use strata_sdk::{Context, DeletionPolicy, Diagnostics, Resource, Template, Value, aws, cfn, json};

pub use config::Config;
use config::Settings;

/// The outputs an RDS (`postgres`, `mysql`) stack exports, in order. Other
/// modules import them by these names.
pub const EXPORTS: [&str; 6] = [
    "endpoint-address",
    "endpoint-port",
    "secret-arn",
    "instance-id",
    "kms-key-arn",
    "app-secret-arn",
];

/// The outputs an Aurora (`aurora-postgresql`, `aurora-mysql`) stack
/// exports, in order.
pub const AURORA_EXPORTS: [&str; 7] = [
    "endpoint-address",
    "reader-endpoint-address",
    "endpoint-port",
    "secret-arn",
    "cluster-id",
    "kms-key-arn",
    "app-secret-arn",
];

const KEY: &str = "DatabaseKey";
const PARAMETER_GROUP: &str = "DatabaseParameterGroup";
const INSTANCE: &str = "Database";

/// Render a database stack.
pub fn render(ctx: &Context, config: Config) -> Result<Template, Diagnostics> {
    let (settings, warnings) = config.validate(ctx)?;
    if settings.engine.is_aurora() {
        let mut template = cluster::render(ctx, &settings);
        template.warn_all(warnings);
        return Ok(template);
    }
    let mut template = Template::new(
        ctx,
        format!(
            "{}: {} {} on {}",
            settings.identifier,
            settings.engine.title(),
            settings.engine_version,
            settings.instance_class
        ),
    );
    template.warn_all(warnings);

    add_key(&mut template, ctx, &settings);
    add_parameter_group(&mut template, ctx, &settings);
    let log_groups = access::add_log_groups(&mut template, ctx, &settings);
    if settings.enhanced_monitoring_seconds > 0 {
        access::add_monitoring_role(&mut template, ctx);
    }
    add_instance(&mut template, ctx, &settings, &log_groups);

    template.export(
        "endpoint-address",
        cfn::get_att(INSTANCE, "Endpoint.Address"),
        "Hostname of the database",
    );
    template.export(
        "endpoint-port",
        cfn::get_att(INSTANCE, "Endpoint.Port"),
        "Port of the database",
    );
    template.export(
        "secret-arn",
        cfn::get_att(INSTANCE, "MasterUserSecret.SecretArn"),
        "ARN of the Secrets Manager secret holding the master user's credentials (for administration and the app user's rotation, not for the application)",
    );
    template.export(
        "instance-id",
        cfn::reference(INSTANCE),
        "RDS instance identifier",
    );
    template.export(
        "kms-key-arn",
        key_arn(),
        "ARN of the KMS key encrypting the database and its secrets",
    );
    access::add_app_user(
        &mut template,
        ctx,
        &settings,
        INSTANCE,
        cfn::get_att(INSTANCE, "MasterUserSecret.SecretArn"),
    );
    Ok(template)
}

/// The ARN of the stack's KMS key.
pub fn key_arn() -> Value {
    cfn::get_att(KEY, "Arn")
}

/// The key outlives the stack: the final snapshot taken when the database
/// is deleted is encrypted with it, and would be lost with the key. The
/// account administers the key; IAM policies (of the deploying role, of
/// RDS's grants) decide who uses it.
pub fn add_key(template: &mut Template, ctx: &Context, settings: &Settings) {
    aws::add_kms_key(
        template,
        ctx,
        aws::KmsKey {
            logical_id: KEY,
            alias: &settings.identifier,
            description: format!(
                "Encrypts {}: storage, snapshots, secret, insights",
                settings.identifier
            ),
            statements: Vec::new(),
        },
        DeletionPolicy::Retain,
    );
}

/// Unnamed, so a major version upgrade (a new family) can replace it.
fn add_parameter_group(template: &mut Template, ctx: &Context, settings: &Settings) {
    template.resource(
        PARAMETER_GROUP,
        Resource::new(
            "AWS::RDS::DBParameterGroup",
            json!({
                "Family": settings.family,
                "Description": format!("{}: TLS only, slow statement logging", settings.identifier),
                "Parameters": settings.engine.parameters(settings.log_min_duration_statement_ms),
                "Tags": ctx.tags(),
            }),
        ),
    );
}

/// The instance waits for its log groups, so RDS finds them declared.
fn add_instance(
    template: &mut Template,
    ctx: &Context,
    settings: &Settings,
    log_groups: &[String],
) {
    let subnet_group = template.import(&settings.networking_stack, "db-subnet-group-name");
    let security_group = template.import(&settings.security_stack, "database-security-group-id");
    let mut properties = json!({
        "DBInstanceIdentifier": settings.identifier,
        "Engine": settings.engine.name(),
        "EngineVersion": settings.engine_version,
        // Outside production, changing `engine_version`'s major in the
        // file is the decision; in production it is refused unless
        // `allow_major_version_upgrade` says so for that change.
        "AllowMajorVersionUpgrade": settings.allow_major_version_upgrade,
        "AutoMinorVersionUpgrade": true,
        "DBInstanceClass": settings.instance_class,
        "DBParameterGroupName": cfn::reference(PARAMETER_GROUP),
        "DBName": settings.database_name,
        "MasterUsername": settings.master_username,
        // RDS generates the password and keeps it in Secrets Manager,
        // encrypted with the database's key; it never enters the template.
        "ManageMasterUserPassword": true,
        "MasterUserSecret": { "KmsKeyId": key_arn() },
        "StorageType": "gp3",
        "AllocatedStorage": settings.allocated_storage.to_string(),
        "StorageEncrypted": true,
        "KmsKeyId": key_arn(),
        "DBSubnetGroupName": subnet_group,
        "VPCSecurityGroups": [security_group],
        "PubliclyAccessible": false,
        "MultiAZ": settings.multi_az,
        "BackupRetentionPeriod": settings.backup_retention_days,
        "CopyTagsToSnapshot": true,
        "DeletionProtection": settings.deletion_protection,
        "EnablePerformanceInsights": settings.performance_insights,
        "EnableCloudwatchLogsExports": settings.engine.log_exports(),
        "Tags": ctx.tags_named(&settings.identifier),
    });
    if let Some(max) = settings.max_allocated_storage {
        properties["MaxAllocatedStorage"] = max.into();
    }
    if let Some(port) = settings.port {
        // CloudFormation types an RDS instance's port as a string.
        properties["Port"] = port.to_string().into();
    }
    if settings.performance_insights {
        // 7 days is the free tier.
        properties["PerformanceInsightsKMSKeyId"] = key_arn();
        properties["PerformanceInsightsRetentionPeriod"] = 7.into();
    }
    if settings.enhanced_monitoring_seconds > 0 {
        properties["MonitoringInterval"] = settings.enhanced_monitoring_seconds.into();
        properties["MonitoringRoleArn"] = cfn::get_att(access::MONITORING_ROLE, "Arn");
    }
    let mut instance =
        Resource::new("AWS::RDS::DBInstance", properties).retain_as(DeletionPolicy::Snapshot);
    for log_group in log_groups {
        instance = instance.depends_on(log_group);
    }
    template.resource(INSTANCE, instance);
}

strata_sdk::module! {
    name: "database",
    description: "RDS for PostgreSQL or MySQL, or Aurora (Serverless v2) in isolated subnets: KMS-encrypted, TLS only, managed master password, multi-AZ in prod",
    config: Config,
    render: render,
}
