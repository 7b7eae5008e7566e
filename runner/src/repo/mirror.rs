//! Bare mirrors of remote repositories (the ones `strata serve` plans),
//! fetched with git2.
//!
//! One bare repository per GitHub repository, under the clone cache:
//! `{clones}/{owner}/{name}.git`. Every fetch brings the branches and every
//! pull request's head (`refs/pull/N/head`, which GitHub keeps for forks
//! too), so a plan can read any commit a webhook names without a work tree.
//! Credentials go through git2's callback as `x-access-token`, never into a
//! URL, a config file or an error message.

use std::path::{Path, PathBuf};

use git2::{AutotagOption, Cred, CredentialType, FetchOptions, FetchPrune, RemoteCallbacks};

/// What every fetch brings: branches, and pull-request heads.
const REFSPECS: [&str; 2] = [
    "+refs/heads/*:refs/heads/*",
    "+refs/pull/*/head:refs/pull/*/head",
];

/// The clone cache.
#[derive(Debug, Clone)]
pub struct Mirrors {
    root: PathBuf,
}

/// Why a mirror could not be brought up to date.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot fetch `{repo}` from {url}: {message}")]
pub struct MirrorError {
    /// The repository.
    pub repo: String,
    /// Where it was fetched from (credentials are never part of it).
    pub url: String,
    /// What git said.
    pub message: String,
    /// What to do about it.
    pub help: Option<String>,
}

impl Mirrors {
    /// Mirrors kept under `root` (created when needed).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// Where the mirror of `owner/name` lives.
    pub fn path(&self, owner: &str, name: &str) -> PathBuf {
        self.root.join(owner).join(format!("{name}.git"))
    }

    /// Bring the mirror of `owner/name` up to date from `url` (blocking; run
    /// it off the async threads) and return its path. `token`, when given, is
    /// sent as the password of `x-access-token`, GitHub's convention.
    pub fn fetch(
        &self,
        (owner, name): (&str, &str),
        url: &str,
        token: Option<&str>,
    ) -> Result<PathBuf, MirrorError> {
        let path = self.path(owner, name);
        let error = |message: String, help: Option<&str>| MirrorError {
            repo: format!("{owner}/{name}"),
            url: redact(url),
            message,
            help: help.map(str::to_owned),
        };
        let repository = open_or_init(&path).map_err(|e| {
            error(
                format!(
                    "the mirror at `{}` is unusable: {}",
                    path.display(),
                    e.message()
                ),
                Some("delete the directory; the next fetch makes it again"),
            )
        })?;
        let mut remote = repository
            .remote_anonymous(url)
            .map_err(|e| error(e.message().to_owned(), None))?;

        let mut asked = 0;
        let mut callbacks = RemoteCallbacks::new();
        callbacks.credentials(move |_url, _user, allowed| {
            asked += 1;
            match token {
                Some(token)
                    if asked == 1 && allowed.contains(CredentialType::USER_PASS_PLAINTEXT) =>
                {
                    Cred::userpass_plaintext("x-access-token", token)
                }
                Some(_) if asked > 1 => Err(git2::Error::from_str(
                    "the forge rejected the token for fetching",
                )),
                _ => Err(git2::Error::from_str(
                    "the repository needs credentials and none are configured",
                )),
            }
        });
        let mut options = FetchOptions::new();
        options
            .remote_callbacks(callbacks)
            .prune(FetchPrune::On)
            .download_tags(AutotagOption::None);
        // Send the token with the first request, as git does with a
        // credential helper, instead of waiting for a 401 for every fetch:
        // over HTTPS, or plain HTTP to this machine only.
        let authorization = token.filter(|_| sends_credentials_first(url)).map(|token| {
            format!(
                "Authorization: Basic {}",
                base64(format!("x-access-token:{token}").as_bytes())
            )
        });
        let headers: Vec<&str> = authorization.iter().map(String::as_str).collect();
        options.custom_headers(&headers);
        remote
            .fetch(&REFSPECS, Some(&mut options), None)
            .map_err(|e| {
                let help = match e.class() {
                    _ if token.is_none() && e.message().contains("needs credentials") => Some(
                        "a private repository needs STRATA_GITHUB_TOKEN or a GitHub App with `contents: read`",
                    ),
                    git2::ErrorClass::Http | git2::ErrorClass::Net if token.is_none() => Some(
                        "a private repository needs STRATA_GITHUB_TOKEN or a GitHub App with `contents: read`",
                    ),
                    git2::ErrorClass::Http | git2::ErrorClass::Net => {
                        Some("check that the token or app can read the repository (`contents: read`)")
                    }
                    _ => None,
                };
                error(e.message().to_owned(), help)
            })?;
        // The remote's default branch (its `HEAD`) becomes the mirror's, so
        // a watcher that is not told a branch follows the right one.
        if let Ok(head) = remote.default_branch()
            && let Ok(head) = head.as_str()
            && head.starts_with("refs/heads/")
            && repository.refname_to_id(head).is_ok()
        {
            let _ = repository.set_head(head);
        }
        Ok(path)
    }
}

fn open_or_init(path: &Path) -> Result<git2::Repository, git2::Error> {
    match git2::Repository::open_bare(path) {
        Ok(repository) => Ok(repository),
        Err(_) if !path.exists() => {
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)
                    .map_err(|e| git2::Error::from_str(&e.to_string()))?;
            }
            git2::Repository::init_bare(path)
        }
        Err(e) => Err(e),
    }
}

/// `url` without any `user:password@` part.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.find('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}://{}", &url[..scheme], &url[at + 1..])
        }
        _ => url.to_owned(),
    }
}

/// Whether the token may go with the first request to `url`: HTTPS, or
/// HTTP to the loopback interface (a test server, a local proxy).
fn sends_credentials_first(url: &str) -> bool {
    if url.starts_with("https://") {
        return true;
    }
    let Some(rest) = url.strip_prefix("http://") else {
        return false;
    };
    let host = rest.split(['/', '@']).next().unwrap_or_default();
    let host = host.rsplit_once(':').map_or(host, |(h, _)| h);
    matches!(host, "127.0.0.1" | "localhost" | "[::1]")
}

/// Standard base64 with padding (for a Basic `Authorization` header).
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn base64_matches_the_rfc_examples() {
        for (plain, encoded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(super::base64(plain.as_bytes()), encoded);
        }
    }

    #[test]
    fn credentials_go_first_only_over_https_or_to_this_machine() {
        assert!(super::sends_credentials_first("https://github.com/a/b.git"));
        assert!(super::sends_credentials_first(
            "http://127.0.0.1:8080/a.git"
        ));
        assert!(!super::sends_credentials_first("http://example.com/a.git"));
        assert!(!super::sends_credentials_first(
            "ssh://git@github.com/a/b.git"
        ));
    }

    use super::*;

    #[test]
    fn credentials_in_a_url_are_not_repeated() {
        assert_eq!(
            redact("https://x-access-token:ghs_secret@github.com/acme/infra.git"),
            "https://github.com/acme/infra.git"
        );
        assert_eq!(
            redact("https://github.com/acme/infra.git"),
            "https://github.com/acme/infra.git"
        );
        assert_eq!(redact("/srv/git/infra.git"), "/srv/git/infra.git");
    }

    #[test]
    fn mirrors_live_under_owner_and_name() {
        let mirrors = Mirrors::new("/var/cache/strata");
        assert_eq!(
            mirrors.path("acme", "infra"),
            PathBuf::from("/var/cache/strata/acme/infra.git")
        );
    }
}
