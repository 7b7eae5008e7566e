//! Conventions every template keeps, shared by `strata module check` and the
//! guarantee tests: which properties hold a resource's physical name (so it
//! can be checked against `{project}-{environment}-…`). The built-in policy
//! reads the same table from `modules/sdk/src/name-properties.txt`; a test
//! keeps the two equal.

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

#[cfg(test)]
mod tests {
    /// The SDK's table, which the built-in `guarantees` policy reads.
    const TABLE: &str = include_str!("../../modules/sdk/src/name-properties.txt");

    #[test]
    fn the_name_properties_equal_the_sdks_table() {
        let rows: Vec<Vec<&str>> = TABLE
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(|l| l.split_whitespace().collect())
            .collect();
        let anywhere: Vec<&str> = rows.iter().filter(|r| r.len() == 1).map(|r| r[0]).collect();
        let by_name: Vec<&str> = rows
            .iter()
            .filter(|r| r.len() == 2 && r[1] == "Name")
            .map(|r| r[0])
            .collect();
        assert_eq!(
            anywhere,
            super::NAME_PROPERTIES,
            "help: change `modules/sdk/src/name-properties.txt` and `conventions.rs` together"
        );
        assert_eq!(by_name, super::NAMED_BY_NAME);
    }
}
