//! FSST (Boncz, Neumann, Leis, VLDB 2020) for a consuming column kept raw: a table of up to
//! 255 symbols of 1–8 bytes, trained once on the column's first chunk, codes each value on
//! its own. One doc therefore still decodes alone (a point read, a late-materialised row),
//! and equality compares codes with codes: the table codes a value the same way every time,
//! and decoding is a function, so equal codes mean equal values and unequal codes unequal
//! ones. A 16-hex-digit session id takes ~8 bytes instead of 16.
//!
//! Compressing each full chunk with zstd instead was measured smaller still, but a frozen
//! chunk then has to be decompressed whole to read one doc (ARCHITECTURE.md).

/// A trained table, kept only where it pays (see [`SymbolTable::train`]).
pub(super) struct SymbolTable {
    compressor: fsst::Compressor,
}

/// The share of its bytes a sample must lose to coding for the table to be kept, in
/// eighths: with less, decoding on every read costs more than the bytes it saves.
const MIN_SAVING_EIGHTHS: usize = 1;

/// What a table holds in memory: 255 symbols and their lengths, the index of two-byte
/// symbols (65,536 codes of 2 bytes) and the hash table of longer ones (2,048 × 16 bytes).
pub(super) const SYMBOL_TABLE_BYTES: usize = 255 * 9 + (1 << 16) * 2 + (1 << 11) * 16;

impl SymbolTable {
    /// Trains a table on `sample`; `None` when coding the sample with it would not save at
    /// least [`MIN_SAVING_EIGHTHS`] of its bytes (random bytes, short or empty values).
    pub(super) fn train(sample: &[&[u8]]) -> Option<SymbolTable> {
        let plain: usize = sample.iter().map(|v| v.len()).sum();
        if plain == 0 {
            return None;
        }
        let table = SymbolTable { compressor: fsst::Compressor::train(&sample.to_vec()) };
        let mut out = Vec::new();
        let coded: usize = sample.iter().map(|v| table.encode(v, &mut out).len()).sum();
        (coded * 8 <= plain * (8 - MIN_SAVING_EIGHTHS)).then_some(table)
    }

    /// `value`'s codes, in `out` (cleared first).
    pub(super) fn encode<'o>(&self, value: &[u8], out: &'o mut Vec<u8>) -> &'o [u8] {
        out.clear();
        // At worst every byte is escaped (two bytes each), and the coder may write two
        // bytes past the last code it keeps.
        out.reserve(value.len() * 2 + 8);
        // SAFETY: the spare capacity holds the largest coding of `value` (above).
        let len = unsafe { self.compressor.compress_into(value, out.spare_capacity_mut()) };
        // SAFETY: `compress_into` initialised the first `len` bytes of the spare capacity.
        unsafe { out.set_len(len) };
        out
    }

    /// The value `codes` stand for, in `out` (cleared first).
    pub(super) fn decode<'o>(&self, codes: &[u8], out: &'o mut Vec<u8>) -> &'o [u8] {
        let decompressor = self.compressor.decompressor();
        out.clear();
        // Up to 8 bytes a code, and the decoder writes whole 8-byte words.
        out.reserve(decompressor.max_decompression_capacity(codes));
        let len = decompressor.decompress_into(codes, out.spare_capacity_mut());
        // SAFETY: `decompress_into` initialised the first `len` bytes of the spare capacity.
        unsafe { out.set_len(len) };
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        /// Values arrive from a topic: whatever the first chunk held, training does not
        /// panic, and any later bytes code and decode back (and code alike twice).
        #[test]
        fn any_first_chunk_trains_and_any_value_comes_back(
            alphabet in proptest::collection::vec(any::<u8>(), 1..12),
            picks in proptest::collection::vec(proptest::collection::vec(any::<prop::sample::Index>(), 0..40), 0..64),
            later in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..200), 0..16),
        ) {
            // A first chunk over a small alphabet (so a table often pays), random later values.
            let sample: Vec<Vec<u8>> =
                picks.iter().map(|p| p.iter().map(|i| alphabet[i.index(alphabet.len())]).collect()).collect();
            let refs: Vec<&[u8]> = sample.iter().map(|v| &v[..]).collect();
            if let Some(table) = SymbolTable::train(&refs) {
                let (mut codes, mut again, mut back) = (Vec::new(), Vec::new(), Vec::new());
                for value in sample.iter().chain(&later) {
                    table.encode(value, &mut codes);
                    prop_assert_eq!(table.encode(value, &mut again), &codes[..]);
                    prop_assert_eq!(table.decode(&codes, &mut back), &value[..]);
                }
            }
        }
    }

    fn hex_ids(n: u64) -> Vec<Vec<u8>> {
        (0..n).map(|i| format!("{:016x}", i.wrapping_mul(0x9E37_79B9_7F4A_7C15)).into_bytes()).collect()
    }

    #[test]
    fn hex_ids_code_to_about_half_and_come_back() {
        let ids = hex_ids(4_096);
        let sample: Vec<&[u8]> = ids.iter().map(|v| &v[..]).collect();
        let table = SymbolTable::train(&sample).expect("hex digits pay for a table");
        let (mut codes, mut back, mut coded) = (Vec::new(), Vec::new(), 0);
        for id in hex_ids(20_000) {
            coded += table.encode(&id, &mut codes).len();
            assert_eq!(table.decode(&codes, &mut back), &id[..]);
        }
        assert!(coded < 20_000 * 10, "{coded} bytes of codes for 20,000 16-byte ids");
    }

    #[test]
    fn any_bytes_come_back_and_equal_values_code_alike() {
        let ids = hex_ids(500);
        let sample: Vec<&[u8]> = ids.iter().map(|v| &v[..]).collect();
        let table = SymbolTable::train(&sample).expect("hex digits pay for a table");
        let (mut a, mut b, mut back) = (Vec::new(), Vec::new(), Vec::new());
        let mut state = 7u64;
        for len in (0..300).chain([4_095, 100_000]) {
            // Bytes the table never saw (escapes), mixed with ones it did.
            let value: Vec<u8> = (0..len)
                .map(|i| {
                    state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                    if i % 3 == 0 {
                        b"0123456789abcdef"[(state >> 60) as usize]
                    } else {
                        (state >> 56) as u8
                    }
                })
                .collect();
            let codes = table.encode(&value, &mut a).to_vec();
            assert_eq!(table.decode(&codes, &mut back), &value[..], "{len} bytes");
            assert_eq!(table.encode(&value, &mut b), &codes[..], "coding is deterministic");
        }
        assert!(table.encode(b"", &mut a).is_empty());
    }

    #[test]
    fn a_table_is_kept_only_where_it_pays() {
        assert!(SymbolTable::train(&[]).is_none());
        assert!(SymbolTable::train(&[b"", b""]).is_none());
        let mut state = 1u64;
        let random: Vec<Vec<u8>> = (0..4_096)
            .map(|_| {
                (0..16)
                    .map(|_| {
                        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                        (state >> 56) as u8
                    })
                    .collect()
            })
            .collect();
        let sample: Vec<&[u8]> = random.iter().map(|v| &v[..]).collect();
        assert!(SymbolTable::train(&sample).is_none(), "random bytes do not code smaller");
    }
}
