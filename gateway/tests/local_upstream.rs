//! The local upstream's vectors: dense, unit length, deterministic at every size, closer
//! for texts that share tokens.

mod common;

use std::time::Duration;

use common::*;

fn vectors(up: &Server, texts: &[&str], dimensions: Option<usize>) -> Vec<Vec<f64>> {
    let mut request = serde_json::json!({"model": "text-embedding-3-small", "input": texts, "encoding_format": "float"});
    if let Some(d) = dimensions {
        request["dimensions"] = d.into();
    }
    let raw = format!(
        "POST /v1/embeddings HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{request}",
        request.to_string().len()
    );
    let answer = http(&up.addr, raw.as_bytes(), Duration::from_secs(20)).unwrap();
    assert_eq!(answer.status, 200, "{answer:?}");
    let value: serde_json::Value = serde_json::from_str(&answer.body).unwrap();
    value["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| {
            item["embedding"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap())
                .collect()
        })
        .collect()
}

fn cosine(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[test]
fn vectors_are_dense_unit_and_deterministic_at_every_size() {
    let up = upstream(&[]);
    let texts = [
        "hi",
        "The food was delicious.",
        "a",
        "x y",
        "The food was great.",
    ];
    for dimensions in [None, Some(1), Some(2), Some(64), Some(256), Some(1536)] {
        let first = vectors(&up, &texts, dimensions);
        for (text, vector) in texts.iter().zip(&first) {
            assert_eq!(vector.len(), dimensions.unwrap_or(1536));
            let norm = cosine(vector, vector).sqrt();
            assert!(
                (norm - 1.0).abs() < 1e-5,
                "{text:?} at {dimensions:?}: norm {norm}"
            );
            let zeros = vector.iter().filter(|v| **v == 0.0).count();
            assert!(
                zeros * 100 <= vector.len(),
                "{text:?} at {dimensions:?}: {zeros} zeros"
            );
        }
        assert_eq!(first, vectors(&up, &texts, dimensions), "not deterministic");
    }
    let v = vectors(&up, &texts, Some(256));
    let similar = cosine(&v[1], &v[4]);
    for unrelated in [
        cosine(&v[1], &v[0]),
        cosine(&v[1], &v[3]),
        cosine(&v[4], &v[2]),
    ] {
        assert!(
            similar > unrelated + 0.3,
            "similar {similar} vs unrelated {unrelated}"
        );
    }
}
