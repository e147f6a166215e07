//! Huffman tables of the DC walk: canonical codes with a direct look-up of short codes, and
//! two look-ups for stepping over AC coefficients without decoding them.

/// Bits resolved by one Huffman table look-up.
pub(super) const LOOKUP_BITS: u32 = 9;

/// Bits of the look-up that skips several short AC coefficients at once.
pub(super) const MULTI_BITS: u32 = 12;

/// A Huffman table: a look-up of the first [`LOOKUP_BITS`] bits (length, symbol), the same
/// look-up for skipping AC coefficients (see [`skip_entry`]), and the canonical limits for
/// longer codes.
pub(super) struct Huffman {
    pub(super) lookup: Vec<(u8, u8)>,
    pub(super) skip: Box<[u16; 1 << LOOKUP_BITS]>,
    pub(super) multi: Box<[u16; 1 << MULTI_BITS]>,
    pub(super) max_code: [i32; 17],
    pub(super) offset: [i32; 17],
    pub(super) symbols: Vec<u8>,
}

impl Huffman {
    pub(super) fn new(counts: &[u8; 16], symbols: Vec<u8>) -> Option<Huffman> {
        let mut lookup = vec![(0u8, 0u8); 1 << LOOKUP_BITS];
        let mut skip = Box::new([0u16; 1 << LOOKUP_BITS]);
        let mut max_code = [-1i32; 17];
        let mut offset = [0i32; 17];
        let (mut code, mut k) = (0i32, 0usize);
        for len in 1..=16u32 {
            let n = usize::from(counts[len as usize - 1]);
            offset[len as usize] = k as i32 - code;
            for _ in 0..n {
                let symbol = *symbols.get(k)?;
                if len <= LOOKUP_BITS {
                    let shift = LOOKUP_BITS - len;
                    let first = (code as usize) << shift;
                    for entry in lookup.get_mut(first..first + (1 << shift))? {
                        *entry = (len as u8, symbol);
                    }
                    for entry in skip.get_mut(first..first + (1 << shift))? {
                        *entry = skip_entry(len, symbol);
                    }
                }
                code += 1;
                k += 1;
            }
            if n > 0 {
                max_code[len as usize] = code - 1;
            }
            if code > 1 << len {
                return None;
            }
            code <<= 1;
        }
        let mut table = Huffman {
            lookup,
            skip,
            multi: Box::new([0; 1 << MULTI_BITS]),
            max_code,
            offset,
            symbols,
        };
        table.fill_multi();
        Some(table)
    }

    /// The symbol whose code starts `window` (16 bits, left-aligned), if it is at most `avail`
    /// bits long.
    fn peek(&self, window: u32, avail: u32) -> Option<(u32, u8)> {
        let (len, symbol) = self.lookup[(window >> (16 - LOOKUP_BITS)) as usize];
        if len != 0 {
            return (u32::from(len) <= avail).then_some((u32::from(len), symbol));
        }
        for len in LOOKUP_BITS + 1..=avail.min(16) {
            let code = (window >> (16 - len)) as i32;
            if code <= self.max_code[len as usize] {
                let at = usize::try_from(code + self.offset[len as usize]).ok()?;
                return self.symbols.get(at).map(|&s| (len, s));
            }
        }
        None
    }

    /// Every [`MULTI_BITS`]-bit prefix as the run of whole AC steps (code and coefficient bits)
    /// it holds: bits to drop (bits 0–3), coefficients stepped over (bits 4–9), end of block
    /// (bit 10); bit 15 marks the entry as set.
    fn fill_multi(&mut self) {
        for prefix in 0..1u32 << MULTI_BITS {
            let (mut used, mut advance, mut end) = (0u32, 0u32, false);
            while used < MULTI_BITS {
                let window = ((prefix << used) & ((1 << MULTI_BITS) - 1)) << (16 - MULTI_BITS);
                let Some((len, symbol)) = self.peek(window, MULTI_BITS - used) else {
                    break;
                };
                let (run, size) = (u32::from(symbol >> 4), u32::from(symbol & 15));
                if used + len + size > MULTI_BITS || advance + 16 > 63 {
                    break;
                }
                used += len + size;
                if size == 0 && run != 15 {
                    end = true;
                    break;
                }
                advance += if size == 0 { 16 } else { run + 1 };
            }
            if used > 0 {
                self.multi[prefix as usize] =
                    1 << 15 | (used as u16) | (advance as u16) << 4 | u16::from(end) << 10;
            }
        }
    }
}

/// An AC code of `len` bits for `symbol` (run, size) as one step of the skip: the bits to drop
/// (the code and the coefficient's `size` bits, bits 0–4), the coefficients stepped over (bits
/// 5–9), end of block (bit 10); bit 15 marks the entry as set.
fn skip_entry(len: u32, symbol: u8) -> u16 {
    let (run, size) = (u16::from(symbol >> 4), u16::from(symbol & 15));
    let len = len as u16;
    1 << 15
        | match (size, run) {
            (0, 15) => len | 16 << 5,
            (0, _) => len | 1 << 10,
            _ => (len + size) | (run + 1) << 5,
        }
}
