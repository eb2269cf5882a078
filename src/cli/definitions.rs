//! `--tables DIR`: table definitions from files (a Kubernetes ConfigMap, a checked-in
//! folder), applied at start. Every `*schema*.json` is put first (a compatible change to an
//! existing schema applies), then every `*table_config*.json` creates its table or updates
//! it — Pinot's own file naming (`baseballStats_schema.json`,
//! `baseballStats_offline_table_config.json`) works as it is. `${NAME}` in a file is the
//! environment variable NAME (a Kafka address, a secret), and a missing one is an error.

use anyhow::{bail, Context, Result};
use cuvee::Process;
use std::path::{Path, PathBuf};

/// Applies the definitions; returns the names of the tables they define.
pub fn apply(process: &Process, dir: &Path) -> Result<Vec<String>> {
    let files = json_files(dir)?;
    let node = process.node()?;
    for path in files.iter().filter(|p| file_name(p).contains("schema")) {
        node.put_schema(&read(path)?, None).with_context(|| format!("applying {}", path.display()))?;
    }
    let mut tables = Vec::new();
    for path in files.iter().filter(|p| file_name(p).contains("table_config")) {
        let text = read(path)?;
        let name = cuvee_catalog::TableConfigJson::from_json(&text)
            .with_context(|| path.display().to_string())?
            .raw_table_name()
            .to_string();
        let exists = process.service.segment_table(&name).is_some();
        node.put_table(&text, !exists, None).with_context(|| format!("applying {}", path.display()))?;
        tables.push(name);
    }
    Ok(tables)
}

fn json_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let entries =
        std::fs::read_dir(dir).with_context(|| format!("reading table definitions from {}", dir.display()))?;
    let mut files: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json") && p.is_file())
        .collect();
    files.sort();
    Ok(files)
}

fn file_name(path: &Path) -> String {
    path.file_name().map(|n| n.to_string_lossy().to_lowercase()).unwrap_or_default()
}

fn read(path: &Path) -> Result<String> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    substitute(&text, |name| std::env::var(name).ok()).with_context(|| path.display().to_string())
}

/// `text` with every `${NAME}` replaced by `lookup(NAME)`.
fn substitute(text: &str, lookup: impl Fn(&str) -> Option<String>) -> Result<String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else { bail!("an unclosed ${{ in the file") };
        let name = &after[..end];
        match lookup(name) {
            Some(value) => out.push_str(&value),
            None => bail!("${{{name}}} is used but the environment variable {name} is not set"),
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::substitute;

    #[test]
    fn variables_are_replaced_and_a_missing_one_is_named() {
        let lookup = |n: &str| (n == "KAFKA").then(|| "kafka:9092".to_string());
        assert_eq!(
            substitute(r#"{"broker": "${KAFKA}", "n": 1}"#, lookup).unwrap(),
            r#"{"broker": "kafka:9092", "n": 1}"#
        );
        let error = substitute("${NOPE}", lookup).unwrap_err().to_string();
        assert!(error.contains("NOPE"), "{error}");
        assert!(substitute("${KAFKA", lookup).is_err());
    }
}
