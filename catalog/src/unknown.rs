//! Keys cuvee does not know are kept verbatim (so a config round-trips) and reported.

use serde_json::Value as Json;
use std::collections::BTreeMap;

/// The keys of one JSON object that no typed field claimed.
pub type Extra = BTreeMap<String, Json>;

/// Adds each unknown key under `prefix` (a JSON pointer) to `out`.
pub(crate) fn collect_unknown(out: &mut BTreeMap<String, Json>, prefix: &str, extra: &Extra) {
    for (key, value) in extra {
        out.insert(format!("{prefix}/{}", key.replace('~', "~0").replace('/', "~1")), value.clone());
    }
}
