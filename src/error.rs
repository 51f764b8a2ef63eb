//! The one error type every check returns, shaped like OpenAI's error envelope.

use std::fmt;
use std::time::Duration;

use crate::duration::format_duration;

/// How many bytes of a client-supplied value an error message echoes.
///
/// Whatever comes from the body is cut to this many bytes (on a character boundary)
/// followed by `...`, so that no message grows with the body.
pub const ECHO_LIMIT: usize = 64;

const INVALID_JSON: &str = "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON. If you have trouble figuring out how to fix this, please contact us through our help center at help.openai.com.)";
const API_REFERENCE: &str =
    "Please check the API reference: https://platform.openai.com/docs/api-reference.";
const MISSING_KEY: &str = "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).";
const RATE_LIMITS_URL: &str =
    "Visit https://platform.openai.com/account/rate-limits to learn more.";

/// The JSON type of a value, as named in `Invalid type` messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonKind {
    /// A JSON string.
    String,
    /// A number written without fraction or exponent.
    Integer,
    /// A number written with a fraction or an exponent.
    Decimal,
    /// `true` or `false`.
    Boolean,
    /// `null`.
    Null,
    /// An array.
    Array,
    /// An object.
    Object,
}

impl JsonKind {
    /// The phrase OpenAI's messages use: `a string`, `an integer`, ...
    pub fn phrase(self) -> &'static str {
        match self {
            JsonKind::String => "a string",
            JsonKind::Integer => "an integer",
            JsonKind::Decimal => "a decimal",
            JsonKind::Boolean => "a boolean",
            JsonKind::Null => "null",
            JsonKind::Array => "an array",
            JsonKind::Object => "an object",
        }
    }
}

/// Why the `input` member has an invalid shape (all answered with the same message).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum InputShape {
    /// An empty string, at `index` (0 for a single string).
    EmptyString {
        /// Position of the input.
        index: usize,
    },
    /// `[]`, or an empty token array at `index`.
    EmptyArray {
        /// Position of the input (0 for the outer array).
        index: usize,
    },
    /// Strings mixed with token arrays, ids mixed with arrays, or an unexpected JSON type.
    WrongType {
        /// Position of the offending item.
        index: usize,
    },
    /// An array nested deeper than an array of token arrays.
    TooDeep {
        /// Position of the offending item.
        index: usize,
    },
    /// A number that is not a token id of the model's vocabulary (or of any model's,
    /// when the parser finds it before the model is known).
    InvalidTokenId {
        /// Position of the input holding it.
        index: usize,
        /// Its position in that input's array.
        position: usize,
        /// The number as written (cut to [`ECHO_LIMIT`]).
        id: String,
    },
    /// Token ids given to a model that does not accept token arrays (an estimate's, say).
    TokenArraysRefused,
    /// More inputs than the policy allows.
    TooManyInputs {
        /// The limit.
        limit: usize,
    },
}

/// What went wrong, with the numbers a log line needs.
///
/// Client-facing text comes from [`RequestError::message`]; the fields here are for
/// logs and metrics. Values copied from the body are already cut to [`ECHO_LIMIT`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The body is larger than the policy's limit (413).
    BodyTooLarge {
        /// Body size in bytes.
        len: usize,
        /// The limit in bytes.
        limit: usize,
    },
    /// The body is not valid JSON, or nests deeper than the limit.
    InvalidJson {
        /// Byte offset where parsing stopped.
        offset: usize,
    },
    /// Valid JSON, but not an object.
    NotAnObject,
    /// A member appears twice.
    DuplicateMember {
        /// Its name (cut).
        name: String,
    },
    /// A member the policy does not know.
    UnknownMember {
        /// Its name (cut).
        name: String,
    },
    /// `model` is missing or null.
    MissingModel,
    /// `model` is not a string.
    ModelNotString {
        /// What it is instead.
        kind: JsonKind,
    },
    /// `input` is missing or null.
    MissingInput,
    /// `encoding_format` is neither `"float"`, `"base64"` nor null.
    InvalidEncodingFormat {
        /// The value (a string's text, anything else as written; cut).
        value: String,
    },
    /// `user` is not a string.
    UserNotString {
        /// What it is instead.
        kind: JsonKind,
    },
    /// `dimensions` is not an integer.
    DimensionsNotInteger {
        /// What it is instead.
        kind: JsonKind,
    },
    /// `dimensions` is below 1.
    DimensionsBelowMin {
        /// The number as written (cut).
        value: String,
    },
    /// `input` has an invalid shape.
    InvalidInput(InputShape),
    /// The model is not one the policy knows.
    ModelNotFound {
        /// The model as named (cut).
        model: String,
    },
    /// `dimensions` given (even null) for a model that does not support it.
    DimensionsNotSupported,
    /// `dimensions` above the model's native size.
    DimensionsAboveMax {
        /// The number as written (cut).
        value: String,
        /// The model's native size.
        max: usize,
    },
    /// The first input over the per-input token limit.
    InputTooLong {
        /// Its position.
        index: usize,
        /// A lower bound of its tokens: counting stops past the limit.
        tokens_at_least: usize,
        /// The limit.
        limit: usize,
    },
    /// The request's tokens, summed over inputs, are over the per-request limit.
    TooManyTokens {
        /// The exact sum.
        tokens: usize,
        /// The limit.
        limit: usize,
    },
    /// No `Authorization: Bearer` header.
    MissingApiKey,
    /// A key that is malformed or not one of the gateway's.
    InvalidApiKey {
        /// The key masked for display, or `None` when it is not echoed at all.
        masked: Option<String>,
    },
    /// A per-minute budget cannot hold the request now (429).
    RateLimited {
        /// Which budget answers (tokens when both fail).
        resource: Resource,
        /// The model as the client named it (cut).
        model: String,
        /// The name the gateway gave the key's owner (cut).
        org: String,
        /// The budget's limit per minute.
        limit: u64,
        /// The limit minus what the bucket holds, rounded down.
        used: u64,
        /// The charge: 1 request, or the request's tokens.
        requested: u64,
        /// How long until the bucket holds the charge (rounded up to the millisecond).
        wait: Duration,
    },
    /// The request's tokens alone are more than the tokens-per-minute limit (429).
    RequestTooLarge {
        /// The model as the client named it (cut).
        model: String,
        /// The name the gateway gave the key's owner (cut).
        org: String,
        /// The tokens-per-minute limit.
        limit: u64,
        /// The request's tokens.
        requested: u64,
    },
}

/// A rejected request: the HTTP status and OpenAI's error envelope, word for word.
///
/// ```
/// let err = embedguard::Policy::openai().check(br#"{"input": "x"}"#).unwrap_err();
/// assert_eq!(err.status(), 400);
/// assert_eq!(
///     err.to_json(),
///     r#"{"error":{"message":"you must provide a model parameter","type":"invalid_request_error","param":null,"code":null}}"#
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.message())]
pub struct RequestError {
    kind: Box<ErrorKind>,
}

impl From<ErrorKind> for RequestError {
    fn from(kind: ErrorKind) -> Self {
        RequestError {
            kind: Box::new(kind),
        }
    }
}

impl RequestError {
    /// What went wrong, with the details for logs.
    pub fn kind(&self) -> &ErrorKind {
        &self.kind
    }

    /// The HTTP status to answer with: 400, 401, 404, 413 or 429.
    pub fn status(&self) -> u16 {
        match *self.kind {
            ErrorKind::RateLimited { .. } | ErrorKind::RequestTooLarge { .. } => 429,
            ErrorKind::BodyTooLarge { .. } => 413,
            ErrorKind::ModelNotFound { .. } => 404,
            ErrorKind::MissingApiKey | ErrorKind::InvalidApiKey { .. } => 401,
            _ => 400,
        }
    }

    /// The client-facing message, as OpenAI words it.
    pub fn message(&self) -> String {
        use ErrorKind::*;
        match &*self.kind {
            BodyTooLarge { len, limit } => {
                format!("Request body too large: {len} bytes exceeds the limit of {limit} bytes.")
            }
            InvalidJson { .. } => INVALID_JSON.to_owned(),
            NotAnObject => format!("'$' is invalid. {API_REFERENCE}"),
            DuplicateMember { name } => format!("Duplicate parameter: '{name}'."),
            UnknownMember { name } => format!("Unrecognized request argument supplied: {name}"),
            MissingModel => "you must provide a model parameter".to_owned(),
            ModelNotString { kind } => type_message("model", "a string", *kind),
            MissingInput => "Missing required parameter: 'input'.".to_owned(),
            InvalidEncodingFormat { value } => format!(
                "Invalid value for 'encoding_format' = {value}. Supported values: ['float', 'base64']."
            ),
            UserNotString { kind } => type_message("user", "a string", *kind),
            DimensionsNotInteger { kind } => type_message("dimensions", "an integer", *kind),
            DimensionsBelowMin { value } => format!(
                "Invalid 'dimensions': integer below minimum value. Expected a value >= 1, but got {value} instead."
            ),
            InvalidInput(_) => format!("'$.input' is invalid. {API_REFERENCE}"),
            ModelNotFound { model } => {
                format!("The model `{model}` does not exist or you do not have access to it.")
            }
            DimensionsNotSupported => {
                "This model does not support specifying dimensions.".to_owned()
            }
            DimensionsAboveMax { value, max } => format!(
                "Invalid 'dimensions': integer above maximum value. Expected a value <= {max}, but got {value} instead."
            ),
            InputTooLong { limit, .. } => {
                format!("Invalid 'input': maximum context length is {limit} tokens.")
            }
            TooManyTokens { tokens, limit } => {
                format!("Requested {tokens} tokens, max {limit} tokens per request")
            }
            MissingApiKey => MISSING_KEY.to_owned(),
            InvalidApiKey {
                masked: Some(masked),
            } => {
                format!("Incorrect API key provided: {masked}.")
            }
            InvalidApiKey { masked: None } => "Incorrect API key provided.".to_owned(),
            RateLimited {
                resource,
                model,
                org,
                limit,
                used,
                requested,
                wait,
            } => format!(
                "Rate limit reached for {model} in organization {org} on {}: Limit {limit}, Used {used}, Requested {requested}. Please try again in {}. {RATE_LIMITS_URL}",
                resource.phrase(),
                format_duration(*wait)
            ),
            RequestTooLarge {
                model,
                org,
                limit,
                requested,
            } => format!(
                "Request too large for {model} in organization {org} on {}: Limit {limit}, Requested {requested}. The input or output tokens must be reduced in order to run successfully. {RATE_LIMITS_URL}",
                Resource::Tokens.phrase()
            ),
        }
    }

    /// The envelope's `type`.
    pub fn error_type(&self) -> &'static str {
        match *self.kind {
            ErrorKind::TooManyTokens { .. } => "max_tokens_per_request",
            ErrorKind::RateLimited { resource, .. } => resource.error_type(),
            ErrorKind::RequestTooLarge { .. } => Resource::Tokens.error_type(),
            _ => "invalid_request_error",
        }
    }

    /// The envelope's `param`, if any.
    pub fn param(&self) -> Option<&str> {
        use ErrorKind::*;
        match &*self.kind {
            DuplicateMember { name } => Some(name),
            ModelNotString { .. } => Some("model"),
            MissingInput => Some("input"),
            UserNotString { .. } => Some("user"),
            DimensionsNotInteger { .. } | DimensionsBelowMin { .. } | DimensionsAboveMax { .. } => {
                Some("dimensions")
            }
            _ => None,
        }
    }

    /// The envelope's `code`, if any.
    pub fn code(&self) -> Option<&'static str> {
        use ErrorKind::*;
        match *self.kind {
            BodyTooLarge { .. } => Some("request_too_large"),
            ModelNotString { .. } | UserNotString { .. } | DimensionsNotInteger { .. } => {
                Some("invalid_type")
            }
            MissingInput => Some("missing_required_parameter"),
            DimensionsBelowMin { .. } => Some("integer_below_min_value"),
            DimensionsAboveMax { .. } => Some("integer_above_max_value"),
            ModelNotFound { .. } => Some("model_not_found"),
            TooManyTokens { .. } => Some("max_tokens_per_request"),
            InvalidApiKey { .. } => Some("invalid_api_key"),
            RateLimited { .. } | RequestTooLarge { .. } => Some("rate_limit_exceeded"),
            _ => None,
        }
    }

    /// The response body: `{"error":{"message":…,"type":…,"param":…,"code":…}}`.
    pub fn to_json(&self) -> String {
        format!(
            r#"{{"error":{{"message":{},"type":{},"param":{},"code":{}}}}}"#,
            json_string(&self.message()),
            json_string(self.error_type()),
            self.param().map_or_else(|| "null".to_owned(), json_string),
            self.code().map_or_else(|| "null".to_owned(), json_string),
        )
    }
}

/// A JSON string literal; written by hand so the envelope's key order is fixed.
fn json_string(text: &str) -> String {
    serde_json::Value::from(text).to_string()
}

fn type_message(param: &str, expected: &str, got: JsonKind) -> String {
    format!(
        "Invalid type for '{param}': expected {expected}, but got {} instead.",
        got.phrase()
    )
}

/// Cuts a client-supplied value to [`ECHO_LIMIT`] bytes on a character boundary,
/// followed by `...`; shorter values are returned whole.
pub(crate) fn echo(value: &str) -> String {
    if value.len() <= ECHO_LIMIT {
        return value.to_owned();
    }
    let mut end = ECHO_LIMIT;
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &value[..end])
}

impl fmt::Display for JsonKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.phrase())
    }
}

/// The two per-minute budgets of a key: requests and tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Resource {
    /// Requests per minute (RPM).
    Requests,
    /// Tokens per minute (TPM).
    Tokens,
}

impl Resource {
    /// How OpenAI's 429 messages name it: `requests per min (RPM)`, `tokens per min (TPM)`.
    fn phrase(self) -> &'static str {
        match self {
            Resource::Requests => "requests per min (RPM)",
            Resource::Tokens => "tokens per min (TPM)",
        }
    }

    /// The error envelope's `type`: `requests` or `tokens`.
    fn error_type(self) -> &'static str {
        match self {
            Resource::Requests => "requests",
            Resource::Tokens => "tokens",
        }
    }
}
