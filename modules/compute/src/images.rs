//! The services' image tags as CloudFormation parameters, so that a
//! code-only deploy can run another build without a change to the
//! environment file or to the template.
//!
//! Each main container whose image has a tag gets a `String` parameter
//! `{Service}ImageTag` (service `order-sync` → `OrderSyncImageTag`) whose
//! `Default` is the tag the file says: the tag after the last `:` of
//! `image` when that `:` comes after the last `/`, else `image_tag` for an
//! image from the ECR repository. The container's `Image` joins the
//! repository part and the parameter. A deploy of the file passes no
//! parameters, so the file's tag applies; a code-only deploy passes the
//! parameter and keeps the deployed template (`UsePreviousTemplate`).
//!
//! Images pinned by digest (`@sha256:…`), images without a tag (Docker
//! runs `latest`), images whose tag is not a Docker tag, and sidecars keep
//! their image as written.

use strata_sdk::{Template, Value, cfn, json};

use crate::config::Service;
use crate::wiring::Wiring;

/// A Docker tag, as `AllowedPattern` (CloudFormation matches the whole
/// value): a letter, digit or `_`, then up to 127 of those, `.` and `-`.
pub const TAG_PATTERN: &str = "[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}";

/// The name of a service's image tag parameter: `ApiImageTag`.
pub fn parameter_name(service: &Service) -> String {
    format!("{}ImageTag", service.id)
}

/// An image's repository part and tag, when it has a tag and no digest:
/// `public.ecr.aws/nginx/nginx:1.27` → (`public.ecr.aws/nginx/nginx`,
/// `1.27`); `registry:5000/app` and `app@sha256:…` have none.
pub fn split_tag(image: &str) -> Option<(&str, &str)> {
    if image.contains('@') {
        return None;
    }
    let colon = image.rfind(':')?;
    if image.rfind('/').is_some_and(|slash| slash > colon) {
        return None;
    }
    let (repository, tag) = (&image[..colon], &image[colon + 1..]);
    (!repository.is_empty() && is_docker_tag(tag)).then_some((repository, tag))
}

/// Letters, digits, `_`, `.` and `-`, not starting with `.` or `-`, at most
/// 128 characters: what [`TAG_PATTERN`] accepts.
pub fn is_docker_tag(tag: &str) -> bool {
    (1..=128).contains(&tag.len())
        && tag.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
        && tag
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

/// The `Image` of `service`'s main container; adds its tag parameter to
/// `template` when the image has a tag. `image_tag` is the top-level tag of
/// images from the repository.
pub fn main_image(
    template: &mut Template,
    wiring: &Wiring,
    service: &Service,
    image_tag: &str,
) -> Value {
    let (mut parts, tag) = match (&service.image, &wiring.repository_uri) {
        (Some(own), _) => match split_tag(own) {
            Some((repository, tag)) => (vec![Value::String(format!("{repository}:"))], tag),
            None => return Value::String(own.clone()),
        },
        (None, Some(uri)) => (vec![uri.clone(), Value::String(":".into())], image_tag),
        // Validation makes every service without an image use the repository.
        (None, None) => return Value::String(String::new()),
    };
    parts.push(template.parameter(
        &parameter_name(service),
        json!({
            "Type": "String",
            "Default": tag,
            "AllowedPattern": TAG_PATTERN,
            "ConstraintDescription": "must be a Docker tag: letters, digits, `_`, `.` and `-`, not starting with `.` or `-`, at most 128 characters",
            "Description": format!(
                "Tag of the image the `{}` service runs. The environment file's tag is the default; a code-only deploy sets another and keeps the template.",
                service.name
            ),
        }),
    ));
    cfn::join("", parts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_the_tag_only_when_the_last_colon_follows_the_last_slash() {
        let cases = [
            (
                "public.ecr.aws/nginx/nginx:1.27",
                Some(("public.ecr.aws/nginx/nginx", "1.27")),
            ),
            ("busybox:1", Some(("busybox", "1"))),
            (
                "registry.example.com:5000/team/app:2.0-rc1",
                Some(("registry.example.com:5000/team/app", "2.0-rc1")),
            ),
            ("registry.example.com:5000/team/app", None),
            ("busybox", None),
            (
                "app@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
                None,
            ),
            (
                "app:1.0@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
                None,
            ),
            ("app:.hidden", None),
            (":1.0", None),
        ];
        for (image, expected) in cases {
            assert_eq!(split_tag(image), expected, "{image}");
        }
    }

    #[test]
    fn recognises_docker_tags() {
        for tag in ["latest", "1.41.8-abc123d", "_build", "v1.0"] {
            assert!(is_docker_tag(tag), "{tag}");
        }
        for tag in ["", ".x", "-x", "a/b", "a:b", &"x".repeat(129)] {
            assert!(!is_docker_tag(tag), "{tag}");
        }
    }
}
