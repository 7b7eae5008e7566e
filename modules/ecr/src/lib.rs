//! The `ecr` stack type: container image repositories.
//!
//! - [`config`] validates the stack's table: repository names (ECR's rules;
//!   each also becomes a logical id and export names), tag mutability
//!   (immutable by default in production) and the lifecycle limits.
//! - This file adds one repository per name, with scan on push, encryption
//!   and a lifecycle policy that expires untagged images and keeps the last
//!   N images.
//!
//! The compute stack imports `{repo}-repository-uri` to run images from it
//! (see [`exports`]). Production repositories are retained with their
//! images; elsewhere a stack deletion removes them, images included.

pub mod config;

#[cfg(test)]
mod tests;

use strata_sdk::{Context, Diagnostics, Resource, Template, aws, cfn, json};

pub use config::Config;
use config::{Repository, Settings};

/// The export names of repositories whose export keys (`/`, `.`, `_`
/// written as `-`) are `repositories`, in order.
pub fn exports(repositories: &[&str]) -> Vec<String> {
    repositories
        .iter()
        .flat_map(|repo| {
            [
                format!("{repo}-repository-uri"),
                format!("{repo}-repository-arn"),
                format!("{repo}-repository-name"),
            ]
        })
        .collect()
}

/// Render an ecr stack.
pub fn render(ctx: &Context, config: Config) -> Result<Template, Diagnostics> {
    let (settings, warnings) = config.validate(ctx)?;
    let mut template = Template::new(
        ctx,
        format!(
            "{}: {} ECR repository(ies), {} tags",
            ctx.name(&ctx.stack),
            settings.repositories.len(),
            settings.image_tag_mutability.to_lowercase()
        ),
    );
    template.warn_all(warnings);
    let lifecycle_policy = lifecycle_policy(&settings);
    for repository in &settings.repositories {
        add_repository(&mut template, ctx, &settings, repository, &lifecycle_policy);
        let (key, id) = (&repository.export_key, &repository.logical_id);
        template.export(
            &format!("{key}-repository-uri"),
            cfn::get_att(id, "RepositoryUri"),
            &format!(
                "URI of the {} repository, for image references",
                repository.key
            ),
        );
        template.export(
            &format!("{key}-repository-arn"),
            cfn::get_att(id, "Arn"),
            &format!("ARN of the {} repository", repository.key),
        );
        template.export(
            &format!("{key}-repository-name"),
            cfn::reference(id),
            &format!("Name of the {} repository", repository.key),
        );
    }
    Ok(template)
}

/// Rule 1 expires untagged images (layers of overwritten tags, failed
/// pushes) after `untagged_expiry_days`; rule 2 keeps the newest
/// `keep_last_images` images of any status. ECR wants the `any` rule last.
fn lifecycle_policy(settings: &Settings) -> String {
    let days = settings.untagged_expiry_days;
    let keep = settings.keep_last_images;
    json!({
        "rules": [
            {
                "rulePriority": 1,
                "description": format!("Expire untagged images {days} day(s) after push"),
                "selection": {
                    "tagStatus": "untagged",
                    "countType": "sinceImagePushed",
                    "countUnit": "days",
                    "countNumber": days,
                },
                "action": { "type": "expire" },
            },
            {
                "rulePriority": 2,
                "description": format!("Keep the last {keep} image(s)"),
                "selection": {
                    "tagStatus": "any",
                    "countType": "imageCountMoreThan",
                    "countNumber": keep,
                },
                "action": { "type": "expire" },
            },
        ],
    })
    .to_string()
}

fn add_repository(
    template: &mut Template,
    ctx: &Context,
    settings: &Settings,
    repository: &Repository,
    lifecycle_policy: &str,
) {
    let production = ctx.is_production();
    let encryption = if settings.kms { "KMS" } else { "AES256" };
    template.resource(
        &repository.logical_id,
        Resource::new(
            "AWS::ECR::Repository",
            json!({
                "RepositoryName": repository.name,
                "ImageTagMutability": settings.image_tag_mutability,
                "ImageScanningConfiguration": { "ScanOnPush": settings.scan_on_push },
                // Without `KmsKey`, `KMS` uses the AWS-managed `aws/ecr` key.
                "EncryptionConfiguration": { "EncryptionType": encryption },
                "LifecyclePolicy": { "LifecyclePolicyText": lifecycle_policy },
                // A stack deletion outside production removes the images
                // too; production keeps the repository and its images.
                "EmptyOnDelete": !production,
                "Tags": ctx.tags(),
            }),
        )
        .retain_as(aws::retain_if(production)),
    );
}

strata_sdk::module! {
    name: "ecr",
    description: "ECR repositories: scan on push, encrypted, lifecycle policy, immutable tags and retained in prod",
    config: Config,
    render: render,
}
