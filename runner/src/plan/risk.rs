//! What makes a change risky: properties whose change makes CloudFormation
//! replace the resource (a new physical resource, the old one deleted), and
//! resource types that hold data.
//!
//! The replacement table covers the properties of common types that always
//! replace (CloudFormation's "Update requires: Replacement"). A change set
//! (`strata plan --cloud`, later) gives the authoritative answer; this table
//! is what a reviewer sees before any cloud access.

/// Properties that force replacement, by resource type. Only the top-level
/// property name counts (`Tags` never replaces).
const REPLACES: &[(&str, &[&str])] = &[
    (
        "AWS::CertificateManager::Certificate",
        &[
            "DomainName",
            "SubjectAlternativeNames",
            "ValidationMethod",
            "KeyAlgorithm",
            "DomainValidationOptions",
        ],
    ),
    ("AWS::DynamoDB::Table", &["TableName", "KeySchema"]),
    (
        "AWS::EC2::Subnet",
        &["AvailabilityZone", "CidrBlock", "VpcId", "Ipv6CidrBlock"],
    ),
    ("AWS::EC2::VPC", &["CidrBlock", "InstanceTenancy"]),
    (
        "AWS::EC2::SecurityGroup",
        &["GroupName", "GroupDescription", "VpcId"],
    ),
    (
        "AWS::EC2::NatGateway",
        &["SubnetId", "AllocationId", "ConnectivityType"],
    ),
    (
        "AWS::EC2::VPCEndpoint",
        &["ServiceName", "VpcId", "VpcEndpointType"],
    ),
    (
        "AWS::ECR::Repository",
        &["RepositoryName", "EncryptionConfiguration"],
    ),
    ("AWS::ECS::Cluster", &["ClusterName"]),
    (
        "AWS::ECS::Service",
        &["ServiceName", "Cluster", "LaunchType", "Role"],
    ),
    (
        "AWS::ElastiCache::CacheCluster",
        &["Engine", "ClusterName", "CacheSubnetGroupName", "Port"],
    ),
    (
        "AWS::ElastiCache::ReplicationGroup",
        &[
            "Engine",
            "ReplicationGroupId",
            "CacheSubnetGroupName",
            "AtRestEncryptionEnabled",
            "KmsKeyId",
            "Port",
            "TransitEncryptionEnabled",
        ],
    ),
    (
        "AWS::ElasticLoadBalancingV2::LoadBalancer",
        &["Name", "Scheme", "Type"],
    ),
    (
        "AWS::ElasticLoadBalancingV2::TargetGroup",
        &["Name", "Port", "Protocol", "TargetType", "VpcId"],
    ),
    ("AWS::IAM::Role", &["RoleName", "Path"]),
    ("AWS::KMS::Key", &["KeySpec", "KeyUsage", "MultiRegion"]),
    ("AWS::Lambda::Function", &["FunctionName", "PackageType"]),
    ("AWS::Logs::LogGroup", &["LogGroupName"]),
    (
        "AWS::RDS::DBCluster",
        &[
            "Engine",
            "DBClusterIdentifier",
            "DatabaseName",
            "MasterUsername",
            "StorageEncrypted",
            "KmsKeyId",
            "EngineMode",
            "DBSubnetGroupName",
        ],
    ),
    (
        "AWS::RDS::DBInstance",
        &[
            "Engine",
            "DBInstanceIdentifier",
            "DBName",
            "MasterUsername",
            "StorageEncrypted",
            "KmsKeyId",
            "AvailabilityZone",
            "DBClusterIdentifier",
            "CharacterSetName",
        ],
    ),
    ("AWS::RDS::DBSubnetGroup", &["DBSubnetGroupName"]),
    ("AWS::Route53::HostedZone", &["Name"]),
    ("AWS::S3::Bucket", &["BucketName", "ObjectLockEnabled"]),
    ("AWS::SecretsManager::Secret", &["Name"]),
    ("AWS::SNS::Topic", &["TopicName", "FifoTopic"]),
    ("AWS::SQS::Queue", &["QueueName", "FifoQueue"]),
    ("AWS::WAFv2::WebACL", &["Name", "Scope"]),
];

/// Resource types that hold data: deleting or replacing one loses it.
const STATEFUL: &[&str] = &[
    "AWS::DynamoDB::Table",
    "AWS::ECR::Repository",
    "AWS::EFS::FileSystem",
    "AWS::ElastiCache::CacheCluster",
    "AWS::ElastiCache::ReplicationGroup",
    "AWS::KMS::Key",
    "AWS::Logs::LogGroup",
    "AWS::RDS::DBCluster",
    "AWS::RDS::DBInstance",
    "AWS::Route53::HostedZone",
    "AWS::S3::Bucket",
    "AWS::SecretsManager::Secret",
    "AWS::SQS::Queue",
];

/// Whether changing `property` (top-level) of a `kind` resource replaces it.
pub fn forces_replacement(kind: &str, property: &str) -> bool {
    REPLACES
        .iter()
        .any(|(k, properties)| *k == kind && properties.contains(&property))
}

/// Whether resources of `kind` hold data.
pub fn is_stateful(kind: &str) -> bool {
    STATEFUL.contains(&kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_engine_replaces_a_database_but_a_new_class_does_not() {
        assert!(forces_replacement("AWS::RDS::DBInstance", "Engine"));
        assert!(!forces_replacement(
            "AWS::RDS::DBInstance",
            "DBInstanceClass"
        ));
    }

    #[test]
    fn buckets_queues_and_keys_hold_data() {
        for kind in [
            "AWS::S3::Bucket",
            "AWS::SQS::Queue",
            "AWS::KMS::Key",
            "AWS::Logs::LogGroup",
        ] {
            assert!(is_stateful(kind), "{kind}");
        }
        assert!(!is_stateful("AWS::EC2::Route"));
    }
}
