//! Modules pinned by URL (`url = "https://…"` with its `sha256` in
//! `strata.toml`): downloaded once into the cache, verified against the pin,
//! and read from the cache afterwards, so a repository that pins a published
//! module works offline once it has been fetched.
//!
//! The cache is content-addressed: `{cache}/downloads/{sha256}.wasm`. A file
//! is written there only after its bytes matched the pin (to a temporary name,
//! then renamed), so a wrong digest, an interrupted download or a server that
//! cannot be reached leaves the cache as it was. Redirects are followed
//! (release assets are usually behind one); anything above
//! [`MAX_BYTES`] is refused.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Empty, Limited};
use hyper::Request;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use crate::modules::sha256_hex;

/// The largest module downloaded (the host refuses larger ones anyway).
pub const MAX_BYTES: usize = 64 << 20;

/// How long one download may take in all.
pub const TIMEOUT: Duration = Duration::from_secs(60);

/// Redirects followed before giving up.
const MAX_REDIRECTS: usize = 5;

/// Where downloaded modules are kept: `$STRATA_CACHE_DIR/downloads` (or the
/// platform cache directory's).
pub fn cache_dir() -> Option<PathBuf> {
    crate::host::default_cache_dir().map(|dir| dir.join("downloads"))
}

/// Why a pinned module could not be had.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    /// The download failed (unreachable, an HTTP error, too large, too slow).
    #[error("cannot download it: {0}")]
    Download(String),
    /// The bytes do not match the pin.
    #[error("the download does not match its pinned sha256 (it is {actual})")]
    Mismatch {
        /// The downloaded bytes' sha256.
        actual: String,
    },
    /// The cache could not be written or read.
    #[error("cannot use the module cache `{dir}`: {reason}")]
    Cache {
        /// The cache directory.
        dir: String,
        /// What went wrong.
        reason: String,
    },
}

/// The module at `url` pinned to `sha256`: from the cache under `dir` when
/// it is there (and still matches), else downloaded, verified and cached.
pub fn fetch(url: &str, sha256: &str, dir: &Path) -> Result<Vec<u8>, FetchError> {
    let cached = dir.join(format!("{sha256}.wasm"));
    if let Ok(bytes) = std::fs::read(&cached)
        && sha256_hex(&bytes) == sha256
    {
        return Ok(bytes);
    }
    let bytes = download(url)?;
    let actual = sha256_hex(&bytes);
    if actual != sha256 {
        return Err(FetchError::Mismatch { actual });
    }
    let cache_error = |e: std::io::Error| FetchError::Cache {
        dir: dir.display().to_string(),
        reason: e.to_string(),
    };
    std::fs::create_dir_all(dir).map_err(cache_error)?;
    let partial = dir.join(format!(".{sha256}.{}.part", std::process::id()));
    std::fs::write(&partial, &bytes).map_err(cache_error)?;
    std::fs::rename(&partial, &cached).map_err(|e| {
        let _ = std::fs::remove_file(&partial);
        cache_error(e)
    })?;
    Ok(bytes)
}

/// GET `url` on a runtime of its own, on a thread of its own, so it works
/// from plain code and from inside a server's blocking tasks alike.
fn download(url: &str) -> Result<Vec<u8>, FetchError> {
    let url = url.to_owned();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| FetchError::Download(format!("cannot start a runtime: {e}")))?;
        runtime.block_on(async {
            tokio::time::timeout(TIMEOUT, get(&url))
                .await
                .map_err(|_| {
                    FetchError::Download(format!("no answer within {}s", TIMEOUT.as_secs()))
                })?
        })
    })
    .join()
    .map_err(|_| FetchError::Download("the download thread panicked".to_owned()))?
}

async fn get(url: &str) -> Result<Vec<u8>, FetchError> {
    let failed = |message: String| FetchError::Download(message);
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = match hyper_rustls::HttpsConnectorBuilder::new()
        .with_provider_and_native_roots(Arc::clone(&provider))
    {
        Ok(builder) => builder,
        Err(_) => {
            // No root certificates here: plain `http://` (a local mirror)
            // still works; `https://` fails to verify, and says so.
            let config = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .map_err(|e| failed(format!("cannot configure TLS: {e}")))?
                .with_root_certificates(rustls::RootCertStore::empty())
                .with_no_client_auth();
            hyper_rustls::HttpsConnectorBuilder::new().with_tls_config(config)
        }
    };
    let connector = builder.https_or_http().enable_http1().build();
    let client: Client<_, Empty<Bytes>> = Client::builder(TokioExecutor::new()).build(connector);
    let mut current = url.to_owned();
    for _ in 0..=MAX_REDIRECTS {
        let request = Request::get(&current)
            .header(
                hyper::header::USER_AGENT,
                concat!("strata/", env!("CARGO_PKG_VERSION")),
            )
            .body(Empty::new())
            .map_err(|e| failed(format!("`{current}` is not a URL: {e}")))?;
        let response = client
            .request(request)
            .await
            .map_err(|e| failed(describe(&e)))?;
        let status = response.status();
        if status.is_redirection() {
            let Some(location) = response
                .headers()
                .get(hyper::header::LOCATION)
                .and_then(|v| v.to_str().ok())
            else {
                return Err(failed(format!("{status} without a `Location`")));
            };
            current = if location.starts_with("http://") || location.starts_with("https://") {
                location.to_owned()
            } else {
                let origin_end = current
                    .find("://")
                    .and_then(|i| current[i + 3..].find('/').map(|j| i + 3 + j))
                    .unwrap_or(current.len());
                format!("{}{location}", &current[..origin_end])
            };
            continue;
        }
        if !status.is_success() {
            return Err(failed(format!("the server answered {status}")));
        }
        let body = Limited::new(response.into_body(), MAX_BYTES)
            .collect()
            .await
            .map_err(|e| {
                failed(format!(
                    "the download stopped or is over {} MiB: {e}",
                    MAX_BYTES >> 20
                ))
            })?;
        return Ok(body.to_bytes().to_vec());
    }
    Err(failed(format!("more than {MAX_REDIRECTS} redirects")))
}

/// An error and its causes, one line.
fn describe(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
