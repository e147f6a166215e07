//! The 1/8-scale JPEG decode of thumbnails: at that scale each 8×8 block is one pixel, its DC
//! coefficient, so only the Huffman codes are walked (the AC ones skipped, never dequantized or
//! transformed). This is what libjpeg does for `scale_denom = 8`; the time goes into the Huffman
//! walk, so the bit reader works on an in-memory buffer and refills 32 bits at a time.
//!
//! Only the common case is taken here: baseline (SOF0/SOF1) 8-bit JPEGs, one grey or three
//! YCbCr components in one interleaved scan, sampling factors 1 or 2. Everything else (and any
//! header this parser does not like) is handed back, with the bytes it read, to `jpeg-decoder`.
//! The input is hostile: every index is checked, arithmetic wraps, a truncated stream reads as
//! zero bits, and the work is bounded by the declared size, which the caller's cap bounds.

use std::io::{Cursor, Read};

use image::{DynamicImage, GrayImage, RgbImage};

use super::decode::{check_declared, DecodeError, MAX_DECLARED_PIXELS};
use huffman::{Huffman, LOOKUP_BITS, MULTI_BITS};

mod huffman;

/// Most header bytes (before the first scan) kept for a hand-over to `jpeg-decoder`.
const MAX_HEADER_BYTES: usize = 4 << 20;

/// Read buffer of the entropy-coded data.
const BUFFER_BYTES: usize = 64 * 1024;

/// What [`decode`] made of the stream.
pub enum Attempt<R> {
    /// The image at 1/8 scale.
    Done(DynamicImage),
    /// Not a case this decoder takes: the same stream, from its first byte, for another decoder.
    Other(std::io::Chain<Cursor<Vec<u8>>, R>),
}

/// Decodes `reader` at 1/8 scale when that still covers `edge` pixels on one side and the JPEG
/// is a case this decoder takes; otherwise hands the stream back unread from its start.
///
/// # Errors
/// [`DecodeError`] for a damaged stream past the header or a declared size over the cap.
pub fn decode<R: Read>(reader: R, edge: u16) -> Result<Attempt<R>, DecodeError> {
    let mut src = Source::new(reader);
    let header = match read_header(&mut src) {
        Ok(Some(h)) => h,
        Ok(None) | Err(_) => return Ok(Attempt::Other(src.replay())),
    };
    let (w, h) = (u32::from(header.width), u32::from(header.height));
    // jpeg-decoder's rule: the smallest scale at which either side still covers `edge`.
    if w.div_ceil(8) < u32::from(edge) && h.div_ceil(8) < u32::from(edge) {
        return Ok(Attempt::Other(src.replay()));
    }
    check_declared(u64::from(w), u64::from(h), MAX_DECLARED_PIXELS)?;
    src.seen = Vec::new();
    Ok(Attempt::Done(decode_scan(&mut src, &header)?))
}

/// Bytes from the reader through a buffer; while the header is read, every byte handed out is
/// also kept, so that the stream can be replayed from its start.
struct Source<R> {
    reader: R,
    buf: Vec<u8>,
    pos: usize,
    len: usize,
    eof: bool,
    seen: Vec<u8>,
    recording: bool,
}

impl<R: Read> Source<R> {
    fn new(reader: R) -> Self {
        Source {
            reader,
            buf: vec![0; BUFFER_BYTES],
            pos: 0,
            len: 0,
            eof: false,
            seen: Vec::new(),
            recording: true,
        }
    }

    /// Tops the buffer up; afterwards fewer than 8 bytes are buffered only at the end.
    fn fill(&mut self) {
        if self.len - self.pos >= 8 || self.eof {
            return;
        }
        self.buf.copy_within(self.pos..self.len, 0);
        self.len -= self.pos;
        self.pos = 0;
        while self.len < self.buf.len() / 2 && !self.eof {
            match self.reader.read(&mut self.buf[self.len..]) {
                Ok(0) | Err(_) => self.eof = true,
                Ok(n) => self.len += n,
            }
        }
    }

    fn byte(&mut self) -> Option<u8> {
        if self.pos >= self.len {
            self.fill();
        }
        let b = *self.buf.get(self.pos).filter(|_| self.pos < self.len)?;
        self.pos += 1;
        if self.recording {
            self.seen.push(b);
        }
        Some(b)
    }

    fn u16(&mut self) -> Option<u16> {
        Some(u16::from_be_bytes([self.byte()?, self.byte()?]))
    }

    /// The stream from its first byte: what was handed out, what is buffered, the rest.
    fn replay(self) -> std::io::Chain<Cursor<Vec<u8>>, R> {
        let mut head = self.seen;
        head.extend_from_slice(&self.buf[self.pos..self.len]);
        Cursor::new(head).chain(self.reader)
    }
}

struct Component {
    id: u8,
    h: usize,
    v: usize,
    quant: usize,
    dc_table: usize,
    ac_table: usize,
}

struct Header {
    width: u16,
    height: u16,
    components: Vec<Component>,
    dc_quant: [Option<i32>; 4],
    dc: [Option<Huffman>; 4],
    ac: [Option<Huffman>; 4],
    restart_interval: u32,
}

/// Reads markers up to the first scan's header. `Ok(None)`: a JPEG this decoder leaves to
/// `jpeg-decoder` (which also reports damage in the header).
fn read_header<R: Read>(src: &mut Source<R>) -> Result<Option<Header>, ()> {
    if src.byte() != Some(0xFF) || src.byte() != Some(0xD8) {
        return Ok(None);
    }
    let mut frame: Option<(u16, u16, Vec<Component>)> = None;
    let mut dc_quant = [None; 4];
    let (mut dc, mut ac): ([Option<Huffman>; 4], [Option<Huffman>; 4]) = Default::default();
    let mut restart_interval = 0;
    let mut adobe_rgb = false;
    loop {
        if src.seen.len() > MAX_HEADER_BYTES {
            return Ok(None);
        }
        if src.byte().ok_or(())? != 0xFF {
            return Ok(None);
        }
        let mut marker = src.byte().ok_or(())?;
        while marker == 0xFF {
            marker = src.byte().ok_or(())?;
        }
        if (0xD0..=0xD7).contains(&marker) || marker == 0x01 {
            continue;
        }
        let len = usize::from(src.u16().ok_or(())?).checked_sub(2).ok_or(())?;
        let mut body = Vec::with_capacity(len);
        for _ in 0..len {
            body.push(src.byte().ok_or(())?);
        }
        match marker {
            0xC0 | 0xC1 => {
                let (&[precision, h0, h1, w0, w1, n], rest) =
                    body.split_first_chunk::<6>().ok_or(())?;
                if precision != 8 || !(n == 1 || n == 3) || rest.len() < 3 * usize::from(n) {
                    return Ok(None);
                }
                let mut components = Vec::new();
                for c in rest.chunks_exact(3).take(usize::from(n)) {
                    let (h, v) = (usize::from(c[1] >> 4), usize::from(c[1] & 15));
                    if !(1..=2).contains(&h) || !(1..=2).contains(&v) || c[2] > 3 {
                        return Ok(None);
                    }
                    let (h, v) = if n == 1 { (1, 1) } else { (h, v) };
                    components.push(Component {
                        id: c[0],
                        h,
                        v,
                        quant: usize::from(c[2]),
                        dc_table: 0,
                        ac_table: 0,
                    });
                }
                let ids: Vec<u8> = components.iter().map(|c| c.id).collect();
                if ids == b"RGB" {
                    return Ok(None);
                }
                frame = Some((
                    u16::from_be_bytes([h0, h1]),
                    u16::from_be_bytes([w0, w1]),
                    components,
                ));
            }
            0xC2 | 0xC3 | 0xC5..=0xC7 | 0xC9..=0xCB | 0xCD..=0xCF | 0xD9 => return Ok(None),
            0xC4 => {
                let mut rest = &body[..];
                while let Some((&class_id, tail)) = rest.split_first() {
                    let (counts, tail) = tail.split_first_chunk::<16>().ok_or(())?;
                    let total: usize = counts.iter().map(|&c| usize::from(c)).sum();
                    let symbols = tail.get(..total).ok_or(())?.to_vec();
                    rest = &tail[total..];
                    let (class, id) = (class_id >> 4, usize::from(class_id & 15));
                    let table = Huffman::new(counts, symbols).ok_or(())?;
                    match (class, id) {
                        (0, 0..=3) => dc[id] = Some(table),
                        (1, 0..=3) => ac[id] = Some(table),
                        _ => return Ok(None),
                    }
                }
            }
            0xDB => {
                let mut rest = &body[..];
                while let Some((&pq_tq, tail)) = rest.split_first() {
                    let (id, wide) = (usize::from(pq_tq & 15), pq_tq >> 4 != 0);
                    let size = if wide { 128 } else { 64 };
                    let table = tail.get(..size).ok_or(())?;
                    let first = if wide {
                        i32::from(u16::from_be_bytes([table[0], table[1]]))
                    } else {
                        i32::from(table[0])
                    };
                    *dc_quant.get_mut(id).ok_or(())? = Some(first);
                    rest = &tail[size..];
                }
            }
            0xDD => {
                restart_interval =
                    u32::from(u16::from_be_bytes(*body.first_chunk::<2>().ok_or(())?));
            }
            // Adobe APP14 with transform 0: three components that are RGB, not YCbCr.
            0xEE if body.starts_with(b"Adobe") && body.get(11) == Some(&0) => adobe_rgb = true,
            0xDA => {
                let Some((width_height, mut components)) =
                    frame.take().map(|(h, w, c)| ((w, h), c))
                else {
                    return Ok(None);
                };
                let n = usize::from(*body.first().ok_or(())?);
                let specs = body.get(1..1 + 2 * n).ok_or(())?;
                let tail = body.get(1 + 2 * n..4 + 2 * n).ok_or(())?;
                if n != components.len() || tail != [0, 63, 0] || (adobe_rgb && n == 3) {
                    return Ok(None);
                }
                for (c, spec) in components.iter_mut().zip(specs.chunks_exact(2)) {
                    if c.id != spec[0] {
                        return Ok(None);
                    }
                    c.dc_table = usize::from(spec[1] >> 4);
                    c.ac_table = usize::from(spec[1] & 15);
                    let tables = dc.get(c.dc_table).is_some_and(Option::is_some)
                        && ac.get(c.ac_table).is_some_and(Option::is_some)
                        && dc_quant.get(c.quant).is_some_and(Option::is_some);
                    if !tables {
                        return Ok(None);
                    }
                }
                let (width, height) = width_height;
                if width == 0 || height == 0 {
                    return Ok(None);
                }
                src.recording = false;
                return Ok(Some(Header {
                    width,
                    height,
                    components,
                    dc_quant,
                    dc,
                    ac,
                    restart_interval,
                }));
            }
            _ => {}
        }
    }
}

/// The entropy-coded bits: `bits` holds `count` bits at its top. A marker ends the data: from
/// there on zeros are read (as libjpeg does with a truncated file).
struct Bits<'a, R> {
    src: &'a mut Source<R>,
    bits: u64,
    count: u32,
    at_marker: bool,
}

impl<R: Read> Bits<'_, R> {
    #[inline(always)]
    fn refill(&mut self) {
        (self.bits, self.count) = refill(self.src, &mut self.at_marker, self.bits, self.count);
    }

    /// Steps over a block's 63 AC coefficients. The bit buffer lives in locals here (the hot
    /// loop of the whole decode), written back on the way out.
    #[inline(always)]
    fn skip_ac(&mut self, table: &Huffman) -> Result<(), DecodeError> {
        let (mut bits, mut count) = (self.bits, self.count);
        let mut k = 1u32;
        while k < 64 {
            if count < 32 {
                (bits, count) = refill(self.src, &mut self.at_marker, bits, count);
            }
            let entry = table.multi[(bits >> (64 - MULTI_BITS)) as usize];
            let advance = u32::from((entry >> 4) & 63);
            let end = u32::from((entry >> 10) & 1);
            // Taken whole unless the block ends inside it (then one step at a time below).
            if entry != 0 && k + advance + end <= 64 {
                bits <<= u32::from(entry & 15);
                count -= u32::from(entry & 15);
                if end != 0 {
                    break;
                }
                k += advance;
                continue;
            }
            let entry = table.skip[(bits >> (64 - LOOKUP_BITS)) as usize];
            if entry != 0 {
                let n = u32::from(entry & 31);
                bits <<= n;
                count -= n;
                if entry & 1 << 10 != 0 {
                    break;
                }
                k += u32::from((entry >> 5) & 31);
                continue;
            }
            (self.bits, self.count) = (bits, count);
            let rs = self.symbol(table)?;
            let (run, size) = (u32::from(rs >> 4), u32::from(rs & 15));
            if size == 0 && run != 15 {
                (bits, count) = (self.bits, self.count);
                break;
            }
            self.take(size);
            k += if size == 0 { 16 } else { run + 1 };
            (bits, count) = (self.bits, self.count);
        }
        (self.bits, self.count) = (bits, count);
        Ok(())
    }

    #[inline(always)]
    fn consume(&mut self, n: u32) {
        self.bits <<= n;
        self.count -= n;
    }

    #[inline(always)]
    fn symbol(&mut self, table: &Huffman) -> Result<u8, DecodeError> {
        if self.count < 16 {
            self.refill();
        }
        let top = (self.bits >> 48) as u32;
        let (len, symbol) = table.lookup[(top >> (16 - LOOKUP_BITS)) as usize];
        if len != 0 {
            self.consume(u32::from(len));
            return Ok(symbol);
        }
        for len in LOOKUP_BITS + 1..=16 {
            let code = (top >> (16 - len)) as i32;
            if code <= table.max_code[len as usize] {
                self.consume(len);
                let at = (code + table.offset[len as usize]) as usize;
                return table
                    .symbols
                    .get(at)
                    .copied()
                    .ok_or_else(|| damaged("bad Huffman code"));
            }
        }
        Err(damaged("bad Huffman code"))
    }

    /// `n` (≤ 16) raw bits.
    #[inline(always)]
    fn take(&mut self, n: u32) -> u32 {
        if n == 0 {
            return 0;
        }
        if self.count < n {
            self.refill();
        }
        let v = (self.bits >> (64 - n)) as u32;
        self.consume(n);
        v
    }

    /// After a restart interval: drop the bits left and step over the RSTn marker.
    fn restart(&mut self) {
        let s = &mut *self.src;
        // The bits buffered past the marker were zeros read at it; whole bytes before it that
        // were buffered belong to the interval just ended.
        self.bits = 0;
        self.count = 0;
        self.at_marker = false;
        while let Some(b) = s.byte() {
            if b == 0xFF {
                let mut m = s.byte();
                while m == Some(0xFF) {
                    m = s.byte();
                }
                if matches!(m, Some(0xD0..=0xD7)) {
                    return;
                }
                if m != Some(0) {
                    // Some other marker: the data ends here; read zeros from now on.
                    self.at_marker = true;
                    return;
                }
            }
        }
    }
}

/// Tops `bits` (holding `count` bits at its top) up to more than 56 bits: eight bytes at once
/// when none of them is 0xFF.
#[inline(always)]
fn refill<R: Read>(s: &mut Source<R>, at_marker: &mut bool, bits: u64, count: u32) -> (u64, u32) {
    if let Some(next) = s.buf.get(s.pos..s.pos + 8).filter(|_| s.pos + 8 <= s.len) {
        let word = u64::from_be_bytes(next.try_into().unwrap_or([0xFF; 8]));
        let inverted = !word;
        if inverted.wrapping_sub(0x0101_0101_0101_0101) & !inverted & 0x8080_8080_8080_8080 == 0 {
            let bytes = (64 - count) / 8;
            let total = count + 8 * bytes;
            let chunk = word >> count;
            let chunk = if total >= 64 {
                chunk
            } else {
                chunk & !(u64::MAX >> total)
            };
            s.pos += bytes as usize;
            return (bits | chunk, total);
        }
    }
    refill_slowly(s, at_marker, bits, count)
}

/// [`refill`] a byte at a time: near a marker, a stuffed 0xFF or the buffer's end. From a
/// marker on, zeros.
#[cold]
fn refill_slowly<R: Read>(
    s: &mut Source<R>,
    at_marker: &mut bool,
    mut bits: u64,
    mut count: u32,
) -> (u64, u32) {
    while count <= 56 {
        if s.len - s.pos < 8 {
            s.fill();
        }
        let byte = if *at_marker || s.pos >= s.len {
            0
        } else if s.buf[s.pos] != 0xFF {
            s.pos += 1;
            s.buf[s.pos - 1]
        } else if s.pos + 1 < s.len && s.buf[s.pos + 1] == 0 {
            s.pos += 2;
            0xFF
        } else {
            *at_marker = true;
            0
        };
        bits |= u64::from(byte) << (56 - count);
        count += 8;
    }
    (bits, count)
}

fn damaged(what: &str) -> DecodeError {
    DecodeError::Damaged(what.into())
}

fn extend(v: u32, n: u32) -> i32 {
    if n == 0 {
        0
    } else if v < 1 << (n - 1) {
        v as i32 - (1 << n) + 1
    } else {
        v as i32
    }
}

/// Walks the scan, keeping each block's DC value as one pixel of its component's plane.
fn decode_scan<R: Read>(src: &mut Source<R>, header: &Header) -> Result<DynamicImage, DecodeError> {
    let comps = &header.components;
    let h_max = comps.iter().map(|c| c.h).max().unwrap_or(1);
    let v_max = comps.iter().map(|c| c.v).max().unwrap_or(1);
    let (width, height) = (usize::from(header.width), usize::from(header.height));
    let mcus_x = width.div_ceil(8 * h_max);
    let mcus_y = height.div_ceil(8 * v_max);
    let strides: Vec<usize> = comps.iter().map(|c| mcus_x * c.h).collect();
    let mut planes: Vec<Vec<u8>> = comps
        .iter()
        .zip(&strides)
        .map(|(c, &stride)| vec![128u8; stride * mcus_y * c.v])
        .collect();
    let mut predictors = vec![0i32; comps.len()];
    let tables: Vec<(&Huffman, &Huffman, i32)> = comps
        .iter()
        .map(|c| {
            let dc = header.dc[c.dc_table].as_ref();
            let ac = header.ac[c.ac_table].as_ref();
            let q = header.dc_quant[c.quant];
            match (dc, ac, q) {
                (Some(dc), Some(ac), Some(q)) => Ok((dc, ac, q)),
                _ => Err(damaged("missing table")),
            }
        })
        .collect::<Result<_, _>>()?;
    let mut bits = Bits {
        src,
        bits: 0,
        count: 0,
        at_marker: false,
    };
    let restart = header.restart_interval as usize;
    let mut mcu = 0usize;
    for my in 0..mcus_y {
        for mx in 0..mcus_x {
            if restart != 0 && mcu != 0 && mcu % restart == 0 {
                bits.restart();
                predictors.iter_mut().for_each(|p| *p = 0);
            }
            mcu += 1;
            for (ci, c) in comps.iter().enumerate() {
                let (dc_table, ac_table, q) = tables[ci];
                for by in 0..c.v {
                    for bx in 0..c.h {
                        let s = u32::from(bits.symbol(dc_table)?);
                        if s > 11 {
                            return Err(damaged("bad DC coefficient"));
                        }
                        let diff = extend(bits.take(s), s);
                        predictors[ci] = predictors[ci].wrapping_add(diff);
                        bits.skip_ac(ac_table)?;
                        // The 1×1 inverse DCT: (DC · q) / 8, shifted by 128.
                        let value = (i64::from(predictors[ci]) * i64::from(q) + 1024) / 8;
                        let x = mx * c.h + bx;
                        let y = my * c.v + by;
                        planes[ci][y * strides[ci] + x] = value.clamp(0, 255) as u8;
                    }
                }
            }
        }
    }
    let (out_w, out_h) = (width.div_ceil(8), height.div_ceil(8));
    let short = || damaged("truncated pixel data");
    if comps.len() == 1 {
        let mut grey = Vec::with_capacity(out_w * out_h);
        for y in 0..out_h {
            grey.extend_from_slice(&planes[0][y * strides[0]..][..out_w]);
        }
        return GrayImage::from_raw(out_w as u32, out_h as u32, grey)
            .map(DynamicImage::ImageLuma8)
            .ok_or_else(short);
    }
    let mut rgb = Vec::with_capacity(out_w * out_h * 3);
    for y in 0..out_h {
        for x in 0..out_w {
            let sample = |ci: usize| {
                let c = &comps[ci];
                let (sx, sy) = (x * c.h / h_max, y * c.v / v_max);
                planes[ci][sy * strides[ci] + sx]
            };
            rgb.extend_from_slice(&ycbcr_to_rgb(sample(0), sample(1), sample(2)));
        }
    }
    RgbImage::from_raw(out_w as u32, out_h as u32, rgb)
        .map(DynamicImage::ImageRgb8)
        .ok_or_else(short)
}

/// JFIF's YCbCr to RGB, in the same fixed point as `jpeg-decoder`.
fn ycbcr_to_rgb(y: u8, cb: u8, cr: u8) -> [u8; 3] {
    const SHIFT: i32 = 20;
    let f = |x: f32| (x * (1 << SHIFT) as f32 + 0.5) as i32;
    let y = i32::from(y) * (1 << SHIFT) + (1 << (SHIFT - 1));
    let (cb, cr) = (i32::from(cb) - 128, i32::from(cr) - 128);
    let clamp = |v: i32| (v >> SHIFT).clamp(0, 255) as u8;
    [
        clamp(y + f(1.402) * cr),
        clamp(y - f(0.344_14) * cb - f(0.714_14) * cr),
        clamp(y + f(1.772) * cb),
    ]
}

#[cfg(test)]
mod tests;
