//! Vectors: float32 <-> base64 and JSON float arrays, and shortening to `dimensions`.
//!
//! The base64 form is the standard, padded base64 (alphabet `+/`) of the vector's float32
//! values in little-endian byte order, 4 bytes a value: what OpenAI sends for
//! `encoding_format: "base64"`. The float form is a JSON array, each value printed as the
//! shortest decimal that reads back to the same float32.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::json::Reader;

/// Why a vector could not be encoded, decoded or shortened.
///
/// Offsets are byte offsets into the base64 text; indices are positions in the vector.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum VectorError {
    /// A byte that is not in the standard base64 alphabet (`A-Z a-z 0-9 + /`), or `=` where
    /// no padding may be: URL-safe `-` and `_`, whitespace and line breaks all land here.
    #[error("invalid base64: unexpected byte {byte:#04x} at offset {offset}")]
    Base64Byte {
        /// Where it is.
        offset: usize,
        /// The byte.
        byte: u8,
    },
    /// The text ends with a single symbol, which holds no whole byte.
    #[error("invalid base64: {symbols} symbols leave one over, which holds no whole byte")]
    Base64Length {
        /// How many symbols the text has.
        symbols: usize,
    },
    /// Padding is missing, or there is more of it than the length calls for.
    #[error("invalid base64: padding is missing or not canonical")]
    Base64Padding,
    /// The last symbol before the padding has bits set that encode nothing, so the text
    /// is not the canonical encoding of its bytes.
    #[error("invalid base64: the symbol {byte:#04x} at offset {offset} has non-zero trailing bits")]
    Base64TrailingBits {
        /// Where the symbol is.
        offset: usize,
        /// The symbol.
        byte: u8,
    },
    /// The base64 text is valid but its bytes are not a whole number of float32 values.
    #[error("base64 byte count {bytes} is not a multiple of 4 (float32 values are 4 bytes each)")]
    PartialValue {
        /// How many bytes it decodes to.
        bytes: usize,
    },
    /// NaN or an infinity, which have no JSON form (written as `null` by some encoders;
    /// never here).
    #[error("value {index} is {value}, which has no JSON form")]
    NonFinite {
        /// Position of the value in the vector.
        index: usize,
        /// The value.
        value: f32,
    },
    /// An item of a JSON float array that is not a number.
    #[error("value {index} is not a number")]
    NotANumber {
        /// Position of the item in the array.
        index: usize,
    },
    /// A JSON number too large for a float32: it would read as an infinity.
    #[error("value {index} is out of float32 range")]
    OutOfRange {
        /// Position of the item in the array.
        index: usize,
    },
    /// An `embedding` that is neither a JSON array of numbers nor a base64 string.
    #[error("the embedding is neither an array of numbers nor a base64 string")]
    NotAVector,
    /// Asked to shorten a vector to more dimensions than it has.
    #[error("cannot shorten a vector of length {len} to length {dimensions}")]
    TooShort {
        /// How many values the vector has.
        len: usize,
        /// The dimensions asked for.
        dimensions: usize,
    },
}

impl From<base64::DecodeError> for VectorError {
    fn from(err: base64::DecodeError) -> Self {
        use base64::DecodeError::*;
        match err {
            InvalidByte(offset, byte) => VectorError::Base64Byte { offset, byte },
            InvalidLength(symbols) => VectorError::Base64Length { symbols },
            InvalidLastSymbol(offset, byte) => VectorError::Base64TrailingBits { offset, byte },
            InvalidPadding => VectorError::Base64Padding,
        }
    }
}

/// The length of the base64 text of a vector of `dims` float32 values, padding included.
///
/// Exact for any `dims` a slice of `f32` can have; saturates at `usize::MAX` beyond.
///
/// ```
/// use embedguard::base64_len;
/// assert_eq!(base64_len(0), 0);
/// assert_eq!(base64_len(1), 8); // 4 bytes: "AACAPw=="
/// assert_eq!(base64_len(2), 12); // 8 bytes: one '='
/// assert_eq!(base64_len(3), 16); // 12 bytes: no padding
/// assert_eq!(base64_len(3072), 16384);
/// assert_eq!(base64_len(usize::MAX), usize::MAX);
/// ```
pub const fn base64_len(dims: usize) -> usize {
    // 3 values are 12 bytes are 16 symbols; 1 value is 8 symbols, 2 are 12 (both padded).
    let tail = match dims % 3 {
        0 => 0,
        1 => 8,
        _ => 12,
    };
    (dims / 3).saturating_mul(16).saturating_add(tail)
}

/// Values per chunk when encoding: 192 values are 768 bytes, a multiple of 3, so only the
/// last chunk can need padding.
const ENCODE_CHUNK: usize = 192;

/// The base64 text of a vector.
///
/// Bit-exact for every float32, NaN payloads, `-0.0` and subnormals included.
///
/// ```
/// use embedguard::encode_base64;
/// assert_eq!(encode_base64(&[1.0]), "AACAPw==");
/// assert_eq!(encode_base64(&[1.0, -2.0, 0.5]), "AACAPwAAAMAAAAA/");
/// assert_eq!(encode_base64(&[]), "");
/// ```
pub fn encode_base64(values: &[f32]) -> String {
    let mut out = String::new();
    encode_base64_into(values, &mut out);
    out
}

/// Appends the base64 text of a vector to `out`, reserving exactly what it needs.
///
/// ```
/// use embedguard::encode_base64_into;
/// let mut out = String::from("\"");
/// encode_base64_into(&[f32::from_bits(0x7fc0_0001)], &mut out);
/// out.push('"');
/// assert_eq!(out, "\"AQDAfw==\"");
/// ```
pub fn encode_base64_into(values: &[f32], out: &mut String) {
    out.reserve(base64_len(values.len()));
    let mut bytes = [0u8; ENCODE_CHUNK * 4];
    for chunk in values.chunks(ENCODE_CHUNK) {
        for (dst, v) in bytes.chunks_exact_mut(4).zip(chunk) {
            dst.copy_from_slice(&v.to_le_bytes());
        }
        STANDARD.encode_string(&bytes[..chunk.len() * 4], out);
    }
}

/// Decodes the base64 text of a vector, strictly.
///
/// Only the canonical text is accepted: the standard alphabet (`+/`, not URL-safe `-_`), no
/// whitespace or line breaks, padding present and exact, no stray bits in the last symbol,
/// and a whole number of 4-byte values.
///
/// ```
/// use embedguard::{VectorError, decode_base64};
/// assert_eq!(decode_base64("AACAPwAAAMA=").unwrap(), [1.0, -2.0]);
/// assert_eq!(decode_base64("AACAPwAAAMA").unwrap_err(), VectorError::Base64Padding);
/// assert_eq!(
///     decode_base64("AACAPwAA").unwrap_err().to_string(),
///     "base64 byte count 6 is not a multiple of 4 (float32 values are 4 bytes each)"
/// );
/// ```
pub fn decode_base64(text: &str) -> Result<Vec<f32>, VectorError> {
    let mut out = Vec::new();
    decode_base64_into(text, &mut out)?;
    Ok(out)
}

/// Decodes the base64 text of a vector and appends its values to `out`.
///
/// As strict as [`decode_base64`]; on error `out` is left as it was.
///
/// ```
/// use embedguard::decode_base64_into;
/// let mut values = vec![0.25];
/// decode_base64_into("AACAPw==", &mut values).unwrap();
/// assert_eq!(values, [0.25, 1.0]);
/// assert!(decode_base64_into("AACAPw-=", &mut values).is_err());
/// assert_eq!(values, [0.25, 1.0]);
/// ```
pub fn decode_base64_into(text: &str, out: &mut Vec<f32>) -> Result<(), VectorError> {
    let bytes = STANDARD.decode(text)?;
    if bytes.len() % 4 != 0 {
        return Err(VectorError::PartialValue { bytes: bytes.len() });
    }
    out.extend(
        bytes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])),
    );
    Ok(())
}

/// The JSON array of a vector, each value the shortest decimal that reads back to the same
/// float32.
///
/// Values are printed by zmij (the shortest-round-trip printer serde_json uses) on the
/// float32 itself, never widened to f64 first: integral
/// values keep a fraction (`1.0`, `-0.0`), very large and very small magnitudes use an
/// exponent without a `+` (`1e-7`, `1e13`, `3.4028235e38`). NaN and infinities
/// have no JSON form: they are an error, never `null`.
///
/// ```
/// use embedguard::encode_float_array;
/// assert_eq!(encode_float_array(&[1.0, -0.0, 0.1, 1e-7]).unwrap(), "[1.0,-0.0,0.1,1e-7]");
/// assert_eq!(
///     encode_float_array(&[0.5, f32::NAN]).unwrap_err().to_string(),
///     "value 1 is NaN, which has no JSON form"
/// );
/// ```
pub fn encode_float_array(values: &[f32]) -> Result<String, VectorError> {
    let mut out = String::new();
    encode_float_array_into(values, &mut out)?;
    Ok(out)
}

/// Appends the JSON array of a vector to `out`; see [`encode_float_array`].
///
/// On error `out` is left as it was.
///
/// ```
/// use embedguard::encode_float_array_into;
/// let mut out = String::from(r#"{"embedding":"#);
/// encode_float_array_into(&[0.25, 3.0], &mut out).unwrap();
/// assert_eq!(out, r#"{"embedding":[0.25,3.0]"#);
/// assert!(encode_float_array_into(&[f32::INFINITY], &mut out).is_err());
/// assert_eq!(out, r#"{"embedding":[0.25,3.0]"#);
/// ```
pub fn encode_float_array_into(values: &[f32], out: &mut String) -> Result<(), VectorError> {
    // No float32 prints longer than 15 characters (`-1.00000005e-38`), plus the comma: room
    // for the longest, so the text is never copied to grow (unit-vector values take 12-14).
    out.reserve(values.len().saturating_mul(16).saturating_add(2));
    // One branch-free pass (it vectorizes) before looking for which value it was, which also
    // tells whether any value is large enough for an exponent: the common case then prints
    // without a test a value (6-7% faster on a 3072-value vector).
    let exponent = |v: &f32| v.to_bits() & 0x7F80_0000;
    let (any_non_finite, any_large) = values.iter().fold((false, false), |(bad, large), v| {
        (
            bad | (exponent(v) == 0x7F80_0000),
            large | (v.abs() >= 1e12),
        )
    });
    if let Some(index) = any_non_finite
        .then(|| values.iter().position(|v| !v.is_finite()))
        .flatten()
    {
        return Err(VectorError::NonFinite {
            index,
            value: values[index],
        });
    }
    out.push('[');
    let mut buffer = zmij::Buffer::new();
    let mut values = values.iter();
    if let Some(&first) = values.next() {
        push_float(&mut buffer, first, any_large, out);
    }
    for &value in values {
        out.push(',');
        push_float(&mut buffer, value, any_large, out);
    }
    out.push(']');
    Ok(())
}

/// Appends one finite value; `may_be_large` when some value of the vector is 1e12 or more.
#[inline(always)]
fn push_float(buffer: &mut zmij::Buffer, value: f32, may_be_large: bool, out: &mut String) {
    let printed = buffer.format_finite(value);
    // zmij writes `1e+13` where the contract (and ryu) write `1e13`; exponents are positive
    // only from 1e13 up.
    match (may_be_large && value.abs() >= 1e12)
        .then(|| printed.split_once('+'))
        .flatten()
    {
        Some((mantissa, exponent)) => {
            out.push_str(mantissa);
            out.push_str(exponent);
        }
        None => out.push_str(printed),
    }
}

/// Parses the text of a JSON array of numbers, each read as a float32 exactly (correctly
/// rounded from the decimal, never double-rounded through f64), appending the values to
/// `out`.
///
/// Strict: `text` must be a JSON array of numbers, each in float32 range, else an error
/// (the quick upstream reader relies on it). On error `out` is left as it was.
pub(crate) fn decode_float_array_into(text: &str, out: &mut Vec<f32>) -> Result<(), VectorError> {
    let start = out.len();
    let result = parse_float_array(text.trim_matches(is_json_space), out);
    if result.is_err() {
        out.truncate(start);
    }
    result
}

fn is_json_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r')
}

fn parse_float_array(text: &str, out: &mut Vec<f32>) -> Result<(), VectorError> {
    let Some(inner) = text.strip_prefix('[').and_then(|t| t.strip_suffix(']')) else {
        return Err(VectorError::NotAVector);
    };
    let bytes = inner.as_bytes();
    let skip_space = |mut i: usize| {
        while i < bytes.len() && matches!(bytes[i], b' ' | b'\t' | b'\n' | b'\r') {
            i += 1;
        }
        i
    };
    let mut i = skip_space(0);
    if i == bytes.len() {
        return Ok(());
    }
    for index in 0.. {
        let start = i;
        let value = match exact_f64(bytes, start) {
            Some((x, end)) => {
                i = end;
                match f32_of(x) {
                    Some(v) => v,
                    None => {
                        parse_f32(&inner[start..end]).ok_or(VectorError::NotANumber { index })?
                    }
                }
            }
            None => {
                // JSON's grammar, which Rust's parser (taking `1.`, `+1`, `inf`) is looser than.
                let mut reader = Reader::at(bytes, start);
                let number = reader
                    .number()
                    .map_err(|_| VectorError::NotANumber { index })?;
                i = reader.pos;
                parse_f32(number.text).ok_or(VectorError::NotANumber { index })?
            }
        };
        if value.is_infinite() {
            return Err(VectorError::OutOfRange { index });
        }
        out.push(value);
        i = skip_space(i);
        match bytes.get(i) {
            None => break,
            Some(b',') => i = skip_space(i + 1),
            Some(_) => return Err(VectorError::NotANumber { index }),
        }
    }
    Ok(())
}

/// A JSON number read as a float32, correctly rounded (infinite when too large).
///
/// Rust's parsers accept every JSON number and round correctly, but the f32 parser's fast
/// path takes only mantissas below 2^24, which misses most 9-digit values; the f64 parser's
/// takes them all. So read as f64 first: `x` is the decimal `d` correctly rounded to f64.
/// Every point where float32 rounding changes direction (the midpoint between two adjacent
/// normal f32 values, or the one past `f32::MAX`) is itself an f64, and rounding is
/// monotone, so unless `x` lands exactly on such a midpoint, `d` and `x` lie on the same
/// side of all of them and round to the same f32. Midpoints (the low 29 bits of the f64
/// fraction are `1 << 28`) and the subnormal range are read again as f32, directly.
fn parse_f32(number: &str) -> Option<f32> {
    let x: f64 = number.parse().ok()?;
    f32_of(x).or_else(|| number.parse().ok())
}

/// The float32 of the decimal whose correct f64 rounding is `x`, unless `x` is an f32
/// rounding midpoint or subnormal in f32 (see [`parse_f32`]): then the decimal must be read
/// again.
#[inline]
fn f32_of(x: f64) -> Option<f32> {
    let bits = x.to_bits();
    let normal = x.abs() >= f64::from(f32::MIN_POSITIVE);
    (x == 0.0 || (normal && bits & 0x1fff_ffff != 0x1000_0000)).then_some(x as f32)
}

/// The JSON number at `b[i..]` correctly rounded to f64, and where it ends, when that takes
/// one operation (Clinger's fast path: at most 19 digits making a mantissa up to 2^53, and a
/// power of ten up to 22, all exact in f64, so one IEEE multiplication or division rounds
/// correctly); `None` otherwise. Embedding values (`-0.012345678`) all take it, several
/// times faster than the general parser.
#[inline]
fn exact_f64(b: &[u8], mut i: usize) -> Option<(f64, usize)> {
    const POW10: [f64; 23] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
        1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
    ];
    let negative = b.get(i) == Some(&b'-');
    i += usize::from(negative);
    let (mut mantissa, mut digits, mut exponent) = (0u64, 0u32, 0i64);
    let run = digit_run(b, i, &mut mantissa);
    // No digits, or a leading zero (`01`, not JSON): the general path decides.
    if run == 0 || (run > 1 && b[i] == b'0') {
        return None;
    }
    digits += run as u32;
    i += run;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let before = digits;
        let run = digit_run(b, i, &mut mantissa);
        digits += run as u32;
        exponent -= run as i64;
        i += run;
        if digits == before {
            return None;
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        let sign = match b.get(i) {
            Some(b'-') => {
                i += 1;
                -1
            }
            Some(b'+') => {
                i += 1;
                1
            }
            _ => 1,
        };
        let (mut e, mut e_digits) = (0i64, 0);
        while let Some(d) = b.get(i).map(|c| c.wrapping_sub(b'0')).filter(|&d| d < 10) {
            e = (e * 10 + i64::from(d)).min(1 << 20);
            e_digits += 1;
            i += 1;
        }
        if e_digits == 0 {
            return None;
        }
        exponent += sign * e;
    }
    // 19 digits cannot overflow u64; the number must end here.
    let ends = b
        .get(i)
        .is_none_or(|c| matches!(c, b',' | b' ' | b'\t' | b'\n' | b'\r'));
    if !ends || digits > 19 || mantissa > 1 << 53 || exponent.abs() > 22 {
        return None;
    }
    let m = mantissa as f64;
    let x = if exponent < 0 {
        m / POW10[exponent.unsigned_abs() as usize]
    } else {
        m * POW10[exponent as usize]
    };
    Some((if negative { -x } else { x }, i))
}

/// Appends the run of decimal digits at `b[i..]` to `mantissa` (wrapping: the caller
/// rejects more than 19 digits) and returns its length. Eight digits at a time while there
/// are eight: an embedding value's fraction is 8 to 10 digits.
#[inline(always)]
fn digit_run(b: &[u8], start: usize, mantissa: &mut u64) -> usize {
    let mut i = start;
    while let Some(chunk) = b.get(i..).and_then(|t| t.first_chunk::<8>()) {
        let w = u64::from_le_bytes(*chunk);
        // Every byte is 0x30-0x39: its high nibble is 3, and adding 6 keeps it 3.
        let high = 0xF0F0_F0F0_F0F0_F0F0;
        if (w & high) | ((w.wrapping_add(0x0606_0606_0606_0606) & high) >> 4)
            != 0x3333_3333_3333_3333
        {
            break;
        }
        // Pairs, then fours, then all eight digits, first digit highest.
        let v = (w & 0x0F0F_0F0F_0F0F_0F0F).wrapping_mul(2561) >> 8;
        let v = (v & 0x00FF_00FF_00FF_00FF).wrapping_mul(6_553_601) >> 16;
        let v = (v & 0x0000_FFFF_0000_FFFF).wrapping_mul(42_949_672_960_001) >> 32;
        *mantissa = mantissa.wrapping_mul(100_000_000).wrapping_add(v);
        i += 8;
    }
    while let Some(d) = b.get(i).map(|c| c.wrapping_sub(b'0')).filter(|&d| d < 10) {
        *mantissa = mantissa.wrapping_mul(10).wrapping_add(u64::from(d));
        i += 1;
    }
    i - start
}

/// Shortens a vector to `dimensions` values, as OpenAI's `dimensions` does: keeps the first
/// `dimensions` values, then scales them to unit L2 norm. A zero vector stays zero.
///
/// The norm is summed in f64, exact enough that the result has unit norm to within float32
/// rounding for any finite input (no overflow or underflow: f32 squares fit in f64). A
/// vector holding NaN or an infinity comes out non-finite. Shortening to the vector's own
/// length just normalizes it; to more than its length is an error and leaves it unchanged.
///
/// ```
/// use embedguard::shorten;
/// let mut v = vec![3.0, 4.0, 12.0];
/// shorten(&mut v, 2).unwrap();
/// assert_eq!(v, [0.6, 0.8]);
///
/// let mut zero = vec![0.0; 4];
/// shorten(&mut zero, 2).unwrap();
/// assert_eq!(zero, [0.0, 0.0]);
///
/// assert_eq!(
///     shorten(&mut v, 3).unwrap_err().to_string(),
///     "cannot shorten a vector of length 2 to length 3"
/// );
/// ```
pub fn shorten(vector: &mut Vec<f32>, dimensions: usize) -> Result<(), VectorError> {
    if dimensions > vector.len() {
        return Err(VectorError::TooShort {
            len: vector.len(),
            dimensions,
        });
    }
    vector.truncate(dimensions);
    let norm = vector
        .iter()
        .map(|&v| f64::from(v) * f64::from(v))
        .sum::<f64>()
        .sqrt();
    if norm != 0.0 {
        for v in vector.iter_mut() {
            *v = (f64::from(*v) / norm) as f32;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{VectorError, decode_float_array_into, digit_run};

    /// The float parser is a JSON parser: what JSON's grammar refuses and Rust's number
    /// parser would take is an error, named by its index; JSON numbers of every form are read.
    #[test]
    fn float_arrays_are_read_strictly() {
        for (text, index) in [
            ("[01]", 0),
            ("[-01.5]", 0),
            ("[0.5,00]", 1),
            ("[1.]", 0),
            ("[.5]", 0),
            ("[+1]", 0),
            ("[1e]", 0),
            ("[1e+]", 0),
            ("[-]", 0),
            ("[inf]", 0),
            ("[NaN]", 0),
            ("[0x10]", 0),
            ("[1,]", 1),
            ("[,1]", 0),
            ("[1 2]", 0),
            ("[1,true]", 1),
            ("[\"1\"]", 0),
        ] {
            let mut out = vec![7.0];
            assert_eq!(
                decode_float_array_into(text, &mut out),
                Err(VectorError::NotANumber { index }),
                "{text}"
            );
            assert_eq!(out, [7.0], "{text}: left as it was");
        }
        let mut out = Vec::new();
        decode_float_array_into(
            " [0, -0, 0.5, -1.25e-3, 1E2, 2e+1, 1234567890123456789012, 1e-40] ",
            &mut out,
        )
        .unwrap();
        assert_eq!(
            out,
            [
                0.0,
                -0.0,
                0.5,
                -1.25e-3,
                100.0,
                20.0,
                1_234_567_890_123_456_789_012.0,
                1e-40
            ]
        );
        assert!(out[1].is_sign_negative());
    }

    /// Eight digits at a time reads what one at a time does: every run length up to 24,
    /// followed by every byte (the ones beside `0` and `9` in ASCII among them).
    #[test]
    fn digit_run_reads_as_one_digit_at_a_time() {
        for len in 0..=24usize {
            let digits: Vec<u8> = (0..len).map(|k| b"9071234568"[k % 10]).collect();
            for after in 0..=255u8 {
                let mut text = digits.clone();
                text.push(after);
                text.extend_from_slice(b"12345678");
                let (mut slow, mut run) = (0u64, 0);
                for &c in text.iter().take_while(|c| c.is_ascii_digit()) {
                    slow = slow.wrapping_mul(10).wrapping_add(u64::from(c - b'0'));
                    run += 1;
                }
                let mut fast = 0;
                assert_eq!(
                    digit_run(&text, 0, &mut fast),
                    run,
                    "{len} then {after:#04x}"
                );
                assert_eq!(fast, slow, "{len} then {after:#04x}");
            }
        }
    }
}
