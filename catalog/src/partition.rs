//! Pinot's segment partition functions (`segmentPartitionConfig.columnPartitionMap`): which
//! stream partition a value belongs to. Upsert and dedup check arriving keys with them,
//! since a key seen by two partitions is kept twice.

use crate::value::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartitionFunction {
    /// The integer value modulo the partition count (negative values wrap up).
    Modulo,
    /// Kafka's murmur2 of the value's text, as Kafka's default partitioner does for keys.
    Murmur,
    /// Java's `String.hashCode` of the value's text, made non-negative.
    HashCode,
}

impl PartitionFunction {
    /// The function Pinot names `name`; `None` for one cuvee does not compute.
    pub fn parse(name: &str) -> Option<PartitionFunction> {
        match name.to_ascii_lowercase().as_str() {
            "modulo" => Some(PartitionFunction::Modulo),
            "murmur" | "murmur2" => Some(PartitionFunction::Murmur),
            "hashcode" => Some(PartitionFunction::HashCode),
            _ => None,
        }
    }

    /// The partition of `value` among `partitions` (at least 1).
    pub fn partition(self, value: &Value, partitions: u32) -> Option<u32> {
        let n = i64::from(partitions.max(1));
        Some(match self {
            PartitionFunction::Modulo => {
                let v = match value {
                    Value::Int(v) => i64::from(*v),
                    Value::Long(v) | Value::Timestamp(v) => *v,
                    Value::String(s) => s.trim().parse().ok()?,
                    _ => return None,
                };
                v.rem_euclid(n) as u32
            }
            PartitionFunction::Murmur => ((murmur2(text(value).as_bytes()) & 0x7fff_ffff) as i64 % n) as u32,
            PartitionFunction::HashCode => (i64::from(java_hash(&text(value))).abs() % n) as u32,
        })
    }
}

fn text(value: &Value) -> String {
    match value {
        Value::Int(v) => v.to_string(),
        Value::Long(v) | Value::Timestamp(v) => v.to_string(),
        Value::Float(v) => v.to_string(),
        Value::Double(v) => v.to_string(),
        Value::Boolean(v) => v.to_string(),
        Value::String(s) | Value::Json(s) | Value::BigDecimal(s) => s.clone(),
        Value::Bytes(b) => b.iter().map(|x| format!("{x:02x}")).collect(),
    }
}

/// Kafka's murmur2 (seed 0x9747b28c).
pub fn murmur2(data: &[u8]) -> i32 {
    const M: u32 = 0x5bd1_e995;
    let mut h: u32 = 0x9747_b28c ^ data.len() as u32;
    let mut chunks = data.chunks_exact(4);
    for chunk in &mut chunks {
        let mut k = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> 24;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }
    let tail = chunks.remainder();
    if tail.len() >= 3 {
        h ^= u32::from(tail[2]) << 16;
    }
    if tail.len() >= 2 {
        h ^= u32::from(tail[1]) << 8;
    }
    if !tail.is_empty() {
        h ^= u32::from(tail[0]);
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    h as i32
}

/// Java's `String.hashCode` (over UTF-16 code units).
fn java_hash(s: &str) -> i32 {
    s.encode_utf16().fold(0i32, |h, unit| h.wrapping_mul(31).wrapping_add(i32::from(unit)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn match_kafka_and_java() {
        // Kafka's own test vectors for murmur2.
        assert_eq!(murmur2(b"21"), -973932308);
        assert_eq!(murmur2(b"foobar"), -790332482);
        assert_eq!(murmur2(b"a-little-bit-long-string"), -985981536);
        assert_eq!(murmur2(b"a-little-bit-longer-string"), -1486304829);
        assert_eq!(murmur2(b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8"), -58897971);
        assert_eq!(murmur2(b"abc"), 479470107);
        assert_eq!(java_hash("hello"), 99162322);
        assert_eq!(java_hash("polygenelubricants"), i32::MIN);
        assert_eq!(PartitionFunction::Modulo.partition(&Value::Long(-7), 4), Some(1));
        assert_eq!(PartitionFunction::HashCode.partition(&Value::String("hello".into()), 10), Some(2));
        assert_eq!(PartitionFunction::parse("Murmur"), Some(PartitionFunction::Murmur));
        assert_eq!(PartitionFunction::parse("BoundedColumnValue"), None);
    }
}
