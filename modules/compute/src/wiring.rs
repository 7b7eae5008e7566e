//! What the services get from the optional stacks (database, cache,
//! queues, secrets, buckets, EFS file systems, image repository), imported
//! once into [`Wiring`], then cut per service into [`Grants`]: the
//! variables and secrets of its main container and the ARNs its own task
//! role may use. A stack set to `""` contributes nothing.

use std::collections::BTreeMap;

use strata_sdk::{Template, Value, cfn, json};

use crate::config::{
    CACHE_VARIABLES, NAMESPACE_VARIABLE, Service, Settings, queue_variable, secret_variable,
};

/// A queue's variable, URL and ARN.
#[derive(Debug, Clone)]
pub struct Queue {
    /// The queue's name in the sqs stack.
    pub name: String,
    /// `QUEUE_<NAME>_URL`.
    pub variable: String,
    /// Its URL.
    pub url: Value,
    /// Its ARN.
    pub arn: Value,
}

/// A secret of the secrets stack.
#[derive(Debug, Clone)]
pub struct Secret {
    /// The secret's name in the secrets stack.
    pub name: String,
    /// `<NAME>_SECRET`.
    pub variable: String,
    /// Its ARN.
    pub arn: Value,
}

/// The imported values, sorted where order shows in the template.
#[derive(Debug, Default)]
pub struct Wiring {
    /// The user's `environment_variables`, resolved (imports become
    /// `Fn::ImportValue`), for every container.
    pub variables: BTreeMap<String, Value>,
    /// Variables every main container gets (the Cloud Map namespace).
    pub common: BTreeMap<String, Value>,
    /// `DB_HOST` and `DB_PORT`.
    pub database: BTreeMap<String, Value>,
    /// The app's database secret ARN (`DB_SECRET`).
    pub database_secret: Option<Value>,
    /// `CACHE_ENDPOINT`, `CACHE_PORT`, `REDIS_URL`.
    pub cache: BTreeMap<String, Value>,
    /// The queues of the sqs stack.
    pub queues: Vec<Queue>,
    /// The key encrypting the queues.
    pub queue_key: Option<Value>,
    /// The secrets of the secrets stack.
    pub secrets: Vec<Secret>,
    /// The key encrypting them.
    pub secrets_key: Option<Value>,
    /// The assets bucket: (name, ARN).
    pub assets_bucket: Option<(Value, Value)>,
    /// URI of the image repository.
    pub repository_uri: Option<Value>,
}

/// What one service's main container and task role get.
#[derive(Debug, Default)]
pub struct Grants {
    /// Variables the module sets on the main container, by name.
    pub environment: BTreeMap<String, Value>,
    /// Secrets of the main container: variable name → ARN.
    pub secrets: BTreeMap<String, Value>,
    /// KMS keys of the secrets stack, when the service reads its secrets.
    pub secret_keys: Vec<Value>,
    /// Secrets decrypted with whichever key Secrets Manager uses for them
    /// (the database's and the service's own `secret_variables`): the
    /// execution role may decrypt only through Secrets Manager, only for
    /// these secrets.
    pub other_secrets: Vec<Value>,
    /// Queue ARNs the task role may use.
    pub queue_arns: Vec<Value>,
    /// The key encrypting the queues, when the service uses one.
    pub queue_key: Option<Value>,
    /// ARN of the assets bucket the task role reads and writes.
    pub assets_bucket_arn: Option<Value>,
    /// The service's EFS volumes, in `volumes` order.
    pub mounts: Vec<Mount>,
}

/// An EFS volume's imported ids and what the task role may do with it.
#[derive(Debug, Clone)]
pub struct Mount {
    /// The file system's id.
    pub file_system_id: Value,
    /// The access point's id, if any.
    pub access_point_id: Option<Value>,
    /// The file system's ARN.
    pub file_system_arn: Value,
    /// The access point's ARN, if any.
    pub access_point_arn: Option<Value>,
    /// `ClientWrite` too.
    pub writable: bool,
}

/// Import what the settings name.
pub fn import(template: &mut Template, settings: &Settings) -> Wiring {
    let mut wiring = Wiring {
        variables: settings
            .environment_variables
            .iter()
            .map(|(name, value)| (name.clone(), value.resolve(template)))
            .collect(),
        ..Wiring::default()
    };
    if let Some(namespace) = &settings.namespace {
        wiring
            .common
            .insert(NAMESPACE_VARIABLE.into(), Value::String(namespace.clone()));
    }
    if let Some(stack) = &settings.database_stack {
        wiring
            .database
            .insert("DB_HOST".into(), template.import(stack, "endpoint-address"));
        wiring
            .database
            .insert("DB_PORT".into(), template.import(stack, "endpoint-port"));
    }
    if let Some(secret) = &settings.database_secret {
        wiring.database_secret = Some(secret.resolve(template));
    }
    if let Some(stack) = &settings.cache_stack {
        let host = template.import(stack, "primary-endpoint-address");
        let port = template.import(stack, "primary-endpoint-port");
        let scheme = if settings.cache_tls {
            "rediss://"
        } else {
            "redis://"
        };
        let url = cfn::join("", [json!(scheme), host.clone(), json!(":"), port.clone()]);
        for (name, value) in CACHE_VARIABLES.into_iter().zip([host, port, url]) {
            wiring.cache.insert(name.into(), value);
        }
    }
    if let Some(sqs) = &settings.sqs {
        for queue in &sqs.names {
            wiring.queues.push(Queue {
                name: queue.clone(),
                variable: queue_variable(queue),
                url: template.import(&sqs.stack, &format!("{queue}-queue-url")),
                arn: template.import(&sqs.stack, &format!("{queue}-queue-arn")),
            });
        }
        wiring.queue_key = Some(template.import(&sqs.stack, "kms-key-arn"));
    }
    if let Some(secrets) = &settings.secrets {
        for secret in &secrets.names {
            wiring.secrets.push(Secret {
                name: secret.clone(),
                variable: secret_variable(secret),
                arn: template.import(&secrets.stack, &format!("{secret}-secret-arn")),
            });
        }
        wiring.secrets_key = Some(template.import(&secrets.stack, "kms-key-arn"));
    }
    if let Some(stack) = &settings.s3_stack {
        let arn = template.import(stack, "assets-bucket-arn");
        // The name is what the application addresses the bucket by.
        let name = template.import(stack, "assets-bucket-name");
        wiring.assets_bucket = Some((name, arn));
    }
    if let Some((stack, repository)) = &settings.ecr {
        let uses_repository = settings.services.iter().any(|s| s.image.is_none());
        if uses_repository {
            wiring.repository_uri =
                Some(template.import(stack, &format!("{repository}-repository-uri")));
        }
    }
    wiring
}

impl Wiring {
    /// Cut what `service` is given out of the imports; imports its own
    /// secrets and EFS file systems.
    pub fn grants(&self, template: &mut Template, service: &Service) -> Grants {
        let access = &service.access;
        let mut grants = Grants {
            environment: self.common.clone(),
            ..Grants::default()
        };
        if access.database {
            grants.environment.extend(self.database.clone());
            if let Some(secret) = &self.database_secret {
                grants.secrets.insert("DB_SECRET".into(), secret.clone());
                grants.other_secrets.push(secret.clone());
            }
        }
        if access.cache {
            grants.environment.extend(self.cache.clone());
        }
        for queue in self
            .queues
            .iter()
            .filter(|q| access.queues.contains(&q.name))
        {
            grants
                .environment
                .insert(queue.variable.clone(), queue.url.clone());
            grants.queue_arns.push(queue.arn.clone());
        }
        if !grants.queue_arns.is_empty() {
            grants.queue_key.clone_from(&self.queue_key);
        }
        for secret in self
            .secrets
            .iter()
            .filter(|s| access.secrets.contains(&s.name))
        {
            grants
                .secrets
                .insert(secret.variable.clone(), secret.arn.clone());
        }
        if self
            .secrets
            .iter()
            .any(|s| access.secrets.contains(&s.name))
            && let Some(key) = &self.secrets_key
        {
            grants.secret_keys.push(key.clone());
        }
        for (variable, value) in &access.secret_variables {
            let arn = value.resolve(template);
            grants.secrets.insert(variable.clone(), arn.clone());
            grants.other_secrets.push(arn);
        }
        if access.assets_bucket
            && let Some((name, arn)) = &self.assets_bucket
        {
            grants
                .environment
                .insert("ASSETS_BUCKET".into(), name.clone());
            grants.assets_bucket_arn = Some(arn.clone());
        }
        for volume in &service.volumes {
            let file_system = template.import(&volume.efs, "file-system-id");
            let access_point = volume
                .access_point
                .as_ref()
                .map(|point| template.import(&volume.efs, &format!("access-point-{point}-id")));
            grants.mounts.push(Mount {
                file_system_arn: efs_arn("file-system", file_system.clone()),
                access_point_arn: access_point.clone().map(|id| efs_arn("access-point", id)),
                file_system_id: file_system,
                access_point_id: access_point,
                writable: !volume.read_only,
            });
        }
        grants
    }
}

/// The ID of an EFS file system or access point in this account and
/// region, as its ARN.
fn efs_arn(kind: &str, id: Value) -> Value {
    cfn::join(
        "",
        [
            cfn::sub(&format!(
                "arn:${{AWS::Partition}}:elasticfilesystem:${{AWS::Region}}:${{AWS::AccountId}}:{kind}/"
            )),
            id,
        ],
    )
}
