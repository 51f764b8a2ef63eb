//! Usage: a request's token count as OpenAI reports it. A leaf: the policy makes it, the
//! planner splits it, the response side writes it, and none of them import each other
//! for it.

use serde::{Deserialize, Serialize};

/// A request's token usage, as OpenAI reports it.
///
/// For embeddings `prompt_tokens` and `total_tokens` are both the sum of the inputs' counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Usage {
    /// Tokens in the inputs.
    pub prompt_tokens: usize,
    /// Same as `prompt_tokens` for embeddings.
    pub total_tokens: usize,
}

impl Usage {
    /// The usage of inputs with these token counts.
    pub fn from_counts(counts: &[usize]) -> Usage {
        let sum = counts.iter().sum();
        Usage {
            prompt_tokens: sum,
            total_tokens: sum,
        }
    }
}
