//! Values Pinot's Jackson reader accepts in more than one JSON spelling (`true` or `"true"`),
//! kept in the spelling they came in so that configs round-trip unchanged.

use serde::{de, Deserialize, Deserializer, Serialize, Serializer};

/// A boolean written as `true` or as `"true"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flag {
    pub value: bool,
    written_as_text: bool,
}

impl Flag {
    pub fn new(value: bool) -> Flag {
        Flag { value, written_as_text: false }
    }
}

impl Serialize for Flag {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if self.written_as_text {
            serializer.serialize_str(if self.value { "true" } else { "false" })
        } else {
            serializer.serialize_bool(self.value)
        }
    }
}

impl<'de> Deserialize<'de> for Flag {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Flag, D::Error> {
        match serde_json::Value::deserialize(deserializer)? {
            serde_json::Value::Bool(value) => Ok(Flag { value, written_as_text: false }),
            serde_json::Value::String(s) if s.eq_ignore_ascii_case("true") => {
                Ok(Flag { value: true, written_as_text: true })
            }
            serde_json::Value::String(s) if s.eq_ignore_ascii_case("false") => {
                Ok(Flag { value: false, written_as_text: true })
            }
            other => Err(de::Error::custom(format!("expected true or false, got {other}"))),
        }
    }
}
