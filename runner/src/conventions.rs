//! Conventions every template keeps, shared by `strata module check` and the
//! guarantee tests: which properties hold a resource's physical name (so it
//! can be checked against `{project}-{environment}-…`).

/// Properties that hold a resource's physical name, on any type.
pub const NAME_PROPERTIES: &[&str] = &[
    "BucketName",
    "QueueName",
    "TopicName",
    "DBInstanceIdentifier",
    "DBClusterIdentifier",
    "DBSubnetGroupName",
    "ClusterName",
    "FunctionName",
    "RepositoryName",
    "ReplicationGroupId",
    "LogGroupName",
    "DashboardName",
    "AlarmName",
    "TrailName",
    "TableName",
    "StreamName",
    "UserPoolName",
    "RoleName",
    "SecretName",
];

/// Types whose `Name` property is their physical name.
pub const NAMED_BY_NAME: &[&str] = &[
    "AWS::ElasticLoadBalancingV2::LoadBalancer",
    "AWS::ElasticLoadBalancingV2::TargetGroup",
    "AWS::WAFv2::WebACL",
    "AWS::SecretsManager::Secret",
    "AWS::SSM::Parameter",
    "AWS::Events::Rule",
    "AWS::StepFunctions::StateMachine",
];
