//! Split-block bloom filter (the layout Parquet and Impala use): 256-bit blocks of eight
//! 32-bit words; a value sets one bit in each word of one block. Used to skip a whole
//! segment for `=` and `IN` when the value is certainly absent.

use crate::error::Malformed;
use crate::format::{put_u32, Cursor};
use xxhash_rust::xxh3::xxh3_64;

const SALT: [u32; 8] = [0x47b6137b, 0x44974d91, 0x8824ad5b, 0xa2b7289d, 0x705495c7, 0x2df1424b, 0x9efc4947, 0x5c6bfb31];

/// Blocks needed for `distinct` values at false-positive probability `fpp`.
pub fn blocks_for(distinct: usize, fpp: f64) -> usize {
    // Optimal bits for a standard filter, rounded up to whole 256-bit blocks; split-block
    // filters need a little more, hence the 1.2 factor.
    let bits = -(distinct.max(1) as f64) * fpp.ln() / (std::f64::consts::LN_2 * std::f64::consts::LN_2) * 1.2;
    ((bits / 256.0).ceil() as usize).clamp(1, 1 << 24)
}

pub fn hash(bytes: &[u8]) -> u64 {
    xxh3_64(bytes)
}

fn mask(hash: u64) -> [u32; 8] {
    let key = hash as u32;
    let mut out = [0u32; 8];
    for (i, salt) in SALT.iter().enumerate() {
        out[i] = 1 << (key.wrapping_mul(*salt) >> 27);
    }
    out
}

fn block_of(hash: u64, blocks: usize) -> usize {
    (((hash >> 32) * blocks as u64) >> 32) as usize
}

pub fn write(hashes: impl Iterator<Item = u64>, blocks: usize) -> Vec<u8> {
    let mut words = vec![0u32; blocks * 8];
    for h in hashes {
        let b = block_of(h, blocks);
        for (i, m) in mask(h).iter().enumerate() {
            words[b * 8 + i] |= m;
        }
    }
    let mut out = Vec::with_capacity(8 + words.len() * 4);
    put_u32(&mut out, blocks as u32);
    put_u32(&mut out, 0);
    for w in words {
        put_u32(&mut out, w);
    }
    out
}

pub struct Bloom<'a> {
    blocks: usize,
    words: &'a [u8],
}

impl<'a> Bloom<'a> {
    pub fn open(bytes: &'a [u8]) -> Result<Bloom<'a>, Malformed> {
        let mut cursor = Cursor::new(bytes);
        let blocks = cursor.u32()? as usize;
        cursor.u32()?;
        if blocks == 0 {
            return Err(Malformed("bloom filter has no blocks".into()));
        }
        let words = cursor.take(blocks * 32)?;
        Ok(Bloom { blocks, words })
    }

    pub fn might_contain(&self, hash: u64) -> bool {
        let b = block_of(hash, self.blocks);
        mask(hash).iter().enumerate().all(|(i, m)| crate::format::u32_at(self.words, (b * 8 + i) * 4) & m != 0)
    }
}
