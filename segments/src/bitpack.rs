//! FastLanes-style bit-packing of `u32` values in blocks of 1024.
//!
//! A block holds 1024 values as 32 *lanes* × 32 *rows*: value `i` sits in lane `i % 32`,
//! row `i / 32`. Each lane's 32 values are concatenated least-significant-bit first into
//! `W` words (`W` = bit width), and word `w` of lane `l` is stored at `block[w * 32 + l]`.
//! A block is therefore `W × 32` words (`W × 128` bytes), and unpacking one row touches
//! 32 consecutive words with the same shift — a loop the compiler turns into SIMD.
//! The last block of a column is padded with zeros. Width 0 stores no words at all.

pub const BLOCK: usize = 1024;
const LANES: usize = 32;

/// Bits needed to store values `0..=max`.
pub fn width_for(max: u32) -> u32 {
    32 - max.leading_zeros()
}

/// Words one block of `width`-bit values takes.
pub fn block_words(width: u32) -> usize {
    width as usize * LANES
}

/// Packs `values` (each < 2^width) into whole blocks appended to `out`.
pub fn pack(values: &[u32], width: u32, out: &mut Vec<u32>) {
    if width == 0 {
        return;
    }
    let mut block = [0u32; BLOCK];
    for chunk in values.chunks(BLOCK) {
        block[..chunk.len()].copy_from_slice(chunk);
        block[chunk.len()..].fill(0);
        let start = out.len();
        out.resize(start + block_words(width), 0);
        pack_block(&block, width as usize, &mut out[start..]);
    }
}

fn pack_block(values: &[u32; BLOCK], width: usize, out: &mut [u32]) {
    for row in 0..LANES {
        let bit = row * width;
        let (word, shift) = (bit / 32, bit % 32);
        for lane in 0..LANES {
            let v = values[row * LANES + lane];
            out[word * LANES + lane] |= v << shift;
            if shift + width > 32 {
                out[(word + 1) * LANES + lane] |= v >> (32 - shift);
            }
        }
    }
}

/// Unpacks one block of `width`-bit values (`packed` holds exactly `block_words(width)` words).
pub fn unpack_block(packed: &[u32], width: u32, out: &mut [u32; BLOCK]) {
    macro_rules! dispatch {
        ($($w:literal)*) => {
            match width {
                $($w => unpack_block_const::<$w>(packed, out),)*
                _ => out.fill(0),
            }
        };
    }
    dispatch!(0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32)
}

#[inline(always)]
fn unpack_block_const<const W: usize>(packed: &[u32], out: &mut [u32; BLOCK]) {
    if W == 0 {
        out.fill(0);
        return;
    }
    let mask = if W == 32 { u32::MAX } else { (1u32 << W) - 1 };
    let packed = &packed[..W * LANES];
    for row in 0..LANES {
        let bit = row * W;
        let (word, shift) = (bit / 32, bit % 32);
        let lo = &packed[word * LANES..word * LANES + LANES];
        let dst = &mut out[row * LANES..row * LANES + LANES];
        if shift + W <= 32 {
            for lane in 0..LANES {
                dst[lane] = (lo[lane] >> shift) & mask;
            }
        } else {
            let hi = &packed[(word + 1) * LANES..(word + 1) * LANES + LANES];
            for lane in 0..LANES {
                dst[lane] = ((lo[lane] >> shift) | (hi[lane] << (32 - shift))) & mask;
            }
        }
    }
}

/// Reads value `index` of a packed column without unpacking its block.
pub fn get(packed: &[u32], width: u32, index: usize) -> u32 {
    if width == 0 {
        return 0;
    }
    let width = width as usize;
    let block = &packed[(index / BLOCK) * width * LANES..];
    let i = index % BLOCK;
    let (row, lane) = (i / LANES, i % LANES);
    let bit = row * width;
    let (word, shift) = (bit / 32, bit % 32);
    let mask = if width == 32 { u32::MAX } else { (1u32 << width) - 1 };
    let mut v = block[word * LANES + lane] >> shift;
    if shift + width > 32 {
        v |= block[(word + 1) * LANES + lane] << (32 - shift);
    }
    v & mask
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_every_width() {
        for width in 0..=32u32 {
            let max = if width == 32 { u32::MAX } else { (1u64 << width) as u32 - (width > 0) as u32 };
            let values: Vec<u32> =
                (0..2500u32).map(|i| if width == 0 { 0 } else { i.wrapping_mul(2_654_435_761) & max }).collect();
            let mut packed = Vec::new();
            pack(&values, width, &mut packed);
            assert_eq!(packed.len(), values.len().div_ceil(BLOCK) * block_words(width));
            let mut block = [0u32; BLOCK];
            for (b, chunk) in values.chunks(BLOCK).enumerate() {
                let words = block_words(width);
                unpack_block(&packed[b * words..(b + 1) * words], width, &mut block);
                assert_eq!(&block[..chunk.len()], chunk, "width {width}");
            }
            for (i, v) in values.iter().enumerate() {
                assert_eq!(get(&packed, width, i), *v, "width {width} index {i}");
            }
        }
        assert_eq!(width_for(0), 0);
        assert_eq!(width_for(1), 1);
        assert_eq!(width_for(255), 8);
        assert_eq!(width_for(256), 9);
    }
}
