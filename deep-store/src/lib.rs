//! # cuvee-deep-store
//!
//! Answers: *where do a table's files live beyond this machine's disk?* (Pinot's "deep
//! store"), through the `object_store` crate. By default there is none and the data
//! directory is the only copy; given a URL (`s3://bucket/prefix`, `file:///mnt/shared/cuvee`,
//! `memory:///` for tests) every published segment is uploaded *before* the manifest names
//! it, and the manifest after, so the deep store never names a segment it lacks. A server
//! that lost its disk restores tables and segments from it. [`DeepStore`] is the
//! [`Mirror`] a `TableStore` publishes to.
//!
//! ```text
//! <prefix>/tables/<table>/schema.json
//! <prefix>/tables/<table>/table_config.json
//! <prefix>/tables/<table>/manifest.json             one process's manifest
//! <prefix>/tables/<table>/manifests/<owner>.json     or a cluster server's (owner = server-<ordinal>)
//! <prefix>/tables/<table>/segments/<segment>.cvs
//! <prefix>/tables/<table>/claims/<partition>/...     who publishes a stream segment (ingest's claims)
//! ```
//!
//! Every server of a cluster keeps its own manifest (servers hold different partitions, so
//! one shared `manifest.json` would be whoever wrote last). Segments and claims are shared:
//! replicas consuming one partition publish the same segments, and the first to create a
//! file wins ([`DeepStore::put_if_absent`], a conditional create: `If-None-Match` on S3,
//! an atomic link on a file system).
//!
//! Settings (S3 credentials, region, endpoint) are given by the caller
//! ([`DeepStoreSettings::options`], `object_store`'s keys such as `aws_access_key_id`); the
//! `cuvee` binary passes its `AWS_*` environment. Calls block the calling thread (segments
//! are published from sealer threads); they run on the store's own small runtime.

use cuvee_catalog::NameKind;
use cuvee_error::{ErrorExt, ErrorKind};
use cuvee_segments::{Mirror, SegmentError};
use futures::TryStreamExt;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutPayload};
use std::future::Future;
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum DeepStoreError {
    #[error("deep store URL {url}: {reason}")]
    InvalidUrl { url: String, reason: String },
    #[error("deep store {url}: {what}: {source}")]
    Request { url: String, what: String, source: object_store::Error },
    #[error("deep store {url}: {source}")]
    Io { url: String, source: std::io::Error },
    #[error(transparent)]
    Name(#[from] cuvee_catalog::NameError),
    #[error("deep store file {0:?} is not a file of a table's folder")]
    InvalidFile(String),
    #[error("{uri} is {size} bytes, over the limit of {max}")]
    TooLarge { uri: String, size: u64, max: u64 },
}

impl ErrorExt for DeepStoreError {
    fn kind(&self) -> ErrorKind {
        match self {
            DeepStoreError::InvalidUrl { .. } => ErrorKind::InvalidArgument,
            DeepStoreError::Request { source: object_store::Error::PermissionDenied { .. }, .. } => {
                ErrorKind::PermissionDenied
            }
            DeepStoreError::Request { source: object_store::Error::Unauthenticated { .. }, .. } => {
                ErrorKind::Unauthenticated
            }
            DeepStoreError::Request { .. } => ErrorKind::Unavailable,
            DeepStoreError::Io { .. } => ErrorKind::Storage,
            DeepStoreError::Name(e) => e.kind(),
            DeepStoreError::InvalidFile(_) => ErrorKind::InvalidArgument,
            DeepStoreError::TooLarge { .. } => ErrorKind::ResourceExhausted,
        }
    }
}

impl From<DeepStoreError> for SegmentError {
    fn from(e: DeepStoreError) -> Self {
        let url = match &e {
            DeepStoreError::InvalidUrl { url, .. }
            | DeepStoreError::Request { url, .. }
            | DeepStoreError::Io { url, .. } => url.clone(),
            DeepStoreError::Name(_) | DeepStoreError::InvalidFile(_) | DeepStoreError::TooLarge { .. } => String::new(),
        };
        SegmentError::Mirror { url, kind: e.kind(), reason: e.to_string() }
    }
}

pub type Result<T, E = DeepStoreError> = std::result::Result<T, E>;

/// How to open a deep store.
#[derive(Debug, Clone, Default)]
pub struct DeepStoreSettings {
    /// Whose manifests this process keeps (`server-<ordinal>` for a cluster server); `None`
    /// for one process alone (`manifest.json`).
    pub owner: Option<String>,
    /// `object_store` options, lower-case keys (`aws_access_key_id`, `aws_region`,
    /// `aws_endpoint`, …).
    pub options: Vec<(String, String)>,
}

pub struct DeepStore {
    url: String,
    store: Arc<dyn ObjectStore>,
    prefix: ObjectPath,
    /// The file under `tables/<table>/` holding this process's manifest.
    manifest_file: String,
    /// Always `Some` until dropped (taken to shut it down without blocking).
    runtime: Option<tokio::runtime::Runtime>,
}

impl Drop for DeepStore {
    fn drop(&mut self) {
        // The owner may be dropped inside an async context, where a blocking shutdown panics.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl std::fmt::Debug for DeepStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DeepStore({})", self.url)
    }
}

fn failed(url: &str, what: String) -> impl Fn(object_store::Error) -> DeepStoreError + '_ {
    move |source| DeepStoreError::Request { url: url.to_string(), what: what.clone(), source }
}

impl DeepStore {
    /// The deep store at `url`, as one process's (its manifest is `manifest.json`), with
    /// no options.
    pub fn open(url: &str) -> Result<DeepStore> {
        DeepStore::open_with(url, DeepStoreSettings::default())
    }

    /// The deep store at `url`. With an owner (a cluster server, `server-<ordinal>`) its
    /// manifests are its own, its segments shared.
    pub fn open_with(url: &str, settings: DeepStoreSettings) -> Result<DeepStore> {
        let invalid = |reason: String| DeepStoreError::InvalidUrl { url: url.to_string(), reason };
        let parsed = url::Url::parse(url).map_err(|e| invalid(e.to_string()))?;
        if parsed.scheme() == "s3" && !cfg!(feature = "s3") {
            return Err(invalid("this build has no S3 support; build cuvee with `--features s3`".into()));
        }
        let (store, prefix) =
            object_store::parse_url_opts(&parsed, settings.options).map_err(|e| invalid(e.to_string()))?;
        if parsed.scheme() == "file" {
            std::fs::create_dir_all(parsed.path())
                .map_err(|source| DeepStoreError::Io { url: url.to_string(), source })?;
        }
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("cuvee-deep-store")
            .enable_all()
            .build()
            .map_err(|source| DeepStoreError::Io { url: url.to_string(), source })?;
        let manifest_file = match settings.owner.as_deref() {
            None => "manifest.json".to_string(),
            Some(owner)
                if !owner.is_empty() && owner.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') =>
            {
                format!("manifests/{owner}.json")
            }
            Some(owner) => return Err(invalid(format!("the owner {owner:?} must be letters, digits, '-' or '_'"))),
        };
        Ok(DeepStore { url: url.to_string(), store: Arc::from(store), prefix, manifest_file, runtime: Some(runtime) })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// Where this process's manifest of a table lives, under the table's folder.
    pub fn manifest_file(&self) -> &str {
        &self.manifest_file
    }

    /// Runs a call to completion from any thread, async or not (a scoped thread keeps
    /// `block_on` out of a caller's own runtime).
    fn run<T: Send>(&self, call: impl Future<Output = T> + Send) -> T {
        let Some(runtime) = &self.runtime else { unreachable!("the runtime lives until drop") };
        std::thread::scope(|scope| {
            scope.spawn(|| runtime.block_on(call)).join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        })
    }

    /// `<prefix>/tables/<table>/<file>`; the table's name must follow the naming rule and
    /// the file's parts may not climb (they are ours: `segments/<name>.cvs`, `claims/…`).
    fn path(&self, table: &str, file: &str) -> Result<ObjectPath> {
        cuvee_catalog::name::check(NameKind::Table, table)?;
        if file.split('/').any(|part| part == ".." || part == ".") {
            return Err(DeepStoreError::InvalidFile(file.to_string()));
        }
        let mut parts: Vec<String> = self.prefix.parts().map(|p| p.as_ref().to_string()).collect();
        parts.extend(["tables".to_string(), table.to_string()]);
        parts.extend(file.split('/').filter(|p| !p.is_empty()).map(str::to_string));
        Ok(ObjectPath::from_iter(parts))
    }

    pub fn put(&self, table: &str, file: &str, bytes: Vec<u8>) -> Result<()> {
        let path = self.path(table, file)?;
        let store = Arc::clone(&self.store);
        self.run(async move { store.put(&path, PutPayload::from(bytes)).await })
            .map_err(failed(&self.url, format!("writing {table}/{file}")))?;
        Ok(())
    }

    /// Creates the file unless it exists: true when this call created it. Atomic, so of
    /// several callers racing for one file exactly one gets true.
    pub fn put_if_absent(&self, table: &str, file: &str, bytes: Vec<u8>) -> Result<bool> {
        let path = self.path(table, file)?;
        let store = Arc::clone(&self.store);
        let created = self.run(async move {
            match store.put_opts(&path, PutPayload::from(bytes), PutMode::Create.into()).await {
                Ok(_) => Ok(true),
                Err(object_store::Error::AlreadyExists { .. }) => Ok(false),
                Err(e) => Err(e),
            }
        });
        created.map_err(failed(&self.url, format!("creating {table}/{file}")))
    }

    /// The file's bytes, or `None` when the deep store does not have it.
    pub fn get(&self, table: &str, file: &str) -> Result<Option<Vec<u8>>> {
        let path = self.path(table, file)?;
        let store = Arc::clone(&self.store);
        let got = self.run(async move {
            match store.get(&path).await {
                Ok(result) => result.bytes().await.map(|b| Some(b.to_vec())),
                Err(object_store::Error::NotFound { .. }) => Ok(None),
                Err(e) => Err(e),
            }
        });
        got.map_err(failed(&self.url, format!("reading {table}/{file}")))
    }

    /// The object `uri` names when it is under this deep store's URL (same scheme, bucket
    /// and prefix), at most `max_bytes`; `None` for a URI elsewhere.
    pub fn read_uri(&self, uri: &str, max_bytes: u64) -> Result<Option<Vec<u8>>> {
        let base = self.url.trim_end_matches('/');
        let Some(rest) = uri.strip_prefix(base).and_then(|r| r.strip_prefix('/')) else { return Ok(None) };
        if rest.is_empty() || rest.split('/').any(|part| part.is_empty() || part == ".." || part == ".") {
            return Err(DeepStoreError::InvalidFile(rest.to_string()));
        }
        let mut parts: Vec<String> = self.prefix.parts().map(|p| p.as_ref().to_string()).collect();
        parts.extend(rest.split('/').map(str::to_string));
        let path = ObjectPath::from_iter(parts);
        let store = Arc::clone(&self.store);
        let got = self.run(async move {
            let head = store.head(&path).await?;
            if head.size > max_bytes {
                return Ok(Err(head.size));
            }
            store.get(&path).await?.bytes().await.map(|b| Ok(b.to_vec()))
        });
        match got.map_err(failed(&self.url, format!("reading {uri}")))? {
            Ok(bytes) => Ok(Some(bytes)),
            Err(size) => Err(DeepStoreError::TooLarge { uri: uri.to_string(), size, max: max_bytes }),
        }
    }

    /// Names of the tables the deep store holds a manifest for.
    pub fn tables(&self) -> Result<Vec<String>> {
        let mut parts: Vec<String> = self.prefix.parts().map(|p| p.as_ref().to_string()).collect();
        parts.push("tables".into());
        let root = ObjectPath::from_iter(parts);
        let store = Arc::clone(&self.store);
        let listing = self
            .run(async move { store.list_with_delimiter(Some(&root)).await })
            .map_err(failed(&self.url, "listing tables".into()))?;
        let names: Vec<String> =
            listing.common_prefixes.iter().filter_map(|p| p.filename().map(str::to_string)).collect();
        let mut with_manifest = Vec::with_capacity(names.len());
        for name in names {
            // Names in a listing are input: one that breaks the rule is left out (and named).
            let Ok(path) = self.path(&name, &self.manifest_file) else {
                tracing::warn!(url = %self.url, table = %name, "a table in the deep store has a name that breaks the naming rule; left out");
                continue;
            };
            let store = Arc::clone(&self.store);
            let exists = self.run(async move {
                match store.head(&path).await {
                    Ok(_) => Ok(true),
                    Err(object_store::Error::NotFound { .. }) => Ok(false),
                    Err(e) => Err(e),
                }
            });
            if exists.map_err(failed(&self.url, format!("looking for table {name}")))? {
                with_manifest.push(name);
            }
        }
        Ok(with_manifest)
    }

    /// Removes one file of a table; one that is not there is no error.
    pub fn delete(&self, table: &str, file: &str) -> Result<()> {
        let path = self.path(table, file)?;
        let store = Arc::clone(&self.store);
        self.run(async move {
            match store.delete(&path).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
                Err(e) => Err(e),
            }
        })
        .map_err(failed(&self.url, format!("deleting {table}/{file}")))
    }

    /// Removes everything of a table.
    pub fn delete_table(&self, table: &str) -> Result<()> {
        let root = self.path(table, "")?;
        let store = Arc::clone(&self.store);
        self.run(async move {
            let paths: Vec<ObjectPath> = store.list(Some(&root)).map_ok(|m| m.location).try_collect().await?;
            for path in paths {
                store.delete(&path).await?;
            }
            Ok::<(), object_store::Error>(())
        })
        .map_err(failed(&self.url, format!("deleting table {table}")))
    }
}

impl Mirror for DeepStore {
    fn url(&self) -> &str {
        &self.url
    }

    fn manifest_file(&self) -> &str {
        &self.manifest_file
    }

    fn get(&self, table: &str, file: &str) -> cuvee_segments::Result<Option<Vec<u8>>> {
        Ok(DeepStore::get(self, table, file)?)
    }

    fn put(&self, table: &str, file: &str, bytes: Vec<u8>) -> cuvee_segments::Result<()> {
        Ok(DeepStore::put(self, table, file, bytes)?)
    }

    fn put_if_absent(&self, table: &str, file: &str, bytes: Vec<u8>) -> cuvee_segments::Result<bool> {
        Ok(DeepStore::put_if_absent(self, table, file, bytes)?)
    }

    fn delete(&self, table: &str, file: &str) -> cuvee_segments::Result<()> {
        Ok(DeepStore::delete(self, table, file)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open_as(url: &str, owner: &str) -> Result<DeepStore> {
        DeepStore::open_with(url, DeepStoreSettings { owner: Some(owner.to_string()), options: Vec::new() })
    }

    #[test]
    fn files_round_trip_and_tables_are_listed() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("file://{}/deep", dir.path().display());
        let deep = DeepStore::open(&url).unwrap();
        assert_eq!(deep.get("t", "manifest.json").unwrap(), None);
        deep.put("t", "manifest.json", b"{}".to_vec()).unwrap();
        deep.put_segment("t", "t__0__0__x", vec![1, 2, 3]).unwrap();
        deep.put("u", "schema.json", b"{}".to_vec()).unwrap();
        assert_eq!(deep.get_segment("t", "t__0__0__x").unwrap(), Some(vec![1, 2, 3]));
        assert_eq!(deep.tables().unwrap(), vec!["t".to_string()], "only tables with a manifest");
        assert!(dir.path().join("deep/tables/t/segments/t__0__0__x.cvs").exists());
        deep.delete_table("t").unwrap();
        assert_eq!(deep.get("t", "manifest.json").unwrap(), None);
        assert!(DeepStore::open("nope://x").is_err());
    }

    #[test]
    fn the_first_create_wins_and_owners_keep_their_own_manifests() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("file://{}/deep", dir.path().display());
        let a = open_as(&url, "server-0").unwrap();
        let b = open_as(&url, "server-1").unwrap();
        assert!(a.put_segment_if_absent("t", "t__0__0__x", vec![1]).unwrap());
        assert!(!b.put_segment_if_absent("t", "t__0__0__x", vec![2]).unwrap());
        assert_eq!(b.get_segment("t", "t__0__0__x").unwrap(), Some(vec![1]), "the loser's bytes never land");
        a.put("t", a.manifest_file(), b"{}".to_vec()).unwrap();
        assert_eq!(a.tables().unwrap(), vec!["t".to_string()]);
        assert!(b.tables().unwrap().is_empty(), "server-1 has no manifest of t");
        assert!(open_as(&url, "../x").is_err());
    }
}
