//! FSST (Boncz, Neumann, Leis, VLDB 2020) for string columns kept raw, consuming (trained on
//! the first chunk) and sealed (trained on a sample of the column, stored in its
//! `forward.raw` section): a table of up to 255 symbols of 1–8 bytes codes each value on
//! its own. One doc therefore still decodes alone (a point read, a late-materialised row),
//! and equality compares codes with codes: the table codes a value the same way every time,
//! and decoding is a function, so equal codes mean equal values and unequal codes unequal
//! ones. A 16-hex-digit session id takes ~8 bytes instead of 16.
//!
//! Compressing each full chunk with zstd instead was measured smaller still, but a chunk
//! then has to be decompressed whole to read one doc (ARCHITECTURE.md).
//!
//! Stored, a table is: u32 symbol count `s` (≤ 255), u32 reserved, `s` × u64 symbols
//! (little-endian bytes, zero-padded), `s` × u8 lengths (1–8), zero padding to 8 bytes.

use crate::error::Malformed;
use crate::format::{pad_to_8, put_u32, put_u64, Cursor};

/// A trained table, kept only where it pays (see [`SymbolTable::train`]).
pub(crate) struct SymbolTable {
    compressor: fsst::Compressor,
}

/// The share of its bytes a sample must lose to coding for the table to be kept, in
/// eighths: with less, decoding on every read costs more than the bytes it saves.
const MIN_SAVING_EIGHTHS: usize = 1;

/// What a table holds in memory: 255 symbols and their lengths, the index of two-byte
/// symbols (65,536 codes of 2 bytes) and the hash table of longer ones (2,048 × 16 bytes).
pub(crate) const SYMBOL_TABLE_BYTES: usize = 255 * 9 + (1 << 16) * 2 + (1 << 11) * 16;

impl SymbolTable {
    /// Trains a table on `sample`; `None` when coding the sample with it would not save at
    /// least [`MIN_SAVING_EIGHTHS`] of its bytes (random bytes, short or empty values).
    pub(crate) fn train(sample: &[&[u8]]) -> Option<SymbolTable> {
        let plain: usize = sample.iter().map(|v| v.len()).sum();
        if plain == 0 {
            return None;
        }
        let trained = fsst::Compressor::train(&sample.to_vec());
        // Code with the table as a reader rebuilds it from its stored symbols, so that a
        // literal a reader codes is coded exactly as the stored values were.
        let table = SymbolTable {
            compressor: fsst::Compressor::rebuild_from(trained.symbol_table(), trained.symbol_lengths()),
        };
        let mut out = Vec::new();
        let coded: usize = sample.iter().map(|v| table.encode(v, &mut out).len()).sum();
        (coded * 8 <= plain * (8 - MIN_SAVING_EIGHTHS)).then_some(table)
    }

    /// `value`'s codes, in `out` (cleared first).
    pub(crate) fn encode<'o>(&self, value: &[u8], out: &'o mut Vec<u8>) -> &'o [u8] {
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
    pub(crate) fn decode<'o>(&self, codes: &[u8], out: &'o mut Vec<u8>) -> &'o [u8] {
        out.clear();
        append_decoded(self.compressor.symbol_table(), self.compressor.symbol_lengths(), codes, out);
        out
    }

    /// Appends the stored form of the table (module docs) to `out`.
    pub(crate) fn write(&self, out: &mut Vec<u8>) {
        let symbols = self.compressor.symbol_table();
        put_u32(out, symbols.len() as u32);
        put_u32(out, 0);
        for symbol in symbols {
            put_u64(out, symbol.to_u64());
        }
        out.extend_from_slice(self.compressor.symbol_lengths());
        pad_to_8(out);
    }
}

/// Appends the value `codes` stand for to `out`. A value is a handful of codes, too few for
/// `fsst`'s eight-codes-at-a-time loop, whose tail checks every code; here each code is one
/// 8-byte copy and an advance by its length (a code naming no symbol, which no table of
/// ours writes and a segment that opened never holds, writes nothing).
fn append_decoded(symbols: &[fsst::Symbol], lengths: &[u8], codes: &[u8], out: &mut Vec<u8>) {
    let start = out.len();
    out.resize(start + 8 * codes.len() + 8, 0);
    let (mut at, mut i) = (start, 0);
    while i < codes.len() {
        let code = codes[i] as usize;
        if code == ESCAPE as usize {
            if let Some(&byte) = codes.get(i + 1) {
                out[at] = byte;
                at += 1;
            }
            i += 2;
        } else {
            if let (Some(symbol), Some(&length)) = (symbols.get(code), lengths.get(code)) {
                out[at..at + 8].copy_from_slice(&symbol.to_u64().to_le_bytes());
                at += length as usize;
            }
            i += 1;
        }
    }
    out.truncate(at);
}

/// `fsst-rs` 0.7's table of symbols of 3 bytes or more: slots, and the slot of a symbol
/// (its hash of the first 3 bytes). A rebuild asserts each slot holds one symbol.
const LONG_SYMBOL_SLOTS: usize = 1 << 11;

fn long_symbol_slot(symbol: u64) -> usize {
    let prefix = symbol & 0xFF_FFFF;
    (prefix.wrapping_mul(2_971_215_073) ^ prefix.wrapping_shr(15)) as usize & (LONG_SYMBOL_SLOTS - 1)
}

/// The code that says the next byte stands for itself.
const ESCAPE: u8 = 255;

/// A stored table, read and checked: enough to decode; [`StoredSymbols::coder`] rebuilds the
/// coder (for literals) when a query needs one.
pub(crate) struct StoredSymbols {
    count: usize,
    symbols: [fsst::Symbol; 255],
    lengths: [u8; 255],
}

impl StoredSymbols {
    /// Reads a table at the cursor. Every length must be 1–8 and the symbol's own, and the
    /// lengths in FSST's code order (2, 3, …, 8, then 1): the decoder writes whole 8-byte
    /// words and advances by a length, so a longer one would run past its buffer.
    pub(crate) fn open(cursor: &mut Cursor<'_>) -> Result<StoredSymbols, Malformed> {
        let count = cursor.u32()? as usize;
        cursor.u32()?;
        if count > 255 {
            return Err(Malformed(format!("a symbol table holds at most 255 symbols, not {count}")));
        }
        let mut table = StoredSymbols { count, symbols: [fsst::Symbol::ZERO; 255], lengths: [0; 255] };
        for symbol in &mut table.symbols[..count] {
            *symbol = fsst::Symbol::from_slice(&cursor.u64()?.to_le_bytes());
        }
        table.lengths[..count].copy_from_slice(cursor.take(count)?);
        cursor.align8();
        let mut previous = 2;
        for (code, (&symbol, &length)) in table.symbols[..count].iter().zip(&table.lengths[..count]).enumerate() {
            let ordered = if previous == 1 { length == 1 } else { length == 1 || length >= previous };
            if !(1..=8).contains(&length) || symbol.len() != length as usize || !ordered {
                return Err(Malformed(format!("symbol {code} has a bad length {length} or is out of order")));
            }
            previous = length;
        }
        Ok(table)
    }

    /// Appends the value `codes` stand for to `out`.
    pub(crate) fn decode_append(&self, codes: &[u8], out: &mut Vec<u8>) {
        append_decoded(&self.symbols[..self.count], &self.lengths[..self.count], codes, out)
    }

    /// Whether `codes` decode as written: every code names a symbol, and an escape is
    /// followed by its byte (the decoder panics on one at the end).
    pub(crate) fn codes_are_whole(&self, codes: &[u8]) -> bool {
        let mut i = 0;
        while i < codes.len() {
            match codes[i] {
                ESCAPE => i += 2,
                code if (code as usize) < self.count => i += 1,
                _ => return false,
            }
        }
        i == codes.len()
    }

    /// The coder this table was written by: the same symbols in the same order code every
    /// value exactly as the writer did (it coded with a table rebuilt the same way).
    pub(crate) fn coder(&self) -> Result<SymbolTable, Malformed> {
        let (symbols, lengths) = (&self.symbols[..self.count], &self.lengths[..self.count]);
        // The rebuild asserts that no two long symbols share a hash slot; a table the
        // writer trained never does, so a collision means damage, reported as such. It is
        // checked first (the fuzzer aborts on any panic, caught or not); the catch stays
        // for anything else the rebuild asserts.
        let mut taken = vec![false; LONG_SYMBOL_SLOTS];
        for (symbol, _) in symbols.iter().zip(lengths).filter(|(_, &length)| length >= 3) {
            let slot = long_symbol_slot(symbol.to_u64());
            if std::mem::replace(&mut taken[slot], true) {
                return Err(Malformed(format!("the symbol table's long symbols collide in slot {slot}")));
            }
        }
        std::panic::catch_unwind(|| fsst::Compressor::rebuild_from(symbols, lengths))
            .map(|compressor| SymbolTable { compressor })
            .map_err(|_| Malformed("the symbol table's long symbols collide".into()))
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
    fn colliding_long_symbols_are_damage_found_before_the_rebuild() {
        // Two 3-letter symbols in one slot (17,576 of them for 2,048 slots).
        let mut slots = std::collections::HashMap::new();
        let letters =
            (b'a'..=b'z').flat_map(|x| (b'a'..=b'z').flat_map(move |y| (b'a'..=b'z').map(move |z| [x, y, z])));
        let (a, b) = letters
            .filter_map(|s| {
                let symbol = fsst::Symbol::from_slice(&[s[0], s[1], s[2], 0, 0, 0, 0, 0]);
                slots.insert(long_symbol_slot(symbol.to_u64()), symbol).map(|other| (other, symbol))
            })
            .next()
            .expect("a collision");
        // The slot is fsst's own: its rebuild refuses the pair (and panics doing so).
        assert!(std::panic::catch_unwind(|| fsst::Compressor::rebuild_from([a, b], [3u8, 3])).is_err());
        let mut bytes = Vec::new();
        put_u32(&mut bytes, 2);
        put_u32(&mut bytes, 0);
        bytes.extend_from_slice(&a.to_u64().to_le_bytes());
        bytes.extend_from_slice(&b.to_u64().to_le_bytes());
        bytes.extend_from_slice(&[3, 3]);
        let stored = StoredSymbols::open(&mut Cursor::new(&bytes)).expect("well-formed on its face");
        let refused = stored.coder().err().expect("a collision is damage");
        assert!(refused.0.contains("collide"), "{}", refused.0);
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
