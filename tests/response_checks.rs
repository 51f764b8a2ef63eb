//! The contract's check of upstream answers ("Response side"): one vector per input sent,
//! each of the expected length, finite; the client's usage is the gateway's own count.
//! Valid split answers merge; any one corruption of them is the named error, never a 200.

use embedguard::{
    EncodingFormat, ResponseError, ResponseTarget, UpstreamPart, Usage, UsageSource, VectorError,
    decode_response, encode_base64, encode_float_array, encode_response, merge_responses,
    merge_responses_into,
};
use proptest::prelude::*;

/// One item of an upstream's `data`: its index and its embedding's JSON text.
type Item = (usize, String);

/// A client request and valid upstream answers to it, split at `starts`.
#[derive(Debug, Clone)]
struct Case {
    native: usize,
    dimensions: Option<usize>,
    counts: Vec<usize>,
    /// What the upstreams sent, per input (native or `dimensions` long).
    vectors: Vec<Vec<f32>>,
    starts: Vec<usize>,
    /// Per part, items in the order the upstream wrote them.
    items: Vec<Vec<Item>>,
    format: EncodingFormat,
}

impl Case {
    fn target(&self) -> ResponseTarget<'_> {
        ResponseTarget::new("m", self.native, &self.counts)
            .with_dimensions(self.dimensions)
            .with_encoding_format(self.format)
    }

    fn bodies(&self, usage: &[Option<(u32, u32)>]) -> Vec<String> {
        self.items
            .iter()
            .enumerate()
            .map(|(p, items)| {
                let data: Vec<String> = items
                    .iter()
                    .map(|(i, e)| {
                        format!(r#"{{"object":"embedding","index":{i},"embedding":{e}}}"#)
                    })
                    .collect();
                let usage = match usage.get(p).copied().flatten() {
                    Some((a, b)) => {
                        format!(r#","usage":{{"prompt_tokens":{a},"total_tokens":{b}}}"#)
                    }
                    None => String::new(),
                };
                format!(
                    r#"{{"object":"list","data":[{}],"model":"up"{usage}}}"#,
                    data.join(",")
                )
            })
            .collect()
    }

    /// Where input `index` is: its part and its position there.
    fn locate(&self, index: usize) -> (usize, usize) {
        let part = self.starts.iter().rposition(|&s| s <= index).unwrap();
        (part, index - self.starts[part])
    }
}

fn merge(case: &Case, bodies: &[String]) -> Result<String, ResponseError> {
    let parts: Vec<UpstreamPart<'_>> = case
        .starts
        .iter()
        .zip(bodies)
        .map(|(&start, body)| UpstreamPart::new(start, body.as_bytes()))
        .collect();
    merge_responses(&parts, &case.target())
}

fn embedding(values: &[f32], base64: bool) -> String {
    if base64 {
        format!("\"{}\"", encode_base64(values))
    } else {
        encode_float_array(values).unwrap()
    }
}

fn case() -> impl Strategy<Value = Case> {
    (1usize..10, 1usize..7)
        .prop_flat_map(|(n, native)| {
            (
                Just(native),
                prop_oneof![Just(None), (1..=native).prop_map(Some)],
                prop::collection::vec(1usize..50, n),
                prop::collection::vec(
                    (
                        prop::collection::vec(-1.0f32..1.0, native),
                        any::<bool>(),
                        any::<bool>(),
                    ),
                    n,
                ),
                prop::collection::vec(any::<prop::sample::Index>(), 0..4),
                any::<u64>(),
                prop_oneof![Just(EncodingFormat::Float), Just(EncodingFormat::Base64)],
            )
        })
        .prop_map(|(native, dimensions, counts, raw, cuts, seed, format)| {
            let n = counts.len();
            let mut starts: Vec<usize> = cuts.iter().map(|c| c.index(n)).collect();
            starts.push(0);
            starts.sort_unstable();
            starts.dedup();
            let mut vectors = Vec::new();
            let mut items: Vec<Vec<Item>> = vec![Vec::new(); starts.len()];
            for (index, (mut values, upstream_shortens, base64)) in raw.into_iter().enumerate() {
                // An upstream that supports `dimensions` answers at that length.
                if let (Some(d), true) = (dimensions, upstream_shortens) {
                    embedguard::shorten(&mut values, d).unwrap();
                }
                let part = starts.iter().rposition(|&s| s <= index).unwrap();
                items[part].push((index - starts[part], embedding(&values, base64)));
                vectors.push(values);
            }
            // Upstreams may list items in any order.
            let mut state = seed | 1;
            for part in &mut items {
                for i in (1..part.len()).rev() {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    part.swap(i, (state % (i as u64 + 1)) as usize);
                }
            }
            Case {
                native,
                dimensions,
                counts,
                vectors,
                starts,
                items,
                format,
            }
        })
}

#[derive(Debug, Clone)]
enum Corruption {
    Drop(prop::sample::Index),
    Duplicate(prop::sample::Index),
    Extra(prop::sample::Index),
    Length(prop::sample::Index, usize),
    NonFinite(prop::sample::Index, prop::sample::Index, u8),
    NotAVector(prop::sample::Index),
}

fn corruption() -> impl Strategy<Value = Corruption> {
    let at = any::<prop::sample::Index>;
    prop_oneof![
        at().prop_map(Corruption::Drop),
        at().prop_map(Corruption::Duplicate),
        at().prop_map(Corruption::Extra),
        (at(), 0usize..12).prop_map(|(i, len)| Corruption::Length(i, len)),
        (at(), at(), 0u8..4).prop_map(|(i, j, v)| Corruption::NonFinite(i, j, v)),
        at().prop_map(Corruption::NotAVector),
    ]
}

/// Applies the corruption; returns the error it must cause, or `None` when it happens to
/// leave a valid answer (a "wrong" length that is an accepted one).
fn corrupt(case: &mut Case, corruption: &Corruption) -> Option<ResponseError> {
    let n = case.counts.len();
    let find = |case: &Case, index: usize| {
        let (part, offset) = case.locate(index);
        let at = case.items[part]
            .iter()
            .position(|(i, _)| *i == offset)
            .unwrap();
        (part, offset, at)
    };
    match *corruption {
        Corruption::Drop(i) => {
            let (part, offset, at) = find(case, i.index(n));
            case.items[part].remove(at);
            Some(ResponseError::MissingIndex {
                part,
                index: offset,
            })
        }
        Corruption::Duplicate(i) => {
            let (part, offset, at) = find(case, i.index(n));
            let item = case.items[part][at].clone();
            case.items[part].push(item);
            Some(ResponseError::DuplicateIndex {
                part,
                index: offset,
            })
        }
        Corruption::Extra(i) => {
            let (part, _, _) = find(case, i.index(n));
            let len = case.items[part].len();
            let item = (len, case.items[part][0].1.clone());
            case.items[part].insert(0, item);
            Some(ResponseError::IndexOutOfRange {
                part,
                index: len,
                inputs: len,
            })
        }
        Corruption::Length(i, len) => {
            let index = i.index(n);
            let (part, _, at) = find(case, index);
            case.items[part][at].1 = embedding(&vec![0.25; len], len % 2 == 0);
            let target = case.target();
            let expected = target.vector_len();
            let shortened_from = Some(case.native).filter(|&n| n > expected);
            if len == expected || Some(len) == shortened_from {
                return None;
            }
            Some(ResponseError::WrongLength {
                index,
                len,
                expected,
                shortened_from,
            })
        }
        Corruption::NonFinite(i, j, which) => {
            let index = i.index(n);
            let (part, _, at) = find(case, index);
            let mut values = case.vectors[index].clone();
            let position = j.index(values.len());
            let value = [
                f32::NAN,
                f32::INFINITY,
                f32::NEG_INFINITY,
                f32::from_bits(0xffc0_0001),
            ][usize::from(which)];
            values[position] = value;
            case.items[part][at].1 = embedding(&values, true);
            Some(ResponseError::Vector {
                index,
                source: VectorError::NonFinite {
                    index: position,
                    value,
                },
            })
        }
        Corruption::NotAVector(i) => {
            let index = i.index(n);
            let (part, _, at) = find(case, index);
            case.items[part][at].1 = "null".into();
            Some(ResponseError::Vector {
                index,
                source: VectorError::NotAVector,
            })
        }
    }
}

/// Errors compared by their text: NaN is not equal to itself.
fn same(a: &ResponseError, b: &ResponseError) -> bool {
    a.to_string() == b.to_string()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn prop_valid_answers_merge_with_the_gateways_usage(
        case in case(),
        usage in prop::collection::vec(prop::option::of((any::<u32>(), any::<u32>())), 5),
    ) {
        let merged = merge(&case, &case.bodies(&usage)).unwrap();
        // Whatever the upstreams reported: the gateway's own count.
        prop_assert_eq!(&merged, &encode_response(&case.vectors, &case.target()).unwrap());
        let read = decode_response(merged.as_bytes()).unwrap();
        prop_assert_eq!(read.usage, Some(Usage::from_counts(&case.counts)));
        let len = case.dimensions.unwrap_or(case.native);
        prop_assert!(read.vectors.iter().all(|v| v.len() == len));
        prop_assert_eq!(read.vectors.len(), case.counts.len());
    }

    #[test]
    fn prop_an_estimate_models_usage_is_the_upstreams_where_reported(
        case in case(),
        usage in prop::collection::vec(prop::option::of((0u32..5, 0u32..5)), 5),
    ) {
        let mut out = String::new();
        let bodies = case.bodies(&usage);
        let parts: Vec<UpstreamPart<'_>> = case
            .starts
            .iter()
            .zip(&bodies)
            .map(|(&start, body)| UpstreamPart::new(start, body.as_bytes()))
            .collect();
        let target = case.target().with_usage_source(UsageSource::Upstream);
        let got = merge_responses_into(&parts, &target, &mut out).unwrap();
        // Per part: the upstream's usage unless absent or zero prompt tokens (a zero total
        // is the prompt's); else the part's own counts.
        let mut expected = Usage::default();
        for (p, &start) in case.starts.iter().enumerate() {
            let end = case.starts.get(p + 1).copied().unwrap_or(case.counts.len());
            let own: usize = case.counts[start..end].iter().sum();
            let (prompt, total) = match usage.get(p).copied().flatten() {
                Some((prompt, total)) if prompt > 0 => {
                    (prompt as usize, if total > 0 { total as usize } else { prompt as usize })
                }
                _ => (own, own),
            };
            expected.prompt_tokens += prompt;
            expected.total_tokens += total;
        }
        prop_assert_eq!(got, expected);
        prop_assert_eq!(decode_response(out.as_bytes()).unwrap().usage, Some(expected));
    }

    #[test]
    fn prop_one_corruption_is_its_error_never_a_200(
        mut case in case(),
        corruption in corruption(),
    ) {
        let expected = corrupt(&mut case, &corruption);
        let result = merge(&case, &case.bodies(&[]));
        match (result, expected) {
            (Err(err), Some(expected)) => prop_assert!(same(&err, &expected), "{:?} != {:?}", err, expected),
            (Ok(_), None) => {}
            (result, expected) => prop_assert!(false, "{:?}, expected {:?}", result, expected),
        }
    }
}
