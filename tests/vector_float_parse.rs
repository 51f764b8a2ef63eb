//! Float arrays read from upstream responses: each number correctly rounded to float32, the
//! same as Rust's own `str::parse::<f32>` (correctly rounded, the oracle), on generated
//! spellings that take the fast path (short mantissas, small exponents) and that miss it
//! (long mantissas, large exponents, subnormals, f32 rounding midpoints).

use embedguard::decode_response;

/// SplitMix64, seeded, so that a failure reproduces.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// A JSON number of some shape.
fn number(rng: &mut Rng) -> String {
    let mut s = String::new();
    if rng.below(2) == 0 {
        s.push('-');
    }
    match rng.below(4) {
        // What upstreams send: a float32 printed shortest, or to 9-10 places.
        0 => {
            let v = f32::from_bits(rng.next() as u32 & 0x3FFF_FFFF) / 4.0;
            s += &format!("{}", v.abs());
        }
        1 => s += &format!("0.{:010}", rng.below(10_000_000_000)),
        // The exact decimal midpoint between two adjacent float32s (long: the slow path).
        2 => {
            let lo = f32::from_bits(rng.below(0x7F00_0000) as u32);
            let hi = f32::from_bits(lo.to_bits() + 1);
            let mid = (f64::from(lo) + f64::from(hi)) / 2.0;
            s += &format!("{mid:e}");
        }
        // Digits and an exponent of any size.
        _ => {
            let digits = 1 + rng.below(24);
            let point = rng.below(digits + 1);
            for k in 0..digits {
                if k == point && k > 0 {
                    s.push('.');
                }
                let d = if k == 0 && digits > 1 && point != 1 {
                    1 + rng.below(9)
                } else {
                    rng.below(10)
                };
                s.push(char::from(b'0' + d as u8));
            }
            if rng.below(2) == 0 {
                let e = rng.below(90) as i64 - 50;
                s += &format!("{}{e}", if rng.below(2) == 0 { 'e' } else { 'E' });
            }
        }
    }
    s
}

#[test]
fn numbers_read_as_float32_correctly_rounded() {
    let mut rng = Rng(0x5EED);
    for _ in 0..200 {
        let numbers: Vec<String> = (0..500).map(|_| number(&mut rng)).collect();
        let expected: Vec<Option<f32>> = numbers
            .iter()
            .map(|n| n.parse::<f32>().ok().filter(|v| v.is_finite()))
            .collect();
        // Out-of-range numbers are an error; keep the finite ones.
        let kept: Vec<(&String, f32)> = numbers
            .iter()
            .zip(&expected)
            .filter_map(|(n, e)| e.map(|v| (n, v)))
            .collect();
        let array = kept
            .iter()
            .map(|(n, _)| n.as_str())
            .collect::<Vec<_>>()
            .join(",");
        let body = format!(
            r#"{{"object":"list","data":[{{"object":"embedding","index":0,"embedding":[{array}]}}],"model":"m","usage":{{"prompt_tokens":1,"total_tokens":1}}}}"#
        );
        let decoded = decode_response(body.as_bytes()).expect("a valid response");
        let got = &decoded.vectors[0];
        assert_eq!(got.len(), kept.len());
        for (v, (n, want)) in got.iter().zip(&kept) {
            assert_eq!(v.to_bits(), want.to_bits(), "{n}");
        }
    }
}
