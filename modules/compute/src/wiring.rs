//! What the services get from the optional stacks (database, queues,
//! secrets, buckets, image repository), imported once: the variables and
//! secrets of the main containers, and the ARNs the IAM roles grant access
//! to. A stack set to `""` contributes nothing.

use std::collections::BTreeMap;

use strata_sdk::{Template, Value};

use crate::config::{Settings, queue_variable, secret_variable};

/// The imported values, sorted where order shows in the template.
#[derive(Debug, Default)]
pub struct Wiring {
    /// The user's `environment_variables`, resolved (imports become
    /// `Fn::ImportValue`), for every container.
    pub variables: BTreeMap<String, Value>,
    /// Variables the module sets on every main container, by name.
    pub environment: BTreeMap<String, Value>,
    /// Secrets injected into every main container: variable name → ARN.
    pub secrets: BTreeMap<String, Value>,
    /// KMS keys that encrypt those secrets (the execution role decrypts).
    pub secret_keys: Vec<Value>,
    /// Queue ARNs the task role may use.
    pub queue_arns: Vec<Value>,
    /// The key encrypting the queues.
    pub queue_key: Option<Value>,
    /// ARN of the assets bucket the task role reads and writes.
    pub assets_bucket_arn: Option<Value>,
    /// URI of the image repository.
    pub repository_uri: Option<Value>,
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
    if let Some(stack) = &settings.database_stack {
        wiring
            .environment
            .insert("DB_HOST".into(), template.import(stack, "endpoint-address"));
        wiring
            .environment
            .insert("DB_PORT".into(), template.import(stack, "endpoint-port"));
        wiring
            .secrets
            .insert("DB_SECRET".into(), template.import(stack, "secret-arn"));
        // RDS encrypts the secret it manages with the database's key.
        wiring
            .secret_keys
            .push(template.import(stack, "kms-key-arn"));
    }
    if let Some(sqs) = &settings.sqs {
        for queue in &sqs.names {
            let url = template.import(&sqs.stack, &format!("{queue}-queue-url"));
            wiring.environment.insert(queue_variable(queue), url);
            wiring
                .queue_arns
                .push(template.import(&sqs.stack, &format!("{queue}-queue-arn")));
        }
        wiring.queue_key = Some(template.import(&sqs.stack, "kms-key-arn"));
    }
    if let Some(secrets) = &settings.secrets {
        for secret in &secrets.names {
            let arn = template.import(&secrets.stack, &format!("{secret}-secret-arn"));
            wiring.secrets.insert(secret_variable(secret), arn);
        }
        wiring
            .secret_keys
            .push(template.import(&secrets.stack, "kms-key-arn"));
    }
    if let Some(stack) = &settings.s3_stack {
        wiring.assets_bucket_arn = Some(template.import(stack, "assets-bucket-arn"));
        // The name is what the application addresses the bucket by.
        wiring.environment.insert(
            "ASSETS_BUCKET".into(),
            template.import(stack, "assets-bucket-name"),
        );
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
