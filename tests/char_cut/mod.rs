//! Cutting text into inputs of about a given size, as a gateway's clients send it: shared by
//! the UDHR oracle test and the first-pass bench.

/// `text` cut into pieces of about `size` bytes, each cut moved forward to a character
/// boundary.
pub fn cut(text: &str, size: usize) -> Vec<&str> {
    let mut pieces = Vec::new();
    let mut start = 0;
    while start < text.len() {
        let mut end = (start + size).min(text.len());
        while !text.is_char_boundary(end) {
            end += 1;
        }
        pieces.push(&text[start..end]);
        start = end;
    }
    pieces
}
